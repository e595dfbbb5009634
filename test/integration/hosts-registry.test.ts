/**
 * Hosts on a real PostgreSQL (and the real Docker daemon for its id and version): registration,
 * heartbeats, graceful stop, liveness and running counts as `hosts` shows them, surviving a
 * database outage, the NOTIFY, and the retention of ended intents.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import Docker from 'dockerode';
import { freshDatabase, startOwnPostgres, type TestDatabase } from '../support/postgres.js';
import { HostRegistry, deadHosts, dockerDaemonInfo, listHosts } from '../../src/hosts/registry.js';
import { createPool, type Queryable } from '../../src/db/pool.js';
import { deleteEndedIntents } from '../../src/db/queries/retention.js';
import { hosts } from '../../src/cli/hosts.js';
import { runKinds, type RunningKinds } from '../../src/runtime/periodic.js';
import { silentLogger } from '../../src/observability/logger.js';
import { eventually } from '../support/eventually.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An intent row of `host` in `status` (removed `removedDaysAgo` days ago when given). */
async function intent(q: Queryable, host: string | null, status: string, more: { removedDaysAgo?: number; protectedUntil?: Date } = {}): Promise<string> {
  const id = randomUUID();
  await q.query(
    `INSERT INTO highway.docker_containers (id, activity_id, workflow_run_id, tenant_id, image, spec, status, reconciler_id, removed_at, gc_protected_until)
     VALUES ($1, $2, $3, 't', 'busybox', '{}', $4, $5, CASE WHEN $6::float8 IS NULL THEN NULL ELSE now() - make_interval(secs => $6::float8 * 86400) END, $7)`,
    [id, randomUUID(), randomUUID(), status, host, more.removedDaysAgo ?? null, more.protectedUntil ?? null],
  );
  return id;
}

describe('hosts: HostRegistry, listHosts, deadHosts (real PostgreSQL)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  const registries: HostRegistry[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  const daemon = async () => ({ id: 'DAEMON:ID', version: '99.0.0' });
  const make = (opts: Partial<ConstructorParameters<typeof HostRegistry>[0]> & { id: string }) => {
    const r = new HostRegistry({ pool: db.pool, daemon, hostTimeoutS: 30, ...opts });
    registries.push(r);
    return r;
  };

  before(async () => {
    db = await freshDatabase();
    process.on('unhandledRejection', onUnhandled);
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await db?.drop();
  });
  afterEach(async () => {
    await Promise.all(registries.splice(0).map((r) => r.stop()));
    expect(unhandled).to.deep.equal([]);
  });

  it('registers with its hostname, the daemon id and version, labels and capacity', async () => {
    const docker = await dockerDaemonInfo(new Docker());
    expect(docker.id).to.be.a('string').and.not.equal('');
    expect(docker.version).to.match(/^\d+\.\d+/);
    const r = make({ id: 'reg-1', daemon: () => dockerDaemonInfo(new Docker()), labels: { zone: 'eu-1' }, capacity: 8 });
    await r.beat();
    expect(r.healthy).to.equal(true);
    const [h] = (await listHosts(db.pool, 30)).filter((x) => x.id === 'reg-1');
    expect(h).to.deep.include({ id: 'reg-1', alive: true, labels: { zone: 'eu-1' }, capacity: 8, running: 0, hostname: os.hostname(), docker_id: docker.id, docker_version: docker.version, stopped_at: null });
    expect(h!.heartbeat_at).to.be.instanceOf(Date);
    expect(h!.started_at).to.be.instanceOf(Date);
  });

  it('heartbeats every third of the host timeout (on the controller runtime); a graceful stop marks it stopped (not alive), a restart revives it', async () => {
    const r = make({ id: 'reg-beat', hostTimeoutS: 0.3 }); // beats every 100 ms
    expect(r.intervalMs).to.equal(100);
    await r.beat();
    const beating = runKinds([r.kind()], silentLogger);
    const first = (await listHosts(db.pool, 30)).find((x) => x.id === 'reg-beat')!;
    const later = await eventually(async () => {
      const h = (await listHosts(db.pool, 30)).find((x) => x.id === 'reg-beat')!;
      return h.heartbeat_at > first.heartbeat_at && h;
    }, { what: 'a heartbeat', timeoutMs: 10_000 });
    expect(later.started_at.getTime()).to.equal(first.started_at.getTime());

    await Promise.all([r.stop(), r.stop()]);
    await r.stop();
    const stopped = (await listHosts(db.pool, 30)).find((x) => x.id === 'reg-beat')!;
    expect(stopped.alive).to.equal(false);
    expect(stopped.stopped_at).to.be.instanceOf(Date);
    const beatAfterStop = stopped.heartbeat_at.getTime();
    await sleep(250); // the kind still runs: a stopped registry writes nothing
    expect((await listHosts(db.pool, 30)).find((x) => x.id === 'reg-beat')!.heartbeat_at.getTime()).to.equal(beatAfterStop);
    await beating.stop();

    const again = make({ id: 'reg-beat' });
    await again.beat();
    const revived = (await listHosts(db.pool, 30)).find((x) => x.id === 'reg-beat')!;
    expect(revived).to.deep.include({ alive: true, stopped_at: null });
    expect(revived.started_at.getTime()).to.be.greaterThan(first.started_at.getTime());
  });

  it('alive follows the heartbeat age; running counts only pulling/created/running/stopping intents of that host', async () => {
    const a = make({ id: 'live-a' });
    const b = make({ id: 'live-b' });
    await Promise.all([a.beat(), b.beat()]);
    for (const s of ['pulling', 'created', 'running', 'running', 'stopping']) await intent(db.pool, 'live-a', s);
    for (const s of ['pending', 'exited', 'failed', 'lost']) await intent(db.pool, 'live-a', s);
    await intent(db.pool, 'live-b', 'running');
    await intent(db.pool, null, 'pending');
    await db.pool.query(`UPDATE highway.hosts SET heartbeat_at = now() - interval '31 seconds' WHERE id = 'live-b'`);

    const list = (await listHosts(db.pool, 30)).filter((h) => h.id.startsWith('live-'));
    expect(list.map((h) => [h.id, h.alive, h.running])).to.deep.equal([
      ['live-a', true, 5],
      ['live-b', false, 1],
    ]);
    // Liveness is computed, never stored, by the timeout the host recorded: a reader's longer
    // setting does not revive it; it only judges a row that records none (written before 014).
    expect((await listHosts(db.pool, 60)).find((h) => h.id === 'live-b')!.alive).to.equal(false);
    await db.pool.query(`UPDATE highway.hosts SET timeout_s = NULL WHERE id = 'live-b'`);
    expect((await listHosts(db.pool, 60)).find((h) => h.id === 'live-b')!.alive).to.equal(true);
    expect((await listHosts(db.pool, 30)).find((h) => h.id === 'live-b')!.alive).to.equal(false);

    const dead = await deadHosts(db.pool, 30);
    expect(dead.map((h) => h.id)).to.include('live-b').and.not.include('live-a');
    await a.stop();
    const withWork = (await deadHosts(db.pool, 30, { withWork: true })).map((h) => h.id);
    expect(withWork).to.include.members(['live-a', 'live-b']);
    // For failover a graceful stop is not death until the heartbeat is stale too (a restart re-attaches).
    const silent = (await deadHosts(db.pool, 30, { withWork: true, heartbeatOnly: true })).map((h) => h.id);
    expect(silent).to.include('live-b').and.not.include('live-a');
    await db.pool.query(`UPDATE highway.docker_containers SET status = 'lost' WHERE reconciler_id = 'live-b'`);
    expect((await deadHosts(db.pool, 30, { withWork: true })).map((h) => h.id)).to.not.include('live-b');
    expect((await deadHosts(db.pool, 30)).map((h) => h.id)).to.include('live-b');
  });

  it('`hosts --json`: an array with id, alive, labels, capacity, running, heartbeat_at (ISO); a table otherwise', async () => {
    const r = make({ id: 'cli-host', labels: { gpu: 'true' }, capacity: 2 });
    await r.beat();
    await intent(db.pool, 'cli-host', 'running');
    const json = JSON.parse(await hosts(db.pool, { json: true, hostTimeoutS: 30 })) as Array<Record<string, unknown>>;
    expect(json).to.be.an('array');
    const h = json.find((x) => x['id'] === 'cli-host')!;
    expect(h).to.include({ id: 'cli-host', alive: true, capacity: 2, running: 1, hostname: os.hostname(), docker_version: '99.0.0' });
    expect(h['labels']).to.deep.equal({ gpu: 'true' });
    expect(h['heartbeat_at']).to.be.a('string');
    expect(new Date(h['heartbeat_at'] as string).toISOString()).to.equal(h['heartbeat_at']);
    const table = await hosts(db.pool, { hostTimeoutS: 30 });
    const line = table.split('\n').find((l) => l.startsWith('cli-host '))!;
    expect(line).to.match(/^cli-host\s+alive\s+1\/2\s+gpu=true\s+/);
    expect(table.split('\n')[0]).to.match(/^HOST\s+STATE\s+RUNNING\s+LABELS/);
    // The reader's HIGHWAY_HOST_TIMEOUT_S (here: so short that nobody would be alive) judges only
    // rows that record no timeout of their own; a host that records its own is judged by that.
    const saved = process.env['HIGHWAY_HOST_TIMEOUT_S'];
    process.env['HIGHWAY_HOST_TIMEOUT_S'] = '0.001';
    try {
      await new Promise((r) => setTimeout(r, 5));
      const strict = JSON.parse(await hosts(db.pool, { json: true })) as Array<Record<string, unknown>>;
      expect(strict.find((x) => x['id'] === 'cli-host')!['alive']).to.equal(true);
      expect(strict.find((x) => x['id'] === 'cli-host')!['timeout_s']).to.be.a('number');
      await db.pool.query(`UPDATE highway.hosts SET timeout_s = NULL WHERE id = 'cli-host'`);
      const legacy = JSON.parse(await hosts(db.pool, { json: true })) as Array<Record<string, unknown>>;
      expect(legacy.find((x) => x['id'] === 'cli-host')!['alive']).to.equal(false);
    } finally {
      if (saved === undefined) delete process.env['HIGHWAY_HOST_TIMEOUT_S'];
      else process.env['HIGHWAY_HOST_TIMEOUT_S'] = saved;
    }
  });

  it('survives PostgreSQL being down: starts anyway, logs, retries each beat, registers once it is back; never an unhandled rejection', async function () {
    this.timeout(90_000);
    const own = await startOwnPostgres();
    const pool = createPool(own.url, { max: 2 });
    let beating: RunningKinds | null = null;
    try {
      await own.stopServer();
      const lines: Array<Record<string, unknown>> = [];
      const { pino } = await import('pino');
      const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
      const r = new HostRegistry({ pool, id: 'outage-host', daemon, hostTimeoutS: 0.6, logger });
      await r.beat(); // resolves although nothing answers
      expect(r.healthy).to.equal(false);
      beating = runKinds([r.kind()], logger);
      await sleep(700);
      const failures = lines.filter((l) => l['event'] === 'host.heartbeat_failed');
      expect(failures.length).to.be.greaterThan(1);
      expect(failures.filter((l) => l['level'] === 50)).to.have.length(1); // one error line per outage, then debug

      await own.start();
      // While the server starts, a query fails: that is a "not yet".
      await eventually(async () => (await listHosts(pool, 30).catch(() => [])).find((h) => h.id === 'outage-host'), { what: 'registration after the outage', timeoutMs: 10_000 });
      expect(lines.some((l) => l['event'] === 'host.registered')).to.equal(true);
      expect(lines.some((l) => l['event'] === 'host.heartbeat_recovered')).to.equal(true);
      await eventually(async () => r.healthy, { what: 'healthy', timeoutMs: 10_000 });

      // Down again while running, then a stop that cannot reach the database: it still resolves.
      await own.stopServer();
      await eventually(async () => !r.healthy || lines.filter((l) => l['event'] === 'host.heartbeat_failed').length > failures.length, { what: 'a failure noticed', timeoutMs: 15_000 });
      await beating.stop();
      await r.stop();
      expect(lines.some((l) => l['event'] === 'host.stop_failed')).to.equal(true);
    } finally {
      await beating?.stop();
      await pool.end().catch(() => {});
      await own.stop();
    }
  });

  it('retention deletes ended intents older than N days in batches, keeping recent, live and protected ones', async () => {
    const old: string[] = [];
    for (let i = 0; i < 7; i++) old.push(await intent(db.pool, 'ret', 'exited', { removedDaysAgo: 10 + i }));
    const recent = await intent(db.pool, 'ret', 'exited', { removedDaysAgo: 1 });
    const protectedOne = await intent(db.pool, 'ret', 'failed', { removedDaysAgo: 20, protectedUntil: new Date(Date.now() + 3_600_000) });
    const live = await intent(db.pool, 'ret', 'running');
    const statements: string[] = [];
    const counting: Queryable = {
      query: ((text: string, values: unknown[]) => {
        statements.push(text);
        return db.pool.query(text, values);
      }) as Queryable['query'],
    };
    expect(await deleteEndedIntents(counting, { olderThanDays: 7, batchSize: 3 })).to.equal(7);
    expect(statements).to.have.length(3); // 3 + 3 + 1
    const left = (await db.pool.query<{ id: string }>(`SELECT id FROM highway.docker_containers WHERE reconciler_id = 'ret'`)).rows.map((r) => r.id);
    expect(left).to.have.members([recent, protectedOne, live]);
    expect(await deleteEndedIntents(db.pool, { olderThanDays: 7 })).to.equal(0);
    expect(await deleteEndedIntents(db.pool, { olderThanDays: 0.5, maxBatches: 1, batchSize: 500 })).to.equal(1); // the recent one
    await deleteEndedIntents(db.pool, { olderThanDays: 0 }).then(
      () => expect.fail('olderThanDays 0 must be refused'),
      (err: Error) => expect(err.message).to.match(/olderThanDays/),
    );
  });
});
