/**
 * The library as an engine meets it, on real Docker and a real PostgreSQL: one embedded Host
 * (everything `up` runs), the SQL contract of the engine-side tables driven from psql alone,
 * the typed engine API (runs, activities, workers, schedules), and the stable `error_code`.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { createServer, type AddressInfo } from 'node:net';
import { createHost, createEngine, StartupError, registerDockerTools, ToolRegistry, HighwayError, type Host, type Engine, type DockerRunResult, type DockerTools } from '../../src/index.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { connectDocker, removeByLabel } from '../support/docker-env.js';
import { ensureTestImage, TEST_IMAGE } from '../support/test-image.js';
import { LogCapture } from '../support/harness.js';
import { eventually } from '../support/eventually.js';
import { httpGet } from '../support/http.js';

const run = promisify(execFile);
const LABEL_KEY = 'hw-test-engine';
const TEST_RUN = randomUUID().slice(0, 8);
const LABEL = `${LABEL_KEY}=${TEST_RUN}`;

/** One statement through psql (the engine's side, in any language), its rows as `|`-separated lines. */
async function psql(url: string, sql: string): Promise<string[]> {
  const { stdout } = await run('psql', [url, '-v', 'ON_ERROR_STOP=1', '-Atc', sql]);
  return stdout.split('\n').filter((l) => l !== '');
}

describe('the library as an engine embeds it: Host, the SQL contract, the engine API, error codes', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let docker: Docker;
  let host: Host;
  let engine: Engine;
  let tools: DockerTools;
  const registry = new ToolRegistry();
  const logs = new LogCapture('info');
  const hostId = `engine-host-${TEST_RUN}`;

  /** An intent written from SQL alone (highway.create_intent), as an engine in another language writes it. */
  async function sqlIntent(p: { run: string; activity: string; tenant: string; worker?: string; command: string[] }): Promise<string> {
    const id = randomUUID();
    const spec = JSON.stringify({ $version: 2, image: TEST_IMAGE, command: p.command, pull_policy: 'never', labels: { [LABEL_KEY]: TEST_RUN } });
    await psql(
      db.url,
      `SELECT id FROM highway.create_intent('${id}', '${p.activity}', '${p.run}', '${p.tenant}', ${p.worker ? `'${p.worker}'` : 'NULL'}, '${TEST_IMAGE}', '${spec}'::jsonb, '{"${LABEL_KEY}": "${TEST_RUN}"}'::jsonb, '[]'::jsonb)`,
    );
    return id;
  }
  const rowOf = async (id: string) => {
    const res = await db.pool.query(`SELECT status, stop_reason, exit_code, stdout, error, error_code, removed_at FROM highway.docker_containers WHERE id = $1`, [id]);
    return res.rows[0] as { status: string; stop_reason: string | null; exit_code: number | null; stdout: string | null; error: string | null; error_code: string | null; removed_at: Date | null };
  };
  const settled = (id: string, status: string) => eventually(async () => {
    const r = await rowOf(id);
    return r.status === status && r.removed_at ? r : undefined;
  }, { what: `${id} ${status} and removed`, timeoutMs: 60_000 });
  const running = (id: string) => eventually(async () => ((await rowOf(id)).status === 'running' ? true : undefined), { what: `${id} running`, timeoutMs: 60_000 });

  before(async () => {
    db = await freshDatabase();
    docker = await connectDocker();
    await ensureTestImage(docker);
    host = createHost({ databaseUrl: db.url, http: '127.0.0.1:0', logger: logs.logger, settings: { reconcilerId: hostId, workerTimeoutS: 30 }, hostSettings: { hostTimeoutS: 30 } });
    await host.start();
    engine = createEngine({ databaseUrl: db.url, actor: 'engine-test' });
    tools = registerDockerTools(registry, { databaseUrl: db.url });
  });
  after(async () => {
    await tools?.close();
    await engine?.close();
    await host?.stop();
    if (docker) await removeByLabel(docker, LABEL);
    await db?.drop();
  });

  it('Host: one object runs what `up` runs: the host row alive, the cluster leader, /metrics and /readyz; start() is idempotent', async () => {
    await host.start(); // a second call is the first one's promise
    expect(host.id).to.equal(hostId);
    const [row] = await psql(db.url, `SELECT id, stopped_at IS NULL FROM highway.hosts WHERE id = '${hostId}'`);
    expect(row).to.equal(`${hostId}|t`);
    await eventually(async () => (host.isClusterLeader ? true : undefined), { what: 'the cluster leadership', timeoutMs: 10_000 });
    expect((await httpGet(`${host.httpUrl}/readyz`)).status).to.equal(200);
    expect((await httpGet(`${host.httpUrl}/metrics`)).body).to.include('highway_docker_intents');
  });

  it('SQL alone (psql): a run, its activity, its worker and an intent; the container runs, its output lands on the row, then cancel from SQL', async () => {
    const runId = randomUUID();
    const activity = randomUUID();
    const worker = `psql-worker-${TEST_RUN}`;
    await psql(db.url, `INSERT INTO highway.workflow_runs (id, tenant_id) VALUES ('${runId}', 'sql-tenant')`);
    await psql(db.url, `INSERT INTO highway.activities (id, workflow_run_id, heartbeat_at, heartbeat_timeout_s) VALUES ('${activity}', '${runId}', now(), 60)`);
    await psql(db.url, `INSERT INTO highway.workers (id, status, heartbeat_at) VALUES ('${worker}', 'alive', now())`);
    const id = await sqlIntent({ run: runId, activity, tenant: 'sql-tenant', worker, command: ['sh', '-c', 'echo from-sql'] });
    await eventually(async () => {
      const [line] = await psql(db.url, `SELECT status || '|' || coalesce(exit_code::text, '') || '|' || coalesce(stdout, '') FROM highway.docker_containers WHERE id = '${id}' AND removed_at IS NOT NULL`);
      return line === 'exited|0|from-sql\n' || line === 'exited|0|from-sql' ? line : undefined;
    }, { what: 'the intent to end', timeoutMs: 60_000 });

    // A long one, cancelled by the run's status: stopped, removed, `cancelled` with the reason.
    const activity2 = randomUUID();
    await psql(db.url, `INSERT INTO highway.activities (id, workflow_run_id) VALUES ('${activity2}', '${runId}')`);
    const long = await sqlIntent({ run: runId, activity: activity2, tenant: 'sql-tenant', worker, command: ['sleep', '300'] });
    await running(long);
    await psql(db.url, `UPDATE highway.workflow_runs SET status = 'cancelled' WHERE id = '${runId}'`);
    const r = await settled(long, 'cancelled');
    expect(r.stop_reason).to.equal('workflow_cancelled');
    expect(await docker.listContainers({ all: true, filters: { label: [`highway.intent_id=${long}`] } })).to.have.length(0);
  });

  it('cancelWorkflowRun: another tenant\'s run is not found and nothing stops; the owner\'s cancel stops its container', async () => {
    const runId = randomUUID();
    const activity = randomUUID();
    await engine.createActivity({ id: activity, workflowRunId: runId, tenant: 'owner' });
    const id = await sqlIntent({ run: runId, activity, tenant: 'owner', command: ['sleep', '300'] });
    await running(id);
    const err = await engine.cancelWorkflowRun(runId, { tenant: 'intruder' }).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(HighwayError);
    expect((err as HighwayError).code).to.equal('not_found');
    expect((await rowOf(id)).status).to.equal('running');
    expect(await engine.cancelWorkflowRun(runId, { tenant: 'owner' })).to.deep.equal({ cancelled: runId });
    expect((await settled(id, 'cancelled')).stop_reason).to.equal('workflow_cancelled');
    const bad = await engine.cancelWorkflowRun('not-a-uuid').then(() => null, (e: unknown) => e);
    expect((bad as HighwayError).code).to.equal('invalid_params');
  });

  it('activities: a heartbeat keeps one alive past its timeout, a missed heartbeat stops its container (activity_timeout); endActivity timed_out too', async () => {
    const runId = randomUUID();
    const activity = randomUUID();
    const created = await engine.createActivity({ id: activity, workflowRunId: runId, tenant: 't-act', heartbeatTimeoutS: 3 });
    expect(created).to.include({ id: activity, workflow_run_id: runId, heartbeat_timeout_s: 3, status: 'running' });
    const again = await engine.createActivity({ id: activity, workflowRunId: runId, tenant: 't-act', heartbeatTimeoutS: 3 });
    expect(again.id).to.equal(activity);
    const id = await sqlIntent({ run: runId, activity, tenant: 't-act', command: ['sleep', '300'] });
    await running(id);
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 1_000));
      await engine.heartbeatActivity(activity, { tenant: 't-act' });
    }
    expect((await rowOf(id)).status).to.equal('running'); // 4 s > its 3 s timeout, kept alive by heartbeats
    const other = await engine.heartbeatActivity(activity, { tenant: 'someone-else' }).then(() => null, (e: unknown) => e);
    expect((other as HighwayError).code).to.equal('not_found');
    expect((await settled(id, 'cancelled')).stop_reason).to.equal('activity_timeout');

    const activity2 = randomUUID();
    await engine.createActivity({ id: activity2, workflowRunId: runId, tenant: 't-act' });
    const id2 = await sqlIntent({ run: runId, activity: activity2, tenant: 't-act', command: ['sleep', '300'] });
    await running(id2);
    expect((await engine.endActivity(activity2, { status: 'timed_out' })).status).to.equal('timed_out');
    expect((await settled(id2, 'cancelled')).stop_reason).to.equal('activity_timeout');
  });

  it('workers: shutdownWorker stops and waits for its containers (worker_shutdown); retireWorker dead stops another worker\'s (worker_lost)', async () => {
    const runId = randomUUID();
    const w1 = `w1-${TEST_RUN}`;
    const w2 = `w2-${TEST_RUN}`;
    await engine.registerWorker(w1);
    await engine.registerWorker(w2);
    await engine.heartbeatWorker(w1);
    const a1 = randomUUID();
    const a2 = randomUUID();
    await engine.createActivity({ id: a1, workflowRunId: runId, tenant: 't-w' });
    await engine.createActivity({ id: a2, workflowRunId: runId, tenant: 't-w' });
    const id1 = await sqlIntent({ run: runId, activity: a1, tenant: 't-w', worker: w1, command: ['sleep', '300'] });
    const id2 = await sqlIntent({ run: runId, activity: a2, tenant: 't-w', worker: w2, command: ['sleep', '300'] });
    await running(id1);
    await running(id2);
    expect(await engine.shutdownWorker(w1, { timeoutMs: 60_000 })).to.deep.equal({ stopped: 1, pending: 0 });
    const r1 = await rowOf(id1);
    expect(r1).to.include({ status: 'cancelled', stop_reason: 'worker_shutdown' });
    expect(r1.removed_at).to.be.instanceOf(Date);
    await engine.retireWorker(w1);
    expect(await psql(db.url, `SELECT status FROM highway.workers WHERE id = '${w1}'`)).to.deep.equal(['stopped']);
    await engine.retireWorker(w2, { status: 'dead' });
    expect((await settled(id2, 'cancelled')).stop_reason).to.equal('worker_lost');
  });

  it('schedules: create, list, pause, resume, trigger, runs, remove per tenant, each change an audit row; a refusal is audited too', async () => {
    const name = `eng-${TEST_RUN}`;
    const s = engine.schedules;
    const made = await s.create({ name, schedule: '@yearly', params: { image: TEST_IMAGE, command: ['true'], pull_policy: 'never', labels: { [LABEL_KEY]: TEST_RUN } } }, { tenant: 'sched' });
    expect(made.change).to.equal('created');
    expect((await s.list({ tenant: 'sched' })).map((x) => x.name)).to.deep.equal([name]);
    expect(await s.list({ tenant: 'other' })).to.deep.equal([]);
    expect((await s.pause(name, { tenant: 'sched', note: 'hold' })).schedule).to.include({ paused: true, pause_note: 'hold' });
    const trig = await s.trigger(name, { tenant: 'sched' });
    expect(trig.paused).to.equal(true);
    const resumed = await s.resume(name, { tenant: 'sched' });
    expect(resumed.schedule.paused).to.equal(false);
    expect(resumed.waiting).to.equal(1);
    const runs = await eventually(async () => {
      const r = await s.runs(name, { tenant: 'sched' });
      return r.some((t) => t.status === 'exited') ? r : undefined;
    }, { what: 'the triggered tick to run', timeoutMs: 60_000 });
    expect(runs.map((t) => t.source)).to.include('trigger');
    expect((await s.show(name, { tenant: 'sched' })).schedule.name).to.equal(name);
    const missing = await s.pause('no-such', { tenant: 'sched' }).then(() => null, (e: unknown) => e);
    expect((missing as HighwayError).code).to.equal('not_found');
    expect(await s.remove(name, { tenant: 'sched' })).to.deep.equal({ cancelled: [] });
    const audit = await db.pool.query<{ operation: string; outcome: string; actor: string }>(
      `SELECT operation, outcome, actor FROM highway.docker_audit WHERE tenant_id = 'sched' AND operation LIKE 'cron.%' ORDER BY at, id`,
    );
    expect(audit.rows.map((r) => `${r.operation} ${r.outcome}`)).to.include.members(['cron.create ok', 'cron.pause ok', 'cron.trigger ok', 'cron.resume ok', 'cron.pause denied', 'cron.delete ok']);
    expect(new Set(audit.rows.map((r) => r.actor))).to.deep.equal(new Set(['engine-test']));
  });

  it('error codes: a non-zero exit, an absent image and a timeout each carry one stable code in the result, the row and the log line', async () => {
    const call = (params: Record<string, unknown>) =>
      registry.call<DockerRunResult>('tools.docker.run', { pull_policy: 'never', labels: { [LABEL_KEY]: TEST_RUN }, ...params }, { tenant_id: 'codes', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null });
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ image: TEST_IMAGE, command: ['sh', '-c', 'exit 3'] }, 'failed', 'nonzero_exit'],
      [{ image: `highway-test/absent-${TEST_RUN}:1` }, 'failed', 'image_not_present'],
      [{ image: TEST_IMAGE, command: ['sleep', '300'], timeout: 1 }, 'timeout', 'timeout'],
    ];
    for (const [params, status, code] of cases) {
      const result = await call(params);
      expect(result, code).to.include({ status, error_code: code });
      expect(result.error, code).to.be.a('string');
      expect((await rowOf(result.intent_id)).error_code, code).to.equal(code);
      const line = await eventually(async () =>
        logs.lines.find((l) => l['intent_id'] === result.intent_id && (l['event'] === 'container.exited' || l['event'] === 'intent.failed')), { what: `the log line of ${code}`, timeoutMs: 10_000 });
      expect(line['code'], code).to.equal(code);
    }
    const ok = await call({ image: TEST_IMAGE, command: ['true'] });
    expect(ok).to.include({ status: 'exited', error: null, error_code: null });
  });

  it('start() that cannot reach its database throws a StartupError naming it, and frees the port it bound', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const broken = createHost({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none', http: `127.0.0.1:${port}`, settings: { reconcilerId: `broken-${TEST_RUN}` } });
    const err = await broken.start().then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(StartupError);
    expect((err as StartupError).dependency).to.equal('postgres (nobody@127.0.0.1:1/none)');
    const again = createServer();
    await new Promise<void>((resolve, reject) => again.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise<void>((r) => again.close(() => r()));
    await broken.stop(); // idempotent after a failed start
  });

  it('stop(): the host row is marked stopped; a second stop() is the same promise', async () => {
    await Promise.all([host.stop(), host.stop()]);
    const [row] = await psql(db.url, `SELECT stopped_at IS NOT NULL FROM highway.hosts WHERE id = '${hostId}'`);
    expect(row).to.equal('t');
    const again = await host.start().then(() => null, (e: unknown) => e);
    expect(String(again)).to.match(/stopped/);
  });
});
