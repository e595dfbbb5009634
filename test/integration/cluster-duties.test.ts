/**
 * ClusterDuties on a real PostgreSQL (no Docker: its work is rows): failover of a dead host
 * whose only work is intents it claimed and never started (they go back to the pool), and of
 * one with a started intent (it ends lost, naming the host); a live host is left alone.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { ClusterDuties } from '../../src/hosts/cluster-duties.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { Pool } from '../../src/db/pool.js';
import { useFreshDatabase } from '../support/fixture.js';

describe('hosts: ClusterDuties failover (real PostgreSQL)', function () {
  this.timeout(30_000);
  const db = useFreshDatabase();

  const host = (id: string, heartbeatAgoS: number) =>
    db.pool.query(
      `INSERT INTO highway.hosts (id, hostname, labels, started_at, heartbeat_at)
       VALUES ($1, 'h', '{}', now() - interval '1 hour', now() - make_interval(secs => $2))`,
      [id, heartbeatAgoS],
    );
  const intent = async (hostId: string, status: string, started: boolean) => {
    const id = randomUUID();
    await db.pool.query(
      `INSERT INTO highway.docker_containers (id, activity_id, workflow_run_id, tenant_id, image, spec, status, reconciler_id, start_attempted_at)
       VALUES ($1, $2, $3, 't', 'busybox', '{}', $4, $5, CASE WHEN $6 THEN now() END)`,
      [id, randomUUID(), randomUUID(), status, hostId, started],
    );
    return id;
  };
  const row = async (id: string) =>
    (await db.pool.query<{ status: string; reconciler_id: string | null; error: string | null; error_code: string | null }>('SELECT status, reconciler_id, error, error_code FROM highway.docker_containers WHERE id = $1', [id])).rows[0]!;

  it('a dead host whose only work is claimed, unstarted intents: they go back to the pool', async () => {
    await host('dead-claimed-only', 60);
    const a = await intent('dead-claimed-only', 'pending', false);
    const b = await intent('dead-claimed-only', 'pending', false);
    await new ClusterDuties({ pool: db.pool, logger: silentLogger, isLeader: () => true, hostTimeoutS: 3 }).pass();
    for (const id of [a, b]) {
      const r = await row(id);
      expect([r.status, r.reconciler_id]).to.deep.equal(['pending', null]);
    }
  });

  it('a dead host with a started intent: it ends lost naming the host; a live host is left alone', async () => {
    await host('dead-running', 60);
    await host('alive', 0);
    const lost = await intent('dead-running', 'running', true);
    const kept = await intent('alive', 'pending', false);
    await new ClusterDuties({ pool: db.pool, logger: silentLogger, isLeader: () => true, hostTimeoutS: 3 }).pass();
    const r = await row(lost);
    expect(r.status).to.equal('lost');
    expect(r.error).to.contain('host dead-running stopped answering');
    expect(r.error_code).to.equal('host_lost');
    expect(await row(kept)).to.deep.include({ status: 'pending', reconciler_id: 'alive' });
  });

  it('an idle cluster costs its leader one statement a pass; an unclaimed intent past placement_timeout still ends failed', async () => {
    // Nothing waiting, no dead host with live work (the rows of the tests above are settled).
    await db.pool.query(`UPDATE highway.docker_containers SET removed_at = now() WHERE removed_at IS NULL`);
    let statements = 0;
    const counting = { query: (...args: unknown[]) => (statements++, (db.pool.query as (...a: unknown[]) => unknown)(...args)) } as unknown as Pool;
    const duties = new ClusterDuties({ pool: counting, logger: silentLogger, isLeader: () => true, hostTimeoutS: 3 });
    await duties.pass(); // the first pass also runs retention
    statements = 0;
    await duties.pass();
    expect(statements).to.equal(1);

    const id = randomUUID();
    await db.pool.query(
      `INSERT INTO highway.docker_containers (id, activity_id, workflow_run_id, tenant_id, image, spec, status, created_at)
       VALUES ($1, $2, $3, 't', 'busybox', '{"placement": {"labels": {"zone": "nowhere"}}, "placement_timeout": 1}', 'pending', now() - interval '5 seconds')`,
      [id, randomUUID(), randomUUID()],
    );
    await duties.pass();
    const r = await row(id);
    expect(r.status).to.equal('failed');
    expect(r.error).to.equal('placement_timeout: no live host took it within 1 s (no live host matches placement {"labels": {"zone": "nowhere"}})');
    expect(r.error_code).to.equal('placement_timeout');
  });

  it('an idle leader sleeps until the next host could be dead, not a fixed poll; work brings back the short interval', async () => {
    await db.pool.query(`UPDATE highway.docker_containers SET removed_at = now() WHERE removed_at IS NULL`);
    const duties = new ClusterDuties({ pool: db.pool, logger: silentLogger, isLeader: () => true, hostTimeoutS: 20, intervalMs: 1_000, idleMs: 60_000 });
    await duties.pass();
    // No host holds live work: the longest sleep.
    expect(await duties.pass()).to.equal(60_000);
    // A host that heartbeat 5 s ago and runs an intent: the next look is when it would be dead (20 s timeout).
    await db.pool.query(`INSERT INTO highway.hosts (id, hostname, heartbeat_at) VALUES ('busy-host', 'h', now() - interval '5 seconds')
                         ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, stopped_at = NULL`);
    await db.pool.query(
      `INSERT INTO highway.docker_containers (id, activity_id, workflow_run_id, tenant_id, image, spec, status, reconciler_id)
       VALUES ($1, $2, $3, 't', 'busybox', '{}', 'running', 'busy-host')`,
      [randomUUID(), randomUUID(), randomUUID()],
    );
    const next = await duties.pass();
    expect(next).to.be.within(14_000, 15_200);
    // An unclaimed intent waiting: the short interval again.
    await db.pool.query(
      `INSERT INTO highway.docker_containers (id, activity_id, workflow_run_id, tenant_id, image, spec, status)
       VALUES ($1, $2, $3, 't', 'busybox', '{}', 'pending')`,
      [randomUUID(), randomUUID(), randomUUID()],
    );
    expect(await duties.pass()).to.equal(1_000);
    // A follower does not touch the database; it looks again at the short interval whether it leads now.
    expect(await new ClusterDuties({ pool: {} as Pool, logger: silentLogger, isLeader: () => false, hostTimeoutS: 20, intervalMs: 1_000 }).pass()).to.equal(1_000);
  });
});

