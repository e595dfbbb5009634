/**
 * The controller runtime as a kind sees it (no Docker, no database): a fake kind whose
 * reconcile the test controls, fake sources (Subjects), and sinon's fake clock for time.
 * What a kind relies on: a failing reconcile is retried with backoff and a success resets it;
 * requeueAfter is honoured; a key is never reconciled by two workers at once; hints that arrive
 * during a reconcile coalesce into one follow-up; a resync relists; stop drains what runs.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { Subject } from 'rxjs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Controller, type Kind, type Sources } from '../../../src/runtime/controller.js';
import type { ReconcileResult } from '../../../src/runtime/workqueue.js';
import { TerminalError } from '../../../src/errors.js';
import type { DockerEventSignal } from '../../../src/docker/events.js';
import type { NotificationSignal } from '../../../src/db/listener.js';

/** A reconcile the test ends when it wants to. */
interface Pending {
  key: string;
  resolve(result?: ReconcileResult): void;
  reject(err: unknown): void;
}

/** A kind whose every reconcile waits for the test (or answers at once with `auto`). */
class FakeKind implements Kind {
  readonly name = 'fake';
  readonly watched = new Subject<string>();
  readonly calls: Array<{ key: string; at: number }> = [];
  readonly pending: Pending[] = [];
  /** Keys reconciling now, and the most at once per key. */
  readonly inFlight = new Map<string, number>();
  maxPerKey = 0;
  listed: string[] = [];
  failed: Array<{ key: string; code: string }> = [];
  /** When set, each reconcile ends at once with this. */
  auto: ((key: string, n: number) => ReconcileResult | Error) | null = null;

  constructor(readonly concurrency = 16) {}

  watch(): Subject<string> {
    return this.watched;
  }
  async list(): Promise<string[]> {
    return this.listed;
  }
  async fail(key: string, err: TerminalError): Promise<void> {
    this.failed.push({ key, code: err.code });
  }
  reconcile(key: string): Promise<ReconcileResult> {
    this.calls.push({ key, at: Date.now() });
    const now = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, now);
    this.maxPerKey = Math.max(this.maxPerKey, now);
    const done = () => this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1);
    if (this.auto) {
      const out = this.auto(key, this.calls.filter((c) => c.key === key).length);
      done();
      return out instanceof Error ? Promise.reject(out) : Promise.resolve(out);
    }
    return new Promise<ReconcileResult>((resolve, reject) => {
      this.pending.push({
        key,
        resolve: (r = {}) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
    });
  }
  callsOf(key: string): number[] {
    return this.calls.filter((c) => c.key === key).map((c) => c.at);
  }
}

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, sink) };
}

describe('runtime/Controller (fake kind, fake sources, fake clock)', () => {
  let clock: sinon.SinonFakeTimers;
  let kind: FakeKind;
  let controller: Controller;
  let resync$: Subject<string>;
  let log: ReturnType<typeof capture>;
  const sources = (): Sources => ({
    docker$: new Subject<DockerEventSignal>(),
    notifications$: new Subject<NotificationSignal>(),
    resync$,
  });
  /** Let promises and the queue's zero-delay timers run. */
  const settle = () => clock.tickAsync(0);

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'Date'] });
    kind = new FakeKind();
    resync$ = new Subject<string>();
    log = capture();
    controller = new Controller(kind, log.logger);
    controller.start(sources());
  });
  afterEach(async () => {
    for (const p of kind.pending.splice(0)) p.resolve();
    const stopped = controller.stop();
    await clock.tickAsync(0);
    await stopped;
    clock.restore();
  });

  it('a hint from the kind\'s watch reconciles its key', async () => {
    kind.watched.next('a');
    await settle();
    expect(kind.calls.map((c) => c.key)).to.deep.equal(['a']);
  });

  it('a failing reconcile is retried with a growing backoff, logged each time; a success ends the retries', async () => {
    kind.auto = (_key, n) => (n <= 3 ? new Error(`boom ${n}`) : {});
    kind.watched.next('a');
    await clock.tickAsync(10_000);
    const at = kind.callsOf('a');
    expect(at).to.have.length(4);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    // Exponential: each wait at least the one before, the first one not immediate.
    expect(gaps[0]).to.be.greaterThan(0);
    expect(gaps[1]).to.be.at.least(gaps[0]! * 2);
    expect(gaps[2]).to.be.at.least(gaps[1]! * 2);
    const errors = log.lines.filter((l) => l['event'] === 'reconcile.error');
    expect(errors.map((e) => e['attempt'])).to.deep.equal([1, 2, 3]);
    expect(errors[0]).to.include({ key: 'a', err: 'boom 1', kind: 'fake' });
    await clock.tickAsync(60_000);
    expect(kind.callsOf('a')).to.have.length(4); // nothing after the success
  });

  it('a success resets the backoff: the next failure waits the first, short delay again', async () => {
    let fail = true;
    kind.auto = () => (fail ? new Error('down') : {});
    kind.watched.next('a');
    await clock.tickAsync(5_000); // several failures: the backoff has grown
    const grown = kind.callsOf('a').length;
    expect(grown).to.be.at.least(4);
    fail = false;
    await clock.tickAsync(30_000);
    const afterSuccess = kind.callsOf('a').length;
    fail = true;
    kind.watched.next('a');
    await clock.tickAsync(0);
    const t0 = Date.now();
    await clock.tickAsync(1_000);
    const retried = kind.callsOf('a').slice(afterSuccess);
    expect(retried.length).to.be.at.least(2); // the first failure, and its retry within the first backoff
    expect(retried[1]! - t0).to.be.below(1_000);
  });

  it('requeueAfter brings the key back after that long, not before', async () => {
    kind.auto = (_k, n) => (n === 1 ? { requeueAfterMs: 5_000 } : {});
    kind.watched.next('a');
    await settle();
    await clock.tickAsync(4_999);
    expect(kind.callsOf('a')).to.have.length(1);
    await clock.tickAsync(1);
    expect(kind.callsOf('a')).to.have.length(2);
    expect(kind.callsOf('a')[1]! - kind.callsOf('a')[0]!).to.equal(5_000);
  });

  it('a key is never reconciled by two workers at once, and a burst of hints during a reconcile coalesces into one follow-up', async () => {
    kind.watched.next('a');
    await settle();
    expect(kind.pending.map((p) => p.key)).to.deep.equal(['a']);
    for (let i = 0; i < 10; i++) kind.watched.next('a');
    controller.enqueue('a');
    await settle();
    expect(kind.pending).to.have.length(1); // still the first one: no second worker on 'a'
    kind.pending.shift()!.resolve();
    await settle();
    expect(kind.pending.map((p) => p.key)).to.deep.equal(['a']); // exactly one follow-up
    kind.pending.shift()!.resolve();
    await settle();
    expect(kind.calls).to.have.length(2);
    expect(kind.maxPerKey).to.equal(1);
  });

  it('different keys run side by side, up to the kind\'s concurrency', async () => {
    await controller.stop();
    kind = new FakeKind(2);
    controller = new Controller(kind, log.logger);
    controller.start(sources());
    for (const k of ['a', 'b', 'c']) kind.watched.next(k);
    await settle();
    expect(kind.pending.map((p) => p.key)).to.deep.equal(['a', 'b']);
    kind.pending.shift()!.resolve();
    await settle();
    expect(kind.pending.map((p) => p.key)).to.deep.equal(['b', 'c']);
  });

  it('a resync relists every key the kind lists; a failing list is logged and the controller goes on', async () => {
    kind.auto = () => ({});
    kind.listed = ['x', 'y'];
    resync$.next('periodic');
    await settle();
    expect(kind.calls.map((c) => c.key).sort()).to.deep.equal(['x', 'y']);
    kind.list = () => Promise.reject(new Error('db down'));
    resync$.next('postgres reconnect');
    await settle();
    expect(log.lines.find((l) => l['event'] === 'controller.resync_error')).to.include({ reason: 'postgres reconnect', err: 'db down' });
    kind.watched.next('z');
    await settle();
    expect(kind.calls.map((c) => c.key)).to.include('z');
  });

  it('a TerminalError goes to kind.fail (recorded, not retried with backoff)', async () => {
    kind.auto = (_k, n) => (n === 1 ? new TerminalError('invalid_params', 'never valid') : {});
    kind.watched.next('a');
    await clock.tickAsync(1_000);
    expect(kind.failed).to.deep.equal([{ key: 'a', code: 'invalid_params' }]);
    expect(log.lines.filter((l) => l['event'] === 'reconcile.error')).to.have.length(0);
    expect(kind.callsOf('a')).to.have.length(2); // looked at again right after the failure was recorded
  });

  it('a source that errors is logged and dropped; enqueue and resync still work', async () => {
    kind.auto = () => ({});
    kind.watched.error(new Error('stream broke'));
    await settle();
    expect(log.lines.find((l) => l['event'] === 'controller.source_error')).to.include({ err: 'stream broke' });
    controller.enqueue('b');
    await settle();
    expect(kind.callsOf('b')).to.have.length(1);
  });

  it('stop drains: it waits for the reconcile in flight, drops what waits and what is timed, and takes no new keys', async () => {
    kind.watched.next('a');
    await settle();
    kind.watched.next('a'); // a follow-up waiting
    const stopped = controller.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await settle();
    expect(done, 'stop resolved while a reconcile ran').to.equal(false);
    controller.enqueue('b'); // after stop: ignored
    kind.pending.shift()!.resolve({ requeueAfterMs: 1_000 });
    await settle();
    await stopped;
    expect(done).to.equal(true);
    await clock.tickAsync(10_000);
    expect(kind.calls.map((c) => c.key)).to.deep.equal(['a']); // no follow-up, no timer, no 'b'
    expect(await controller.stop()).to.equal(undefined); // idempotent
  });

  it('while the controller may not act (its lock lost), reconciles back off instead of running', async () => {
    await controller.stop();
    let active = false;
    kind = new FakeKind();
    kind.auto = () => ({});
    controller = new Controller(kind, log.logger, { active: () => active });
    controller.start(sources());
    kind.watched.next('a');
    await clock.tickAsync(2_000);
    expect(kind.calls).to.have.length(0);
    active = true;
    await clock.tickAsync(60_000);
    expect(kind.callsOf('a')).to.have.length(1);
  });

  it('reports every reconcile to onReconciled, with whether it succeeded', async () => {
    await controller.stop();
    const seen: Array<[string, boolean]> = [];
    kind = new FakeKind();
    kind.auto = (_k, n) => (n === 1 ? new Error('once') : {});
    controller = new Controller(kind, log.logger, { onReconciled: (name, _s, ok) => seen.push([name, ok]) });
    controller.start(sources());
    kind.watched.next('a');
    await clock.tickAsync(5_000);
    expect(seen).to.deep.equal([
      ['fake', false],
      ['fake', true],
    ]);
  });
});
