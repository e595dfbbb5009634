/**
 * The Docker events stream breaks because the daemon restarts (real PostgreSQL, a SECOND
 * dockerd owned by this test: the main daemon is never touched). The reconciler reconnects
 * with backoff, replays with `since`, relists and converges: a container the daemon stopped
 * during its shutdown is collected (output kept) and removed; an intent written while the
 * daemon was down runs once it is back. The periodic resync is set far away (120 s), so
 * convergence comes from the reconnect, not from the safety net.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createDockerClient } from '../../../src/docker/client.js';
import { Reconciler } from '../../../src/reconciler.js';
import { ToolRegistry, type ActivityContext } from '../../../src/tools/registry.js';
import { registerDockerTools, type DockerTools } from '../../../src/tools/docker-tools.js';
import type { DockerRunResult } from '../../../src/tools/docker-run.js';
import { LABELS } from '../../../src/model.js';
import { LogCapture, TEST_IMAGE } from '../../support/harness.js';
import { removeByLabel } from '../../support/docker-env.js';
import { freshDatabase, type TestDatabase } from '../../support/postgres.js';
import { startSecondDaemon, type SecondDaemon } from '../../support/second-daemon.js';
import { expectConverged, intentRows } from '../../support/fault-checks.js';
import { eventually } from '../../support/eventually.js';

describe('faults: dockerd restarts during a run (second daemon)', function () {
  this.timeout(90_000);
  let daemon: SecondDaemon;
  let db: TestDatabase;
  let reconciler: Reconciler;
  let tools: DockerTools;
  const registry = new ToolRegistry();
  const log = new LogCapture();
  const reconcilerId = `test-dr-${randomUUID()}`;
  const label = `${LABELS.reconcilerId}=${reconcilerId}`;

  before(async function () {
    this.timeout(120_000);
    daemon = await startSecondDaemon();
    db = await freshDatabase();
    const client = createDockerClient({ logger: log.logger, docker: daemon.docker });
    tools = registerDockerTools(registry, { databaseUrl: db.url, pool: db.pool, logger: log.logger });
    reconciler = await Reconciler.create({ pool: db.pool, databaseUrl: db.url, docker: client, logger: log.logger, reconcilerId, resyncIntervalMs: 120_000 });
    await reconciler.start();
  });
  after(async function () {
    this.timeout(60_000);
    await reconciler?.stop().catch(() => {});
    await tools?.close().catch(() => {});
    if (daemon) {
      await daemon.startDaemon().catch(() => {}); // in case a test left it down
      await removeByLabel(daemon.docker, label).catch(() => {});
      await daemon.stop();
    }
    await db?.drop().catch(() => {});
  });

  const ctx = (): ActivityContext => ({ tenant_id: 't-dr', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null });
  const run = (params: Record<string, unknown>, c: ActivityContext) => registry.call<DockerRunResult>('tools.docker.run', { image: TEST_IMAGE, ...params }, c);
  const rowOf = async (c: ActivityContext) => (await intentRows(db.pool, { column: 'activity_id', value: c.activity_id }))[0];

  it('a running container stopped by the daemon shutdown is collected after the reconnect (output kept) and removed', async () => {
    const c = ctx();
    const call = run({ command: ['sh', '-c', 'echo before-restart; sleep 60'] }, c);
    await eventually(async () => (await rowOf(c))?.status === 'running', { what: 'running', timeoutMs: 20_000 });
    const connectsBefore = log.events('docker.events_connected').length;
    await daemon.restart();
    const r = await call;
    expect(r.stdout).to.equal('before-restart\n');
    // The daemon stopped it, not the program: lost, saying why (daemon-outage.test.ts pins it).
    expect(r.status).to.equal('lost');
    expect(r.stop_reason).to.equal('daemon_restart');
    expect(r.error_code).to.equal('daemon_restarted');
    expect(r.exit_code).to.equal(143);
    expect(log.events('docker.events_disconnected').length).to.be.at.least(1);
    await eventually(async () => log.events('docker.events_connected').slice(connectsBefore).some((l) => l['reconnect'] === true), { what: 'events stream reconnected', timeoutMs: 15_000 });
    await expectConverged({ docker: daemon.docker, label, pool: db.pool, intentIds: [r.intent_id], logs: [log.lines] });
  });

  it('a container that ran while its daemon crashed (SIGKILL) and came back: the result says its output may be incomplete', async () => {
    const c = ctx();
    const call = run({ command: ['sh', '-c', 'echo first; sleep 3; echo last'] }, c);
    await eventually(async () => (await rowOf(c))?.status === 'running', { what: 'running', timeoutMs: 20_000 });
    await daemon.killDaemon();
    await new Promise((r) => setTimeout(r, 4_000)); // it finishes (or not) while nothing reads its output
    await daemon.startDaemon();
    const r = await call;
    expect(r.stdout.startsWith('first\n'), r.stdout).to.equal(true);
    expect(r.logs_truncated).to.equal(true);
    expect(r.warnings.some((w) => /daemon went away/.test(w)), JSON.stringify(r.warnings)).to.equal(true);
    expect(log.events('container.output_incomplete', r.intent_id)).to.have.length(1);
    await expectConverged({ docker: daemon.docker, label, pool: db.pool, intentIds: [r.intent_id], logs: [log.lines] });
  });

  it('an intent written while the daemon is down runs once it is back', async () => {
    await daemon.stopDaemon();
    const c = ctx();
    const call = run({ command: ['echo', 'after-the-outage'] }, c);
    await eventually(async () => (await rowOf(c))?.status === 'pending', { what: 'pending', timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 1_500)); // some failed attempts while down
    expect((await rowOf(c))!.status).to.equal('pending');
    await daemon.startDaemon();
    const r = await call;
    expect(r.status).to.equal('exited');
    expect(r.stdout).to.equal('after-the-outage\n');
    expect(log.events('container.created', r.intent_id)).to.have.length(1);
    await expectConverged({ docker: daemon.docker, label, pool: db.pool, intentIds: [r.intent_id], logs: [log.lines] });
  });

  it('after the restarts, the events stream works again: a new run ends promptly', async () => {
    const c = ctx();
    const t0 = Date.now();
    const r = await run({ command: ['sh', '-c', 'sleep 1; echo fresh'] }, c);
    expect(r.status).to.equal('exited');
    expect(r.stdout).to.equal('fresh\n');
    expect(Date.now() - t0).to.be.below(20_000);
    await expectConverged({ docker: daemon.docker, label, pool: db.pool, intentIds: [r.intent_id], logs: [log.lines] });
  });
});
