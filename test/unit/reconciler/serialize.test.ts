import { expect } from 'chai';
import { Observable, Subject, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { serializePerKey } from '../../../src/reconciler/serialize.js';

describe('reconciler/serializePerKey', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = new TestScheduler((actual, expected) => {
      expect(actual).to.deep.equal(expected);
    });
  });

  /** project(key) is the cold observable of that key: each run is one subscription to it. */
  const projectFrom = (runs: Record<string, Observable<string>>) => (key: string): Observable<string> => {
    const run = runs[key];
    if (!run) throw new Error(`no run for ${key}`);
    return run;
  };

  it('runs one key one at a time, and a burst during a run coalesces into one follow-up', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('---(x|)');
      const source = hot('aaa-------|');
      const expected = '   ---x--x---|';
      expectObservable(source.pipe(serializePerKey(projectFrom({ a })))).toBe(expected);
      expectSubscriptions(a.subscriptions).toBe(['^--!', '---^--!']);
    });
  });

  it('a key that arrives after its run ended runs again', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('-(x|)');
      const source = hot('a---a---|');
      expectObservable(source.pipe(serializePerKey(projectFrom({ a })))).toBe('-x---x--|');
      expectSubscriptions(a.subscriptions).toBe(['^!', '----^!']);
    });
  });

  it('different keys run in parallel', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('---(x|)');
      const b = cold('---(y|)');
      const c = cold('-----(z|)');
      const source = hot('abc-----|');
      expectObservable(source.pipe(serializePerKey(projectFrom({ a, b, c })))).toBe('---xy--z|');
      expectSubscriptions(a.subscriptions).toBe('^--!');
      expectSubscriptions(b.subscriptions).toBe('-^--!');
      expectSubscriptions(c.subscriptions).toBe('--^----!');
    });
  });

  it('the concurrency cap queues keys in arrival order, and a waiting key is not queued twice', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('-----(a|)');
      const b = cold('-----(b|)');
      const c = cold('-----(c|)');
      const source = hot('abcbb|');
      const op = serializePerKey(projectFrom({ a, b, c }), { concurrency: 1 });
      expectObservable(source.pipe(op)).toBe('-----a----b----(c|)');
      expectSubscriptions(a.subscriptions).toBe('^----!');
      expectSubscriptions(b.subscriptions).toBe('-----^----!');
      expectSubscriptions(c.subscriptions).toBe('----------^----!');
    });
  });

  it('with a cap of 2, a third key starts as soon as one slot frees', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('---(a|)');
      const b = cold('------(b|)');
      const c = cold('--(c|)');
      const source = hot('abc|');
      const op = serializePerKey(projectFrom({ a, b, c }), { concurrency: 2 });
      expectObservable(source.pipe(op)).toBe('---a-c-(b|)');
      expectSubscriptions(c.subscriptions).toBe('---^-!');
    });
  });

  it('a key re-triggered while it runs does not jump ahead of keys already waiting for a slot', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('---(a|)');
      const b = cold('---(b|)');
      const source = hot('aab------|');
      const op = serializePerKey(projectFrom({ a, b }), { concurrency: 1 });
      expectObservable(source.pipe(op)).toBe('---a--b--(a|)');
      expectSubscriptions(a.subscriptions).toBe(['^--!', '------^--!']);
      expectSubscriptions(b.subscriptions).toBe('---^--!');
    });
  });

  it('completion waits for running and queued work', () => {
    scheduler.run(({ cold, hot, expectObservable }) => {
      const a = cold('-----(x|)');
      const b = cold('--(y|)');
      const source = hot('ab|');
      expectObservable(source.pipe(serializePerKey(projectFrom({ a, b }), { concurrency: 1 }))).toBe('-----x-(y|)');
    });
  });

  it('completion waits for a coalesced follow-up', () => {
    scheduler.run(({ cold, hot, expectObservable }) => {
      const a = cold('--(x|)');
      const source = hot('aa|');
      expectObservable(source.pipe(serializePerKey(projectFrom({ a })))).toBe('--x-(x|)');
    });
  });

  it('completes at once when the source completes with nothing to do', () => {
    scheduler.run(({ hot, expectObservable }) => {
      expectObservable(hot<string>('---|').pipe(serializePerKey(() => new Observable<string>()))).toBe('---|');
    });
  });

  it('every value a run emits is passed on', () => {
    scheduler.run(({ cold, hot, expectObservable }) => {
      const a = cold('-x-y-(z|)');
      expectObservable(hot('a|').pipe(serializePerKey(projectFrom({ a })))).toBe('-x-y-(z|)');
    });
  });

  it('a run\'s error is the output\'s error, and the other runs are torn down', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('--#', undefined, new Error('boom'));
      const b = cold('------(y|)');
      const source = hot('-ba-----|');
      expectObservable(source.pipe(serializePerKey(projectFrom({ a, b })))).toBe('----#', undefined, new Error('boom'));
      expectSubscriptions(b.subscriptions).toBe('-^--!');
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('a project that throws errors the output', () => {
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot('-a--|');
      const boom = new Error('project threw');
      const op = serializePerKey<string, string>(() => {
        throw boom;
      });
      expectObservable(source.pipe(op)).toBe('-#', undefined, boom);
    });
  });

  it('the source\'s error is the output\'s error, and running work is torn down', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('-----(x|)');
      const source = hot('a--#', undefined, new Error('source failed'));
      expectObservable(source.pipe(serializePerKey(projectFrom({ a })))).toBe('---#', undefined, new Error('source failed'));
      expectSubscriptions(a.subscriptions).toBe('^--!');
    });
  });

  it('unsubscribing tears down running work and starts no queued work', () => {
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('------(x|)');
      const b = cold('-(y|)');
      const source = hot('ab-------|');
      expectObservable(source.pipe(serializePerKey(projectFrom({ a, b }), { concurrency: 1 })), '^--!').toBe('');
      expectSubscriptions(a.subscriptions).toBe('^--!');
      expectSubscriptions(b.subscriptions).toBe([]);
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('a long queue of runs that finish synchronously all run, and the output completes', () => {
    // A run may complete synchronously (of(), a cached value); draining the queue must not recurse once per key.
    const source = new Subject<string>();
    const slow = new Subject<string>();
    const results: string[] = [];
    let completed = false;
    let failed: unknown = null;
    source
      .pipe(serializePerKey((key: string) => (key === 'slow' ? slow : of(key)), { concurrency: 1 }))
      .subscribe({ next: (v) => results.push(v), error: (e) => (failed = e), complete: () => (completed = true) });
    source.next('slow');
    for (let i = 0; i < 5_000; i++) source.next(`k${i}`);
    source.complete();
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // if this overflows the stack, fail fast rather than format thousands of traces
    try {
      slow.next('slow');
      slow.complete();
    } finally {
      Error.stackTraceLimit = limit;
    }
    expect(failed).to.equal(null);
    expect(results).to.have.length(5_001);
    expect(completed).to.equal(true);
  });

  it('holds no state for keys it is done with (1,000 distinct keys, real promises)', async () => {
    const started: string[] = [];
    const release = new Map<string, () => void>();
    const project = (key: string) => {
      started.push(key);
      return new Promise<string>((resolve) => release.set(key, () => resolve(key)));
    };
    const source = new Subject<string>();
    const results: string[] = [];
    let completed = false;
    source.pipe(serializePerKey(project, { concurrency: 10 })).subscribe({
      next: (v) => results.push(v),
      complete: () => (completed = true),
    });

    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
    for (const key of keys) source.next(key);
    // Release whatever runs until every key has run once.
    while (results.length < keys.length) {
      const running = started.filter((k) => release.has(k));
      expect(running.length, 'never more than the cap in flight').to.be.at.most(10);
      for (const k of running) {
        release.get(k)!();
        release.delete(k);
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(started).to.deep.equal(keys); // each once, in arrival order
    expect(results).to.have.length(1000);

    // Nothing is left: ten old keys start immediately (no phantom slots, no stale "running" entry)...
    started.length = 0;
    for (const key of keys.slice(0, 10)) source.next(key);
    expect(started).to.deep.equal(keys.slice(0, 10));
    // ...the eleventh waits for a slot...
    source.next('k500');
    expect(started).to.have.length(10);
    // ...and a repeat of a running key is one follow-up, not a stale flag from its first run.
    source.next('k0');
    source.next('k0');
    release.get('k0')!();
    release.delete('k0');
    await new Promise((r) => setImmediate(r));
    expect(started.slice(10)).to.deep.equal(['k500']);
    release.get('k500')!();
    release.delete('k500');
    await new Promise((r) => setImmediate(r));
    expect(started.slice(10)).to.deep.equal(['k500', 'k0']);

    source.complete();
    expect(completed, 'runs in flight hold completion').to.equal(false);
    for (const [k, done] of [...release]) {
      done();
      release.delete(k);
    }
    await new Promise((r) => setImmediate(r));
    expect(completed).to.equal(true);
  });
});
