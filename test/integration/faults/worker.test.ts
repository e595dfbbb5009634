/**
 * Worker crash and worker shutdown (real Docker, real PostgreSQL):
 * - a worker marked dead, or whose heartbeat is older than the worker timeout: worker_lost;
 * - `highway-docker run` killed with SIGKILL is exactly such a worker;
 * - DockerTools.shutdownWorker and `highway-docker run` on SIGINT/SIGTERM stop and remove
 *   their own containers (worker_shutdown) before exiting.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { TEST_IMAGE } from '../../support/harness.js';
import { parseRunResult, startRunWorker } from '../../support/processes.js';
import { report, waitContainerGone } from '../../support/fault-checks.js';
import { eventually } from '../../support/eventually.js';
import { useCrashFixture } from '../../support/fault-fixture.js';

const WORKER_TIMEOUT_S = 2;

describe('faults: worker crash and shutdown', function () {
  this.timeout(60_000);
  // One reconciler in this process for the whole file; the workers are child processes.
  const { h, track, converged } = useCrashFixture({ harness: { withoutReconciler: false, reconciler: { workerTimeoutMs: WORKER_TIMEOUT_S * 1000, resyncIntervalMs: 120_000 } } });

  const registerWorker = (id: string) => h.db.pool.query(`INSERT INTO highway.workers (id, status, heartbeat_at) VALUES ($1, 'alive', now())`, [id]);
  const worker = (args: string[]) => track(startRunWorker(args, { databaseUrl: h.db.url, reconcilerId: h.reconcilerId, env: { HIGHWAY_WORKER_TIMEOUT_S: String(WORKER_TIMEOUT_S) } }));

  it("a worker marked dead: its containers end cancelled/worker_lost and are removed", async () => {
    const workerId = `w-dead-${randomUUID().slice(0, 8)}`;
    await registerWorker(workerId);
    const hb = setInterval(() => void h.db.pool.query('UPDATE highway.workers SET heartbeat_at = now() WHERE id = $1', [workerId]).catch(() => {}), 300);
    try {
      const ctx = h.ctx({ worker_id: workerId });
      const call = h.run({ command: ['sh', '-c', 'echo alive; sleep 60'] }, ctx);
      await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
      const t0 = Date.now();
      await h.db.pool.query(`UPDATE highway.workers SET status = 'dead' WHERE id = $1`, [workerId]);
      const r = await call;
      expect(r.status).to.equal('cancelled');
      expect(r.stop_reason).to.equal('worker_lost');
      expect(r.stdout).to.equal('alive\n');
      expect(Date.now() - t0).to.be.below(15_000); // by NOTIFY, not by the heartbeat
      await converged([r.intent_id], [h.log.lines]);
    } finally {
      clearInterval(hb);
    }
  });

  it('a worker whose heartbeat stops: worker_lost after the worker timeout (a timer from the row)', async () => {
    const workerId = `w-silent-${randomUUID().slice(0, 8)}`;
    await registerWorker(workerId);
    const ctx = h.ctx({ worker_id: workerId });
    const t0 = Date.now();
    const r = await h.run({ command: ['sh', '-c', 'echo beat; sleep 60'] }, ctx);
    const elapsed = Date.now() - t0;
    expect(r.status).to.equal('cancelled');
    expect(r.stop_reason).to.equal('worker_lost');
    expect(r.stdout).to.equal('beat\n');
    expect(elapsed).to.be.within(WORKER_TIMEOUT_S * 1000 - 500, 20_000);
    await converged([r.intent_id], [h.log.lines]);
  });

  it('DockerTools.shutdownWorker stops and removes every container of the worker (worker_shutdown), and only those', async () => {
    const workerId = `w-shutdown-${randomUUID().slice(0, 8)}`;
    await registerWorker(workerId);
    const hb = setInterval(() => void h.db.pool.query('UPDATE highway.workers SET heartbeat_at = now() WHERE id = $1', [workerId]).catch(() => {}), 300);
    try {
      const mine = [h.ctx({ worker_id: workerId }), h.ctx({ worker_id: workerId })];
      const calls = mine.map((c) => h.run({ command: ['sh', '-c', 'echo mine; sleep 60'] }, c));
      const otherCtx = h.ctx({ worker_id: null });
      const other = h.run({ command: ['sh', '-c', 'sleep 3; echo not-mine'] }, otherCtx);
      for (const c of mine) await h.waitFor(c.activity_id, (r) => r.status === 'running');
      await h.waitFor(otherCtx.activity_id, (r) => r.status === 'running');
      const summary = await h.tools.shutdownWorker(workerId, { timeoutMs: 20_000 });
      expect(summary).to.deep.equal({ stopped: 2, pending: 0 });
      // When shutdownWorker returns, the containers are already gone.
      for (const c of mine) {
        const row = await h.intentOfActivity(c.activity_id);
        expect(row!.status).to.equal('cancelled');
        expect(row!.stop_reason).to.equal('worker_shutdown');
        expect(row!.removed_at).to.be.instanceOf(Date);
      }
      const results = await Promise.all(calls);
      for (const r of results) expect(r.stdout).to.equal('mine\n');
      const o = await other;
      expect(o.status).to.equal('exited');
      await converged([...results.map((r) => r.intent_id), o.intent_id], [h.log.lines]);
    } finally {
      clearInterval(hb);
    }
  });

  it('`highway-docker run` killed with SIGKILL: its container is stopped and removed (worker_lost)', async () => {
    const runId = randomUUID();
    const activityId = randomUUID();
    const p = worker(['--workflow-run', runId, '--activity', activityId, TEST_IMAGE, 'sh', '-c', 'echo from-killed-worker; sleep 60']);
    const row = await h.waitFor(activityId, (r) => r.status === 'running', 30_000);
    expect(row.worker_id).to.match(/^cli-/);
    // Alive and heartbeating: the container survives well past one worker timeout.
    await new Promise((r) => setTimeout(r, WORKER_TIMEOUT_S * 1000 + 1_000));
    expect((await h.intentOfActivity(activityId))!.status).to.equal('running');

    const t0 = Date.now();
    const exit = await p.kill();
    expect(exit.signal).to.equal('SIGKILL');
    const goneAt = await waitContainerGone(h.docker, row.container_id!, 30_000);
    report('orphan cleanup after SIGKILL of a `run` worker (kill -> container removed)', goneAt - t0);
    const [end] = await converged([row.id], [h.log.lines, p.lines]);
    expect(end!.status).to.equal('cancelled');
    expect(end!.stop_reason).to.equal('worker_lost');
    expect(end!.stdout).to.equal('from-killed-worker\n');
    expect(goneAt - t0).to.be.below(WORKER_TIMEOUT_S * 1000 + 15_000);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`\`highway-docker run\` on ${signal}: stops and removes its container (worker_shutdown), prints the result, exits 130`, async () => {
      const runId = randomUUID();
      const activityId = randomUUID();
      const p = worker(['--workflow-run', runId, '--activity', activityId, TEST_IMAGE, 'sh', '-c', 'echo before-shutdown; sleep 60']);
      const row = await h.waitFor(activityId, (r) => r.status === 'running', 30_000);
      const t0 = Date.now();
      p.signal(signal);
      const exit = await p.waitExit(30_000);
      const exitMs = Date.now() - t0;
      // The container is gone BEFORE the worker exits.
      const left = await h.containers();
      expect(left.map((c) => c.Names[0]), `worker exited (${JSON.stringify(exit)}) with its container still there`).to.deep.equal([]);
      const end = await h.intentOfActivity(activityId);
      expect(end!.status).to.equal('cancelled');
      expect(end!.stop_reason).to.equal('worker_shutdown');
      expect(end!.removed_at).to.be.instanceOf(Date);
      expect(exit.code, `stderr: ${p.stderr.slice(-1500)}`).to.equal(130);
      const result = parseRunResult(p);
      expect(result).to.include({ intent_id: row.id, status: 'cancelled', stop_reason: 'worker_shutdown', stdout: 'before-shutdown\n' });
      report(`\`run\` ${signal} -> worker exited`, exitMs);
      const w = await h.db.pool.query('SELECT status FROM highway.workers WHERE id = $1', [row.worker_id]);
      expect(w.rows[0].status).to.equal('stopped');
      await converged([row.id], [h.log.lines, p.lines]);
    });
  }

  it('`highway-docker run` exits with the container exit code when nothing goes wrong (baseline)', async () => {
    const activityId = randomUUID();
    const p = worker(['--activity', activityId, TEST_IMAGE, 'sh', '-c', 'echo fine; exit 3']);
    const exit = await p.waitExit(30_000);
    const result = parseRunResult(p);
    expect(result).to.include({ status: 'failed', exit_code: 3, stdout: 'fine\n' });
    expect(exit.code, 'exit code of `highway-docker run` for a container that exited 3').to.equal(3);
    await eventually(async () => (await h.intentOfActivity(activityId))?.removed_at, { what: 'removed', timeoutMs: 10_000 });
  });
});
