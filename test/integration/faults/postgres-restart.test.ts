/**
 * PostgreSQL restarts during a run (real Docker, a PostgreSQL server of this test's own):
 * the LISTEN connections (reconciler and waiting callers) come back, a resync catches what
 * was missed, and intents converge: a container that ran through the restart, one that
 * finished while the database was down (output collected once it is back), and a
 * cancellation sent right after the restart. The periodic resync is 120 s away.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import { createDockerClient } from '../../../src/docker/client.js';
import { createPool, type Pool } from '../../../src/db/pool.js';
import { Reconciler } from '../../../src/reconciler.js';
import { ToolRegistry, type ActivityContext } from '../../../src/tools/registry.js';
import { registerDockerTools, type DockerTools } from '../../../src/tools/docker-tools.js';
import type { DockerRunResult } from '../../../src/tools/docker-run.js';
import { LABELS } from '../../../src/model.js';
import { LogCapture, TEST_IMAGE } from '../../support/harness.js';
import { connectDocker, removeByLabel } from '../../support/docker-env.js';
import { ensureTestImage } from '../../support/test-image.js';
import { startOwnPostgres, type OwnPostgres } from '../../support/postgres.js';
import { expectConverged, intentRows, report, sleep } from '../../support/fault-checks.js';
import { eventually } from '../../support/eventually.js';

describe('faults: PostgreSQL restarts during a run (own server)', function () {
  this.timeout(60_000);
  let pgServer: OwnPostgres;
  let pool: Pool;
  let docker: Docker;
  let reconciler: Reconciler;
  let tools: DockerTools;
  const registry = new ToolRegistry();
  const log = new LogCapture();
  const reconcilerId = `test-pg-${randomUUID()}`;
  const label = `${LABELS.reconcilerId}=${reconcilerId}`;

  before(async function () {
    this.timeout(120_000);
    docker = await connectDocker();
    await ensureTestImage(docker);
    pgServer = await startOwnPostgres();
    pool = createPool(pgServer.url, { max: 10, applicationName: 'highway-docker-test' });
    const client = createDockerClient({ logger: log.logger, docker });
    tools = registerDockerTools(registry, { databaseUrl: pgServer.url, pool, logger: log.logger });
    reconciler = await Reconciler.create({ pool, databaseUrl: pgServer.url, docker: client, logger: log.logger, reconcilerId, resyncIntervalMs: 120_000 });
    await reconciler.start();
  });
  after(async function () {
    this.timeout(60_000);
    await pgServer?.start().catch(() => {});
    await reconciler?.stop().catch(() => {});
    await tools?.close().catch(() => {});
    await pool?.end().catch(() => {});
    if (docker) await removeByLabel(docker, label).catch(() => {});
    await pgServer?.stop();
  });

  const ctx = (): ActivityContext => ({ tenant_id: 't-pg', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null });
  const run = (params: Record<string, unknown>, c: ActivityContext) => registry.call<DockerRunResult>('tools.docker.run', { image: TEST_IMAGE, ...params }, c);
  const rowOf = async (c: ActivityContext) => (await intentRows(pool, { column: 'activity_id', value: c.activity_id }))[0];
  const dbAnswers = () => pool.query('SELECT 1').then(() => true, () => false);

  it('a container running through the restart ends normally, and its caller gets the result', async () => {
    const c = ctx();
    const call = run({ command: ['sh', '-c', 'echo start; sleep 3; echo survived'] }, c);
    await eventually(async () => (await rowOf(c))?.status === 'running', { what: 'running', timeoutMs: 20_000 });
    const reconnects = log.events('postgres.listen_reconnected').length;
    await pgServer.restart();
    const r = await call;
    expect(r.status).to.equal('exited');
    expect(r.stdout).to.equal('start\nsurvived\n');
    await eventually(async () => log.events('postgres.listen_reconnected').length > reconnects, { what: 'LISTEN reconnected', timeoutMs: 20_000 });
    await expectConverged({ docker, label, pool, intentIds: [r.intent_id], logs: [log.lines] });
  });

  it('a container that finishes while PostgreSQL is down: its exact output is collected once it is back', async () => {
    const c = ctx();
    const call = run({ command: ['sh', '-c', 'sleep 1; echo finished-while-db-down; exit 5'] }, c);
    const row = await eventually(async () => {
      const r = await rowOf(c);
      return r?.status === 'running' ? r : null;
    }, { what: 'running', timeoutMs: 20_000 });
    await pgServer.stopServer();
    await docker.getContainer(row.container_id!).wait();
    await sleep(1_000); // the reconciler tries (and fails) to record it meanwhile
    await pgServer.start();
    const r = await call;
    expect(r.status).to.equal('failed');
    expect(r.exit_code).to.equal(5);
    expect(r.stdout).to.equal('finished-while-db-down\n');
    await expectConverged({ docker, label, pool, intentIds: [r.intent_id], logs: [log.lines] });
  });

  it('a cancellation sent right after the restart (maybe before LISTEN is back) still stops the container, well before the periodic resync', async () => {
    const c = ctx();
    const call = run({ command: ['sh', '-c', 'echo cancel-me; sleep 60'] }, c);
    await eventually(async () => (await rowOf(c))?.status === 'running', { what: 'running', timeoutMs: 20_000 });
    await pgServer.restart();
    await eventually(dbAnswers, { what: 'database answers', timeoutMs: 20_000 });
    const t0 = Date.now();
    await pool.query(`UPDATE highway.workflow_runs SET status = 'cancelled' WHERE id = $1`, [c.workflow_run_id]);
    const r = await call;
    report('cancellation right after a PostgreSQL restart (UPDATE -> caller has its result)', Date.now() - t0);
    expect(r.status).to.equal('cancelled');
    expect(r.stop_reason).to.equal('workflow_cancelled');
    expect(r.stdout).to.equal('cancel-me\n');
    expect(Date.now() - t0).to.be.below(30_000);
    await expectConverged({ docker, label, pool, intentIds: [r.intent_id], logs: [log.lines] });
  });
});
