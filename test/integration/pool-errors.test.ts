/**
 * The pool survives the server dropping a checked-out client between two queries (as a
 * PostgreSQL shutdown or restart does to every connection): no unhandled 'error' event (which
 * would end the process: `up` died this way when PostgreSQL stopped while its GC held its lock
 * connection), the held client's next query fails, and the pool goes on with a new connection.
 */
import { expect } from 'chai';
import { createPool, type Pool } from '../../src/db/pool.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { eventually } from '../support/eventually.js';

describe('db pool: a checked-out client dropped by the server', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let pool: Pool;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);

  before(async () => {
    db = await freshDatabase();
    pool = createPool(db.url, { max: 2, applicationName: 'highway-docker-pool-errors' });
  });
  after(async () => {
    await pool?.end().catch(() => {});
    await db?.drop();
  });

  it('does not crash the process; the held client fails its next query; the pool works on', async () => {
    // Mocha turns an uncaught exception into a failure of this test; listen too, to say so plainly.
    process.prependListener('uncaughtException', onUncaught);
    try {
      const held = await pool.connect();
      const pid = (await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      // While it sits idle between queries, the server ends its session (FATAL 57P01, as on shutdown).
      const killed = await db.pool.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
      expect(killed.rows[0]!.ok).to.equal(true);
      await eventually(async () => (await db.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0, { what: 'backend gone', timeoutMs: 5_000 });
      await new Promise((r) => setTimeout(r, 100)); // let the FATAL message reach the client
      expect(uncaught, 'no unhandled error event').to.deep.equal([]);
      let failed: unknown = null;
      await held.query('SELECT 1').catch((err: unknown) => (failed = err));
      expect(failed, 'the dropped client cannot query').to.be.instanceOf(Error);
      held.release(failed as Error);
      const after = await pool.query<{ one: number }>('SELECT 1 AS one');
      expect(after.rows[0]!.one).to.equal(1);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
  });
});
