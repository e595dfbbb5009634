/**
 * The manager (no Docker, no database): fake kinds, a fake Docker events endpoint (a stream the
 * test writes events to) and a fake LISTEN connection (the `listener` seam), on sinon's fake
 * clock. What a host relies on: one shared events subscription for every kind, filtered to
 * this host's containers of this cluster; every (re)connect and the periodic timer make every
 * kind relist; stop ends the runnables first, then the controllers once their reconciles are
 * done, then the connections.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { PassThrough } from 'node:stream';
import { Subject, filter, map, type Observable } from 'rxjs';
import type Docker from 'dockerode';
import { Manager, type Listener } from '../../../src/runtime/manager.js';
import type { Kind, Sources } from '../../../src/runtime/controller.js';
import type { ReconcileResult } from '../../../src/runtime/workqueue.js';
import type { ContainerClient } from '../../../src/docker/client.js';
import type { NotificationSignal } from '../../../src/db/listener.js';
import type { Pool } from '../../../src/db/pool.js';
import { silentLogger } from '../../../src/observability/logger.js';

const ME = 'host-1';
const CLUSTER = 'cluster-1';

/** A kind that turns container events into their intent label, and records every pass. */
class FakeKind implements Kind {
  readonly reconciled: string[] = [];
  readonly relists: number[] = [];
  hold: Promise<void> | null = null;
  constructor(
    readonly name: string,
    readonly dockerActions: readonly string[],
    readonly channels: readonly string[] = [],
    private readonly log: string[] = [],
  ) {}
  watch(sources: Sources): Observable<string> {
    return sources.docker$.pipe(
      filter((s) => s.type === 'event'),
      map((s) => (s.type === 'event' ? s.event.labels['highway.intent_id']! : '')),
    );
  }
  async list(): Promise<string[]> {
    this.relists.push(Date.now());
    return [];
  }
  async reconcile(key: string): Promise<ReconcileResult> {
    this.reconciled.push(key);
    if (this.hold) await this.hold;
    this.log.push(`${this.name} reconciled ${key}`);
    return {};
  }
}

/** The daemon's /events as a stream the test writes to; a bounded (since/until) query answers nothing. */
function fakeDaemon() {
  const subscriptions: Array<{ filters: Record<string, string[]>; stream: PassThrough }> = [];
  const docker = {
    async getEvents(opts: { filters: Record<string, string[]>; until?: string }) {
      const stream = new PassThrough();
      if (opts.until) stream.end();
      else subscriptions.push({ filters: opts.filters, stream });
      return stream;
    },
  };
  const client = { docker: docker as unknown as Docker, breakerOpen: () => false } as unknown as ContainerClient;
  const emit = (action: string, labels: Record<string, string>) =>
    subscriptions.at(-1)!.stream.write(
      `${JSON.stringify({ Type: 'container', Action: action, id: 'c'.repeat(64), Actor: { ID: 'c'.repeat(64), Attributes: labels }, time: 1, timeNano: Date.now() * 1e6 })}\n`,
    );
  return { client, subscriptions, emit };
}

function fakeListener(log: string[]) {
  const signals = new Subject<NotificationSignal>();
  let channels: readonly string[] = [];
  const listener: Listener = {
    signals$: signals.asObservable(),
    connected: true,
    async start() {
      signals.next({ type: 'connected', reconnect: false });
    },
    async stop() {
      log.push('listener stopped');
    },
  };
  return {
    signals,
    channels: () => channels,
    make: (c: readonly string[]) => {
      channels = c;
      return listener;
    },
  };
}

describe('runtime/Manager (fake kinds, fake daemon, fake LISTEN connection, fake clock)', () => {
  let clock: sinon.SinonFakeTimers;
  let log: string[];
  let daemon: ReturnType<typeof fakeDaemon>;
  let listen: ReturnType<typeof fakeListener>;
  let manager: Manager;
  let a: FakeKind;
  let b: FakeKind;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    log = [];
    daemon = fakeDaemon();
    listen = fakeListener(log);
    manager = new Manager({
      id: ME,
      clusterId: CLUSTER,
      pool: {} as Pool,
      databaseUrl: 'postgresql://unused',
      docker: daemon.client,
      logger: silentLogger,
      exclusive: false,
      resyncIntervalMs: 30_000,
      listener: (channels) => listen.make(channels),
    });
    a = new FakeKind('a', ['die', 'destroy'], ['chan_a'], log);
    b = new FakeKind('b', ['die', 'oom'], ['chan_a', 'chan_b'], log);
    manager.add(a);
    manager.add(b);
  });
  /** Ends every held reconcile (a test that failed midway must not hang the next stop). */
  const releases: Array<() => void> = [];
  afterEach(async () => {
    for (const r of releases.splice(0)) r();
    const stopped = manager.stop();
    await clock.tickAsync(0);
    await stopped;
    clock.restore();
  });

  const start = async () => {
    const started = manager.start();
    await clock.tickAsync(0);
    await started;
  };
  const ours = (intent: string, extra: Record<string, string> = {}) => ({ 'highway.managed': 'true', 'highway.reconciler_id': ME, 'highway.cluster_id': CLUSTER, 'highway.intent_id': intent, ...extra });

  it("one events subscription for every kind, asking the daemon for just the union of their actions; one LISTEN on the union of their channels", async () => {
    await start();
    // Two, each filtered by the daemon: this reconciler's containers (by label: others' churn is
    // never sent), and image events (which carry no labels of ours).
    expect(daemon.subscriptions).to.have.length(2);
    const [containers, images] = daemon.subscriptions;
    expect([...containers!.filters['event']!].sort()).to.deep.equal(['destroy', 'die', 'oom']);
    expect(containers!.filters['type']).to.deep.equal(['container']);
    expect([...containers!.filters['label']!].sort()).to.deep.equal(['highway.managed=true', `highway.reconciler_id=${manager.id}`]);
    expect(images!.filters['type']).to.deep.equal(['image']);
    expect(images!.filters['label'] ?? []).to.deep.equal([]);
    expect([...listen.channels()].sort()).to.deep.equal(['chan_a', 'chan_b']);
  });

  it("this host's containers of this cluster reach every kind; another host's, another cluster's, or an unmanaged one's do not", async () => {
    await start();
    daemon.emit('die', ours('mine'));
    daemon.emit('die', ours('pre-cluster-label', { 'highway.cluster_id': '' }));
    daemon.emit('die', { ...ours('other-host'), 'highway.reconciler_id': 'host-2' });
    daemon.emit('die', { ...ours('other-cluster'), 'highway.cluster_id': 'cluster-2' });
    daemon.emit('die', { ...ours('unmanaged'), 'highway.managed': 'false' });
    await clock.tickAsync(10);
    expect(a.reconciled).to.deep.equal(['mine']);
    expect(b.reconciled).to.deep.equal(['mine']);
  });

  it('every kind relists on start (both connections), on a LISTEN reconnect, and every resync interval', async () => {
    await start();
    await clock.tickAsync(10);
    const initial = a.relists.length;
    expect(initial).to.equal(3); // the Docker connects (containers, images) and the PostgreSQL connect
    listen.signals.next({ type: 'connected', reconnect: true });
    await clock.tickAsync(10);
    expect(a.relists.length).to.equal(initial + 1);
    await clock.tickAsync(30_000);
    expect(a.relists.length).to.equal(initial + 2);
    expect(b.relists.length).to.equal(a.relists.length);
  });

  it('stop: the controllers once their reconciles end, then the LISTEN connection', async () => {
    a.hold = new Promise<void>((r) => releases.push(r));
    await start();
    daemon.emit('die', ours('slow'));
    await clock.tickAsync(10);
    expect(a.reconciled).to.deep.equal(['slow']);
    const stopped = manager.stop();
    await clock.tickAsync(10);
    expect(log).to.deep.equal(['b reconciled slow']); // a's pass still runs; the listener waits for it
    for (const r of releases.splice(0)) r();
    await clock.tickAsync(10);
    await stopped;
    expect(log).to.deep.equal(['b reconciled slow', 'a reconciled slow', 'listener stopped']);
  });

  it('a kind is added before start, once', async () => {
    expect(() => manager.add(new FakeKind('a', []))).to.throw('kind already added: a');
    await start();
    expect(() => manager.add(new FakeKind('c', []))).to.throw(/already started/);
  });

  it('start fails with docker_unavailable when the events stream does not connect in time', async () => {
    const never = { docker: { getEvents: () => new Promise(() => {}) } as unknown as Docker, breakerOpen: () => false } as unknown as ContainerClient;
    const m = new Manager({ id: ME, clusterId: CLUSTER, pool: {} as Pool, databaseUrl: '', docker: never, logger: silentLogger, exclusive: false, connectTimeoutMs: 2_000, listener: (c) => listen.make(c) });
    const started = m.start().catch((e: unknown) => e);
    await clock.tickAsync(2_001);
    const err = (await started) as { code?: string; message: string };
    expect(err.code).to.equal('docker_unavailable');
    expect(err.message).to.match(/within 2 s/);
    const stopping = m.stop();
    await clock.tickAsync(10);
    await stopping;
  });
});
