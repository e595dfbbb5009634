/**
 * Activity heartbeat timeout (real Docker, real PostgreSQL): status 'timed_out', a heartbeat
 * older than heartbeat_timeout_s (a timer computed from the rows, pushed back by fresh
 * heartbeats), or the activity row deleted: the containers are stopped and removed
 * (activity_timeout / activity_gone), with their output kept.
 */
import { expect } from 'chai';
import { Harness } from '../../support/harness.js';
import { removeByLabel } from '../../support/docker-env.js';
import type { ActivityContext } from '../../../src/tools/registry.js';
import { expectConverged, sleep } from '../../support/fault-checks.js';

describe('faults: activity heartbeat timeout and activity gone', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async () => {
    h = await Harness.start({ reconciler: { resyncIntervalMs: 120_000 } });
  });
  after(async () => {
    if (h) await removeByLabel(h.docker, h.label).catch(() => {});
    await h?.stop();
  });

  /** The engine's rows, written before the tool call (as Highway would). */
  async function engineRows(ctx: ActivityContext, heartbeatTimeoutS: number | null): Promise<void> {
    await h.db.pool.query('INSERT INTO highway.workflow_runs (id, tenant_id) VALUES ($1, $2)', [ctx.workflow_run_id, ctx.tenant_id]);
    await h.db.pool.query('INSERT INTO highway.activities (id, workflow_run_id, heartbeat_at, heartbeat_timeout_s) VALUES ($1, $2, now(), $3)', [
      ctx.activity_id,
      ctx.workflow_run_id,
      heartbeatTimeoutS,
    ]);
  }

  it("activity status 'timed_out' stops and removes its container (activity_timeout), by NOTIFY", async () => {
    const ctx = h.ctx();
    const call = h.run({ command: ['sh', '-c', 'echo working; sleep 60'] }, ctx);
    await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
    const t0 = Date.now();
    await h.db.pool.query(`UPDATE highway.activities SET status = 'timed_out' WHERE id = $1`, [ctx.activity_id]);
    const r = await call;
    expect(r.status).to.equal('cancelled');
    expect(r.stop_reason).to.equal('activity_timeout');
    expect(r.stdout).to.equal('working\n');
    expect(Date.now() - t0).to.be.below(15_000);
    await expectConverged({ docker: h.docker, label: h.label, pool: h.db.pool, intentIds: [r.intent_id], logs: [h.log.lines] });
  });

  it('heartbeats keep it alive; once they stop, it is stopped after heartbeat_timeout_s (activity_timeout)', async () => {
    const ctx = h.ctx();
    await engineRows(ctx, 2);
    const call = h.run({ command: ['sh', '-c', 'echo beating; sleep 60'] }, ctx);
    await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
    // Heartbeat every 0.5 s for 4 s: twice the timeout, and it keeps running.
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      await h.db.pool.query('UPDATE highway.activities SET heartbeat_at = now() WHERE id = $1', [ctx.activity_id]);
      await sleep(500);
    }
    expect((await h.intentOfActivity(ctx.activity_id))!.status).to.equal('running');
    const lastBeat = Date.now();
    const r = await call;
    const elapsed = Date.now() - lastBeat;
    expect(r.status).to.equal('cancelled');
    expect(r.stop_reason).to.equal('activity_timeout');
    expect(r.stdout).to.equal('beating\n');
    expect(elapsed).to.be.within(1_000, 15_000); // about 2 s after the last heartbeat (+ stop)
    await expectConverged({ docker: h.docker, label: h.label, pool: h.db.pool, intentIds: [r.intent_id], logs: [h.log.lines] });
  });

  it('an activity whose heartbeat already expired before the call: its intent never starts a container', async () => {
    const ctx = h.ctx();
    await engineRows(ctx, 1);
    await h.db.pool.query(`UPDATE highway.activities SET heartbeat_at = now() - interval '10 seconds' WHERE id = $1`, [ctx.activity_id]);
    const r = await h.run({ command: ['echo', 'never'] }, ctx);
    expect(r.status).to.equal('cancelled');
    expect(r.stop_reason).to.equal('activity_timeout');
    expect(r.container_id).to.equal(null);
    await expectConverged({ docker: h.docker, label: h.label, pool: h.db.pool, intentIds: [r.intent_id], logs: [h.log.lines] });
  });

  it('the activity row deleted: its container is stopped and removed (activity_gone)', async () => {
    const ctx = h.ctx();
    const call = h.run({ command: ['sh', '-c', 'echo gone-soon; sleep 60'] }, ctx);
    await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
    await h.db.pool.query('DELETE FROM highway.activities WHERE id = $1', [ctx.activity_id]);
    const r = await call;
    expect(r.status).to.equal('cancelled');
    expect(r.stop_reason).to.equal('activity_gone');
    expect(r.stdout).to.equal('gone-soon\n');
    await expectConverged({ docker: h.docker, label: h.label, pool: h.db.pool, intentIds: [r.intent_id], logs: [h.log.lines] });
  });
});
