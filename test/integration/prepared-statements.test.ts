/**
 * Prepared statements (db/pool.ts `prepared`) across a schema change made by another process
 * (a newer version's migration during a rolling upgrade): a statement whose result type changed
 * fails once on its connection ("cached plan must not change result type"), the pool replaces
 * that connection, and the error counts as transient: what retries (the run tool's intent write,
 * a reconcile pass by its backoff) goes on.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createPool, type Pool } from '../../src/db/pool.js';
import { getIntent } from '../../src/db/queries/get-intent.js';
import { insertIntent, type NewIntent } from '../../src/db/queries/insert-intent.js';
import { isTransientPgError, withPgRetry } from '../../src/db/retry.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';

const intent = (): NewIntent => ({
  id: randomUUID(),
  activity_id: randomUUID(),
  workflow_run_id: randomUUID(),
  tenant_id: 'acme',
  worker_id: null,
  image: 'busybox:latest',
  spec: { image: 'busybox:latest', command: ['true'] },
  labels: {},
  warnings: [],
});

describe('db: prepared statements across a schema change', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let pool: Pool;

  beforeEach(async () => {
    db = await freshDatabase();
    pool = createPool(db.url, { max: 1, applicationName: 'highway-docker-prepared' });
  });
  afterEach(async () => {
    await pool?.end().catch(() => {});
    await db?.drop();
  });

  it('a statement whose result type changed fails once on its connection; the next call runs on a new one', async () => {
    const first = await insertIntent(pool, intent());
    expect((await getIntent(pool, first.row.id))?.id).to.equal(first.row.id);
    await db.pool.query('ALTER TABLE highway.docker_containers ADD COLUMN added_by_a_newer_version int');

    const err = await getIntent(pool, first.row.id).catch((e: unknown) => e);
    expect((err as { code?: string }).code).to.equal('0A000');
    expect(isTransientPgError(err), 'retrying it on a new connection is safe').to.equal(true);
    expect((await getIntent(pool, first.row.id))?.id).to.equal(first.row.id);
  });

  it('retried as a transient error, the same call succeeds at once (reads and the intent write alike)', async () => {
    const written = await insertIntent(pool, intent());
    await getIntent(pool, written.row.id);
    await db.pool.query('ALTER TABLE highway.docker_containers ADD COLUMN added_by_a_newer_version int');
    const row = await withPgRetry('intent.read', () => getIntent(pool, written.row.id), { minTimeout: 10 });
    expect(row?.id).to.equal(written.row.id);
    const next = intent();
    const { created } = await withPgRetry('intent.write', () => insertIntent(pool, next), { minTimeout: 10 });
    expect(created).to.equal(true);
  });
});
