/**
 * `highway-docker up` at start and at stop, as a user runs it: real processes, each in a
 * process group of its own (a terminal's Ctrl-C goes to the whole group), the embedded
 * PostgreSQL under a HIGHWAY_HOME of this file, the default Docker daemon, and the test database.
 * - a second `up` on the same HIGHWAY_HOME or port fails before it touches the live host's row;
 * - a second `up` with the same reconciler id (a standby) leaves the live host's row alone;
 * - Ctrl-C stops the reconciler first and the embedded database last (no `host.stop_failed`);
 * - credentials in DATABASE_URL never reach the log; `npm start --silent` prints JSON lines only;
 * - /readyz bodies name checks and states only; a non-loopback HIGHWAY_HTTP_ADDR is warned about.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startHttpServer } from '../../src/observability/http.js';
import { Metrics } from '../../src/observability/metrics.js';
import { LogCapture } from '../support/harness.js';
import { CliProcess, ensureBuilt, ROOT } from '../support/processes.js';
import { eventually } from '../support/eventually.js';
import { httpGet } from '../support/http.js';
import { freePort } from '../support/postgres.js';
import { useFreshDatabase } from '../support/fixture.js';

const BIN = path.join(ROOT, 'bin', 'highway-docker.js');

/** A command in a new process group (as a terminal runs a foreground job), JSON logs. */
function spawnGroup(command: string, args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, HIGHWAY_LOG_FORMAT: 'json', HIGHWAY_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  return new CliProcess([args.includes('start') ? 'npm start' : 'up'], child);
}

/** Ctrl-C in a terminal: SIGINT to every process of the group. */
function ctrlC(p: CliProcess): void {
  if (p.alive) process.kill(-p.pid, 'SIGINT');
}

/** Last resort: SIGKILL the group (only processes this test started). */
function killGroup(p: CliProcess | null): void {
  if (!p) return;
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {
    // gone
  }
}

async function hostRow(url: string, id: string): Promise<{ started_at: Date; heartbeat_at: Date; stopped_at: Date | null } | null> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query(`SELECT started_at, heartbeat_at, stopped_at FROM highway.hosts WHERE id = $1`, [id]);
    return res.rows[0] ?? null;
  } finally {
    await client.end();
  }
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {});
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

describe('highway-docker up: start-up checks, Ctrl-C order, clean logs', function () {
  this.timeout(180_000);
  const started: CliProcess[] = [];
  const run = (command: string, args: string[], env: Record<string, string>) => {
    const p = spawnGroup(command, args, env);
    started.push(p);
    return p;
  };

  before(() => ensureBuilt());
  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      for (const p of started) console.log(`      ${p.args[0]} pid ${p.pid}: ${p.alive ? 'alive' : 'exited'}; stdout ${p.stdout.slice(-1500)}; stderr ${p.stderr.slice(-1500)}`);
    }
  });
  after(async () => {
    for (const p of started) {
      if (p.alive) {
        ctrlC(p);
        await p.waitExit(30_000).catch(() => killGroup(p));
      }
    }
  });

  describe('embedded PostgreSQL under one HIGHWAY_HOME', () => {
    let home: string;
    let port: number;
    let first: CliProcess;
    let dbUrl: string;
    const id = `hw-cli-up-${randomUUID().slice(0, 8)}`;

    before(async () => {
      home = await mkdtemp(path.join(os.tmpdir(), 'hw-cli-up-'));
      await chmod(home, 0o755);
      port = await freePort();
      first = run(process.execPath, [BIN, 'up'], { DATABASE_URL: '', HIGHWAY_HOME: home, HIGHWAY_HTTP_ADDR: `127.0.0.1:${port}`, HIGHWAY_RECONCILER_ID: id });
      await first.waitForEvent('up.ready', undefined, 90_000);
      dbUrl = (JSON.parse(await readFile(path.join(home, 'embedded.json'), 'utf8')) as { url: string }).url;
    });
    after(async () => {
      if (first?.alive) {
        ctrlC(first);
        await first.waitExit(30_000).catch(() => killGroup(first));
      }
      // The server is in a session of its own: stop it (its postmaster, by the PID in its data directory) if a test left it running.
      const pid = Number((await readFile(path.join(home, 'pg', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGINT');
          await eventually(async () => !(await answers(dbUrl)), { what: 'the embedded PostgreSQL to stop', timeoutMs: 20_000 });
        } catch {
          // not running
        }
      }
      await rm(home, { recursive: true, force: true });
    });

    it('a second up on the same port fails at once, naming HIGHWAY_HTTP_ADDR; the live host row is untouched', async () => {
      const before = await hostRow(dbUrl, id);
      expect(before).to.deep.include({ stopped_at: null });
      const second = run(process.execPath, [BIN, 'up'], { DATABASE_URL: '', HIGHWAY_HOME: home, HIGHWAY_HTTP_ADDR: `127.0.0.1:${port}`, HIGHWAY_RECONCILER_ID: id });
      expect((await second.waitExit(30_000)).code).to.equal(125);
      const failed = second.events('up.failed')[0]!;
      expect(failed['dependency']).to.equal('HIGHWAY_HTTP_ADDR');
      expect(String(failed['err'])).to.contain(`127.0.0.1:${port}`);
      expect(second.events('host.registered')).to.deep.equal([]);
      const afterwards = await hostRow(dbUrl, id);
      expect(afterwards!.stopped_at).to.equal(null);
      expect(afterwards!.started_at.getTime()).to.equal(before!.started_at.getTime());
      expect((await httpGet(`http://127.0.0.1:${port}/readyz`)).status).to.equal(200);
    });

    it('a second up on the same HIGHWAY_HOME (another port) is refused, naming the live one; the row is untouched', async () => {
      const before = await hostRow(dbUrl, id);
      const second = run(process.execPath, [BIN, 'up'], { DATABASE_URL: '', HIGHWAY_HOME: home, HIGHWAY_HTTP_ADDR: '127.0.0.1:0', HIGHWAY_RECONCILER_ID: id });
      expect((await second.waitExit(30_000)).code).to.equal(125);
      const failed = second.events('up.failed')[0]!;
      expect(failed['dependency']).to.equal('postgres (embedded)');
      expect(String(failed['err'])).to.contain(`another highway-docker up (pid ${first.pid}) runs the embedded PostgreSQL of ${home}`);
      const afterwards = await hostRow(dbUrl, id);
      expect(afterwards!.stopped_at).to.equal(null);
      expect(afterwards!.started_at.getTime()).to.equal(before!.started_at.getTime());
      expect(await answers(dbUrl), 'the live embedded database still answers').to.equal(true);
    });

    it('Ctrl-C: the reconciler stops first (host marked stopped), the embedded PostgreSQL last; exit 0', async () => {
      ctrlC(first);
      const exit = await first.waitExit(60_000);
      expect(exit).to.deep.equal({ code: 0, signal: null });
      const events = first.lines.map((l) => l['event']);
      expect(events).to.not.include('host.stop_failed');
      expect(events).to.not.include('runnable.stop_error');
      for (const e of ['reconciler.stopped', 'host.stopped', 'postgres.embedded_stopped']) expect(events, e).to.include(e);
      expect(events.indexOf('host.stopped')).to.be.lessThan(events.indexOf('postgres.embedded_stopped'));
      expect(first.lines.filter((l) => Number(l['level']) >= 50), 'no error lines').to.deep.equal([]);
      expect(await answers(dbUrl), 'the embedded database is stopped').to.equal(false);
    });

    it('after it, HIGHWAY_HOME is free again: up starts on the same data, and its host row is alive', async () => {
      const again = run(process.execPath, [BIN, 'up'], { DATABASE_URL: '', HIGHWAY_HOME: home, HIGHWAY_HTTP_ADDR: '127.0.0.1:0', HIGHWAY_RECONCILER_ID: id });
      await again.waitForEvent('up.ready', undefined, 60_000);
      expect((await hostRow(dbUrl, id))!.stopped_at).to.equal(null);
      ctrlC(again);
      expect((await again.waitExit(60_000)).code).to.equal(0);
      expect(again.events('postgres.embedded_stopped')).to.have.length(1);
    });
  });

  describe('with DATABASE_URL', () => {
    const db = useFreshDatabase();

    it('a standby with the same reconciler id leaves the live host row alone, also when it stops', async () => {
      const id = `hw-cli-standby-${randomUUID().slice(0, 8)}`;
      const env = { DATABASE_URL: db.url, HIGHWAY_HTTP_ADDR: '127.0.0.1:0', HIGHWAY_RECONCILER_ID: id, HIGHWAY_HOST_TIMEOUT_S: '3' };
      const live = run(process.execPath, [BIN, 'up'], env);
      await live.waitForEvent('up.ready', undefined, 60_000);
      const before = await hostRow(db.url, id);
      const standby = run(process.execPath, [BIN, 'up'], env);
      await standby.waitForEvent('reconciler.standby', undefined, 60_000);
      // Several of its heartbeat periods (1 s): the row stays the live one's.
      await new Promise((r) => setTimeout(r, 2_500));
      expect(standby.events('host.registered')).to.deep.equal([]);
      const during = await hostRow(db.url, id);
      expect(during!.started_at.getTime()).to.equal(before!.started_at.getTime());
      standby.signal('SIGTERM');
      expect((await standby.waitExit(30_000)).code).to.equal(0);
      expect(standby.events('host.stopped')).to.deep.equal([]);
      const afterwards = await hostRow(db.url, id);
      expect(afterwards!.stopped_at).to.equal(null);
      expect(afterwards!.started_at.getTime()).to.equal(before!.started_at.getTime());
      // A standby that takes over (the live one stops) registers the row as its own at once.
      const next = run(process.execPath, [BIN, 'up'], env);
      await next.waitForEvent('reconciler.standby', undefined, 60_000);
      live.signal('SIGTERM');
      expect((await live.waitExit(30_000)).code).to.equal(0);
      await next.waitForEvent('host.registered', undefined, 30_000);
      await next.waitForEvent('up.ready', undefined, 30_000);
      const taken = await hostRow(db.url, id);
      expect(taken!.stopped_at).to.equal(null);
      expect(taken!.started_at.getTime()).to.be.greaterThan(before!.started_at.getTime());
      next.signal('SIGTERM');
      expect((await next.waitExit(30_000)).code).to.equal(0);
      expect((await hostRow(db.url, id))!.stopped_at).to.be.instanceOf(Date);
    });

    it('a password in the URL (userinfo, ?password=, ?sslpassword=) never reaches the log; up.ready shows *** for it', async () => {
      const u = new URL(db.url);
      const password = decodeURIComponent(u.password);
      u.password = '';
      u.searchParams.set('password', password);
      const id = `hw-cli-redact-${randomUUID().slice(0, 8)}`;
      const p = run(process.execPath, [BIN, 'up'], { DATABASE_URL: u.toString(), HIGHWAY_HTTP_ADDR: '127.0.0.1:0', HIGHWAY_RECONCILER_ID: id, HIGHWAY_LOG_LEVEL: 'debug' });
      const ready = await p.waitForEvent('up.ready', undefined, 60_000);
      expect(String(ready['database'])).to.contain('password=***');
      p.signal('SIGTERM');
      expect((await p.waitExit(30_000)).code).to.equal(0);
      expect(password.length).to.be.greaterThan(3);
      expect(p.stdout + p.stderr).to.not.contain(password);

      // A failing start names the database without its password either.
      const bad = run(process.execPath, [BIN, 'up'], { DATABASE_URL: `postgresql://u:pw-userinfo@127.0.0.1:1/x?sslpassword=pw-ssl`, HIGHWAY_HTTP_ADDR: '127.0.0.1:0', HIGHWAY_RECONCILER_ID: id });
      expect((await bad.waitExit(30_000)).code).to.equal(125);
      expect(bad.events('up.failed')).to.have.length(1);
      expect(bad.stdout + bad.stderr).to.not.match(/pw-userinfo|pw-ssl/);
    });

    it('`npm start --silent` with HIGHWAY_LOG_FORMAT=json prints JSON lines only on stdout; Ctrl-C ends it cleanly', async () => {
      const id = `hw-cli-npm-${randomUUID().slice(0, 8)}`;
      const p = run('npm', ['start', '--silent'], { DATABASE_URL: db.url, HIGHWAY_HTTP_ADDR: '127.0.0.1:0', HIGHWAY_RECONCILER_ID: id });
      await p.waitForEvent('up.ready', undefined, 150_000);
      ctrlC(p);
      // npm itself may end by the SIGINT it forwarded; the reconciler under it stops cleanly (below).
      const exit = await p.waitExit(60_000);
      expect(exit.code === 0 || exit.code === 130 || exit.signal === 'SIGINT', JSON.stringify(exit)).to.equal(true);
      expect(p.stderr, 'npm says nothing with --silent; the build prints nothing').to.equal('');
      const lines = p.stdout.split('\n').filter((l) => l !== '');
      expect(lines.length).to.be.greaterThan(3);
      for (const line of lines) expect(() => JSON.parse(line), line).to.not.throw();
      for (const e of ['up.ready', 'reconciler.stopped', 'host.stopped']) expect(p.events(e), e).to.have.length(1);
      expect(p.events('host.stop_failed')).to.deep.equal([]);
    });
  });

  describe('the HTTP endpoint', () => {
    it('/readyz names each check and its state, never an error text (addresses, socket paths); the log has the detail', async () => {
      const log = new LogCapture();
      const server = await startHttpServer({
        addr: '127.0.0.1:0',
        metrics: new Metrics({ defaultMetrics: false }),
        logger: log.logger,
        readiness: {
          database: () => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:5432 (postgresql://app:s3cret@10.1.2.3:5432/highway)')),
          docker: () => Promise.reject(new Error('connect ENOENT /var/run/docker.sock')),
          listen: () => false,
          active: () => true,
        },
      });
      try {
        for (let i = 0; i < 3; i++) {
          const r = await httpGet(`${server.url}/readyz`);
          expect(r.status).to.equal(503);
          expect(r.body).to.not.match(/10\.1\.2\.3|5432|docker\.sock|ENOENT|ECONNREFUSED|s3cret/);
          expect(JSON.parse(r.body)).to.deep.equal({
            ready: false,
            checks: {
              database: { ok: false, error: 'check failed with an error (see the log: readyz.check_failed)' },
              docker: { ok: false, error: 'check failed with an error (see the log: readyz.check_failed)' },
              listen: { ok: false, error: 'check failed' },
              active: { ok: true },
            },
          });
        }
        // Each failure logged once (not on every probe), with its detail, credentials masked.
        const failed = log.events('readyz.check_failed');
        expect(failed.map((l) => l['check']).sort()).to.deep.equal(['database', 'docker', 'listen']);
        expect(String(failed.find((l) => l['check'] === 'docker')!['err'])).to.contain('/var/run/docker.sock');
        expect(JSON.stringify(failed)).to.not.contain('s3cret');
      } finally {
        await server.close();
      }
    });

    it('on a non-loopback address it warns (http.unprotected); on loopback it does not', async () => {
      const log = new LogCapture();
      const open = await startHttpServer({ addr: '0.0.0.0:0', metrics: new Metrics({ defaultMetrics: false }), logger: log.logger });
      await open.close();
      const warned = log.events('http.unprotected');
      expect(warned).to.have.length(1);
      expect(warned[0]!['level']).to.equal(40);
      const quiet = new LogCapture();
      const local = await startHttpServer({ addr: '127.0.0.1:0', metrics: new Metrics({ defaultMetrics: false }), logger: quiet.logger });
      await local.close();
      expect(quiet.events('http.unprotected')).to.deep.equal([]);
    });

    it('bound early (starting), /readyz is 503 "starting" and /healthz 200 until it is given its checks', async () => {
      const server = await startHttpServer({ addr: '127.0.0.1:0', starting: true });
      try {
        expect(await httpGet(`${server.url}/healthz`)).to.include({ status: 200 });
        const r = await httpGet(`${server.url}/readyz`);
        expect(r.status).to.equal(503);
        expect(JSON.parse(r.body)).to.deep.equal({ ready: false, checks: { startup: { ok: false, error: 'starting' } } });
        server.serve({ metrics: new Metrics({ defaultMetrics: false }), readiness: { database: () => true } });
        await eventually(async () => (await httpGet(`${server.url}/readyz`)).status === 200, { what: 'ready', timeoutMs: 5_000 });
        expect(JSON.parse((await httpGet(`${server.url}/readyz`)).body)).to.deep.equal({ ready: true, checks: { database: { ok: true } } });
      } finally {
        await server.close();
      }
    });
  });
});
