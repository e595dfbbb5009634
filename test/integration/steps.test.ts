/**
 * Containers as workflow steps (issue 19, docs/steps.md) on the real daemon and database:
 * `files` written into the container before it starts, `result_path` read back after it exits.
 */
import { expect } from 'chai';
import { ValidationError, PolicyError } from '../../src/errors.js';
import { defaultPolicy } from '../../src/params/policy.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { ensureBuilt, runCli } from '../support/processes.js';
import { eventually } from '../support/eventually.js';

const SECRET_ENV = 'HIGHWAY_SECRET_STEPS_TOKEN';

describe('steps: files in, a result out (real Docker, real PostgreSQL)', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async () => {
    process.env[SECRET_ENV] = 's3cr3t-token-value';
    process.env[`${SECRET_ENV}_TENANTS`] = 'tenant-a';
    h = await Harness.start({ policy: { ...defaultPolicy, max_files_bytes: 2 * 1024 * 1024, max_result_bytes: 4096 } });
  });
  after(async () => {
    delete process.env[SECRET_ENV];
    delete process.env[`${SECRET_ENV}_TENANTS`];
    await h?.stop();
  });
  afterEach(async () => {
    const left = await h.containers();
    expect(left.map((c) => `${c.Names[0]} ${c.State}`)).to.deep.equal([]);
  });

  describe('files', () => {
    it('writes text, base64 (with its mode and the numeric user as owner) and secret files before the start; the secret is masked in the output', async () => {
      const binary = Buffer.from([0, 1, 2, 255, 10, 65]);
      const result = await h.run({
        user: '1234:2345',
        files: {
          '/in/config.json': '{"greeting": "hello"}',
          '/in/deep/er/data.bin': { content: binary.toString('base64'), encoding: 'base64', mode: 0o600 },
          '/in/token': { secret: 'steps_token' },
        },
        command: ['sh', '-c', 'cat /in/config.json; echo; od -An -tx1 /in/deep/er/data.bin; stat -c "%a %u:%g" /in/deep/er/data.bin /in/token; cat /in/token'],
      });
      expect(result.status, result.error ?? '').to.equal('exited');
      const lines = result.stdout.split('\n').map((l) => l.trim());
      expect(lines[0]).to.equal('{"greeting": "hello"}');
      expect(lines[1]).to.equal('00 01 02 ff 0a 41');
      expect(lines[2]).to.equal('600 1234:2345');
      expect(lines[3]).to.equal('644 1234:2345');
      // The container read the secret; the output, the row and the spec never hold it.
      expect(lines[4]).to.equal('***');
      const row = await h.intent(result.intent_id);
      expect(JSON.stringify(row)).not.to.include('s3cr3t-token-value');
      expect(row!.spec['files']).to.deep.include({ '/in/token': { secret: 'steps_token', mode: 0o644 } });
    });

    it('writes into a volume of a read-only root filesystem', async () => {
      const result = await h.run({
        read_only: true,
        mounts: [{ type: 'volume', target: '/in' }],
        files: { '/in/a/b.txt': 'on a volume\n' },
        command: ['sh', '-c', 'cat /in/a/b.txt; touch /elsewhere 2>/dev/null || echo read-only'],
      });
      expect(result.status, result.error ?? '').to.equal('exited');
      expect(result.stdout).to.equal('on a volume\nread-only\n');
    });

    it("refuses another tenant's secret as a file: the run fails naming the file, and nothing is left", async () => {
      const result = await h.run({ files: { '/in/token': { secret: 'steps_token' } }, command: ['cat', '/in/token'] }, h.ctx({ tenant_id: 'tenant-b' }));
      expect(result.status).to.equal('failed');
      expect(result.error).to.include('files["/in/token"]').and.include('not available to this tenant');
      expect(result.stdout).to.equal('');
      expect(await h.containerGone(result.container_id)).to.equal(true);
    });

    it('refuses bad paths and places by name, before anything is stored', async () => {
      const cases: [Record<string, unknown>, string, RegExp][] = [
        [{ files: { 'in/x': 'a' } }, 'files["in/x"]', /absolute/],
        [{ files: { '/in/../etc/passwd': 'a' } }, 'files["/in/../etc/passwd"]', /\.\./],
        [{ files: { '/proc/self/x': 'a' } }, 'files["/proc/self/x"]', /\/proc/],
        [{ files: { '/sys': 'a' } }, 'files["/sys"]', /\/sys/],
        [{ files: { '/tmp/x': 'a' }, tmpfs: { '/tmp': '' } }, 'files["/tmp/x"]', /tmpfs/],
        [{ files: { '/x': 'a' }, read_only: true }, 'files["/x"]', /read-only/],
        [{ files: { '/x': { content: 'not base64!', encoding: 'base64' } } }, 'files["/x"].content', /base64/],
        [{ files: { '/x': { content: 'a', mode: 0o10000 } } }, 'files["/x"].mode', /mode/],
      ];
      for (const [params, field, message] of cases) {
        const ctx = h.ctx();
        const err = await h.run({ ...params, command: ['true'] }, ctx).then(() => null, (e: unknown) => e);
        expect(err, field).to.be.instanceOf(ValidationError);
        expect((err as ValidationError).field, JSON.stringify(params)).to.equal(field);
        expect((err as Error).message).to.match(message);
        expect(await h.intentOfActivity(ctx.activity_id)).to.equal(null);
      }
    });

    it("bounds the files' total size by the policy (max_files_bytes)", async () => {
      const ctx = h.ctx();
      const big = 'x'.repeat(1024 * 1024 + 1);
      const err = await h.run({ files: { '/a': big, '/b': big }, command: ['true'] }, ctx).then(() => null, (e: unknown) => e);
      expect(err).to.be.instanceOf(PolicyError);
      expect((err as PolicyError).rule).to.equal('max_files_bytes');
      expect((err as Error).message).to.include('2097154 bytes together exceed the maximum of 2097152 (2 MiB)');
      expect(await h.intentOfActivity(ctx.activity_id)).to.equal(null);
      // Far over: refused before the schema reads it.
      const huge = await h.run({ files: { '/a': 'y'.repeat(4 * 1024 * 1024) }, command: ['true'] }, h.ctx()).then(() => null, (e: unknown) => e);
      expect(huge).to.be.instanceOf(ValidationError);
      expect((huge as ValidationError).field).to.equal('files');
      // 1 MiB of files is not held to max_params_bytes (256 KiB).
      const ok = await h.run({ files: { '/a': 'z'.repeat(1024 * 1024) }, command: ['sh', '-c', 'wc -c < /a'] });
      expect(ok.status, ok.error ?? '').to.equal('exited');
      expect(ok.stdout.trim()).to.equal(String(1024 * 1024));
    });
  });

  describe('result_path', () => {
    it('returns the JSON the container wrote, typed, with the exit code and the output as they were; the row keeps it', async () => {
      const result = await h.run({
        result_path: '/out/result.json',
        command: ['sh', '-c', 'mkdir -p /out; printf \'{"n": 3, "ok": true, "items": [1, "a", null], "nested": {"x": 1.5}}\' > /out/result.json; echo done; exit 4'],
      });
      expect(result.status).to.equal('failed');
      expect(result.exit_code).to.equal(4);
      expect(result.stdout).to.equal('done\n');
      expect(result.result).to.deep.equal({ n: 3, ok: true, items: [1, 'a', null], nested: { x: 1.5 } });
      expect(result.result_error).to.equal(null);
      const row = await h.intent(result.intent_id);
      expect(row!.result).to.deep.equal(result.result);
      expect(await h.containerGone(result.container_id)).to.equal(true);
    });

    it('returns text with result_format "text", secrets masked', async () => {
      const result = await h.run({
        result_path: '/r.txt',
        result_format: 'text',
        files: { '/in/token': { secret: 'steps_token' } },
        command: ['sh', '-c', 'printf "token=%s\\nline two" "$(cat /in/token)" > /r.txt'],
      });
      expect(result.status, result.error ?? '').to.equal('exited');
      expect(result.result).to.equal('token=***\nline two');
    });

    it('reports a missing, too large, invalid or non-file result in result_error, keeping the exit code and output', async () => {
      const cases: [Record<string, unknown>, string, string, RegExp][] = [
        [{ result_path: '/nothing.json' }, 'true', 'missing', /^result_path "\/nothing.json": no such file/],
        [{ result_path: '/big.json', max_result_bytes: 100 }, 'printf "%0200d" 0 > /big.json', 'too_large', /is 200 bytes, more than max_result_bytes \(100\)/],
        [{ result_path: '/bad.json' }, 'echo "{not json" > /bad.json', 'invalid_json', /is not valid JSON/],
        [{ result_path: '/dir' }, 'mkdir /dir', 'not_a_file', /is a directory/],
      ];
      for (const [params, script, code, message] of cases) {
        const result = await h.run({ ...params, command: ['sh', '-c', `${script}; echo out; exit 2`] });
        expect(result.status, code).to.equal('failed');
        expect(result.exit_code, code).to.equal(2);
        expect(result.stdout, code).to.equal('out\n');
        expect(result.result, code).to.equal(null);
        expect(result.result_error?.code, code).to.equal(code);
        expect(result.result_error?.message, code).to.match(message);
        expect((await h.intent(result.intent_id))!.result_error).to.deep.equal(result.result_error);
      }
    });

    it('refuses max_result_bytes over the policy, and result settings without result_path', async () => {
      const ctx = h.ctx();
      const err = await h.run({ result_path: '/r.json', max_result_bytes: 8192, command: ['true'] }, ctx).then(() => null, (e: unknown) => e);
      expect(err).to.be.instanceOf(PolicyError);
      expect((err as PolicyError).rule).to.equal('max_result_bytes');
      expect(await h.intentOfActivity(ctx.activity_id)).to.equal(null);
      const lone = await h.run({ result_format: 'text', command: ['true'] }).then(() => null, (e: unknown) => e);
      expect((lone as ValidationError).field).to.equal('result_format');
    });

    it('works with detach: the run returns once started, and wait gives the result', async () => {
      const ctx = h.ctx();
      const started = await h.run({ detach: true, result_path: '/r.json', command: ['sh', '-c', 'sleep 0.5; echo \'{"late": true}\' > /r.json'] }, ctx);
      expect(started.status).to.equal('running');
      expect(started.result).to.equal(null);
      const waited = await h.registry.call<{ status: string; result: unknown; result_error: unknown }>('tools.docker.wait', { target: started.intent_id }, h.ctx());
      expect(waited.status).to.equal('exited');
      expect(waited.result).to.deep.equal({ late: true });
      expect(waited.result_error).to.equal(null);
      await h.waitSettled(ctx.activity_id);
    });
  });

  describe('command line: run --file, run --result', () => {
    it('writes a local file into the container (its mode kept) and prints the result as JSON on stdout', async function () {
      this.timeout(180_000);
      ensureBuilt();
      const dir = await mkdtemp(path.join(os.tmpdir(), 'hw-steps-'));
      try {
        const local = path.join(dir, 'input.txt');
        await writeFile(local, 'from the worker\n', { mode: 0o640 });
        const env = { DATABASE_URL: h.db.url };
        const script = 'stat -c %a /in/input.txt; printf \'{"read": "%s"}\' "$(cat /in/input.txt)" > /out.json';
        const r = await runCli(['run', '--tenant', 'tenant-a', '--file', `/in/input.txt=${local}`, '--result', '/out.json', TEST_IMAGE, 'sh', '-c', script], env);
        expect(r.code, r.stderr).to.equal(0);
        expect(JSON.parse(r.stdout)).to.deep.equal({ read: 'from the worker' });
        expect(r.stderr).to.include('640'); // the container's own output goes to stderr
        // No result: exit 125 although the container exited 0, the reason on stderr, null on stdout.
        const missing = await runCli(['run', '--tenant', 'tenant-a', '--result', '/none.json', TEST_IMAGE, 'true'], env);
        expect(missing.code).to.equal(125);
        expect(missing.stdout.trim()).to.equal('null');
        expect(missing.stderr).to.include('result: missing');
        const bad = await runCli(['run', '--file', 'no-equals-sign', TEST_IMAGE, 'true'], env);
        expect(bad.code).to.equal(125);
        expect(bad.stderr).to.include('--file');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('cron runs', () => {
    it('a scheduled run with files and result_path: its result shows in `cron runs --json`', async function () {
      this.timeout(180_000);
      ensureBuilt();
      const env = { DATABASE_URL: h.db.url };
      const name = `steps-${Date.now().toString(36)}`;
      const params = JSON.stringify({ files: { '/in/x': 'seven' }, result_path: '/r.json' });
      const add = await runCli(['cron', 'add', name, '--schedule', '@yearly', '--tenant', 'tenant-a', '--params', '-', TEST_IMAGE, 'sh', '-c', 'printf \'{"got": "%s", "at": "%s"}\' "$(cat /in/x)" "$HIGHWAY_SCHEDULED_TIME" > /r.json'], env, params);
      expect(add.code, add.stderr).to.equal(0);
      const trig = JSON.parse((await runCli(['cron', 'trigger', name, '--tenant', 'tenant-a', '--json'], env)).stdout) as { scheduled_time: string };
      const runs = await eventually(async () => JSON.parse((await runCli(['cron', 'runs', name, '--tenant', 'tenant-a', '--json'], env)).stdout) as Record<string, unknown>[], {
        what: 'the triggered run to exit',
        timeoutMs: 60_000,
        everyMs: 300,
        until: (rs) => rs.some((r) => r['scheduled_time'] === trig.scheduled_time && r['status'] === 'exited'),
      });
      const run = runs.find((r) => r['scheduled_time'] === trig.scheduled_time && r['status'] === 'exited')!;
      expect(run['result']).to.deep.equal({ got: 'seven', at: trig.scheduled_time });
      expect(run['result_error']).to.equal(null);
      expect((await runCli(['cron', 'rm', name, '--tenant', 'tenant-a'], env)).code).to.equal(0);
      await eventuallyEmpty(() => h.containers());
    });
  });

  describe('services', () => {
    const web = {
      name: 'web',
      image: TEST_IMAGE,
      command: ['sh', '-c', 'mkdir -p /www; echo hello-from-web > /www/index.html; echo web-starting; exec httpd -f -vv -p 127.0.0.1:8080 -h /www'],
      healthcheck: { test: ['CMD-SHELL', 'wget -qO- http://127.0.0.1:8080/ >/dev/null'], interval: '200ms', retries: 50 },
    };
    const containersOfIntent = async (intentId: string) => h.docker.listContainers({ all: true, filters: { label: [`highway.intent_id=${intentId}`] } });

    it('the job reaches a healthy httpd service on 127.0.0.1 with network_mode none; the service output is in the result; nothing is left', async () => {
      const result = await h.run({ services: [web], command: ['wget', '-qO-', 'http://127.0.0.1:8080/'] });
      expect(result.status, result.error ?? '').to.equal('exited');
      expect(result.stdout).to.equal('hello-from-web\n');
      expect(result.services?.['web']?.stdout).to.include('web-starting');
      expect(await containersOfIntent(result.intent_id)).to.deep.equal([]);
      const row = await h.intent(result.intent_id);
      expect(row!.spec['network_mode']).to.equal('none');
    });

    it('a service that never becomes healthy: service_not_ready naming it; the job never starts; nothing is left', async () => {
      const ctx = h.ctx();
      const result = await h.run({ services: [{ name: 'sick', image: TEST_IMAGE, command: ['sleep', '60'], healthcheck: { test: ['CMD', 'false'], interval: '200ms', retries: 2 }, ready_timeout: 20 }], command: ['echo', 'never'] }, ctx);
      expect(result.status).to.equal('failed');
      expect(result.error).to.match(/service "sick" is not ready: its healthcheck reports unhealthy/);
      expect(result.stdout).to.equal('');
      expect(result.container_id).to.equal(null);
      await h.waitSettled(ctx.activity_id);
      expect(await containersOfIntent(result.intent_id)).to.deep.equal([]);
      const slow = await h.run({ services: [{ name: 'slow', image: TEST_IMAGE, command: ['sleep', '60'], healthcheck: { test: ['CMD', 'false'], interval: '30s', retries: 3 }, ready_timeout: 1 }], command: ['true'] });
      expect(slow.error).to.match(/service "slow" is not ready: not healthy within its ready_timeout of 1 s/);
      await eventuallyEmpty(() => containersOfIntent(slow.intent_id));
    });

    it('cancellation while the job and its service run: both are stopped and removed', async () => {
      const ctx = h.ctx();
      const call = h.run({ services: [web], command: ['sh', '-c', 'echo job-up; sleep 60'] }, ctx);
      await h.waitFor(ctx.activity_id, (r) => r.status === 'running', 40_000);
      await h.db.pool.query(`UPDATE highway.workflow_runs SET status = 'cancelled' WHERE id = $1`, [ctx.workflow_run_id]);
      const result = await call;
      expect(result.status).to.equal('cancelled');
      expect(result.stop_reason).to.equal('workflow_cancelled');
      expect(result.services?.['web']).to.have.property('stdout');
      await eventuallyEmpty(() => containersOfIntent(result.intent_id));
    });

    it('a job past its timeout: timeout, and the service is stopped and removed with it', async () => {
      const result = await h.run({ services: [web], timeout: 2, command: ['sh', '-c', 'echo job-up; sleep 60'] });
      expect(result.status).to.equal('timeout');
      expect(result.stdout).to.equal('job-up\n');
      expect(result.services?.['web']?.stdout).to.include('web-starting');
      await eventuallyEmpty(() => containersOfIntent(result.intent_id));
    });

    it('a kept job (auto_remove false): its services are removed when its result is collected', async () => {
      const result = await h.run({ services: [web], auto_remove: false, command: ['wget', '-qO-', 'http://127.0.0.1:8080/'] });
      try {
        expect(result.status, result.error ?? '').to.equal('exited');
        // Removed right after the row records the result (the caller of a kept run wakes at that record).
        await eventuallyEmpty(async () => (await containersOfIntent(result.intent_id)).filter((c) => c.Id !== result.container_id));
        expect((await containersOfIntent(result.intent_id)).map((c) => c.Id)).to.deep.equal([result.container_id]);
      } finally {
        await h.docker.getContainer(result.container_id!).remove({ force: true });
      }
    });

    it('refuses what the job cannot set with services, and service parameters a sidecar does not take', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ services: [web], network_mode: 'container:other' }, 'network_mode'],
        [{ services: [web], hostname: 'x' }, 'hostname'],
        [{ services: [{ ...web, ports: { '80/tcp': 80 } }] }, 'services[0].ports'],
        [{ services: [web, web] }, 'services[1].name'],
        [{ services: [{ ...web, image: 42 }] }, 'services[0]'],
      ];
      for (const [params, field] of cases) {
        const err = await h.run({ ...params, command: ['true'] }).then(() => null, (e: unknown) => e);
        expect(err, field).to.be.instanceOf(ValidationError);
        expect((err as ValidationError).field, (err as Error).message).to.equal(field);
      }
      const denied = await h.run({ services: [{ ...web, cap_add: ['SYS_ADMIN'] }], command: ['true'] }).then(() => null, (e: unknown) => e);
      expect(denied).to.be.instanceOf(PolicyError);
      expect((denied as PolicyError).field).to.equal('services[0].cap_add');
    });
  });
});

async function eventuallyEmpty(list: () => Promise<unknown[]>, timeoutMs = 30_000): Promise<void> {
  await eventually(list, { what: 'no container left', timeoutMs, everyMs: 200, until: (l) => l.length === 0 });
}
