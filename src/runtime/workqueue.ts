import { Observable, asyncScheduler, defer, from, type ObservableInput, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

/**
 * The controller runtime's work queue (controller-runtime's workqueue, as an RxJS operator).
 *
 * Input: keys (optionally with a priority). Output: one outcome per reconcile.
 * - Per key, at most one `reconcile(key)` runs at a time; keys that arrive meanwhile coalesce
 *   into at most ONE follow-up (level-triggered: the follow-up sees the latest state).
 * - At most `concurrency` reconciles in flight over all keys. Waiting keys queue in arrival
 *   order, `high` before `normal` (finishing work goes ahead of starting new work); a key
 *   already waiting is not queued twice, and a `high` request promotes a waiting `normal` one.
 * - A reconcile's `requeueAfterMs` schedules the key again (the latest reconcile's answer
 *   replaces any earlier timer: it saw the latest state). 0 means right away.
 * - A reconcile that fails (throws, rejects, errors) is retried after a per-key exponential
 *   backoff; a success resets it. A failure never ends the pipeline.
 * - When the input completes (stop), timers and waiting keys are dropped, running reconciles
 *   finish, then the output completes: completing the input is a graceful stop.
 *
 * State is kept only for keys that are waiting, running, failing or timed, so it does not grow
 * with the number of keys ever seen. Timers use `scheduler` (virtual time in marble tests).
 */
export type Priority = 'high' | 'normal';
export interface Enqueue<K> {
  key: K;
  priority?: Priority;
}
export interface ReconcileResult {
  /** Look at the key again after this long (a deadline, the end of a grace period). */
  requeueAfterMs?: number;
}
export interface QueueOutcome<K> {
  key: K;
  result?: ReconcileResult;
  error?: unknown;
  /** For failures: the attempt number and when the key is retried. */
  attempt?: number;
  retryInMs?: number;
}
export interface QueueStats {
  waiting: number;
  running: number;
  delayed: number;
}
export interface WorkQueueOptions {
  concurrency?: number;
  /**
   * Slots only `high` work may use: `normal` work (starting new things) runs in at most
   * `concurrency - highReserve` slots, so finishing work always finds a free slot, and new
   * work is paced. Default 0.
   */
  highReserve?: number;
  /** Backoff after failures: base * 2^(attempt-1), capped. Defaults 100 ms .. 30 s. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Timers longer than this are capped (a periodic resync covers longer waits). Default 1 h. */
  maxDelayMs?: number;
  scheduler?: SchedulerLike;
  /** Filled in live, for metrics (queue depth). */
  stats?: QueueStats;
}

export const isEnqueue = <K>(v: K | Enqueue<K>): v is Enqueue<K> => typeof v === 'object' && v !== null && 'key' in v;

export function workQueue<K>(
  reconcile: (key: K) => ObservableInput<ReconcileResult | void>,
  options: WorkQueueOptions = {},
): OperatorFunction<K | Enqueue<K>, QueueOutcome<K>> {
  const concurrency = options.concurrency ?? Infinity;
  const normalLimit = Math.max(1, concurrency - (options.highReserve ?? 0));
  const baseMs = options.backoffBaseMs ?? 100;
  const maxBackoffMs = options.backoffMaxMs ?? 30_000;
  const maxDelayMs = options.maxDelayMs ?? 60 * 60 * 1000;
  const scheduler = options.scheduler ?? asyncScheduler;
  const stats = options.stats ?? { waiting: 0, running: 0, delayed: 0 };

  return (source) =>
    new Observable<QueueOutcome<K>>((subscriber) => {
      /** Keys running now, with the priority of a follow-up run when one is wanted. */
      const running = new Map<K, { again: Priority | null; sub?: Subscription }>();
      /** Waiting keys with their current priority; the lanes may hold stale entries (skipped on take). */
      const waiting = new Map<K, Priority>();
      const lanes: Record<Priority, K[]> = { high: [], normal: [] };
      const timers = new Map<K, Subscription>();
      const failures = new Map<K, number>();
      let stopping = false;

      const updateStats = () => {
        stats.waiting = waiting.size;
        stats.running = running.size;
        stats.delayed = timers.size;
      };
      const maybeComplete = () => {
        if (stopping && running.size === 0) subscriber.complete();
      };

      /** Keys running now at normal priority (their slots count against the normal limit). */
      const normalRunning = new Set<K>();
      const take = (): { key: K; lane: Priority } | undefined => {
        for (const lane of ['high', 'normal'] as const) {
          if (lane === 'normal' && normalRunning.size >= normalLimit) break;
          const q = lanes[lane];
          while (q.length > 0) {
            const key = q.shift()!;
            if (waiting.get(key) === lane) {
              waiting.delete(key);
              return { key, lane };
            }
          }
        }
        return undefined;
      };

      // Not re-entrant: a run that completes synchronously asks for another pass instead of
      // recursing, so any number of synchronous runs uses constant stack.
      let draining = false;
      let drainAgain = false;
      const drain = () => {
        if (draining) {
          drainAgain = true;
          return;
        }
        draining = true;
        do {
          drainAgain = false;
          while (!stopping && running.size < concurrency) {
            const next = take();
            if (next === undefined) break;
            start(next.key, next.lane);
          }
        } while (drainAgain);
        draining = false;
        updateStats();
        maybeComplete();
      };

      const setTimer = (key: K, afterMs: number | undefined) => {
        timers.get(key)?.unsubscribe();
        timers.delete(key);
        if (afterMs === undefined || stopping) return;
        if (afterMs <= 0) return enqueue(key, 'normal');
        const sub = scheduler.schedule(() => {
          timers.delete(key);
          enqueue(key, 'normal');
          drain();
        }, Math.min(afterMs, maxDelayMs));
        timers.set(key, sub);
      };

      const finish = (key: K, state: { again: Priority | null }, outcome: QueueOutcome<K>) => {
        running.delete(key);
        normalRunning.delete(key);
        if (outcome.error === undefined) {
          failures.delete(key);
          setTimer(key, outcome.result?.requeueAfterMs);
        } else {
          const attempt = (failures.get(key) ?? 0) + 1;
          failures.set(key, attempt);
          outcome.attempt = attempt;
          outcome.retryInMs = Math.min(maxBackoffMs, baseMs * 2 ** (attempt - 1));
          if (!stopping) setTimer(key, outcome.retryInMs);
        }
        if (state.again && !stopping) enqueue(key, state.again);
        subscriber.next(outcome);
        drain();
      };

      const start = (key: K, lane: Priority) => {
        const state: { again: Priority | null; sub?: Subscription } = { again: null };
        running.set(key, state);
        if (lane === 'normal') normalRunning.add(key);
        let result: ReconcileResult | undefined;
        let settled = false;
        // defer: a reconcile that throws synchronously is a failure like any other.
        const sub = defer(() => from(reconcile(key))).subscribe({
          next: (value) => {
            result = value ?? undefined;
          },
          error: (error: unknown) => {
            settled = true;
            finish(key, state, { key, error: error ?? new Error('reconcile failed') });
          },
          complete: () => {
            settled = true;
            finish(key, state, { key, ...(result ? { result } : {}) });
          },
        });
        if (!settled) state.sub = sub;
      };

      const enqueue = (key: K, priority: Priority) => {
        const run = running.get(key);
        if (run) {
          if (run.again !== 'high') run.again = priority;
          return;
        }
        const current = waiting.get(key);
        if (current === 'high' || current === priority) return;
        waiting.set(key, priority);
        lanes[priority].push(key);
      };

      const sourceSub = source.subscribe({
        next: (item) => {
          if (stopping) return;
          if (isEnqueue(item)) enqueue(item.key, item.priority ?? 'normal');
          else enqueue(item, 'normal');
          drain();
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          stopping = true;
          for (const t of timers.values()) t.unsubscribe();
          timers.clear();
          waiting.clear();
          lanes.high.length = 0;
          lanes.normal.length = 0;
          updateStats();
          maybeComplete();
        },
      });

      return () => {
        sourceSub.unsubscribe();
        for (const t of timers.values()) t.unsubscribe();
        for (const state of running.values()) state.sub?.unsubscribe();
        timers.clear();
        running.clear();
        normalRunning.clear();
        waiting.clear();
        updateStats();
      };
    });
}
