import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type pg from 'pg';

/** The migrations folder shipped with the package (next to src/ and dist/). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Advisory lock key that serializes migrators across processes ("hwdocker" as a number). */
const MIGRATION_LOCK_KEY = 0x6877_646f_636b;

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

/**
 * Apply every `migrations/NNN_name.sql` not applied yet, each in its own transaction,
 * in file-name order. A session advisory lock makes concurrent migrators wait for each
 * other, so two processes starting at once apply each file exactly once. Then the registry
 * of operations is recorded (highway.docker_operation_kinds).
 */
export async function migrate(pool: pg.Pool, dir: string = MIGRATIONS_DIR): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS highway;
      CREATE TABLE IF NOT EXISTS highway.schema_migrations (
        name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await client.query<{ name: string }>('SELECT name FROM highway.schema_migrations')).rows.map((r) => r.name),
    );
    const result: MigrationResult = { applied: [], skipped: [] };
    for (const file of files) {
      if (done.has(file)) {
        result.skipped.push(file);
        continue;
      }
      const sql = await readFile(path.join(dir, file), 'utf8');
      try {
        await client.query('BEGIN');
        await client.query(sql);
        await client.query('INSERT INTO highway.schema_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      result.applied.push(file);
    }
    // The kinds of operations follow from the code's registry (a table the rows' kind references).
    if ((await client.query<{ t: string | null }>(`SELECT to_regclass('highway.docker_operation_kinds')::text AS t`)).rows[0]?.t) {
      const { syncOperationKinds } = await import('../operations/registry.js');
      await syncOperationKinds(client);
    }
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    client.release();
  }
}
