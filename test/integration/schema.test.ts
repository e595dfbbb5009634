/** The migrations and the code agree on the tables' columns. */
import { expect } from 'chai';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { COLUMNS_WITHOUT_OUTPUT } from '../../src/db/queries/intent-columns.js';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { useFreshDatabase } from '../support/fixture.js';

describe('schema: the code knows every column', function () {
  this.timeout(60_000);
  const db = useFreshDatabase();

  it("the reconciler's row read names every column of docker_containers but the stored output (a column it missed would read as undefined)", async () => {
    const res = await db.pool.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'highway' AND table_name = 'docker_containers'`,
    );
    const inTable = res.rows.map((r) => r.column_name).sort();
    expect(inTable).to.deep.equal([...COLUMNS_WITHOUT_OUTPUT, 'stdout', 'stderr', 'result', 'services'].sort());
  });

  it('the audit trail is partitioned by month, made ahead, and still append-only', async () => {
    const kind = await db.pool.query<{ relkind: string }>(`SELECT relkind FROM pg_class WHERE oid = 'highway.docker_audit'::regclass`);
    expect(kind.rows[0]!.relkind).to.equal('p');
    const parts = async () =>
      (
        await db.pool.query<{ name: string }>(
          `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'highway.docker_audit'::regclass ORDER BY 1`,
        )
      ).rows.map((r) => r.name);
    const month = (offset: number) => {
      const d = new Date();
      const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1));
      return `docker_audit_y${m.getUTCFullYear()}m${String(m.getUTCMonth() + 1).padStart(2, '0')}`;
    };
    expect(await parts()).to.include.members(['docker_audit_default', month(0), month(1), month(2)]);
    await db.pool.query(`INSERT INTO highway.docker_audit (operation, outcome) VALUES ('test.partition', 'ok')`);
    const where = await db.pool.query<{ part: string }>(`SELECT tableoid::regclass::text AS part FROM highway.docker_audit WHERE operation = 'test.partition'`);
    expect(where.rows[0]!.part).to.equal(`highway.${month(0)}`);
    const made = await db.pool.query<{ n: number }>(`SELECT highway.ensure_audit_partitions(3) AS n`);
    expect(made.rows[0]!.n).to.equal(1);
    expect((await db.pool.query<{ n: number }>(`SELECT highway.ensure_audit_partitions(3) AS n`)).rows[0]!.n).to.equal(0);
    for (const sql of [`UPDATE highway.docker_audit SET actor = 'x'`, `DELETE FROM highway.docker_audit`]) {
      const err = await db.pool.query(sql).then(() => null, (e: Error) => e);
      expect(err?.message, sql).to.match(/append-only/);
    }
  });

  it('upgrading a database that has audit rows keeps every row, each in its month', async () => {
    const name = `hw_upgrade_${Date.now()}`;
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = db.url.replace(/\/[^/?]+(\?|$)/, `/${name}$1`);
    const pool = createPool(url, { max: 2 });
    const before = await mkdtemp(path.join(os.tmpdir(), 'hw-migrations-'));
    try {
      for (const f of (await readdir(MIGRATIONS_DIR)).filter((f) => f < '012')) await cp(path.join(MIGRATIONS_DIR, f), path.join(before, f));
      await migrate(pool, before);
      await pool.query(
        `INSERT INTO highway.docker_audit (at, operation, outcome, detail) VALUES
           ('2025-03-15T10:00:00Z', 'old.one', 'ok', '{"n": 1}'), ('2025-03-20T10:00:00Z', 'old.two', 'ok', '{}'), (now(), 'new.one', 'denied', '{}')`,
      );
      const applied = await migrate(pool);
      expect(applied.applied).to.include('012_audit_partitions.sql');
      const rows = await pool.query<{ operation: string; part: string; detail: unknown }>(
        `SELECT operation, tableoid::regclass::text AS part, detail FROM highway.docker_audit ORDER BY at`,
      );
      expect(rows.rows.map((r) => [r.operation, r.part])).to.deep.equal([
        ['old.one', 'highway.docker_audit_y2025m03'],
        ['old.two', 'highway.docker_audit_y2025m03'],
        ['new.one', `highway.docker_audit_y${new Date().getUTCFullYear()}m${String(new Date().getUTCMonth() + 1).padStart(2, '0')}`],
      ]);
      expect(rows.rows[0]!.detail).to.deep.equal({ n: 1 });
      // New rows keep numbering after the old ones.
      const next = await pool.query<{ id: string }>(`INSERT INTO highway.docker_audit (operation, outcome) VALUES ('after', 'ok') RETURNING id`);
      expect(Number(next.rows[0]!.id)).to.be.greaterThan(3);
    } finally {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await admin.end();
      await rm(before, { recursive: true, force: true });
    }
  });
});

