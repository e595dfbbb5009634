/**
 * The cluster duties on the controller runtime: one key (`cluster`) whose reconcile is one pass
 * of ClusterDuties, gated on the `cluster` leader lock inside the pass, looked at again after the
 * pass's own `requeueAfterMs` (short while there is work, up to `idleMs` when idle). A new
 * intent (its NOTIFY) asks for a pass soon, not at once: at most one every `intervalMs`. The
 * runtime gives it the rest: one pass at a time, a relist on every (re)connect and the periodic
 * resync, backoff on errors, and a stop that waits for the pass in flight.
 */
import { filter, map } from 'rxjs';
import { CHANNELS } from '../db/listener.js';
import type { Kind } from '../runtime/controller.js';
import type { ClusterDuties } from './cluster-duties.js';

export type ClusterKey = 'cluster';

export function clusterDutiesKind(duties: ClusterDuties, options: { intervalMs?: number } = {}): Kind<ClusterKey> {
  const intervalMs = options.intervalMs ?? 1_500;
  let lastPass = 0;
  return {
    name: 'cluster',
    channels: [CHANNELS.intent],
    concurrency: 1,
    // An intent written (a payload without a space: the insert), not a change of one.
    watch: (sources) =>
      sources.notifications$.pipe(
        filter((n) => n.type === 'notification' && n.channel === CHANNELS.intent && !n.payload.includes(' ')),
        map((): ClusterKey => 'cluster'),
      ),
    list: async () => ['cluster'],
    async reconcile() {
      const wait = lastPass + intervalMs - Date.now();
      if (wait > 0) return { requeueAfterMs: wait };
      lastPass = Date.now();
      return { requeueAfterMs: await duties.pass() };
    },
  };
}
