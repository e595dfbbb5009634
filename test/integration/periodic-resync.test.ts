/**
 * The periodic resync is a cheap safety net (src/kinds/containers/periodic.ts): it enqueues only
 * the intents whose row and container disagree or that are due. A deadline moved into the past
 * behind the reconciler's back (no NOTIFY, no event, its in-memory requeue an hour away) is
 * still enforced by it; a quiet running container next to it is left running.
 */
import { expect } from 'chai';
import { Harness } from '../support/harness.js';
import { removeByLabel } from '../support/docker-env.js';

describe('containers: the periodic resync still heals what no hint carries', function () {
  this.timeout(90_000);
  let h: Harness;

  before(async function () {
    this.timeout(180_000);
    h = await Harness.start({ reconciler: { resyncIntervalMs: 2_000 } });
  });
  after(async () => {
    if (h) await removeByLabel(h.docker, h.label).catch(() => {});
    await h?.stop();
  });

  it('a deadline that came due without any hint ends its intent as a timeout; a quiet one keeps running', async () => {
    const due = h.ctx();
    const quiet = h.ctx();
    const dueCall = h.run({ command: ['sleep', '60'] }, due);
    const quietCall = h.run({ command: ['sleep', '60'] }, quiet);
    const dueRow = await h.waitFor(due.activity_id, (r) => r.status === 'running', 30_000);
    await h.waitFor(quiet.activity_id, (r) => r.status === 'running', 30_000);

    // No trigger fires on deadline_at: only the periodic resync can see this.
    await h.db.pool.query(`UPDATE highway.docker_containers SET deadline_at = now() - interval '1 second' WHERE id = $1`, [dueRow.id]);
    const result = await dueCall;
    expect(result.status, JSON.stringify(result)).to.equal('timeout');

    const still = await h.db.pool.query<{ status: string }>(`SELECT status FROM highway.docker_containers WHERE activity_id = $1`, [quiet.activity_id]);
    expect(still.rows[0]?.status).to.equal('running');
    await h.db.pool.query(`UPDATE highway.docker_containers SET desired_state = 'stopped', stop_reason = 'requested' WHERE activity_id = $1`, [quiet.activity_id]);
    expect((await quietCall).status).to.equal('cancelled');
  });
});
