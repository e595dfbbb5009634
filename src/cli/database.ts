import { HighwayError } from '../errors.js';
import { defaultHome, readEmbeddedState } from '../db/embedded.js';

/**
 * The database a subcommand talks to: --database-url, else DATABASE_URL, else the embedded
 * server that `highway-docker up` started (it records its address under HIGHWAY_HOME).
 */
export async function resolveDatabaseUrl(flag: string | undefined): Promise<string> {
  const explicit = flag ?? process.env['DATABASE_URL'];
  if (explicit) return explicit;
  const state = await readEmbeddedState(defaultHome());
  if (state) return state.url;
  throw new HighwayError(
    'database_unavailable',
    'no database: start `highway-docker up` (it runs an embedded PostgreSQL), or pass --database-url / set DATABASE_URL',
  );
}
