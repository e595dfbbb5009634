/**
 * The command line as users run it: `node bin/highway-docker.js ...` (the package's bin),
 * against a real database and a real reconciler.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, chmod, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { runCli } from '../support/processes.js';
import { eventually } from '../support/eventually.js';

const BIN = fileURLToPath(new URL('../../bin/highway-docker.js', import.meta.url));


const cli = (args: string[], env: Record<string, string>, input?: string) => runCli(args, env, input);

describe('command line (bin/highway-docker.js)', function () {
  this.timeout(60_000);
  let h: Harness;
  let env: Record<string, string>;

  before(async () => {
    h = await Harness.start();
    env = { DATABASE_URL: h.db.url };
  });
  after(async () => {
    await h?.stop();
  });
  afterEach(async () => {
    expect(await h.containers()).to.have.length(0);
  });

  describe('run', () => {
    it('prints the output and exits with the container exit code; every word after IMAGE is the command', async () => {
      const r = await cli(['run', TEST_IMAGE, 'sh', '-c', 'echo -n out; echo err >&2; exit 7'], env);
      expect(r.code).to.equal(7);
      expect(r.stdout).to.equal('out');
      expect(r.stderr).to.contain('err\n');
      expect(r.stderr).to.contain('failed: exited with code 7');
    });

    it('exits 0 on success and passes -e, --timeout and --tenant', async () => {
      const r = await cli(['run', '--tenant', 'acme', '-e', 'GREETING=hi there', '--timeout', '30', TEST_IMAGE, 'sh', '-c', 'echo "$GREETING"'], env);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal('hi there\n');
      const row = await h.db.pool.query(`SELECT tenant_id, spec FROM highway.docker_containers ORDER BY created_at DESC LIMIT 1`);
      expect(row.rows[0].tenant_id).to.equal('acme');
      expect(row.rows[0].spec.timeout).to.equal(30);
    });

    it('--json prints the result structure', async () => {
      const r = await cli(['run', '--json', TEST_IMAGE, 'echo', 'json'], env);
      expect(r.code).to.equal(0);
      const result = JSON.parse(r.stdout);
      expect(result).to.include({ status: 'exited', exit_code: 0, stdout: 'json\n', image: TEST_IMAGE, logs_truncated: false });
      expect(result.intent_id).to.match(/^[0-9a-f-]{36}$/);
      expect(result.warnings).to.have.length(3);
    });

    it('--params - reads the full tool parameters from standard input', async () => {
      const params = { image: TEST_IMAGE, command: ['sh', '-c', 'echo $X; exit 0'], environment: { X: 'from-params' }, memory_limit: '64m', cpu_limit: 0.5, pids_limit: 64 };
      const r = await cli(['run', '--json', '--params', '-'], env, JSON.stringify(params));
      expect(r.code).to.equal(0);
      const result = JSON.parse(r.stdout);
      expect(result.stdout).to.equal('from-params\n');
      expect(result.warnings).to.deep.equal([]);
    });

    it('invalid input exits 125 with an error naming the field, and writes nothing', async () => {
      const activity = randomUUID();
      const r = await cli(['run', '--activity', activity, '--params', '-'], env, JSON.stringify({ image: TEST_IMAGE, memory_limit: '12q' }));
      expect(r.code).to.equal(125);
      expect(r.stderr).to.match(/memory_limit: .*12q/);
      expect(await h.intentOfActivity(activity)).to.equal(null);
    });

    it('a timeout exits 124', async () => {
      const r = await cli(['run', '--timeout', '1', TEST_IMAGE, 'sleep', '30'], env);
      expect(r.code).to.equal(124);
      expect(r.stderr).to.contain('timeout');
    });

    it('the same --activity re-attaches instead of running twice', async () => {
      const activity = randomUUID();
      const first = await cli(['run', '--json', '--activity', activity, TEST_IMAGE, 'sh', '-c', 'echo $$-$RANDOM'], env);
      const second = await cli(['run', '--json', '--activity', activity, TEST_IMAGE, 'sh', '-c', 'echo $$-$RANDOM'], env);
      expect(JSON.parse(second.stdout)).to.deep.equal(JSON.parse(first.stdout));
    });

    it('registers as a worker, and says so in highway.workers', async () => {
      await cli(['run', TEST_IMAGE, 'true'], env);
      const workers = await h.db.pool.query(`SELECT id, status FROM highway.workers WHERE id LIKE 'cli-%' ORDER BY started_at DESC LIMIT 1`);
      expect(workers.rows[0].status).to.equal('stopped');
    });

    it('SIGINT is a worker shutdown: the container is stopped and removed, exit 130', async () => {
      const child = spawn(process.execPath, [BIN, 'run', TEST_IMAGE, 'sh', '-c', 'echo started; sleep 60'], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Wait for its container to run.
      await eventually(async () => (await h.db.pool.query(`SELECT 1 FROM highway.docker_containers WHERE status = 'running'`)).rowCount !== 0, { what: 'its container running', timeoutMs: 30_000 });
      child.kill('SIGINT');
      const code = await exited;
      expect(code).to.equal(130);
      expect(stdout).to.equal('started\n'); // the output up to the stop is kept
      expect(stderr).to.contain('worker_shutdown');
      const row = await h.db.pool.query(`SELECT status, stop_reason, removed_at FROM highway.docker_containers ORDER BY created_at DESC LIMIT 1`);
      expect(row.rows[0]).to.include({ status: 'cancelled', stop_reason: 'worker_shutdown' });
      expect(row.rows[0].removed_at).to.be.instanceOf(Date);
    });
  });

  describe('ps, cancel, migrate, gc', () => {
    it('ps lists intents; --json is machine-readable', async () => {
      await cli(['run', TEST_IMAGE, 'true'], env);
      const table = await cli(['ps', '--all'], env);
      expect(table.code).to.equal(0);
      expect(table.stdout.split('\n')[0]).to.match(/^INTENT\s+CONTAINER\s+TENANT\s+IMAGE\s+STATUS/);
      const json = JSON.parse((await cli(['ps', '--all', '--json'], env)).stdout);
      expect(json.length).to.be.greaterThan(0);
      expect(json[0]).to.have.keys(['id', 'short_id', 'tenant_id', 'image', 'status', 'stop_reason', 'exit_code', 'duration_ms', 'created_at', 'removed_at', 'worker_id', 'reconciler_id', 'pending_reason']);
    });

    it('cancel of an unknown run says so and exits 125', async () => {
      const r = await cli(['cancel', randomUUID()], env);
      expect(r.code).to.equal(125);
      expect(r.stderr).to.contain('not found');
    });

    it('migrate is idempotent, also when two processes migrate at once', async () => {
      const [a, b] = await Promise.all([cli(['migrate'], env), cli(['migrate'], env)]);
      expect([a.code, b.code]).to.deep.equal([0, 0]);
      expect(a.stdout + b.stdout).to.contain('applied: none');
    });

    it('gc --once prints its sweep report', async () => {
      const r = await cli(['gc', '--once'], { ...env, HIGHWAY_RECONCILER_ID: h.reconcilerId });
      expect(r.code).to.equal(0);
      expect(JSON.parse(r.stdout)).to.include({ skipped: false, orphansRemoved: 0 });
    });

    it('without any database it explains how to get one', async () => {
      const home = await mkdtemp(path.join(os.tmpdir(), 'hw-nodb-'));
      try {
        const r = await cli(['ps'], { DATABASE_URL: '', HIGHWAY_HOME: home });
        expect(r.code).to.equal(125);
        expect(r.stderr).to.contain('highway-docker up');
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    });
  });

  describe('up (the main job) on the embedded PostgreSQL', () => {
    it('starts a real PostgreSQL, runs the reconciler, and other subcommands find it', async function () {
      this.timeout(120_000);
      const home = await mkdtemp(path.join(os.tmpdir(), 'hw-up-'));
      await chmod(home, 0o755);
      const upEnv = { HIGHWAY_HOME: home, DATABASE_URL: '', HIGHWAY_RECONCILER_ID: `test-up-${randomUUID()}`, HIGHWAY_HTTP_ADDR: '127.0.0.1:0' };
      const up = spawn(process.execPath, [BIN, 'up'], { env: { ...process.env, HIGHWAY_LOG_FORMAT: 'json', ...upEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      up.stdout.on('data', (d) => (log += d));
      const exited = new Promise<number | null>((resolve) => up.on('exit', (code) => resolve(code)));
      try {
        await eventually(
          () => {
            if (up.exitCode !== null) throw new Error(`up exited (${up.exitCode}) before it was ready:\n${log}`);
            return log.includes('"event":"up.ready"');
          },
          { what: 'up ready', timeoutMs: 90_000, everyMs: 100, describe: () => `the log:\n${log}` },
        );
        const state = JSON.parse(await readFile(path.join(home, 'embedded.json'), 'utf8'));
        expect(state.url).to.match(/^postgresql:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/highway$/);
        const r = await cli(['run', TEST_IMAGE, 'echo', 'via embedded'], upEnv);
        expect(r.code).to.equal(0);
        expect(r.stdout).to.equal('via embedded\n');
        // The people on call's endpoints: alive, ready (database, LISTEN, Docker, events stream, breaker), metrics.
        const ready = JSON.parse(log.split('\n').find((l) => l.includes('"event":"up.ready"'))!) as { http: string };
        expect((await fetch(`${ready.http}/healthz`)).status).to.equal(200);
        const readyz = await fetch(`${ready.http}/readyz`);
        expect(readyz.status, await readyz.clone().text()).to.equal(200);
        const metrics = await (await fetch(`${ready.http}/metrics`)).text();
        expect(metrics).to.match(/^highway_docker_transitions_total\{status="exited",stop_reason=""\} 1$/m);
        expect(metrics).to.match(/^highway_docker_reconcile_duration_seconds_count\{kind="containers"\} [1-9]/m);
        up.kill('SIGTERM');
        expect(await exited).to.equal(0);
        expect(log).to.contain('"event":"reconciler.stopped"');
      } finally {
        if (up.exitCode === null) up.kill('SIGKILL');
        await h.docker
          .listContainers({ all: true, filters: { label: [`highway.reconciler_id=${upEnv.HIGHWAY_RECONCILER_ID}`] } })
          .then((cs) => Promise.all(cs.map((c) => h.docker.getContainer(c.Id).remove({ force: true }))));
        await rm(home, { recursive: true, force: true });
      }
    });
  });
});
