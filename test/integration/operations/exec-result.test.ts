/**
 * tools.docker.exec's `result_path` (docs/steps.md) on a real daemon and a real PostgreSQL: a
 * file the exec writes, read back after it ends and returned as `result` (typed JSON, or text),
 * or `result_error` with the run's codes, never hiding the exit code and output; bad paths are
 * refused naming the field before anything runs; `exec --result` prints it. Durability: an exec
 * that ends while no reconciler runs, and one whose end was recorded but whose file was not read
 * yet when its reconciler died, are both collected by the next reconciler.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { HighwayError } from '../../../src/errors.js';
import { defaultPolicy } from '../../../src/params/policy.js';
import type { ExecResult } from '../../../src/tools/docker-ops.js';
import { Harness } from '../../support/harness.js';
import { eventually } from '../../support/eventually.js';
import { highwayRejection } from '../../support/assertions.js';
import { removeByLabel } from '../../support/docker-env.js';
import { ensureBuilt, runCli, startUp, type CliProcess } from '../../support/processes.js';

const A = 'default';

/** Polls through the one polling helper (a probe's falsy answer: keep asking). */
const until = <T>(probe: () => Promise<T | null | undefined | false>, timeoutMs: number, what: string) => eventually(probe, { what, timeoutMs, everyMs: 100 });
const rejection = highwayRejection;

describe('exec result_path (real Docker, real PostgreSQL)', function () {
  this.timeout(120_000);
  let h: Harness;
  const call = <R>(tool: string, params: Record<string, unknown>) => h.registry.call<R>(`tools.docker.${tool}`, params, h.ctx({ tenant_id: A }));
  const exec = (params: Record<string, unknown>) => call<ExecResult>('exec', params);
  let target: { intent_id: string; container_id: string | null; short_id: string | null };

  before(async function () {
    this.timeout(180_000);
    ensureBuilt();
    h = await Harness.start({ policy: { ...defaultPolicy, max_result_bytes: 1024 * 1024 } });
    target = await h.run({ detach: true, command: ['sleep', '600'] }, h.ctx({ tenant_id: A }));
  });
  after(async () => {
    if (h) await removeByLabel(h.docker, h.label).catch(() => {});
    await h?.stop();
  });

  it('returns the JSON the exec wrote, typed, with its exit code and output; the row keeps it', async () => {
    const r = await exec({
      target: target.intent_id,
      command: ['sh', '-c', 'mkdir -p /tmp/o; echo \'{"n": 3, "ok": true, "list": [1, "a"], "none": null}\' > /tmp/o/r.json; echo wrote; echo e >&2'],
      result_path: '/tmp/o/r.json',
    });
    expect(r.status).to.equal('exited');
    expect(r.exit_code).to.equal(0);
    expect(r.stdout).to.equal('wrote\n');
    expect(r.stderr).to.equal('e\n');
    expect(r.result).to.deep.equal({ n: 3, ok: true, list: [1, 'a'], none: null });
    expect(r.result_error).to.equal(null);
    expect(r.error_code).to.equal(null);
    const row = (await h.db.pool.query(`SELECT status, result FROM highway.docker_operations WHERE id = $1`, [r.operation_id])).rows[0];
    expect(row.status).to.equal('done');
    expect(row.result.result).to.deep.equal({ n: 3, ok: true, list: [1, 'a'], none: null });
  });

  it('returns text with result_format "text"', async () => {
    const r = await exec({ target: target.intent_id, command: ['sh', '-c', 'printf "line 1\\nline 2\\n" > /tmp/t.txt'], result_path: '/tmp/t.txt', result_format: 'text' });
    expect(r.result).to.equal('line 1\nline 2\n');
    expect(r.result_error).to.equal(null);
  });

  it('a missing, too large or invalid file is result_error with its code; the exit code and output are kept', async () => {
    const missing = await exec({ target: target.intent_id, command: ['sh', '-c', 'echo no file; exit 4'], result_path: '/tmp/never-written.json' });
    expect(missing).to.include({ status: 'exited', exit_code: 4, stdout: 'no file\n', result: null, error_code: 'nonzero_exit' });
    expect(missing.result_error?.code).to.equal('missing');
    expect(missing.result_error?.message).to.contain('/tmp/never-written.json');

    const large = await exec({ target: target.intent_id, command: ['sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" x > /tmp/big.txt; echo big'], result_path: '/tmp/big.txt', result_format: 'text', max_result_bytes: 100 });
    expect(large).to.include({ exit_code: 0, stdout: 'big\n', result: null });
    expect(large.result_error?.code).to.equal('too_large');
    expect(large.result_error?.message).to.match(/5000 bytes, more than max_result_bytes \(100\)/);

    const invalid = await exec({ target: target.intent_id, command: ['sh', '-c', 'echo "{not json" > /tmp/bad.json; echo bad'], result_path: '/tmp/bad.json' });
    expect(invalid).to.include({ exit_code: 0, stdout: 'bad\n', result: null });
    expect(invalid.result_error?.code).to.equal('invalid_json');

    const dir = await exec({ target: target.intent_id, command: ['sh', '-c', 'mkdir -p /tmp/adir'], result_path: '/tmp/adir' });
    expect(dir.result_error?.code).to.equal('not_a_file');
  });

  it('refuses a bad result_path (relative, "..", under /proc) and result settings without it, naming the field; nothing is executed', async () => {
    const marker = `/tmp/ran-${randomUUID()}`;
    const command = ['touch', marker];
    const before = (await h.db.pool.query(`SELECT count(*)::int AS n FROM highway.docker_operations WHERE intent_id = $1`, [target.intent_id])).rows[0].n;
    for (const [params, field] of [
      [{ result_path: 'out.json' }, 'result_path'],
      [{ result_path: '/tmp/../etc/passwd' }, 'result_path'],
      [{ result_path: '/proc/self/status' }, 'result_path'],
      [{ result_format: 'text' }, 'result_format'],
      [{ max_result_bytes: 10 }, 'max_result_bytes'],
      [{ result_path: '/tmp/r', result_format: 'yaml' }, 'result_format'],
    ] as const) {
      const err = await rejection(exec({ target: target.intent_id, command, ...params }));
      expect(err.code, JSON.stringify(params)).to.equal('invalid_params');
      expect(err.message, JSON.stringify(params)).to.match(new RegExp(`^${field}`));
    }
    // Over the policy's ceiling (1 MiB in this harness): denied by policy, naming the field.
    const denied = await rejection(exec({ target: target.intent_id, command, result_path: '/tmp/r', max_result_bytes: '2m' }));
    expect(denied.code).to.equal('policy_denied');
    expect(denied.message).to.match(/^max_result_bytes/);
    const after = (await h.db.pool.query(`SELECT count(*)::int AS n FROM highway.docker_operations WHERE intent_id = $1`, [target.intent_id])).rows[0].n;
    expect(after).to.equal(before);
    const check = await exec({ target: target.intent_id, command: ['sh', '-c', `test -e ${marker} && echo ran || echo not-ran`] });
    expect(check.stdout).to.equal('not-ran\n');
  });

  it('every exec result carries a stable error_code: null on exit 0, nonzero_exit, timeout', async () => {
    expect((await exec({ target: target.intent_id, command: ['true'] })).error_code).to.equal(null);
    const failed = await exec({ target: target.intent_id, command: ['sh', '-c', 'exit 7'] });
    expect(failed).to.include({ status: 'exited', exit_code: 7, error_code: 'nonzero_exit' });
    const slow = await exec({ target: target.intent_id, command: ['sleep', '30'], timeout: 1, result_path: '/tmp/never.json' });
    expect(slow).to.include({ status: 'timeout', exit_code: null, error_code: 'timeout' });
    expect(slow.result_error?.code).to.equal('missing'); // read all the same, as a run's after its timeout
  });

  it('highway-docker exec --result PATH: stdout is the result as JSON, the command output on stderr; exit 0 without a result is 125', async () => {
    const env = { DATABASE_URL: h.db.url };
    const ok = await runCli(['exec', '--result', '/tmp/cli.json', target.short_id!, 'sh', '-c', 'echo \'{"from": "cli"}\' > /tmp/cli.json; echo said'], env);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(JSON.parse(ok.stdout)).to.deep.equal({ from: 'cli' });
    expect(ok.stderr).to.contain('said\n');
    const none = await runCli(['exec', '--result', '/tmp/cli-none.json', target.intent_id, 'true'], env);
    expect(none.code).to.equal(125);
    expect(JSON.parse(none.stdout)).to.equal(null);
    expect(none.stderr).to.match(/result: missing: result_path "\/tmp\/cli-none.json"/);
    const json = await runCli(['exec', '--json', '--result', '/tmp/cli.json', target.intent_id, 'sh', '-c', 'exit 2'], env);
    expect(json.code).to.equal(2);
    expect(JSON.parse(json.stdout)).to.deep.include({ exit_code: 2, error_code: 'nonzero_exit', result: { from: 'cli' }, result_error: null });
    const bad = await runCli(['exec', '--json', '--result', 'relative.json', target.intent_id, 'true'], env);
    expect(bad.code).to.equal(125);
    expect(bad.stdout + bad.stderr).to.match(/result_path/);
  });
});

describe('exec result_path: the reconciler SIGKILLed after the exec ended, before its result was collected', function () {
  this.timeout(120_000);
  let h: Harness;
  const children: CliProcess[] = [];

  before(async function () {
    this.timeout(180_000);
    ensureBuilt();
    h = await Harness.start({ withoutReconciler: true });
  });
  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill();
    await h.stopReconciler();
  });
  after(async () => {
    if (h) await removeByLabel(h.docker, h.label).catch(() => {});
    await h?.stop();
  });

  const opRow = async (id: string) => (await h.db.pool.query(`SELECT * FROM highway.docker_operations WHERE id = $1`, [id])).rows[0];
  const execRowOf = async (intentId: string) =>
    (await h.db.pool.query(`SELECT * FROM highway.docker_operations WHERE intent_id = $1 AND kind = 'exec' ORDER BY created_at DESC LIMIT 1`, [intentId])).rows[0];

  it('an exec that ended while no reconciler ran: the next one reads its result; its exit code and output are said unknown', async function () {
    const p = await startUp({ databaseUrl: h.db.url, reconcilerId: h.reconcilerId, env: { HIGHWAY_WORKER_TIMEOUT_S: '30' } });
    children.push(p);
    const ctx = h.ctx();
    const run = await h.run({ detach: true, command: ['sleep', '300'] }, ctx);
    // The container's own processes, by PID: the exec has ended when only they are left, once its
    // own were seen. (The check used to look once for the exec's command line, which could run
    // before Docker had the exec's processes up: it then passed while the exec still ran, and the
    // next reconciler rightly found and ended its two processes.)
    const pids = async () =>
      ((await h.docker.getContainer(run.container_id!).top({ ps_args: '-o pid' })) as { Processes: string[][] }).Processes.map((p) => p[0]).sort().join(' ');
    const own = await pids();
    const call = h.registry
      .call<ExecResult>('tools.docker.exec', { target: run.intent_id, command: ['sh', '-c', 'echo seen-by-the-first; sleep 2; echo \'{"answer": 42}\' > /tmp/r.json; exit 3'], result_path: '/tmp/r.json' }, ctx)
      .then((r) => ({ r, err: null }), (err: unknown) => ({ r: null, err }));
    await p.waitForEvent('exec.started', undefined, 20_000);
    const op = await until(async () => (await execRowOf(run.intent_id))?.progress?.exec_id && execRowOf(run.intent_id), 10_000, 'the exec id recorded');
    await p.kill();
    // The exec runs on and ends while no reconciler runs (Docker's exec inspect cannot tell: the container's processes do).
    // Seen running first: the exec's start is logged before Docker has its processes up.
    await until(async () => (await pids()) !== own, 10_000, 'the exec\'s processes seen');
    await until(async () => (await pids()) === own, 20_000, 'the exec ended (only the container\'s own processes left)');
    expect((await opRow(op.id)).status).to.equal('running');

    await h.startReconciler();
    const { r, err } = await call;
    expect(err, `${String(err)} ${JSON.stringify(h.log.lines.filter((l) => String(l['event'] ?? '').startsWith('exec.')))}`).to.equal(null);
    expect(r!.result).to.deep.equal({ answer: 42 });
    expect(r!.result_error).to.equal(null);
    expect(r!.exit_code).to.equal(null); // unknown: its reader died
    expect(r!.error_code).to.equal('output_unavailable');
    expect(r!.error).to.match(/ended meanwhile: its result file was read, its exit code and output are unknown/);
    const after = await opRow(op.id);
    expect(after.status).to.equal('done');
    expect(after.result.result).to.deep.equal({ answer: 42 });
    // One outcome, one host audit row.
    const audits = await h.db.pool.query(`SELECT * FROM highway.docker_audit WHERE operation = 'container.exec' AND detail->>'operation_id' = $1`, [op.id]);
    expect(audits.rows).to.have.length(1);
  });

  it('an exec still running when the next reconciler starts: its processes are ended and it is recorded failed, never read as ended', async () => {
    const p = await startUp({ databaseUrl: h.db.url, reconcilerId: h.reconcilerId, env: { HIGHWAY_WORKER_TIMEOUT_S: '30' } });
    children.push(p);
    const ctx = h.ctx();
    const run = await h.run({ detach: true, command: ['sleep', '300'] }, ctx);
    const call = h.registry
      .call<ExecResult>('tools.docker.exec', { target: run.intent_id, command: ['sh', '-c', 'echo \'{"early": 1}\' > /tmp/e.json; exec sleep 191'], result_path: '/tmp/e.json' }, ctx)
      .then((r) => ({ r, err: null }), (err: unknown) => ({ r: null, err: err as HighwayError }));
    await until(async () => (await execRowOf(run.intent_id))?.progress?.exec_id, 20_000, 'the exec id recorded');
    await p.kill();
    await h.startReconciler();
    const { r, err } = await call;
    expect(r).to.equal(null);
    expect(err!.code).to.equal('exec_failed');
    const top = ((await h.docker.getContainer(run.container_id!).top({ ps_args: '-o pid,args' })) as { Processes: string[][] }).Processes.flat().join('\n');
    expect(top).to.not.match(/sleep 191/);
  });

  it("an exec whose end was recorded (progress) but whose file was not read: the next one reads it, with the recorded exit code and output", async () => {
    // The reconciler ran the exec and recorded its end, then died before reading the file: the row as it left it.
    await h.startReconciler();
    const ctx = h.ctx();
    const run = await h.run({ detach: true, command: ['sh', '-c', 'mkdir -p /tmp/o; echo \'{"collected": "later"}\' > /tmp/o/r.json; exec sleep 300'] }, ctx);
    await until(async () => (await h.intent(run.intent_id))?.status === 'running' && run.container_id, 10_000, 'running');
    await h.stopReconciler();
    const id = randomUUID();
    const ended = { status: 'done', result: { status: 'exited', exit_code: 0, stdout: 'recorded output\n', stderr: '', duration_ms: 12, logs_truncated: false }, error_code: null };
    await h.db.pool.query(
      `INSERT INTO highway.docker_operations (id, tenant_id, kind, intent_id, reconciler_id, actor, params, status, started_at, progress)
       VALUES ($1, $2, 'exec', $3, $4, 'test', $5, 'running', now(), $6)`,
      [
        id,
        ctx.tenant_id,
        run.intent_id,
        h.reconcilerId,
        JSON.stringify({ target: run.intent_id, command: ['true'], result_path: '/tmp/o/r.json' }),
        JSON.stringify({ exec_id: 'unused-its-end-is-recorded', ended }),
      ],
    );
    await h.startReconciler();
    const row = await until(async () => {
      const r = await opRow(id);
      return r.status !== 'running' && r;
    }, 20_000, 'the operation finished');
    expect(row.status).to.equal('done');
    expect(row.error_code).to.equal(null);
    expect(row.result).to.deep.include({ exit_code: 0, stdout: 'recorded output\n', result: { collected: 'later' }, result_error: null });
  });
});
