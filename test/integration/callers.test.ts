/**
 * Callers and their connections (real PostgreSQL, real Docker where a container runs): a
 * caller wakes at once on every terminal state, an unclaimable intent whose caller went away
 * ends with its reason, and `run` says why its intent waits.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { endLostOnDeadHost } from '../../src/db/queries/failover.js';
import { Harness } from '../support/harness.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function eventually<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
}

describe('callers: every terminal state wakes its caller at once', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async () => {
    h = await Harness.start({ withoutReconciler: true });
  });
  after(async () => {
    await h?.endLeftovers().catch(() => {});
    await h?.stop();
  });

  it('a run whose host dies (the intent ends `lost`, no removal follows) returns well before the 5 s safety poll', async () => {
    const ctx = h.ctx();
    const call = h.run({ command: ['sleep', '60'] }, ctx);
    const row = await h.waitFor(ctx.activity_id, () => true, 10_000);
    // As a host that claimed and started it, then stopped answering: the cluster leader's failover ends it lost.
    const host = `dead-host-${randomUUID()}`;
    await h.db.pool.query(`UPDATE highway.docker_containers SET reconciler_id = $2, status = 'running', started_at = now() WHERE id = $1`, [row.id, host]);
    await sleep(200); // the caller is waiting now
    const t0 = Date.now();
    const [lost] = await endLostOnDeadHost(h.db.pool, host, 30);
    expect(lost?.id).to.equal(row.id);
    const result = await call;
    const tookMs = Date.now() - t0;
    expect(result.status).to.equal('lost');
    expect(result.error).to.match(/stopped answering/);
    // The safety poll is 5 s: a wake by the notification takes milliseconds.
    expect(tookMs).to.be.below(2_500);
  });
});
