import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export function createPool(connectionString: string, options: { max?: number; applicationName?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'highway-docker',
    connectionTimeoutMillis: 10_000,
  });
  // An idle client that errors (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // Nor may a checked-out client (pool.connect(): the GC's lock connection, a transaction)
  // that the server drops between two queries: pg-pool takes its idle listener off while it is
  // out, so an error with no query running would be an unhandled 'error' event. Its next query
  // fails instead, and the caller releases it with the error.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}
