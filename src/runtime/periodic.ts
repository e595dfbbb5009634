/**
 * Periodic work on the controller runtime (the GC's sweep, the cluster duties, the host
 * heartbeat): a kind of one key whose reconcile is one run of the work, looked at again after
 * what the run returns (its `requeueAfterMs`). Hints (the kind's `watch`, the manager's relists
 * on every (re)connect and on the periodic resync) ask for a run too, but never sooner than
 * `minIntervalMs` after the last one. The runtime gives the rest: one run at a time, backoff when
 * a run throws, the gate on this reconciler's lock, and a stop that waits for the run in flight.
 * No periodic work keeps a timer of its own.
 */
import { EMPTY, of, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import { Controller, type Kind, type Sources } from './controller.js';

export interface PeriodicWork<K extends string> {
  /** The kind's name, and its one key. */
  readonly name: K;
  /** Runs no sooner than this after the previous run, whatever asks for one. */
  readonly minIntervalMs: number;
  /** One run; resolves with when to run again (ms). A run that throws is retried with the runtime's backoff. */
  run(): Promise<number>;
  /** LISTEN channels `watch` needs. */
  readonly channels?: readonly string[];
  /** What asks for a run early (e.g. a new intent); default nothing but the relists. */
  watch?(sources: Sources): Observable<K>;
}

export function periodicKind<K extends string>(work: PeriodicWork<K>): Kind<K> {
  let lastRun = 0;
  return {
    name: work.name,
    ...(work.channels ? { channels: work.channels } : {}),
    concurrency: 1,
    watch: (sources) => work.watch?.(sources) ?? EMPTY,
    list: async () => [work.name],
    async reconcile() {
      const wait = lastRun + work.minIntervalMs - Date.now();
      if (wait > 0) return { requeueAfterMs: wait };
      lastRun = Date.now();
      try {
        return { requeueAfterMs: await work.run() };
      } catch (err) {
        lastRun = 0; // the runtime's backoff decides when to try again
        throw err;
      }
    },
  };
}

/** Kinds running on the controller runtime without a manager. */
export interface RunningKinds {
  /** Stop: no new runs; the runs in flight finish. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Run kinds on the controller runtime without a manager (no Docker events, no LISTEN, no lock,
 * no periodic resync): each kind's keys are listed once at start, then each key runs on its own
 * `requeueAfterMs`. For the standalone `highway-docker gc`, and for tests of periodic work.
 */
export function runKinds(kinds: Kind[], logger: Logger): RunningKinds {
  const sources: Sources = { docker$: EMPTY, notifications$: EMPTY, resync$: of('start') };
  const controllers = kinds.map((kind) => new Controller(kind, logger));
  for (const c of controllers) c.start(sources);
  return { stop: async () => void (await Promise.all(controllers.map((c) => c.stop()))) };
}
