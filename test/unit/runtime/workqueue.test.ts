import { expect } from 'chai';
import { type Observable, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { workQueue, type Enqueue, type QueueOutcome, type ReconcileResult, type WorkQueueOptions } from '../../../src/runtime/workqueue.js';

/**
 * Marble tests of the runtime's work queue. Each reconcile is a cold observable (one
 * subscription per run); an outcome is drawn as its key, in capitals for a failure.
 */
describe('runtime/workQueue', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = new TestScheduler((actual, expected) => {
      expect(actual).to.deep.equal(expected);
    });
  });

  const ok: Record<string, ReconcileResult> = { r: {} };
  const draw = (o: QueueOutcome<string>) => (o.error === undefined ? o.key : o.key.toUpperCase());
  const queue = (
    source: Observable<string | Enqueue<string>>,
    runs: Record<string, () => Observable<ReconcileResult>>,
    options: WorkQueueOptions = {},
  ) =>
    source.pipe(
      workQueue((key: string) => {
        const run = runs[key];
        if (!run) throw new Error(`no run for ${key}`);
        return run();
      }, { backoffBaseMs: 3, ...options }),
      map(draw),
    );

  it('runs one key at a time, and a burst during a run coalesces into one follow-up', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('---(r|)', ok);
      expectObservable(queue(hot('aaa-------|'), { a: () => a })).toBe('---a--a---|');
      expectSubscriptions(a.subscriptions).toBe(['^--!', '---^--!']);
    });
  });

  it('runs different keys in parallel', () => {
    scheduler.run(({ cold, hot, expectObservable }) => {
      const a = cold('---(r|)', ok);
      const b = cold('---(r|)', ok);
      const c = cold('-----(r|)', ok);
      expectObservable(queue(hot('abc-----|'), { a: () => a, b: () => b, c: () => c })).toBe('---ab--c|');
    });
  });

  it('the concurrency cap queues keys in arrival order, and a waiting key is not queued twice', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('-----(r|)', ok);
      const b = cold('-----(r|)', ok);
      const c = cold('-----(r|)', ok);
      expectObservable(queue(hot('abcbb----------------|'), { a: () => a, b: () => b, c: () => c }, { concurrency: 1 })).toBe(
        '-----a----b----c-----|',
      );
      expectSubscriptions(b.subscriptions).toBe('-----^----!');
      expectSubscriptions(c.subscriptions).toBe('----------^----!');
    });
  });

  it('high priority goes ahead of waiting normal keys (finishing work before new work)', () => {
    scheduler.run(({ cold, hot, expectObservable }) => {
      const run = () => cold('---(r|)', ok);
      const source = hot('abc------|', { a: 'a', b: 'b', c: { key: 'c', priority: 'high' as const } });
      expectObservable(queue(source, { a: run, b: run, c: run }, { concurrency: 1 })).toBe('---a--c--(b|)');
    });
  });

  it('a high request promotes a key already waiting as normal, without running it twice', () => {
    scheduler.run(({ cold, hot, expectObservable }) => {
      const run = () => cold('----(r|)', ok);
      const source = hot('abcB----------|', { a: 'a', b: 'b', c: 'c', B: { key: 'b', priority: 'high' as const } });
      expectObservable(queue(source, { a: run, b: run, c: run }, { concurrency: 1 })).toBe('----a---b---c-|');
    });
  });

  it('requeueAfter runs the key again after that long', () => {
    scheduler.run(({ cold, hot, expectObservable }) => {
      const a = cold('--(r|)', { r: { requeueAfterMs: 5 } });
      expectObservable(queue(hot('a----------|'), { a: () => a })).toBe('--a------a-|');
    });
  });

  it("the latest reconcile's requeueAfter replaces an earlier timer", () => {
    scheduler.run(({ cold, hot, expectObservable }) => {
      const a = cold('--(r|)', { r: { requeueAfterMs: 5 } });
      // Without replacement the first timer (set at 2) would run the key at 7.
      expectObservable(queue(hot('a---a----------|'), { a: () => a })).toBe('--a---a------a-|');
    });
  });

  it('retries a failing key with exponential backoff, and a success resets it', () => {
    scheduler.run(({ cold, hot, expectObservable }) => {
      let calls = 0;
      const a = (): Observable<ReconcileResult> => (++calls <= 2 ? cold<ReconcileResult>('-#', {}, new Error('boom')) : cold('-(r|)', ok));
      const source = hot('a--------------|');
      const attempts = source.pipe(
        workQueue((key: string) => (key === 'a' ? a() : cold<ReconcileResult>('|')), { backoffBaseMs: 3 }),
        map((o) => (o.error === undefined ? 'ok' : `fail ${o.attempt} retry ${o.retryInMs}`)),
      );
      // fail at 1 (retry in 3: at 4), fail at 5 (retry in 6: at 11), ok at 12
      expectObservable(attempts).toBe('-x---y------z--|', { x: 'fail 1 retry 3', y: 'fail 2 retry 6', z: 'ok' });
    });
  });

  it('a reconcile that throws synchronously is retried, and never ends the pipeline', () => {
    scheduler.run(({ cold, hot, expectObservable }) => {
      const runs = {
        b: (): Observable<ReconcileResult> => {
          throw new Error('sync boom');
        },
        a: () => cold('-(r|)', ok),
      };
      expectObservable(queue(hot('ba---|'), runs)).toBe('B-aB-|');
    });
  });

  it('stop (the input completes) drops waiting keys and timers, and waits for the runs in flight', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('------(r|)', { r: { requeueAfterMs: 1 } });
      const b = cold('-(r|)', ok);
      expectObservable(queue(hot('ab-|'), { a: () => a, b: () => b }, { concurrency: 1 })).toBe('------(a|)');
      expectSubscriptions(b.subscriptions).toBe([]);
    });
  });

  it('a key that arrives after its run ended runs again; its follow-up during a run is not lost to a later timer', () => {
    scheduler.run(({ cold, hot, expectObservable }) => {
      const a = cold('--(r|)', { r: { requeueAfterMs: 100 } });
      expectObservable(queue(hot('a-a-----a---|'), { a: () => a })).toBe('--a-a-----a-|');
    });
  });

  it('keeps live counts for metrics', () => {
    const stats = { waiting: 0, running: 0, delayed: 0 };
    scheduler.run(({ cold, hot, expectObservable }) => {
      const a = cold('--(r|)', { r: { requeueAfterMs: 50 } });
      const b = cold('--(r|)', ok);
      expectObservable(queue(hot('ab--|'), { a: () => a, b: () => b }, { concurrency: 1, stats })).toBe('--a-(b|)');
    });
    expect(stats).to.deep.equal({ waiting: 0, running: 0, delayed: 0 });
  });

  it('slots reserved for high work: normal work is paced, and finishing work still finds a slot', () => {
    scheduler.run(({ cold, hot, expectObservable }) => {
      const run = () => cold('----(r|)', ok);
      // 3 slots, 1 reserved: a, b (normal) take two; c (normal) waits; X (high) runs at once.
      const source = hot('abcX-----------|', { a: 'a', b: 'b', c: 'c', X: { key: 'x', priority: 'high' as const } });
      expectObservable(queue(source, { a: run, b: run, c: run, x: run }, { concurrency: 3, highReserve: 1 })).toBe('----ab-xc------|');
    });
  });
});
