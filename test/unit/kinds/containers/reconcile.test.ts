/**
 * The containers kind's reconcile pass and its watch, against a fake pool and a fake Docker
 * client (no daemon, no database): which rows it leaves alone without asking Docker, when it
 * asks to look again, how a Docker failure is retried until the intent's start bound and then
 * ends it, and which hints become which keys. (What it decides for each row and container
 * state is decide.test.ts.)
 */
import { expect } from 'chai';
import { Subject, firstValueFrom, take, toArray } from 'rxjs';
import { ContainersKind } from '../../../../src/kinds/containers/kind.js';
import type { ContainerClient, ContainerState } from '../../../../src/docker/client.js';
import type { Pool } from '../../../../src/db/pool.js';
import type { DockerEventSignal } from '../../../../src/docker/events.js';
import type { NotificationSignal } from '../../../../src/db/listener.js';
import { CHANNELS } from '../../../../src/db/listener.js';
import { HighwayError, TerminalError } from '../../../../src/errors.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import type { IntentRow } from '../../../../src/model.js';
import { INTENT_ID, MINUTE, NOW, at, containerState, intentRow, pendingIntent, surroundings } from '../../../support/fixtures.js';

const ME = 'reconciler-1';

/** A pool that answers the pass's load with `row` (null: no such intent) and records every query. */
function fakePool(row: IntentRow | null) {
  const queries: Array<{ text: string; values: unknown[] }> = [];
  const pool = {
    async query(config: string | { text: string; values?: unknown[] }, values?: unknown[]) {
      const text = typeof config === 'string' ? config : config.text;
      queries.push({ text, values: (typeof config === 'string' ? values : config.values) ?? [] });
      if (text.includes('WITH claim AS')) {
        return { rows: row ? [{ ...row, claimed_by: row.reconciler_id, ...surroundings(), db_now: NOW }] : [], rowCount: row ? 1 : 0 };
      }
      if (/RETURNING/.test(text) && row) return { rows: [{ ...row, status: 'failed' }], rowCount: 1 };
      return { rows: [], rowCount: 0 };
    },
  };
  return { pool: pool as unknown as Pool, queries, writes: () => queries.filter((q) => !q.text.includes('WITH claim AS')) };
}

/** A Docker client whose `inspect` the test sets; any other call fails the pass, naming itself. */
function fakeDocker(inspect: (name: string) => Promise<ContainerState | null>) {
  const calls: string[] = [];
  const known: Partial<ContainerClient> = {
    inspect: (name) => {
      calls.push(`inspect ${name}`);
      return inspect(name);
    },
    breakerOpen: () => false,
  };
  const client = new Proxy(known, {
    get(target, prop) {
      if (prop in target) return target[prop as keyof ContainerClient];
      if (prop === 'then') return undefined;
      return () => {
        calls.push(String(prop));
        throw new Error(`unexpected Docker call in this pass: ${String(prop)}`);
      };
    },
  }) as ContainerClient;
  return { client, calls };
}

const kindOn = (pool: Pool, docker: ContainerClient) => new ContainersKind({ pool, docker, logger: silentLogger, reconcilerId: ME, clusterId: 'cluster-1' });

describe('kinds/containers: reconcile against a fake pool and a fake Docker client', () => {
  it('an intent that is not there, or already removed, is left alone: no Docker call, no write', async () => {
    for (const row of [null, intentRow({ status: 'exited', removed_at: at(-MINUTE), finished_at: at(-MINUTE) })]) {
      const db = fakePool(row);
      const docker = fakeDocker(async () => containerState());
      expect(await kindOn(db.pool, docker.client).reconcile(INTENT_ID)).to.deep.equal({});
      expect(docker.calls).to.deep.equal([]);
      expect(db.writes()).to.deep.equal([]);
    }
  });

  it("another host's intent is never touched, not even inspected", async () => {
    const db = fakePool(intentRow({ reconciler_id: 'another-host' }));
    const docker = fakeDocker(async () => containerState());
    expect(await kindOn(db.pool, docker.client).reconcile(INTENT_ID)).to.deep.equal({});
    expect(docker.calls).to.deep.equal([]);
    expect(db.writes()).to.deep.equal([]);
  });

  it('a running container within its timeout: nothing to do; look again at its deadline', async () => {
    const db = fakePool(intentRow({ worker_id: null }));
    const docker = fakeDocker(async () => containerState());
    const result = await kindOn(db.pool, docker.client).reconcile(INTENT_ID);
    expect(docker.calls).to.deep.equal([`inspect highway-${INTENT_ID}`]);
    expect(db.writes()).to.deep.equal([]);
    // The deadline is 59 minutes after the database's clock.
    expect(result.requeueAfterMs).to.be.a('number');
    expect(result.requeueAfterMs).to.be.within(59 * MINUTE - 1_000, 59 * MINUTE + 1_000);
  });

  it("with a worker: look again when the worker's heartbeat would be too old (the worker timeout), before the deadline", async () => {
    const db = fakePool(intentRow());
    const result = await kindOn(db.pool, fakeDocker(async () => containerState()).client).reconcile(INTENT_ID);
    expect(db.writes()).to.deep.equal([]);
    expect(result.requeueAfterMs).to.be.within(29_000, 31_000); // the worker beat at the database's now; the default worker timeout is 30 s
  });

  it('a Docker failure within the start bound is thrown as it is, for the queue to retry with backoff', async () => {
    const db = fakePool(pendingIntent({ reconciler_id: ME, start_attempted_at: at(-1_000), created_at: at(-5_000), spec: { image: 'alpine:3.20', timeout: 3600 } }));
    const down = new HighwayError('docker_unavailable', 'the daemon does not answer');
    const docker = fakeDocker(() => Promise.reject(down));
    const err = await kindOn(db.pool, docker.client).reconcile(INTENT_ID).catch((e: unknown) => e);
    expect(err).to.equal(down);
    expect(err).not.to.be.instanceOf(TerminalError);
  });

  it('a Docker failure past the start bound ends the intent: a TerminalError naming the bound and the last error', async () => {
    const db = fakePool(pendingIntent({ reconciler_id: ME, start_attempted_at: at(-1_000), created_at: at(-10 * MINUTE), spec: { image: 'alpine:3.20', timeout: 60 } }));
    const docker = fakeDocker(() => Promise.reject(new HighwayError('docker_unavailable', 'the daemon does not answer')));
    const err = await kindOn(db.pool, docker.client).reconcile(INTENT_ID).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TerminalError);
    expect((err as TerminalError).code).to.equal('docker_unavailable');
    expect((err as Error).message).to.match(/^could not be started within 60 s \(its timeout\); last error: the daemon does not answer$/);
  });

  it('fail() records the terminal error on the row: failed, with its code and message', async () => {
    const db = fakePool(intentRow());
    await kindOn(db.pool, fakeDocker(async () => null).client).fail(INTENT_ID, new TerminalError('invalid_params', 'memory_limit: not a size'));
    const update = db.writes().find((q) => /UPDATE highway\.docker_containers/.test(q.text));
    expect(update, JSON.stringify(db.writes().map((q) => q.text.slice(0, 80)))).to.not.equal(undefined);
    expect(update!.values).to.include.members([INTENT_ID]);
    expect(JSON.stringify(update!.values)).to.contain('failed').and.to.contain('invalid_params').and.to.contain('memory_limit: not a size');
  });

  describe('watch: hints become keys', () => {
    const OTHER = '11111111-2222-4333-8444-555555555555';
    async function keysFor(docker: DockerEventSignal[], notes: NotificationSignal[], n: number) {
      const kind = kindOn(fakePool(null).pool, fakeDocker(async () => null).client);
      const docker$ = new Subject<DockerEventSignal>();
      const notifications$ = new Subject<NotificationSignal>();
      const keys = firstValueFrom(kind.watch({ docker$, notifications$, resync$: new Subject<string>() }).pipe(take(n), toArray()));
      for (const s of docker) docker$.next(s);
      for (const s of notes) notifications$.next(s);
      return keys;
    }
    const event = (action: string, intentId: string): DockerEventSignal => ({
      type: 'event',
      event: { type: 'container', action, id: 'c'.repeat(64), labels: { 'highway.managed': 'true', 'highway.intent_id': intentId }, timeNano: 1n },
    });

    it("a container's exit is finishing work (high priority); its own create and start, and labels that are no intent id, are no news", async () => {
      const keys = await keysFor([event('create', INTENT_ID), event('start', INTENT_ID), event('die', 'not-a-uuid'), event('die', INTENT_ID), event('oom', OTHER)], [], 2);
      expect(keys).to.deep.equal([
        { key: INTENT_ID, priority: 'high' },
        { key: OTHER, priority: 'high' },
      ]);
    });

    it('a new intent is normal work, a stop asked for is high; a malformed payload is dropped', async () => {
      const keys = await keysFor(
        [],
        [
          { type: 'notification', channel: CHANNELS.intent, payload: 'garbage' },
          { type: 'notification', channel: CHANNELS.intent, payload: INTENT_ID },
          { type: 'notification', channel: CHANNELS.intent, payload: `${OTHER} stop` },
        ],
        2,
      );
      expect(keys).to.deep.equal([
        { key: INTENT_ID, priority: 'normal' },
        { key: OTHER, priority: 'high' },
      ]);
    });
  });
  describe('an exit around an outage of the daemon (soak finding 11): its output is said to be possibly incomplete', () => {
    const INTERRUPTED = 'SET output_interrupted_at = COALESCE(output_interrupted_at, $2)';
    /** A Docker client that pings, inspects `c`, and reads an output that lost its last line. */
    function dockerWith(c: () => ContainerState, daemon: 'answers' | 'away' = 'answers') {
      const fake = fakeDocker(async () => c());
      Object.assign(fake.client, {
        docker: { ping: async () => (daemon === 'answers' ? 'OK' : Promise.reject(new Error('connect ECONNREFUSED /var/run/docker.sock'))) },
        logsForRow: async () => ({ stdout: 'out\n', stderr: '', truncated: false }),
        remove: async () => {},
      });
      return fake;
    }
    const exited = (startedAgoMs: number, finishedAgoMs: number) => () =>
      containerState({ status: 'exited', exitCode: 0, startedAt: new Date(Date.now() - startedAgoMs), finishedAt: new Date(Date.now() - finishedAgoMs) });
    const settle = () => new Promise((r) => setTimeout(r, 20));
    const interruptions = (db: ReturnType<typeof fakePool>) => db.queries.filter((q) => q.text.includes(INTERRUPTED)).map((q) => q.values[1]);

    it('an exit while the events stream is lost waits for the reconnect; a reconnect after the daemon went away marks it', async () => {
      const db = fakePool(intentRow({ worker_id: null }));
      const docker = dockerWith(exited(2_000, 10), 'away');
      const kind = kindOn(db.pool, docker.client);
      const docker$ = new Subject<DockerEventSignal>();
      const sub = kind.watch({ docker$, notifications$: new Subject<NotificationSignal>(), resync$: new Subject<string>() }).subscribe();
      try {
        const awaySince = new Date(Date.now() - 500);
        docker$.next({ type: 'disconnected', reason: 'the events stream ended' });
        await settle(); // the probe: no answer
        expect(await kind.reconcile(INTENT_ID)).to.deep.equal({ requeueAfterMs: 1_000 });
        const collects = () => db.writes().filter((q) => /\bstdout\b/.test(q.text));
        expect(collects(), 'nothing collected while nobody can tell').to.deep.equal([]);
        // The manager records the outage, then forwards the reconnect.
        await kind.daemonReturned(awaySince);
        docker$.next({ type: 'connected', reconnect: true, daemonWentAway: true, awaySince });
        await kind.reconcile(INTENT_ID).catch(() => {});
        expect(interruptions(db)).to.deep.equal([awaySince]);
      } finally {
        sub.unsubscribe();
      }
    });

    it('a stalled stream (a frozen daemon loses no output), or a lost one whose daemon answers its ping, does not hold the exit', async () => {
      const db = fakePool(intentRow({ worker_id: null }));
      const kind = kindOn(db.pool, dockerWith(exited(2_000, 10)).client);
      const docker$ = new Subject<DockerEventSignal>();
      const sub = kind.watch({ docker$, notifications$: new Subject<NotificationSignal>(), resync$: new Subject<string>() }).subscribe();
      try {
        docker$.next({ type: 'stalled' });
        await kind.reconcile(INTENT_ID).catch(() => {});
        expect(interruptions(db)).to.deep.equal([]);
        expect(db.writes().length, 'collected during the stall').to.be.greaterThan(0);

        // The stream cut while the daemon answers its ping: not an outage; the exit is collected.
        const cut = fakePool(intentRow({ worker_id: null }));
        const again = kindOn(cut.pool, dockerWith(exited(2_000, 10), 'answers').client);
        const cut$ = new Subject<DockerEventSignal>();
        const sub2 = again.watch({ docker$: cut$, notifications$: new Subject<NotificationSignal>(), resync$: new Subject<string>() }).subscribe();
        try {
          cut$.next({ type: 'disconnected', reason: 'the connection was cut' });
          await settle(); // the probe: the daemon answers
          await again.reconcile(INTENT_ID).catch(() => {});
          expect(interruptions(cut)).to.deep.equal([]);
          expect(cut.writes().length, 'collected while the stream reconnects').to.be.greaterThan(0);
        } finally {
          sub2.unsubscribe();
        }
      } finally {
        sub.unsubscribe();
      }
    });

    it('a pass that collects before the outage is marked on the rows still marks a container that ran through it, and only such a one', async () => {
      // The fake pool's UPDATE of the rows changes nothing: the row as a racing pass loads it.
      const awaySince = new Date(Date.now() - 3_000);
      const through = fakePool(intentRow({ worker_id: null }));
      const kind = kindOn(through.pool, dockerWith(exited(10_000, 2_000)).client);
      await kind.daemonReturned(awaySince);
      await kind.reconcile(INTENT_ID).catch(() => {});
      expect(interruptions(through)).to.deep.equal([awaySince]);

      // Started after the daemon was back (its start read at the inspect, 30 ms after): nothing of it was lost.
      const fresh = fakePool(intentRow({ worker_id: null }));
      const k = kindOn(fresh.pool, dockerWith(exited(5, 1)).client);
      await k.daemonReturned(awaySince);
      await new Promise((r) => setTimeout(r, 30));
      await k.reconcile(INTENT_ID).catch(() => {});
      expect(interruptions(fresh)).to.deep.equal([]);
    });
  });
});
