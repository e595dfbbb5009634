/**
 * Liveness does not depend on who reads it (issue 15, item 2): each host records its own
 * HIGHWAY_HOST_TIMEOUT_S in its row, and the leader's failover, `hosts`, pending reasons and
 * pull targets judge it by that. A rolling change of the setting (a host with 30 s, a leader
 * with 1 s) no longer declares a healthy host dead and its running work lost.
 */
import { expect } from 'chai';
import { Harness } from '../support/harness.js';
import { HostRegistry } from '../../src/hosts/registry.js';
import { ClusterDuties } from '../../src/hosts/cluster-duties.js';
import { runKinds } from '../../src/runtime/periodic.js';
import { registerHost } from '../../src/db/queries/hosts.js';
import { hosts, type HostJson } from '../../src/cli/hosts.js';
import { knownHosts } from '../../src/kinds/pulls/queries/target-hosts.js';
import { sleep } from '../support/fault-checks.js';

describe('hosts: liveness by the host\'s own recorded timeout', function () {
  this.timeout(60_000);
  let h: Harness;
  let registry: HostRegistry;

  before(async function () {
    this.timeout(120_000);
    h = await Harness.start();
    // This host: a 30 s timeout, so it would beat every 10 s; registered once, which is enough within this test.
    registry = new HostRegistry({ pool: h.db.pool, id: h.reconcilerId, daemon: async () => ({ id: 'd', version: 'v' }), hostTimeoutS: 30, logger: h.log.logger });
    await registry.beat();
  });
  after(async () => {
    await registry?.stop();
    await h?.stop();
  });

  it('a leader with a shorter HIGHWAY_HOST_TIMEOUT_S than the host does not declare it dead: its running container finishes', async () => {
    const duties = new ClusterDuties({ pool: h.db.pool, logger: h.log.logger, isLeader: () => true, hostTimeoutS: 1, intervalMs: 200, idleMs: 300 });
    const running = runKinds([duties.kind()], h.log.logger);
    try {
      const ctx = h.ctx();
      const call = h.run({ command: ['sh', '-c', 'sleep 4; echo still-alive'] }, ctx);
      await h.waitFor(ctx.activity_id, (r) => r.status === 'running', 20_000);
      await sleep(2_500); // past the leader's 1 s, well within the host's 30 s
      const asReader = JSON.parse(await hosts(h.db.pool, { json: true, hostTimeoutS: 1 })) as HostJson[];
      const me = asReader.find((x) => x.id === h.reconcilerId)!;
      expect(me.alive).to.equal(true);
      expect(me.timeout_s).to.equal(30);
      expect(await knownHosts(h.db.pool, 1)).to.include(h.reconcilerId);
      const r = await call;
      expect(r.status).to.equal('exited');
      expect(r.stdout).to.equal('still-alive\n');
      expect(h.log.events('host.failover')).to.have.length(0);
    } finally {
      await running.stop();
    }
  });

  it('a host with a short timeout that went silent is dead for a reader with a long one', async () => {
    await registerHost(h.db.pool, { id: 'short-lived', hostname: 'x', dockerId: null, dockerVersion: null, labels: {}, capacity: null, timeoutS: 1 });
    expect((JSON.parse(await hosts(h.db.pool, { json: true, hostTimeoutS: 30 })) as HostJson[]).find((x) => x.id === 'short-lived')!.alive).to.equal(true);
    await sleep(1_300);
    const rows = JSON.parse(await hosts(h.db.pool, { json: true, hostTimeoutS: 30 })) as HostJson[];
    expect(rows.find((x) => x.id === 'short-lived')!.alive).to.equal(false);
    expect(rows.find((x) => x.id === h.reconcilerId)!.alive).to.equal(true);
  });
});
