/**
 * Reconciler SIGKILLed during a logs follow (real Docker, real PostgreSQL). The reconciler runs
 * as a child process (`highway-docker up`); a follow is polling logs operations when it dies,
 * and it is restarted. The follow goes on through the outage and prints every line exactly once,
 * in order, ending when the container ends; every logs operation ends in one recorded outcome
 * (none left pending or running), and nothing is left behind.
 */
import { expect } from 'chai';
import { followLogs, type FollowChunk } from '../../../src/tools/logs-follow.js';
import { eventually } from '../../support/eventually.js';
import { useCrashFixture } from '../../support/fault-fixture.js';

describe('faults: reconciler SIGKILLed during a logs follow, then restarted', function () {
  this.timeout(120_000);
  const { h, up: start, converged } = useCrashFixture();

  it('every line once, in order, through the outage; every operation one outcome; nothing left', async () => {
    let up = await start();
    const ctx = h.ctx();
    const N = 40;
    const run = await h.run({ detach: true, command: ['sh', '-c', `i=0; while [ $i -lt ${N} ]; do echo line-$i; i=$((i+1)); sleep 0.2; done`] }, ctx);
    expect(run.status).to.equal('running');

    const chunks: FollowChunk[] = [];
    const follow = followLogs(h.tools.operations, { target: run.intent_id }, ctx, (c) => chunks.push(c));
    await eventually(async () => chunks.length >= 5, { what: 'some lines followed', timeoutMs: 20_000 });
    await up.kill(); // SIGKILL, mid-follow
    await new Promise((r) => setTimeout(r, 1_500));
    up = await start();
    await follow;

    const text = chunks.filter((c) => c.stream === 'stdout').map((c) => c.text).join('');
    expect(text).to.equal(Array.from({ length: N }, (_, i) => `line-${i}\n`).join(''));
    const ops = await h.db.pool.query<{ status: string; n: string }>(
      `SELECT status, count(*) AS n FROM highway.docker_operations WHERE intent_id = $1 GROUP BY status`,
      [run.intent_id],
    );
    expect(ops.rows.filter((r) => r.status === 'pending' || r.status === 'running')).to.deep.equal([]);
    expect(ops.rows.reduce((n, r) => n + Number(r.n), 0)).to.be.greaterThan(5);
    await converged([run.intent_id], []);
  });
});
