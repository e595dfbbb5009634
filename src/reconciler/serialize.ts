import { Observable, defer, from, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs';

/**
 * Per-key serialized, coalescing work with a global concurrency cap: the reconcile
 * operator (controller-runtime's workqueue, as an RxJS operator).
 *
 * - For one key, at most one `project(key)` runs at a time.
 * - Keys that arrive while their work runs coalesce into at most ONE follow-up run
 *   (level-triggered: the follow-up sees the latest state, so more would be waste).
 * - At most `concurrency` runs in flight over all keys; waiting keys queue in arrival
 *   order, and a key already waiting is not queued twice.
 * - When the source completes, queued and running work finishes, then the output completes.
 *
 * State is kept only for keys that are queued or running, so it cannot grow with the
 * number of keys ever seen.
 */
export function serializePerKey<K, R>(
  project: (key: K) => ObservableInput<R>,
  options: { concurrency?: number } = {},
): OperatorFunction<K, R> {
  const concurrency = options.concurrency ?? Infinity;
  return (source) =>
    new Observable<R>((subscriber) => {
      /** Keys running now, with whether another run is wanted after this one. */
      const running = new Map<K, { again: boolean; sub?: Subscription }>();
      const queue: K[] = [];
      const queued = new Set<K>();
      let sourceDone = false;

      const maybeComplete = () => {
        if (sourceDone && running.size === 0 && queue.length === 0) subscriber.complete();
      };

      // Not re-entrant: a run that completes synchronously asks for another pass instead of
      // recursing, so any number of queued synchronous runs uses constant stack.
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
          while (running.size < concurrency && queue.length > 0) {
            const key = queue.shift()!;
            queued.delete(key);
            start(key);
          }
        } while (drainAgain);
        draining = false;
        maybeComplete();
      };

      const start = (key: K) => {
        const state: { again: boolean; sub?: Subscription } = { again: false };
        running.set(key, state);
        let done = false;
        // defer: a project that throws synchronously errors the output like any other failure.
        const sub = defer(() => from(project(key))).subscribe({
          next: (value) => subscriber.next(value),
          error: (err) => subscriber.error(err),
          complete: () => {
            done = true;
            running.delete(key);
            if (state.again) enqueue(key);
            drain();
          },
        });
        if (!done) state.sub = sub;
      };

      const enqueue = (key: K) => {
        const run = running.get(key);
        if (run) {
          run.again = true;
          return;
        }
        if (queued.has(key)) return;
        queued.add(key);
        queue.push(key);
      };

      const sourceSub = source.subscribe({
        next: (key) => {
          enqueue(key);
          drain();
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          maybeComplete();
        },
      });

      return () => {
        sourceSub.unsubscribe();
        for (const state of running.values()) state.sub?.unsubscribe();
        running.clear();
        queue.length = 0;
        queued.clear();
      };
    });
}
