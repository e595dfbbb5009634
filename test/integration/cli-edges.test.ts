/**
 * The command line at its edges, as users hit them: usage errors, --json errors, a reader that
 * closes early, oversized --params, bad arguments to cancel, tenants on cancel, a database that
 * is not there, and SIGTERM with no reconciler running. Real processes (bin/highway-docker.js),
 * a real database and, where a container must run, a real reconciler.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { ensureBuilt, ROOT, spawnCli, runCli, type CliResult } from '../support/processes.js';
import { useHarness } from '../support/fixture.js';

const BIN = path.join(ROOT, 'bin', 'highway-docker.js');

const cli = (args: string[], env: Record<string, string>, input?: string) => runCli(args, env, input);

/** `sh -c SCRIPT` with BIN in $BIN: for pipelines. */
function shell(script: string, env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { env: { ...process.env, BIN, NODE: process.execPath, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

/** The one JSON error document a --json command printed on stdout. */
function jsonError(r: CliResult): { code: string; message: string; field?: string } {
  const doc = JSON.parse(r.stdout) as { error: { code: string; message: string; field?: string } };
  expect(Object.keys(doc)).to.deep.equal(['error']);
  return doc.error;
}

describe('command line edges (bin/highway-docker.js)', function () {
  this.timeout(60_000);

  before(() => ensureBuilt());

  describe('with a database and a reconciler', () => {
    let h: Harness;
    let env: Record<string, string>;
    before(async () => {
      h = await Harness.start();
      env = { DATABASE_URL: h.db.url, HIGHWAY_RECONCILER_ID: h.reconcilerId };
    });
    after(async () => {
      await h?.stop();
    });
    afterEach(async () => {
      expect(await h.containers()).to.have.length(0);
    });

    it('usage errors exit 125 and say what was wrong: unknown option, missing argument, unknown command', async () => {
      for (const args of [['run', '--bogus', TEST_IMAGE], ['cancel'], ['frobnicate'], ['ps', '--all', 'extra']]) {
        const r = await cli(args, env);
        expect(r.code, args.join(' ')).to.equal(125);
        expect(r.stderr, args.join(' ')).to.match(/^error: /);
      }
      expect((await cli(['--version'], env)).code).to.equal(0);
      expect((await cli(['run', '--help'], env)).code).to.equal(0);
    });

    it('with --json, errors are one JSON document on stdout and nothing on stderr', async () => {
      const usage = await cli(['ps', '--json', '--bogus'], env);
      expect(usage.code).to.equal(125);
      expect(jsonError(usage)).to.deep.equal({ code: 'usage', message: "unknown option '--bogus'" });
      expect(usage.stderr).to.equal('');

      const activity = randomUUID();
      const invalid = await cli(['run', '--json', '--activity', activity, '--params', '-'], env, JSON.stringify({ image: TEST_IMAGE, labels: { a: 'x\u0000' } }));
      expect(invalid.code).to.equal(125);
      expect(jsonError(invalid)).to.include({ code: 'invalid_params', field: 'labels.a' });
      expect(invalid.stderr).to.equal('');
      expect(await h.intentOfActivity(activity)).to.equal(null);

      const cancel = await cli(['cancel', '--json', randomUUID()], env);
      expect(cancel.code).to.equal(125);
      expect(jsonError(cancel)).to.include({ code: 'not_found' });
      // A word after IMAGE is the container's, not ours: `--json` there is passed on, not obeyed.
      const passed = await cli(['run', TEST_IMAGE, 'echo', '--json'], env);
      expect(passed).to.include({ code: 0, stdout: '--json\n' });
    });

    it('a reader that closes early (| head -c 0) is no crash: exit code is the container\'s, no EPIPE trace', async () => {
      const r = await shell(
        '"$NODE" "$BIN" run "$IMAGE" sh -c \'i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; exit 3\' | head -c 0; echo "status=${PIPESTATUS[0]}" >&2',
        { ...env, IMAGE: TEST_IMAGE },
      );
      expect(r.stderr).to.match(/status=3\n$/);
      expect(r.stderr).not.to.match(/EPIPE|at .*\.js:\d+|Error:/);
      const json = await shell('"$NODE" "$BIN" run --json "$IMAGE" echo hi | head -c 0; echo "status=${PIPESTATUS[0]}" >&2', { ...env, IMAGE: TEST_IMAGE });
      expect(json.stderr).to.match(/status=0\n$/);
      expect(json.stderr).not.to.match(/EPIPE|Error:/);
    });

    it('--params /dev/zero (or a huge file, or endless stdin) is refused after reading at most the limit + 1 bytes', async () => {
      const zero = await cli(['run', '--params', '/dev/zero'], env);
      expect(zero.code).to.equal(125);
      expect(zero.stderr).to.equal('highway-docker: --params: is more than 256 KiB, the limit for parameters (policy max_params_bytes)\n');
      const stdin = await shell('head -c 50000000 /dev/zero | "$NODE" "$BIN" run --json --params -; echo "status=${PIPESTATUS[1]}" >&2', env);
      expect(stdin.stderr).to.match(/status=125\n$/);
      expect(JSON.parse(stdin.stdout)).to.deep.include({ error: { code: 'invalid_params', field: '--params', message: '--params: is more than 256 KiB, the limit for parameters (policy max_params_bytes)' } });
      // The operator policy moves the limit.
      const dir = await mkdtemp(path.join(os.tmpdir(), 'hw-params-'));
      try {
        await writeFile(path.join(dir, 'policy.json'), JSON.stringify({ max_params_bytes: 1024 }));
        await writeFile(path.join(dir, 'params.json'), JSON.stringify({ image: TEST_IMAGE, command: ['echo', 'x'.repeat(2000)] }));
        const r = await cli(['run', '--params', path.join(dir, 'params.json')], { ...env, HIGHWAY_POLICY_FILE: path.join(dir, 'policy.json') });
        expect(r.code).to.equal(125);
        expect(r.stderr).to.contain('--params: is more than 1 KiB');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('--tenant is checked against the tenant id grammar', async () => {
      for (const tenant of ['', 'a b', 'x\ny', 't'.repeat(129), 'caf\u00e9']) {
        const r = await cli(['run', '--json', '--tenant', tenant, TEST_IMAGE, 'true'], env);
        expect(r.code, JSON.stringify(tenant)).to.equal(125);
        expect(jsonError(r)).to.include({ code: 'invalid_params', field: '--tenant' });
      }
    });

    it('cancel: a non-UUID is named as such; --tenant cancels only that tenant\'s run', async () => {
      const bad = await cli(['cancel', 'not-a-uuid'], env);
      expect(bad.code).to.equal(125);
      expect(bad.stderr).to.equal('highway-docker: WORKFLOW_RUN_ID: "not-a-uuid" is not a UUID\n');

      const runId = randomUUID();
      await h.db.pool.query(`INSERT INTO highway.workflow_runs (id, tenant_id) VALUES ($1, 'tenant-a')`, [runId]);
      const other = await cli(['cancel', '--tenant', 'tenant-b', runId], env);
      expect(other.code).to.equal(125);
      expect(other.stderr).to.equal(`highway-docker: workflow run ${runId} not found for this tenant\n`);
      const status = async () => (await h.db.pool.query('SELECT status FROM highway.workflow_runs WHERE id = $1', [runId])).rows[0].status;
      expect(await status()).to.equal('running');

      const own = await cli(['cancel', '--tenant', 'tenant-a', '--json', runId], env);
      expect(own.code).to.equal(0);
      expect(JSON.parse(own.stdout)).to.deep.equal({ cancelled: runId });
      expect(await status()).to.equal('cancelled');
    });
  });

  describe('without a database', () => {
    const everySubcommand = [['ps'], ['migrate'], ['cancel', randomUUID()], ['gc', '--once'], ['run', TEST_IMAGE, 'true']];

    it('with no `up` running, every subcommand on the embedded default says to start it', async () => {
      const home = await mkdtemp(path.join(os.tmpdir(), 'hw-noup-'));
      try {
        // What a stopped `up` leaves behind: the address of a server that no longer runs.
        const port = 1 + Math.floor(Math.random() * 1000);
        await writeFile(path.join(home, 'embedded.json'), JSON.stringify({ url: `postgresql://postgres:pw@127.0.0.1:${port}/highway`, port, password: 'pw' }));
        await chmod(home, 0o755);
        for (const args of everySubcommand) {
          const r = await cli(args, { DATABASE_URL: '', HIGHWAY_HOME: home });
          expect(r.code, args.join(' ')).to.equal(125);
          expect(r.stderr, args.join(' ')).to.match(/^highway-docker: the embedded PostgreSQL is not running: start `highway-docker up`/);
          expect(r.stderr).not.to.contain('ECONNREFUSED');
        }
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    });

    it('a DATABASE_URL that does not answer: says the database is unreachable, names host:port, never the password', async () => {
      const url = 'postgresql://someone:s3cr3t-pw@127.0.0.1:9/highway';
      for (const args of everySubcommand) {
        const r = await cli(args, { DATABASE_URL: url });
        expect(r.code, args.join(' ')).to.equal(125);
        expect(r.stderr, args.join(' ')).to.match(/^highway-docker: the database at someone@127\.0\.0\.1:9\/highway is unreachable \(connect ECONNREFUSED 127\.0\.0\.1:9\); check --database-url \/ DATABASE_URL\n$/);
        expect(r.stderr).not.to.contain('s3cr3t-pw');
      }
      const json = await cli(['ps', '--json'], { DATABASE_URL: url });
      expect(jsonError(json)).to.include({ code: 'database_unavailable' });
      expect(json.stdout).not.to.contain('s3cr3t-pw');
    });
  });

  describe('SIGTERM with no reconciler running', () => {
    const h = useHarness({ withoutReconciler: true });

    it('`run` exits 130 on SIGTERM, its intent is stopped (worker_shutdown), and a reconciler that comes later never starts it', async () => {
      const activity = randomUUID();
      const child = spawnCli(['run', '--activity', activity, TEST_IMAGE, 'sh', '-c', 'echo should-not-run; sleep 60'], {
        databaseUrl: h.db.url,
        reconcilerId: h.reconcilerId,
        env: { HIGHWAY_LOG_LEVEL: 'error' },
      });
      try {
        await h.waitFor(activity, (r) => r.status === 'pending', 20_000);
        child.signal('SIGTERM');
        const exit = await child.waitExit(10_000); // a bound that catches a hang
        expect(exit.code, child.stderr).to.equal(130);
        expect(child.stderr).to.contain('cancelled (worker_shutdown)');
        expect(child.stderr).not.to.match(/at .*\.js:\d+/);
        const row = (await h.intentOfActivity(activity))!;
        expect(row).to.include({ desired_state: 'stopped', stop_reason: 'worker_shutdown', status: 'pending' });
        const worker = await h.db.pool.query('SELECT status FROM highway.workers WHERE id = $1', [row.worker_id]);
        expect(worker.rows[0].status).to.equal('stopped');

        // A reconciler that starts later finds it stopped: cancelled, and no container ever made.
        await h.startReconciler();
        const settled = await h.waitFor(activity, (r) => r.status === 'cancelled', 20_000);
        expect(settled.container_id).to.equal(null);
        expect(h.log.events('container.created', row.id)).to.deep.equal([]);
      } finally {
        await child.kill();
        await h.stopReconciler();
      }
    });
  });

  describe('up: a fatal error names the failing dependency and exits at once', () => {
    const fatal = (r: CliResult) => {
      const line = r.stdout.split('\n').find((l) => l.includes('"up.failed"'));
      expect(line, r.stdout + r.stderr).to.be.a('string');
      return JSON.parse(line!) as { level: string; event: string; dependency: string; err: string };
    };

    it('an unreachable database: exit 125 within seconds, one JSON line naming postgres', async () => {
      const t0 = Date.now();
      const r = await cli(['up'], { DATABASE_URL: 'postgresql://u:secret@127.0.0.1:1/x', HIGHWAY_HTTP_ADDR: '127.0.0.1:0' });
      expect(r.code).to.equal(125);
      expect(Date.now() - t0).to.be.below(15_000);
      const f = fatal(r);
      expect(f.level).to.equal('fatal');
      // The database as user@host:port/db: never its password.
      expect(f.dependency).to.equal('postgres (u@127.0.0.1:1/x)');
      expect(r.stdout + r.stderr).to.not.contain('secret');
    });

    it('an unreachable Docker daemon: exit 125 within seconds, one JSON line naming docker', async () => {
      const h = await Harness.start({ withoutReconciler: true });
      try {
        const t0 = Date.now();
        const r = await cli(['up'], { DATABASE_URL: h.db.url, DOCKER_HOST: 'unix:///nonexistent/docker.sock', HIGHWAY_HTTP_ADDR: '127.0.0.1:0', HIGHWAY_RECONCILER_ID: `t-${randomUUID()}` });
        expect(r.code).to.equal(125);
        expect(Date.now() - t0).to.be.below(15_000);
        expect(fatal(r).dependency).to.match(/^docker \(unix:\/\/\/nonexistent\/docker.sock\)$/);
      } finally {
        await h.stop();
      }
    });
  });
});

