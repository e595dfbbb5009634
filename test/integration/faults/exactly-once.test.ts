/**
 * Exactly once with two reconcilers of one id (a restart under systemd while the old process
 * still drains; two replicas of one deployment): every container is started exactly once.
 * Counted from the daemon's own start events, per container.
 */
import { expect } from 'chai';
import { Reconciler } from '../../../src/reconciler.js';
import { defaultPolicy } from '../../../src/params/policy.js';
import { Harness } from '../../support/harness.js';
import { expectConverged, watchEvents } from '../../support/fault-checks.js';

const N = 200;

describe('faults: two reconcilers with the same id', function () {
  this.timeout(240_000);
  let h: Harness;
  let second: Reconciler | null = null;

  before(async () => {
    h = await Harness.start({ reconciler: { concurrency: 8 } });
  });
  after(async () => {
    await second?.stop();
    await h?.stop();
  });

  it(`${N} intents: every container started exactly once, every output once, no name-conflict errors`, async () => {
    const events = await watchEvents(h.docker, h.label);
    second = await Reconciler.create({
      pool: h.db.pool,
      databaseUrl: h.db.url,
      docker: h.client,
      logger: h.log.logger,
      reconcilerId: h.reconcilerId,
      resyncIntervalMs: 5_000,
      concurrency: 8,
      policy: defaultPolicy,
    });
    // One live reconciler per id: the second waits as a standby (its start() resolves when it
    // takes over). The start guard in the row holds even without that lock (decide's unit tests).
    const secondStarted = second.start();
    const results = await Promise.all(Array.from({ length: N }, (_, i) => h.run({ command: ['sh', '-c', `echo done-${i}`] })));
    for (const [i, r] of results.entries()) {
      expect(r.status, JSON.stringify(r)).to.equal('exited');
      expect(r.stdout).to.equal(`done-${i}\n`);
    }
    await new Promise((r) => setTimeout(r, 500));
    events.stop();
    const starts = new Map<string, number>();
    for (const e of events.seen) if (e.Action === 'start') starts.set(e.Actor.ID, (starts.get(e.Actor.ID) ?? 0) + 1);
    expect(starts.size).to.equal(N);
    expect([...starts.values()].filter((n) => n !== 1)).to.deep.equal([]);
    expect(h.log.lines.filter((l) => /name conflict/.test(String(l['err'] ?? l['msg'])))).to.deep.equal([]);
    const audits = await h.db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT intent_id, operation FROM highway.docker_audit WHERE operation = 'container.create' GROUP BY 1, 2 HAVING count(*) > 1) d`,
    );
    expect(Number(audits.rows[0]!.n)).to.equal(0);
    await expectConverged({ docker: h.docker, label: h.label, pool: h.db.pool, intentIds: results.map((r) => r.intent_id), logs: [h.log.lines] });
    // The second waited as a standby, saying so; when the first goes, it takes over.
    expect(h.log.events('reconciler.standby').length).to.equal(1);
    await h.stopReconciler();
    await secondStarted;
    const after = await h.run({ command: ['sh', '-c', 'echo after-takeover'] });
    expect(after.stdout).to.equal('after-takeover\n');
    expect(h.log.events('reconciler.active').length).to.equal(1);
  });
});
