import pg from 'pg';
import { HighwayError, errorMessage } from '../errors.js';
import { defaultHome, embeddedOwnerAlive, readEmbeddedState } from '../db/embedded.js';
import { redactCredentials } from '../observability/redact.js';
import { withPgRetry } from '../db/retry.js';

/** How long a subcommand tries to reach the database before saying it cannot. */
const PROBE_TIMEOUT_MS = 5_000;

/**
 * The database a subcommand talks to: --database-url, else DATABASE_URL, else the embedded
 * server that `highway-docker up` started (it records its address under HIGHWAY_HOME).
 * The database is tried once, so an unreachable one is a clear error (naming host:port,
 * never the password) instead of `connect ECONNREFUSED` from deep inside a command.
 */
export async function resolveDatabaseUrl(flag: string | undefined, options: { retryMs?: number } = {}): Promise<string> {
  const explicit = flag || process.env['DATABASE_URL'];
  if (explicit) {
    await probe(explicit, (reason) => `the database at ${describeDatabase(explicit)} is unreachable (${reason}); check --database-url / DATABASE_URL`, options.retryMs);
    return explicit;
  }
  const home = defaultHome();
  const state = await readEmbeddedState(home);
  if (!state) {
    throw new HighwayError(
      'database_unavailable',
      'no database: start `highway-docker up` (it runs an embedded PostgreSQL), or pass --database-url / set DATABASE_URL',
    );
  }
  await probe(state.url, (reason) =>
    /ECONNREFUSED|ENOENT|terminated|timeout/i.test(reason)
      ? `the embedded PostgreSQL is not running: start \`highway-docker up\` (its address, ${describeDatabase(state.url)}, is recorded in ${home})`
      : `the embedded PostgreSQL at ${describeDatabase(state.url)} does not answer (${reason}): restart \`highway-docker up\``,
    // Ride out a restart only while an `up` holds the home: with none, say so at once.
    options.retryMs !== undefined && (await embeddedOwnerAlive(home)) ? options.retryMs : undefined,
  );
  return state.url;
}

/**
 * Connect and run `SELECT 1`; on failure a database_unavailable error worded by `explain`. With
 * `retryMs` (a caller that rides out a restart), a transient failure is tried again that long.
 */
async function probe(url: string, explain: (reason: string) => string, retryMs?: number): Promise<void> {
  if (retryMs === undefined) return probeOnce(url, explain);
  try {
    await withPgRetry('database.probe', () => probeOnce(url, explain, true), { maxRetryTime: retryMs });
  } catch (err) {
    // The last attempt's error, or the deadline's, as the clear database_unavailable error.
    if (err instanceof HighwayError) throw err;
    throw new HighwayError('database_unavailable', explain(redactCredentials(reason(err), url)), { cause: err });
  }
}

/** One try; `raw`: a connection failure is thrown as it is (for the retry to classify). */
async function probeOnce(url: string, explain: (reason: string) => string, raw = false): Promise<void> {
  let client: pg.Client;
  try {
    client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  } catch (err) {
    throw new HighwayError('database_unavailable', `the database URL is not valid (${describeDatabase(url)}): ${redactCredentials(errorMessage(err), url)}`, { cause: err });
  }
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    if (raw) throw err;
    throw new HighwayError('database_unavailable', explain(redactCredentials(reason(err), url)), { cause: err });
  } finally {
    await client.end().catch(() => {});
  }
}

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string; errors?: unknown[] };
  // Node's AggregateError (IPv4 and IPv6 both refused) has an empty message.
  if (!e?.message && Array.isArray(e?.errors) && e.errors.length) return reason(e.errors[0]);
  const message = errorMessage(err) || e?.code || 'no answer';
  return message;
}

/** "user@host:port/database" of a URL: enough to find it, without the password. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    const port = u.port || '5432';
    const db = u.pathname.replace(/^\//, '');
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ''}${host}:${port}${db ? `/${db}` : ''}`;
  } catch {
    return '(an unparsable URL)';
  }
}
