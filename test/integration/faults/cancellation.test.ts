/**
 * Workflow cancellation (real Docker, real PostgreSQL): setting workflow_runs.status to
 * 'cancelled' (or `highway-docker cancel RUN`) stops and removes every container of the run,
 * by NOTIFY; pending intents of the run never start; callers get cancelled/workflow_cancelled.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Harness } from '../../support/harness.js';
import { removeByLabel } from '../../support/docker-env.js';
import { ensureBuilt, spawnCli } from '../../support/processes.js';
import { expectConverged, report } from '../../support/fault-checks.js';
import { eventually } from '../../support/eventually.js';

describe('faults: workflow cancellation', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async function () {
    this.timeout(180_000);
    ensureBuilt();
    // A long periodic resync: what converges here must come from NOTIFY, not the safety net.
    h = await Harness.start({ reconciler: { resyncIntervalMs: 120_000 } });
  });
  after(async () => {
    if (h) await removeByLabel(h.docker, h.label).catch(() => {});
    await h?.stop();
  });
  afterEach(async () => {
    if (!h.reconciler) await h.startReconciler();
  });

  const cancelRun = (runId: string) => h.db.pool.query(`UPDATE highway.workflow_runs SET status = 'cancelled', updated_at = now() WHERE id = $1`, [runId]);

  it('stops and removes every running container of the run, and every caller gets cancelled/workflow_cancelled', async () => {
    const runId = randomUUID();
    const ctxs = [h.ctx({ workflow_run_id: runId }), h.ctx({ workflow_run_id: runId }), h.ctx({ workflow_run_id: runId })];
    const other = h.ctx(); // another run: must not be touched
    const calls = ctxs.map((c, i) => h.run({ command: ['sh', '-c', `echo started-${i}; sleep 60`] }, c));
    const otherCall = h.run({ command: ['sh', '-c', 'sleep 2; echo other-done'] }, other);
    for (const c of ctxs) await h.waitFor(c.activity_id, (r) => r.status === 'running', 20_000);
    await h.waitFor(other.activity_id, (r) => r.status === 'running', 20_000);

    const t0 = Date.now();
    await cancelRun(runId);
    const results = await Promise.all(calls);
    const resultMs = Date.now() - t0;

    for (const [i, r] of results.entries()) {
      expect(r.status, JSON.stringify(r)).to.equal('cancelled');
      expect(r.stop_reason).to.equal('workflow_cancelled');
      expect(r.stdout).to.equal(`started-${i}\n`); // output collected before removal
      expect(r.exit_code).to.equal(143); // SIGTERM through init
    }
    const stopping = results.map((r) => h.log.events('container.stopping', r.intent_id)[0]!);
    const firstStop = Math.min(...stopping.map((l) => Number(l['time'])));
    report('cancellation propagation (UPDATE workflow_runs -> first container.stopping)', firstStop - t0);
    report('cancellation propagation (UPDATE workflow_runs -> every caller has its result)', resultMs);
    expect(resultMs).to.be.below(15_000); // far below the 120 s resync: this came by NOTIFY

    const otherResult = await otherCall;
    expect(otherResult.status).to.equal('exited');
    expect(otherResult.stdout).to.equal('other-done\n');

    await expectConverged({
      docker: h.docker,
      label: h.label,
      pool: h.db.pool,
      intentIds: [...results.map((r) => r.intent_id), otherResult.intent_id],
      logs: [h.log.lines],
    });
    const audit = await h.db.pool.query(`SELECT count(*)::int AS n FROM highway.docker_audit WHERE operation = 'container.remove' AND intent_id = ANY($1::uuid[])`, [results.map((r) => r.intent_id)]);
    expect(audit.rows[0].n).to.equal(3);
  });

  it('pending intents of a cancelled run never start', async () => {
    await h.stopReconciler();
    const runId = randomUUID();
    const ctxs = [h.ctx({ workflow_run_id: runId }), h.ctx({ workflow_run_id: runId })];
    const calls = ctxs.map((c) => h.run({ command: ['echo', 'must-not-run'] }, c));
    for (const c of ctxs) await h.waitFor(c.activity_id, (r) => r.status === 'pending');
    await cancelRun(runId);
    await h.startReconciler();
    const results = await Promise.all(calls);
    for (const r of results) {
      expect(r.status).to.equal('cancelled');
      expect(r.stop_reason).to.equal('workflow_cancelled');
      expect(r.container_id).to.equal(null);
      expect(r.stdout).to.equal('');
      expect(h.log.events('container.created', r.intent_id)).to.have.length(0);
    }
    await expectConverged({ docker: h.docker, label: h.label, pool: h.db.pool, intentIds: results.map((r) => r.intent_id), logs: [h.log.lines] });
  });

  it('a container that ignores the stop signal is SIGKILLed after its grace, and its output is kept', async () => {
    const ctx = h.ctx();
    const call = h.run({ command: ['sh', '-c', 'trap "" TERM; echo stubborn; while true; do sleep 1; done'], stop_grace_period: 1 }, ctx);
    await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
    await eventually(async () => (await h.intentOfActivity(ctx.activity_id))?.status === 'running', { what: 'running', timeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 300)); // let the shell install its trap
    const t0 = Date.now();
    await cancelRun(ctx.workflow_run_id);
    const r = await call;
    expect(r.status).to.equal('cancelled');
    expect(r.stop_reason).to.equal('workflow_cancelled');
    expect(r.exit_code).to.equal(137);
    expect(r.stdout).to.equal('stubborn\n');
    expect(Date.now() - t0).to.be.within(900, 15_000);
    expect(h.log.events('container.killed', r.intent_id)).to.have.length(1);
    await expectConverged({ docker: h.docker, label: h.label, pool: h.db.pool, intentIds: [r.intent_id], logs: [h.log.lines] });
  });

  it('`highway-docker cancel RUN` cancels the run from the command line', async () => {
    const ctx = h.ctx();
    const call = h.run({ command: ['sh', '-c', 'echo cli; sleep 60'] }, ctx);
    await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
    const t0 = Date.now();
    const cli = spawnCli(['cancel', ctx.workflow_run_id], { databaseUrl: h.db.url, reconcilerId: h.reconcilerId });
    const exit = await cli.waitExit(20_000);
    expect(exit.code, cli.stderr).to.equal(0);
    expect(cli.stdout).to.equal(`cancelled ${ctx.workflow_run_id}\n`);
    const r = await call;
    report('`highway-docker cancel` (spawn -> caller has its result)', Date.now() - t0);
    expect(r.status).to.equal('cancelled');
    expect(r.stop_reason).to.equal('workflow_cancelled');
    expect(r.stdout).to.equal('cli\n');
    await expectConverged({ docker: h.docker, label: h.label, pool: h.db.pool, intentIds: [r.intent_id], logs: [h.log.lines] });

    const missing = spawnCli(['cancel', randomUUID()], { databaseUrl: h.db.url, reconcilerId: h.reconcilerId });
    const missingExit = await missing.waitExit(20_000);
    expect(missingExit.code).to.equal(125);
    expect(missing.stderr).to.match(/not found/);
  });
});
