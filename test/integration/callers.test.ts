/**
 * Callers and their connections (real PostgreSQL, real Docker where a container runs): a
 * caller wakes at once on every terminal state, an unclaimable intent whose caller went away
 * ends with its reason, and `run` says why its intent waits.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { endLostOnDeadHost } from '../../src/db/queries/failover.js';
import { ClusterDuties } from '../../src/hosts/cluster-duties.js';
import { runKinds, type RunningKinds } from '../../src/runtime/periodic.js';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { ensureBuilt, parseRunResult, spawnCli } from '../support/processes.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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
    expect(result.error_code).to.equal('host_lost');
    // The safety poll is 5 s: a wake by the notification takes milliseconds.
    expect(tookMs).to.be.below(2_500);
  });
});

describe('callers: an intent no host can take ends when its caller goes away', function () {
  this.timeout(60_000);
  let h: Harness;
  let duties: RunningKinds;

  before(async () => {
    // No reconciler, no host: every intent waits unclaimed ("no live host").
    h = await Harness.start({ withoutReconciler: true });
    // (`up` wakes the leader on every new intent; here, without LISTEN, it looks every 300 ms.)
    duties = runKinds([new ClusterDuties({ pool: h.db.pool, logger: h.log.logger, isLeader: () => true, hostTimeoutS: 30, workerTimeoutS: 1, intervalMs: 300, idleMs: 300 }).kind()], h.log.logger);
  });
  after(async () => {
    await duties?.stop();
    await h?.endLeftovers().catch(() => {});
    await h?.stop();
  });

  it('its worker stops heartbeating: it ends cancelled (worker_lost), saying why it never started, and a waiting caller gets that', async () => {
    const workerId = `w-gone-${randomUUID().slice(0, 8)}`;
    await h.db.pool.query(`INSERT INTO highway.workers (id, status, heartbeat_at) VALUES ($1, 'alive', now())`, [workerId]);
    const ctx = h.ctx({ worker_id: workerId });
    const result = await h.run({ command: ['true'], placement: { labels: { zone: 'nowhere' } } }, ctx);
    expect(result.status).to.equal('cancelled');
    expect(result.stop_reason).to.equal('worker_lost');
    expect(result.error).to.equal('never started: no live host matches placement {"labels": {"zone": "nowhere"}}');
    expect(result.error_code).to.equal('never_started');
    const row = await h.intent(result.intent_id);
    expect(row!.removed_at).to.be.instanceOf(Date);
    expect(row!.container_id).to.equal(null);
    expect(h.log.events('intent.cancelled', result.intent_id)).to.have.length(1);
  });

  it('its activity is gone: it ends cancelled (activity_gone); a live caller of another intent keeps waiting', async () => {
    const workerId = `w-alive-${randomUUID().slice(0, 8)}`;
    await h.db.pool.query(`INSERT INTO highway.workers (id, status, heartbeat_at) VALUES ($1, 'alive', now())`, [workerId]);
    const beat = setInterval(() => void h.db.pool.query('UPDATE highway.workers SET heartbeat_at = now() WHERE id = $1', [workerId]).catch(() => {}), 200);
    try {
      const gone = h.ctx({ worker_id: workerId });
      const live = h.ctx({ worker_id: workerId });
      const goneCall = h.run({ command: ['true'] }, gone);
      const liveCall = h.run({ command: ['true'] }, live);
      let liveEnded = false;
      void liveCall.then(() => (liveEnded = true), () => (liveEnded = true));
      await h.waitFor(gone.activity_id, () => true, 10_000);
      await h.db.pool.query('DELETE FROM highway.activities WHERE id = $1', [gone.activity_id]);
      const r = await goneCall;
      expect(r.status).to.equal('cancelled');
      expect(r.stop_reason).to.equal('activity_gone');
      expect(r.error).to.equal('never started: no live host'); // no placement: not "matches placement null"
      await sleep(3_000); // several passes of the leader
      expect(liveEnded, 'the intent of a live caller was ended').to.equal(false);
      expect((await h.intentOfActivity(live.activity_id))!.status).to.equal('pending');
    } finally {
      clearInterval(beat);
    }
  });
});

describe('callers: `run` says why its intent waits', function () {
  this.timeout(90_000);
  let h: Harness;
  let duties: RunningKinds;
  const hosts = [`callers-a-${randomUUID().slice(0, 8)}`, `callers-b-${randomUUID().slice(0, 8)}`];
  const placement = { labels: { zone: 'nowhere' } };
  const reason = 'no live host matches placement {"labels": {"zone": "nowhere"}}';

  before(async function () {
    this.timeout(180_000);
    ensureBuilt();
    h = await Harness.start({ withoutReconciler: true });
    // Two live hosts (rows that heartbeat now), neither matching the placement, and the cluster leader.
    for (const id of hosts) await h.db.pool.query(`INSERT INTO highway.hosts (id, hostname, labels, started_at, heartbeat_at) VALUES ($1, 'h', '{}', now(), now())`, [id]);
    duties = runKinds([new ClusterDuties({ pool: h.db.pool, logger: h.log.logger, isLeader: () => true, hostTimeoutS: 60, intervalMs: 300, idleMs: 300 }).kind()], h.log.logger);
  });
  after(async () => {
    await duties?.stop();
    await h?.db.pool.query('DELETE FROM highway.hosts WHERE id = ANY($1)', [hosts]).catch(() => {});
    await h?.endLeftovers().catch(() => {});
    await h?.stop();
  });

  const runWaiting = (json: boolean) =>
    spawnCli(['run', ...(json ? ['--json'] : []), '--params', '-', TEST_IMAGE, 'true'], {
      databaseUrl: h.db.url,
      reconcilerId: h.reconcilerId,
      stdin: JSON.stringify({ placement, placement_timeout: 8 }),
    });

  it('--json: the reason the leader recorded, as a JSON line on stderr, and nothing but JSON there', async () => {
    const p = runWaiting(true);
    await p.waitExit(60_000);
    const result = parseRunResult(p);
    expect(result['status']).to.equal('failed');
    expect(String(result['error'])).to.match(/^placement_timeout/);
    const lines = p.stderr.split('\n').filter((l) => l.trim() !== '');
    for (const line of lines) expect(() => JSON.parse(line), `stderr line: ${line}`).not.to.throw();
    const waiting = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['event'] === 'run.waiting');
    expect(waiting.length).to.be.at.least(1);
    expect(waiting[0]).to.include({ intent_id: result['intent_id'], pending_reason: reason });
    expect(p.stderr).not.to.include('no reconciler has picked this up');
  });

  it('without --json: one line on stderr with that reason, not "no reconciler"', async () => {
    const p = runWaiting(false);
    await p.waitExit(60_000);
    expect(p.stderr).to.include(`highway-docker: still waiting: ${reason}\n`);
    expect(p.stderr).not.to.include('no reconciler has picked this up');
  });
});
