/**
 * The GC's sweep on the controller runtime: one key (`sweep`) whose reconcile is one sweep of
 * this host's containers (DockerGarbageCollector.sweep), looked at again after `intervalMs`
 * (HIGHWAY_GC_INTERVAL_S). The runtime's relists (a (re)connect, the periodic resync) ask for a
 * sweep too, but never sooner than `intervalMs` after the last one. The standalone
 * `highway-docker gc` keeps the collector's own timer (it runs no runtime).
 */
import { EMPTY } from 'rxjs';
import type { Kind } from '../runtime/controller.js';
import type { DockerGarbageCollector } from './collector.js';

export type GcKey = 'sweep';

export function gcKind(gc: DockerGarbageCollector, options: { intervalMs: number }): Kind<GcKey> {
  let lastSweep = 0;
  return {
    name: 'gc',
    concurrency: 1,
    watch: () => EMPTY,
    list: async () => ['sweep'],
    async reconcile() {
      const wait = lastSweep + options.intervalMs - Date.now();
      if (wait > 0) return { requeueAfterMs: wait };
      lastSweep = Date.now();
      await gc.sweep(); // a failed sweep is logged (gc.sweep_error); the next one retries
      return { requeueAfterMs: options.intervalMs };
    },
  };
}
