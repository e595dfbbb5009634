/**
 * The audit trail's table on a real PostgreSQL (no Docker): it cannot be emptied (TRUNCATE is
 * refused like UPDATE and DELETE, on the table and on each partition), every field is bounded
 * whoever writes the row, and its monthly partitions are made even when the default partition
 * already holds rows of that month; retention and partitions never block each other.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { ClusterDuties } from '../../src/hosts/cluster-duties.js';
import { appendAudit } from '../../src/db/queries/audit.js';
import { LogCapture } from '../support/harness.js';
import { useFreshDatabase } from '../support/fixture.js';

describe('audit trail: append-only, bounded, partitioned (real PostgreSQL)', function () {
  this.timeout(60_000);
  const db = useFreshDatabase({ eachTest: true });

  const count = async () => Number((await db.pool.query('SELECT count(*) AS n FROM highway.docker_audit')).rows[0].n);
  const partitions = async () =>
    (await db.pool.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'highway.docker_audit'::regclass ORDER BY 1`)).rows.map((r) => r.name);

  /** The name of the UTC month `n` months ahead and its first instant (ISO 8601). */
  const monthAhead = async (n: number) =>
    (await db.pool.query<{ name: string; at: string }>(
      `SELECT format('docker_audit_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM')) AS name, to_char(m, 'YYYY-MM-DD"T"00:00:00"Z"') AS at
         FROM (SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => $1) AS m) s`,
      [n],
    )).rows[0]!;

  it('TRUNCATE of the table, or of any partition (the default and one made later), is refused and keeps every row', async () => {
    await appendAudit(db.pool, { tenant_id: 't', operation: 'test.op', outcome: 'ok' });
    const month = (await monthAhead(0)).name;
    for (const table of ['highway.docker_audit', `highway.${month}`, 'highway.docker_audit_default']) {
      const err = await db.pool.query(`TRUNCATE ${table}`).catch((e: Error) => e);
      expect(err, table).to.be.instanceOf(Error);
      expect((err as Error).message).to.contain('append-only');
    }
    // A partition made after the migration is protected as well.
    await db.pool.query(`SELECT highway.ensure_audit_partitions(5)`);
    const last = (await partitions()).filter((p) => p !== 'docker_audit_default').pop()!;
    expect((await db.pool.query(`TRUNCATE highway.${last}`).catch((e: Error) => e)) as Error).to.be.instanceOf(Error);
    expect(await count()).to.equal(1);
    // Archiving is the operator's: a detached month still refuses TRUNCATE, and can be dropped.
    await db.pool.query(`ALTER TABLE highway.docker_audit DETACH PARTITION highway.${last}`);
    expect(((await db.pool.query(`TRUNCATE highway.${last}`).catch((e: Error) => e)) as Error).message).to.contain('append-only');
    await db.pool.query(`DROP TABLE highway.${last}`);
    // UPDATE and DELETE stay refused.
    for (const sql of ['UPDATE highway.docker_audit SET outcome = \'error\'', 'DELETE FROM highway.docker_audit']) {
      expect(((await db.pool.query(sql).catch((e: Error) => e)) as Error).message).to.contain('append-only');
    }
  });

  it('a 20 MB tenant id written straight into the table is stored bounded: its head, its length and a digest', async () => {
    const huge = 'x'.repeat(20 * 1024 * 1024);
    await db.pool.query(
      `INSERT INTO highway.docker_audit (tenant_id, actor, operation, outcome, detail) VALUES ($1, $1, $2, 'denied', $3)`,
      [huge, 'op'.repeat(100), JSON.stringify({ error: huge })],
    );
    const row = (await db.pool.query(`SELECT tenant_id, actor, operation, detail, pg_column_size(detail) AS detail_bytes FROM highway.docker_audit`)).rows[0];
    expect(row.tenant_id.length).to.be.at.most(200);
    expect(row.tenant_id).to.match(/^x+\.\.\.\[truncated: 20971520 chars, sha256:[0-9a-f]{16}\]$/);
    expect(row.actor).to.equal(row.tenant_id);
    expect(row.operation.length).to.be.at.most(100);
    expect(row.detail).to.include({ truncated: true, chars: 20971520 + '{"error": ""}'.length });
    expect(row.detail.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(row.detail_bytes).to.be.below(8192);
  });

  it('appendAudit bounds each field before it is sent: a NUL is written \\u0000, long strings are cut with a marker', async () => {
    await appendAudit(db.pool, {
      tenant_id: 'acme',
      actor: 'a\u0000b',
      operation: 'test.op',
      outcome: 'ok',
      detail: { error: 'e'.repeat(5000), nested: { list: Array.from({ length: 500 }, (_, i) => i) } },
    });
    const row = (await db.pool.query(`SELECT actor, detail FROM highway.docker_audit`)).rows[0];
    expect(row.actor).to.equal('a\\u0000b');
    expect(row.detail.error).to.have.length.at.most(1024);
    expect(row.detail.error).to.match(/\.\.\.\[truncated: 5000 chars, sha256:[0-9a-f]{16}\]$/);
    expect(row.detail.nested.list).to.have.length(51);
    expect(row.detail.nested.list[50]).to.equal('[450 more]');
  });

  it("rows of a month waiting in the default partition do not block that month's partition: they are moved into it", async () => {
    // The partition two months ahead is missing (say, the leader was down), and a row of that
    // month has landed in the default partition.
    const { name, at } = await monthAhead(2);
    await db.pool.query(`ALTER TABLE highway.docker_audit DETACH PARTITION highway.${name}`);
    await db.pool.query(`DROP TABLE highway.${name}`);
    const id = randomUUID();
    await db.pool.query(`INSERT INTO highway.docker_audit (at, tenant_id, intent_id, operation, outcome) VALUES ($1::timestamptz + interval '3 days', 't', $2, 'early', 'ok')`, [at, id]);
    await appendAudit(db.pool, { tenant_id: 't', operation: 'now', outcome: 'ok' });
    const where = async () => (await db.pool.query(`SELECT tableoid::regclass::text AS part FROM highway.docker_audit WHERE intent_id = $1`, [id])).rows[0].part;
    expect(await where()).to.equal('highway.docker_audit_default');

    const made = (await db.pool.query(`SELECT highway.ensure_audit_partitions(2) AS made`)).rows[0].made;
    expect(made).to.equal(1);
    expect(await where()).to.equal(`highway.${name}`);
    expect(await count()).to.equal(2);
    // The new default partition is protected like the old one, and still takes rows.
    expect(((await db.pool.query('TRUNCATE highway.docker_audit_default').catch((e: Error) => e)) as Error).message).to.contain('append-only');
    await db.pool.query(`INSERT INTO highway.docker_audit (at, tenant_id, operation, outcome) VALUES (now() + interval '5 years', 't', 'far', 'ok')`);
    expect(((await db.pool.query(`DELETE FROM highway.docker_audit_default`).catch((e: Error) => e)) as Error).message).to.contain('append-only');
    expect(await count()).to.equal(3);
  });

  it('a month made earlier in another session time zone does not make the next one fail: the UTC month is clipped to it', async () => {
    const next = await monthAhead(1);
    const after = await monthAhead(2);
    for (const { name } of [next, after]) {
      await db.pool.query(`ALTER TABLE highway.docker_audit DETACH PARTITION highway.${name}`);
      await db.pool.query(`DROP TABLE highway.${name}`);
    }
    // As migration 012's function made it in a New York session: local midnights.
    const client = await db.pool.connect();
    try {
      await client.query(`SET timezone = 'America/New_York'`);
      const lo = next.at.slice(0, 10);
      await client.query(`CREATE TABLE highway.${next.name} PARTITION OF highway.docker_audit FOR VALUES FROM ('${lo}') TO (('${lo}'::date + interval '1 month')::date)`);
    } finally {
      client.release();
    }
    expect((await db.pool.query(`SELECT highway.ensure_audit_partitions(2) AS made`)).rows[0].made).to.equal(1);
    const bounds = (await db.pool.query(`SELECT part::text, lower_at, upper_at FROM highway.docker_audit_partition_bounds() WHERE part::text = ANY($1) ORDER BY lower_at`, [[`highway.${next.name}`, `highway.${after.name}`]])).rows;
    expect(bounds.map((b) => b.part)).to.deep.equal([`highway.${next.name}`, `highway.${after.name}`]);
    expect(bounds[1].lower_at.getTime()).to.equal(bounds[0].upper_at.getTime());
  });

  it('the leader keeps retention running when the partitions cannot be made, and makes them when they can', async () => {
    // An ended intent past retention.
    const ended = randomUUID();
    await db.pool.query(
      `INSERT INTO highway.docker_containers (id, activity_id, workflow_run_id, tenant_id, image, spec, status, finished_at, removed_at)
       VALUES ($1, $2, $3, 't', 'busybox', '{}', 'exited', now() - interval '40 days', now() - interval '40 days')`,
      [ended, randomUUID(), randomUUID()],
    );
    // Making partitions fails (a fault injected for this test: the function raises).
    await db.pool.query(`ALTER FUNCTION highway.ensure_audit_partitions(int) RENAME TO ensure_audit_partitions_real`);
    await db.pool.query(`CREATE FUNCTION highway.ensure_audit_partitions(int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'partitions: injected failure'; END $$`);
    const log = new LogCapture('info');
    const duties = () => new ClusterDuties({ pool: db.pool, logger: log.logger, isLeader: () => true, hostTimeoutS: 30, retentionEveryMs: 0 });
    await duties().pass();
    expect((await db.pool.query('SELECT 1 FROM highway.docker_containers WHERE id = $1', [ended])).rowCount).to.equal(0);
    expect(log.events('audit.partitions_failed').map((e) => e['err'])).to.deep.equal(['partitions: injected failure']);

    // The fault is gone: the next round makes the missing month.
    await db.pool.query(`DROP FUNCTION highway.ensure_audit_partitions(int)`);
    await db.pool.query(`ALTER FUNCTION highway.ensure_audit_partitions_real(int) RENAME TO ensure_audit_partitions`);
    const before = (await partitions()).length;
    const { name, at } = await monthAhead(2);
    await db.pool.query(`ALTER TABLE highway.docker_audit DETACH PARTITION highway.${name}`);
    await db.pool.query(`DROP TABLE highway.${name}`);
    await db.pool.query(`INSERT INTO highway.docker_audit (at, tenant_id, operation, outcome) VALUES ($1::timestamptz + interval '1 day', 't', 'waiting', 'ok')`, [at]);
    await duties().pass();
    expect((await partitions()).length).to.equal(before);
    expect(log.events('audit.partitions_made').length).to.equal(1);
    const part = (await db.pool.query(`SELECT tableoid::regclass::text AS part FROM highway.docker_audit WHERE operation = 'waiting'`)).rows[0].part;
    expect(part).to.equal(`highway.${name}`);
  });
});
