/**
 * The container-targeted tools on a real daemon and a real PostgreSQL: tools.docker.exec,
 * stop, remove, logs, inspect, wait. Each operation on a live container is a row the
 * container's host performs; these tests assert what a caller relies on (the output, the
 * row, the container gone, no process left inside it, another tenant told "not found").
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { PolicyError, ValidationError } from '../../../src/errors.js';
import { ToolRegistry } from '../../../src/tools/registry.js';
import { registerDockerTools, type DockerTools } from '../../../src/tools/docker-tools.js';
import type { DockerRunResult } from '../../../src/tools/docker-run.js';
import type { ExecResult, InspectResult, LogsResult, RemoveResult } from '../../../src/tools/docker-ops.js';
import { followLogs, type FollowChunk } from '../../../src/tools/logs-follow.js';
import { defaultPolicy } from '../../../src/params/policy.js';
import { Harness } from '../../support/harness.js';
import { eventually } from '../../support/eventually.js';
import { highwayRejection } from '../../support/assertions.js';
import { processesIn } from '../../support/docker-env.js';

const A = 'tenant-a';
const B = 'tenant-b';
const SECRET_VALUE = `s3cret-${randomUUID()}`;

describe('container operations: exec, stop, remove, logs, inspect, wait (real Docker, real PostgreSQL)', function () {
  this.timeout(60_000);
  let h: Harness;
  const call = <R>(tool: string, params: Record<string, unknown>, tenant = A) => h.registry.call<R>(`tools.docker.${tool}`, params, h.ctx({ tenant_id: tenant }));
  /** A detached container of tenant A that keeps running. */
  const detached = (params: Record<string, unknown> = {}) =>
    h.run({ detach: true, command: ['sh', '-c', 'echo started; echo warming >&2; exec sleep 300'], ...params }, h.ctx({ tenant_id: A }));
  const operations = async (intentId: string) =>
    (await h.db.pool.query(`SELECT * FROM highway.docker_operations WHERE intent_id = $1 ORDER BY created_at`, [intentId])).rows;
  /** The processes inside a container, by a direct docker exec (the test's own view). */
  const ps = (containerId: string) => processesIn(h.docker, containerId);

  before(async () => {
    process.env['HIGHWAY_SECRET_OPS_TEST'] = SECRET_VALUE;
    process.env['HIGHWAY_SECRET_OPS_TEST_TENANTS'] = 'tenant-a';
    h = await Harness.start();
  });
  after(async () => {
    delete process.env['HIGHWAY_SECRET_OPS_TEST'];
    delete process.env['HIGHWAY_SECRET_OPS_TEST_TENANTS'];
    await h?.stop();
  });

  describe('tools.docker.exec', () => {
    it('runs a command in a running container: exit code, stdout and stderr apart, duration; audited', async () => {
      const run = await detached();
      const r = await call<ExecResult>('exec', { target: run.intent_id, command: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
      expect(r).to.include({ status: 'exited', exit_code: 3, stdout: 'out\n', stderr: 'err\n', logs_truncated: false, intent_id: run.intent_id, container_id: run.container_id });
      expect(r.duration_ms).to.be.a('number').and.at.least(0);
      const [op] = await operations(run.intent_id);
      expect(op).to.include({ kind: 'exec', status: 'done', reconciler_id: h.reconcilerId, tenant_id: A });
      const audit = await h.db.pool.query(`SELECT operation, outcome FROM highway.docker_audit WHERE intent_id = $1 ORDER BY id`, [run.intent_id]);
      expect(audit.rows.map((a) => `${a.operation}:${a.outcome}`)).to.include.members(['tools.docker.exec:ok', 'container.exec:ok']);
      await call('stop', { target: run.intent_id, time: 0 });
    });

    it('takes the container id, full or short; user, working_dir, environment with a secret reference (never stored)', async () => {
      const run = await detached();
      const full = await call<ExecResult>('exec', {
        target: run.container_id,
        command: 'sh -c \'echo "$(id -u) $(pwd) $GREETING $TOKEN"\'',
        user: 'nobody',
        working_dir: '/tmp',
        environment: { GREETING: 'hello', TOKEN: { secret: 'ops_test' } },
      });
      // The exec got the secret, and what it printed is masked, as CI systems mask secrets.
      expect(full.stdout).to.equal(`65534 /tmp hello ***\n`);
      const short = await call<ExecResult>('exec', { target: run.short_id, command: ['echo', 'short'] });
      expect(short.stdout).to.equal('short\n');
      const stored = await h.db.pool.query(`SELECT params::text AS p, result::text AS r FROM highway.docker_operations WHERE intent_id = $1`, [run.intent_id]);
      expect(stored.rows.map((r) => r.p).join(' ')).to.not.include(SECRET_VALUE);
      await call('stop', { target: run.intent_id, time: 0 });
    });

    it('a command past its timeout is killed, with every process it started, and reported as timeout', async () => {
      const run = await detached();
      const r = await call<ExecResult>('exec', { target: run.intent_id, command: ['sh', '-c', 'echo begun; sleep 171 & sleep 172'], timeout: 1 });
      expect(r.status).to.equal('timeout');
      expect(r.exit_code).to.equal(null);
      expect(r.stdout).to.equal('begun\n');
      const [op] = await operations(run.intent_id);
      expect(op.status).to.equal('timeout');
      const left = await ps(run.container_id!);
      expect(left).to.not.match(/sleep 17[12]/);
      expect(left).to.match(/sleep 300/); // the container itself runs on
      await call('stop', { target: run.intent_id, time: 0 });
    });

    it('caps the output per stream (max_output_bytes), keeping the tail', async () => {
      const run = await detached();
      const r = await call<ExecResult>('exec', { target: run.intent_id, command: ['sh', '-c', 'seq 1 2000'], max_output_bytes: 100 });
      expect(r.logs_truncated).to.equal(true);
      expect(Buffer.byteLength(r.stdout)).to.equal(100);
      expect(r.stdout.endsWith('2000\n')).to.equal(true);
      await call('stop', { target: run.intent_id, time: 0 });
    });

    it('a target that is not running is a clear error (not_running)', async () => {
      const ended = await h.run({ command: ['true'], auto_remove: false }, h.ctx({ tenant_id: A }));
      const err = await highwayRejection(call('exec', { target: ended.intent_id, command: ['true'] }));
      expect(err.code).to.equal('not_running');
      expect(err.message).to.match(/not running/);
      await call('remove', { target: ended.intent_id });
    });

    it('invalid input names the field and stores nothing', async () => {
      const run = await detached();
      for (const [params, field] of [
        [{ target: run.intent_id }, 'command'],
        [{ target: run.intent_id, command: [] }, 'command'],
        [{ target: run.intent_id, command: 'true', timeout: 'soon' }, 'timeout'],
        [{ target: run.intent_id, command: 'true', working_dir: 'relative' }, 'working_dir'],
        [{ target: 'not an id', command: 'true' }, 'target'],
        [{ target: run.intent_id, command: 'true', bogus: 1 }, 'bogus'],
      ] as const) {
        const err = await highwayRejection(call('exec', params as Record<string, unknown>));
        expect(err, JSON.stringify(params)).to.be.instanceOf(ValidationError);
        expect((err as ValidationError).field).to.equal(field);
      }
      expect(await operations(run.intent_id)).to.deep.equal([]);
      await call('stop', { target: run.intent_id, time: 0 });
    });

    it('refused by the operator policy: privileged exec; root where the policy forbids it (audited, nothing stored)', async () => {
      const run = await detached();
      const err = await highwayRejection(call('exec', { target: run.intent_id, command: 'true', privileged: true }));
      expect(err).to.be.instanceOf(PolicyError);
      expect((err as PolicyError).rule).to.equal('privileged');

      const strict = new ToolRegistry();
      const tools: DockerTools = registerDockerTools(strict, { databaseUrl: h.db.url, pool: h.db.pool, policy: { ...defaultPolicy, allow_exec_root: false } });
      try {
        for (const user of ['root', '0', '0:0', undefined]) {
          const e = await highwayRejection(strict.call('tools.docker.exec', { target: run.intent_id, command: 'id', ...(user ? { user } : {}) }, h.ctx({ tenant_id: A })));
          expect(e, String(user)).to.be.instanceOf(PolicyError);
          expect((e as PolicyError).rule).to.equal('exec_root');
          expect((e as PolicyError).field).to.equal('user');
        }
        const ok = await strict.call<ExecResult>('tools.docker.exec', { target: run.intent_id, command: 'id -u', user: '65534' }, h.ctx({ tenant_id: A }));
        expect(ok.stdout).to.equal('65534\n');
      } finally {
        await tools.close();
      }
      expect((await operations(run.intent_id)).length).to.equal(1); // only the allowed one
      const denied = await h.db.pool.query(`SELECT count(*)::int AS n FROM highway.docker_audit WHERE operation = 'tools.docker.exec' AND outcome = 'denied'`);
      expect(denied.rows[0].n).to.be.at.least(5);
      await call('stop', { target: run.intent_id, time: 0 });
    });
  });

  describe('tools.docker.stop', () => {
    it('stops a running container: cancelled, stop_reason requested, output kept; idempotent', async () => {
      const run = await detached();
      const r = await call<DockerRunResult>('stop', { target: run.intent_id });
      expect(r).to.include({ intent_id: run.intent_id, status: 'cancelled', stop_reason: 'requested', stdout: 'started\n', stderr: 'warming\n' });
      expect(await h.containerGone(run.container_id)).to.equal(true);
      const again = await call<DockerRunResult>('stop', { target: run.intent_id });
      expect(again).to.deep.equal(r);
    });

    it('time overrides the grace period (recorded as the spec\'s stop_grace_period)', async () => {
      const run = await h.run({ detach: true, init: false, command: ['sh', '-c', 'trap "" TERM; echo stubborn; while true; do sleep 1; done'] }, h.ctx({ tenant_id: A }));
      // With the default 10 s grace this would not settle within the 8 s wait_timeout.
      const r = await call<DockerRunResult>('stop', { target: run.intent_id, time: 1, wait_timeout: 8 });
      expect(r).to.include({ status: 'cancelled', stop_reason: 'requested', stdout: 'stubborn\n' });
      expect((await h.intent(run.intent_id))!.spec['stop_grace_period']).to.equal(1);
    });

    it('stopping an ended intent returns its result', async () => {
      const ended = await h.run({ command: ['sh', '-c', 'echo finished'] }, h.ctx({ tenant_id: A }));
      const r = await call<DockerRunResult>('stop', { target: ended.intent_id });
      expect(r).to.include({ status: 'exited', exit_code: 0, stdout: 'finished\n', stop_reason: null });
    });
  });

  describe('tools.docker.remove', () => {
    it('removes a kept container (auto_remove false): removed_at recorded, output stays in the row; idempotent', async () => {
      const ended = await h.run({ command: ['sh', '-c', 'echo kept'], auto_remove: false }, h.ctx({ tenant_id: A }));
      expect(await h.containerGone(ended.container_id)).to.equal(false);
      const r = await call<RemoveResult>('remove', { target: ended.container_id });
      expect(r).to.include({ status: 'exited', stdout: 'kept\n' });
      expect(r.removed_at).to.be.a('string');
      expect(await h.containerGone(ended.container_id)).to.equal(true);
      const row = await h.intent(ended.intent_id);
      expect(row!.removed_at).to.be.instanceOf(Date);
      expect(row!.stdout).to.equal('kept\n');
      const again = await call<RemoveResult>('remove', { target: ended.intent_id });
      expect(again.removed_at).to.equal(r.removed_at);
    });

    it('removes a container protected by gc_protect_seconds', async () => {
      const ended = await h.run({ command: ['true'], gc_protect_seconds: 3600 }, h.ctx({ tenant_id: A }));
      expect(await h.containerGone(ended.container_id)).to.equal(false);
      await call<RemoveResult>('remove', { target: ended.short_id });
      expect(await h.containerGone(ended.container_id)).to.equal(true);
    });

    it('a running container: refused without force (not_ended); with force stopped (requested) and removed', async () => {
      const run = await detached({ auto_remove: false });
      const err = await highwayRejection(call('remove', { target: run.intent_id }));
      expect(err.code).to.equal('not_ended');
      expect((await h.intent(run.intent_id))!.status).to.equal('running');
      const r = await call<RemoveResult>('remove', { target: run.intent_id, force: true });
      expect(r).to.include({ status: 'cancelled', stop_reason: 'requested', stdout: 'started\n' });
      expect(await h.containerGone(run.container_id)).to.equal(true);
    });

    it('an unknown target is not found', async () => {
      const err = await highwayRejection(call('remove', { target: randomUUID() }));
      expect(err.code).to.equal('not_found');
    });
  });

  describe('tools.docker.logs', () => {
    it("a running container's logs, fresh from its host: streams apart, tail, timestamps, stream selection, byte cap", async () => {
      const run = await h.run({ detach: true, command: ['sh', '-c', 'echo one; echo two; echo oops >&2; exec sleep 300'] }, h.ctx({ tenant_id: A }));
      let all: LogsResult;
      for (;;) {
        all = await call<LogsResult>('logs', { target: run.intent_id });
        if (all.stderr) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(all).to.include({ source: 'host', stdout: 'one\ntwo\n', stderr: 'oops\n', logs_truncated: false, running: true });
      expect((await call<LogsResult>('logs', { target: run.intent_id, tail: 1, stderr: false })).stdout).to.equal('two\n');
      const stamped = await call<LogsResult>('logs', { target: run.intent_id, timestamps: true, stdout: false });
      expect(stamped.stdout).to.equal('');
      expect(stamped.stderr).to.match(/^\d{4}-\d{2}-\d{2}T[\d:.]+Z oops\n$/);
      const capped = await call<LogsResult>('logs', { target: run.intent_id, max_bytes: 4, stderr: false });
      expect(capped).to.include({ stdout: 'two\n', logs_truncated: true });
      const future = await call<LogsResult>('logs', { target: run.intent_id, since: (Date.now() / 1000 + 3600).toFixed(3) });
      expect(future.stdout + future.stderr).to.equal('');
      await call('stop', { target: run.intent_id, time: 0 });
    });

    it("an ended container's logs come from the row (no Docker call, no operation)", async () => {
      const ended = await h.run({ command: ['sh', '-c', 'echo a; echo b; echo c >&2'] }, h.ctx({ tenant_id: A }));
      const r = await call<LogsResult>('logs', { target: ended.intent_id, tail: 1 });
      expect(r).to.include({ source: 'row', stdout: 'b\n', stderr: 'c\n' });
      expect(await operations(ended.intent_id)).to.deep.equal([]);
    });

    it('follow: streams new output of a running container and ends when it ends', async () => {
      const run = await h.run({ detach: true, command: ['sh', '-c', 'for i in 1 2 3 4 5 6; do echo line-$i; sleep 0.3; done; echo bye >&2'] }, h.ctx({ tenant_id: A }));
      const chunks: FollowChunk[] = [];
      await followLogs(h.tools.operations, { target: run.intent_id }, { tenant_id: A }, (c) => chunks.push(c));
      const out = chunks.filter((c) => c.stream === 'stdout').map((c) => c.text).join('');
      expect(out).to.equal('line-1\nline-2\nline-3\nline-4\nline-5\nline-6\n');
      expect(chunks.filter((c) => c.stream === 'stderr').map((c) => c.text).join('')).to.equal('bye\n');
      // It returned because the container ended: Docker says it is not running (or it is already removed).
      const state = await h.docker.getContainer(run.container_id!).inspect().then((i) => i.State.Running, () => false);
      expect(state).to.equal(false);
    });
  });

  describe('tools.docker.inspect', () => {
    it('the intent and the live container from its host; secret values redacted', async () => {
      const run = await detached({ environment: { PLAIN: 'visible', TOKEN: { secret: 'ops_test' } }, memory_limit: '64m' });
      const r = await call<InspectResult>('inspect', { target: run.short_id });
      expect(r.intent).to.include({ intent_id: run.intent_id, status: 'running', container_id: run.container_id });
      const c = r.container as { state: { running: boolean }; env: string[]; labels: Record<string, string>; limits: { memory_bytes: number } };
      expect(c.state.running).to.equal(true);
      expect(c.env).to.include('PLAIN=visible');
      expect(c.env).to.include('TOKEN=<redacted>');
      expect(JSON.stringify(r)).to.not.include(SECRET_VALUE);
      expect(c.labels['highway.intent_id']).to.equal(run.intent_id);
      expect(c.limits.memory_bytes).to.equal(64 * 1024 * 1024);
      await call('stop', { target: run.intent_id, time: 0 });
    });

    it('a removed container: the intent, and container null', async () => {
      const ended = await h.run({ command: ['sh', '-c', 'exit 4'] }, h.ctx({ tenant_id: A }));
      const r = await call<InspectResult>('inspect', { target: ended.intent_id });
      expect(r.intent).to.include({ status: 'failed', exit_code: 4 });
      expect(r.container).to.equal(null);
    });
  });

  describe('tools.docker.wait', () => {
    it("awaits a detached intent's result", async () => {
      const run = await h.run({ detach: true, command: ['sh', '-c', 'sleep 1; echo waited'] }, h.ctx({ tenant_id: A }));
      expect(run.status).to.equal('running');
      const r = await call<DockerRunResult>('wait', { target: run.intent_id });
      expect(r).to.include({ status: 'exited', exit_code: 0, stdout: 'waited\n' });
    });

    it('gives up after its timeout (timeout), the intent running on', async () => {
      const run = await detached();
      const err = await highwayRejection(call('wait', { target: run.intent_id, timeout: 1 }));
      expect(err.code).to.equal('timeout');
      expect((await h.intent(run.intent_id))!.status).to.equal('running');
      await call('stop', { target: run.intent_id, time: 0 });
    });
  });

  describe('tenant isolation', () => {
    it("tenant B gets not found for each of A's targets through every tool, worded as for a target that does not exist", async () => {
      const run = await detached({ auto_remove: false });
      const unknown = await highwayRejection(call('inspect', { target: randomUUID() }, B));
      const tools: Array<[string, Record<string, unknown>]> = [
        ['exec', { command: ['echo', 'hi'] }],
        ['stop', {}],
        ['remove', { force: true }],
        ['logs', {}],
        ['inspect', {}],
        ['wait', { timeout: 1 }],
      ];
      for (const target of [run.intent_id, run.container_id!, run.short_id!]) {
        for (const [tool, params] of tools) {
          const err = await highwayRejection(call(tool, { target, ...params }, B));
          expect(err.code, `${tool} ${target}`).to.equal('not_found');
          expect(err.message.replace(target, 'X')).to.equal(unknown.message.replace(/[0-9a-f-]{36}/, 'X'));
        }
      }
      const row = await h.intent(run.intent_id);
      expect(row).to.include({ status: 'running', desired_state: 'running' });
      expect(row!.remove_requested_at).to.equal(null);
      expect(await operations(run.intent_id)).to.deep.equal([]);
      await call('remove', { target: run.intent_id, force: true });
    });
  });

  describe('at the end', () => {
    it('leaves no container behind', async () => {
      // Removal follows the collection of an ended container's output by a moment.
      await eventually(() => h.containers(), {
        what: 'no container left',
        timeoutMs: 15_000,
        everyMs: 100,
        until: (cs) => cs.length === 0,
        describe: (cs) => cs.map((c) => `${c.Names[0]} ${c.State}`).join(', '),
      });
    });
  });
});
