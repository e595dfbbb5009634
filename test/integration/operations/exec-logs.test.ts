/**
 * Promises of exec and logs at their seams (issue 15, items 5, 6, 19, 21), on a real daemon and
 * a real PostgreSQL: an exec that times out leaves nothing running whatever user it runs as and
 * whatever it does to its environment (or its result says what is left); a follow delivers every
 * line in order (or says where it skipped) and ends when its reader is gone; a secret the output
 * cut falls into is masked whole; output held in memory is bounded by its cap, not its size.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HighwayError } from '../../../src/errors.js';
import type { ExecResult } from '../../../src/tools/docker-ops.js';
import { followLogs, type FollowChunk } from '../../../src/tools/logs-follow.js';
import { defaultPolicy } from '../../../src/params/policy.js';
import { Harness } from '../../support/harness.js';
import { ROOT, ensureBuilt, startUp } from '../../support/processes.js';
import { eventually } from '../../support/eventually.js';

const A = 'default';
const SECRET_VALUE = `tok-${randomUUID()}-END`;

describe('exec and logs at the seams (real Docker, real PostgreSQL)', function () {
  this.timeout(120_000);
  let h: Harness;
  const call = <R>(tool: string, params: Record<string, unknown>) => h.registry.call<R>(`tools.docker.${tool}`, params, h.ctx({ tenant_id: A }));
  const detached = (params: Record<string, unknown> = {}) => h.run({ detach: true, command: ['sleep', '600'], ...params }, h.ctx({ tenant_id: A }));
  /** `docker top`: every process of the container, as the host sees it (the test's own view). */
  const top = async (containerId: string): Promise<string> => {
    const t = (await h.docker.getContainer(containerId).top({ ps_args: '-o pid,uid,args' })) as { Processes: string[][] };
    return t.Processes.map((p) => p.join(' ')).join('\n');
  };

  before(async () => {
    process.env['HIGHWAY_SECRET_EXECLOGS_TEST'] = SECRET_VALUE;
    process.env['HIGHWAY_SECRET_EXECLOGS_TEST_TENANTS'] = A;
    h = await Harness.start({ policy: { ...defaultPolicy, max_output_bytes: 64 * 1024 * 1024 } });
  });
  after(async () => {
    delete process.env['HIGHWAY_SECRET_EXECLOGS_TEST'];
    delete process.env['HIGHWAY_SECRET_EXECLOGS_TEST_TENANTS'];
    await h?.stop();
  });

  describe('an exec past its timeout (item 5)', () => {
    it('as a non-root user, in a container without CAP_KILL: its processes and a child that cleared its environment are killed', async () => {
      const run = await detached(); // the defaults: cap_drop ALL, no-new-privileges
      const r = await call<ExecResult>('exec', { target: run.intent_id, user: '1000', command: ['sh', '-c', 'env -i sleep 171 & sleep 172'], timeout: 2 });
      expect(r.status).to.equal('timeout');
      const left = await top(run.container_id!);
      expect(left).to.not.match(/sleep 17[12]/);
      expect(left).to.match(/sleep 600/); // the container itself runs on
      expect(r.kill).to.deep.include({ complete: true });
      expect(r.kill!.killed).to.be.at.least(2);
      expect(r.error).to.match(/killed \d+ process\(es\) of it; none is left/);
      await call('stop', { target: run.intent_id, time: 0 });
    });

    it('a child that cleared its environment and lost its parent (reparented) is still found, by its session', async () => {
      const run = await detached();
      // The shell exits at once; its background child (no marker, parent gone) keeps the exec's output open.
      const r = await call<ExecResult>('exec', { target: run.intent_id, user: 'nobody', command: ['sh', '-c', 'env -i sleep 173 &'], timeout: 2 });
      expect(r.status).to.equal('timeout');
      expect(await top(run.container_id!)).to.not.match(/sleep 173/);
      expect(r.kill).to.deep.include({ complete: true });
      await call('stop', { target: run.intent_id, time: 0 });
    });

    it('a process without marker is found by its session as the host sees it (docker top), and killed', async () => {
      const run = await detached();
      // The exec's own process replaces its environment at once: no marker anywhere.
      const r = await call<ExecResult>('exec', { target: run.intent_id, user: '1000', command: ['env', '-i', 'sleep', '174'], timeout: 1 });
      expect(r.status).to.equal('timeout');
      expect(await top(run.container_id!)).to.not.match(/sleep 174/);
      expect(r.kill).to.deep.include({ complete: true });
      await call('stop', { target: run.intent_id, time: 0 });
    });

    it('what cannot be told apart is not claimed killed: the result says what is left', async () => {
      const run = await detached();
      // Two identical execs without markers at once: neither session can be told from the other's.
      const twin = () => call<ExecResult>('exec', { target: run.intent_id, user: '1000', command: ['env', '-i', 'sleep', '175'], timeout: 1 });
      const [a, b] = await Promise.all([twin(), twin()]);
      for (const r of [a, b]) {
        expect(r.status).to.equal('timeout');
        expect(r.kill!.complete).to.equal(false);
        expect(r.error).to.match(/NOT all could be ended: its main process still runs/);
        expect(r.error).to.not.match(/none is left/);
      }
      expect(await top(run.container_id!)).to.match(/sleep 175/); // what the results say
      await call('stop', { target: run.intent_id, time: 0 });
    });
  });

  describe('an exec whose reconciler was SIGKILLed while it ran (item 5)', () => {
    it('the next start ends its processes (non-root, environment cleared), found by its Docker exec and session', async function () {
      this.timeout(180_000);
      ensureBuilt();
      const own = await Harness.start({ withoutReconciler: true });
      const up = await startUp({ databaseUrl: own.db.url, reconcilerId: own.reconcilerId });
      try {
        const ctx = own.ctx({ tenant_id: A });
        const run = await own.run({ detach: true, command: ['sleep', '600'] }, ctx);
        const command = ['sh', '-c', 'env -i sleep 176 & exec env -i sleep 177'];
        const outcome = own.registry.call<ExecResult>('tools.docker.exec', { target: run.intent_id, user: '1000', command, timeout: 300 }, ctx).then(
          () => null,
          (err: unknown) => err as HighwayError,
        );
        await up.waitForEvent('exec.started', undefined, 20_000);
        await eventually(async () => /sleep 177/.test(await top(run.container_id!)), { what: 'the exec runs in the container', timeoutMs: 10_000, everyMs: 100 });
        await up.kill();
        await own.startReconciler();
        const err = await outcome;
        expect(err?.code).to.equal('exec_failed');
        expect(err?.message).to.match(/in flight/);
        const left = await top(run.container_id!);
        expect(left).to.not.match(/sleep 17[67]/);
        expect(left).to.match(/sleep 600/);
        await own.registry.call('tools.docker.stop', { target: run.intent_id, time: 0 }, ctx);
      } finally {
        await up.kill();
        await own.stop();
      }
    });
  });

  describe('a secret the output cut falls into (item 19)', () => {
    it('exec: masked whole before the cut, so no tail of it is kept', async () => {
      const run = await detached({ environment: { TOKEN: { secret: 'execlogs_test' } } });
      // The output ends with the secret then "!": the last 10 bytes fall inside the secret.
      const r = await call<ExecResult>('exec', { target: run.intent_id, command: ['sh', '-c', 'printf "%s%s!" "$(seq -s "" 1 20)" "$TOKEN"'], max_output_bytes: 10 });
      expect(r.logs_truncated).to.equal(true);
      expect(r.stdout).to.equal('181920***!');
      expect(r.stdout).to.not.include(SECRET_VALUE.slice(-6));
      await call('stop', { target: run.intent_id, time: 0 });
    });

    it("a run's collected output: masked whole before the cut", async () => {
      const r = await h.run({ command: ['sh', '-c', 'echo starting-the-job; printf "%s!" "$TOKEN"'], environment: { TOKEN: { secret: 'execlogs_test' } }, max_output_bytes: 12 }, h.ctx({ tenant_id: A }));
      expect(r.logs_truncated).to.equal(true);
      expect(r.stdout).to.not.include(SECRET_VALUE.slice(-6));
      expect(r.stdout).to.equal('the-job\n***!');
    });
  });

  describe('logs --follow (item 6)', () => {
    it('a container writing far more than max_bytes between two polls: every line, in order, none twice', async () => {
      const N = 60_000;
      // ~3 MB at once (each line 50 bytes), then a pause, then one more line.
      const run = await detached({ command: ['sh', '-c', `sleep 1; seq 1 ${N} | sed 's/$/ abcdefghijklmnopqrstuvwxyz0123456789abcdefghij/'; sleep 2; echo last`] });
      const chunks: FollowChunk[] = [];
      await followLogs(h.tools.operations, { target: run.intent_id }, { tenant_id: A }, (c) => chunks.push(c), { intervalMs: 1000 });
      expect(chunks.filter((c) => c.gap)).to.deep.equal([]);
      const lines = chunks.filter((c) => c.stream === 'stdout').map((c) => c.text!).join('').split('\n');
      expect(lines.at(-1)).to.equal('');
      expect(lines.length - 1).to.equal(N + 1);
      for (let i = 0; i < N; i++) if (!lines[i]!.startsWith(`${i + 1} `)) expect.fail(`line ${i + 1} is "${lines[i]}"`);
      expect(lines[N]).to.equal('last');
    });

    it('`logs -f | head -1` ends once its reader is gone', async function () {
      this.timeout(180_000);
      ensureBuilt();
      const run = await detached({ command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done'] });
      const bin = path.join(ROOT, 'bin', 'highway-docker.js');
      const child = spawn('sh', ['-c', `"${process.execPath}" "${bin}" logs -f ${run.intent_id} | head -1`], {
        env: { ...process.env, DATABASE_URL: h.db.url, HIGHWAY_LOG_LEVEL: 'error' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      const code = await new Promise<number | null>((resolve) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          resolve(-1);
        }, 30_000);
        child.on('exit', (c) => {
          clearTimeout(t);
          resolve(c);
        });
      });
      expect(code, 'the pipeline ended').to.equal(0);
      expect(stdout).to.equal('tick 1\n');
      await call('stop', { target: run.intent_id, time: 0 });
    });
  });

  describe('memory bounded by the caps, not by the output (item 21)', () => {
    it('an exec output past 64 KiB (written to its row as bytes): every escape and multi-byte character as written', async () => {
      const run = await detached({});
      // 6000 lines with a quote, a backslash, a tab, a control character and multi-byte text: ~330 KB.
      const r = await call<ExecResult>('exec', {
        target: run.intent_id,
        command: ['sh', '-c', 'i=0; while [ $i -lt 6000 ]; do printf "line %d \\"q\\" \\\\\\\\ \\t \\001 h\\303\\251 \\342\\202\\254 end\\n" $i; i=$((i+1)); done; printf "err \\"e\\"\\n" >&2'],
      });
      const want = Array.from({ length: 6000 }, (_, i) => `line ${i} "q" \\ \t \u0001 h\u00e9 \u20ac end\n`).join('');
      expect(r.status).to.equal('exited');
      expect(r.logs_truncated).to.equal(false);
      expect(r.stdout.length).to.equal(want.length);
      expect(r.stdout).to.equal(want);
      expect(r.stderr).to.equal('err "e"\n');
      await call('stop', { target: run.intent_id, time: 0 });
    });

    it('execs of 200 MB with a 64 MiB cap: the reconciler (an `up` process) holds a few times the cap, not the output', async function () {
      this.timeout(600_000);
      ensureBuilt();
      // The reconciler alone, in its own process: its peak resident memory (VmHWM) is what is measured.
      const own = await Harness.start({ withoutReconciler: true });
      const up = await startUp({ databaseUrl: own.db.url, reconcilerId: own.reconcilerId, env: { HIGHWAY_LOG_LEVEL: 'info' } });
      const kib = async (field: 'VmRSS' | 'VmHWM') => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${up.pid}/status`, 'utf8'))![1]) / 1024;
      try {
        const run = await own.run({ detach: true, command: ['sleep', '600'] }, own.ctx({ tenant_id: A }));
        const exec = () =>
          own.registry.call<ExecResult>(
            'tools.docker.exec',
            { target: run.intent_id, command: ['sh', '-c', 'head -c 200000000 /dev/zero | tr "\\000" a'], max_output_bytes: '64m', timeout: 240 },
            own.ctx({ tenant_id: A }),
          );
        const resetPeak = () => writeFile(`/proc/${up.pid}/clear_refs`, '5'); // VmHWM := VmRSS
        const before = await kib('VmRSS'); // idle, with one running container
        await resetPeak();
        const one = await exec();
        expect(one.status).to.equal('exited');
        expect(one.logs_truncated).to.equal(true);
        expect(one.stdout.length).to.equal(64 * 1024 * 1024);
        const peakOne = (await kib('VmHWM')) - before;
        await resetPeak(); // (the four are measured from the same idle baseline)
        const four = await Promise.all([exec(), exec(), exec(), exec()]);
        expect(four.map((r) => r.stdout.length)).to.deep.equal(Array(4).fill(64 * 1024 * 1024));
        const peakFour = (await kib('VmHWM')) - before;
        console.log(`      reconciler rss ${before.toFixed(0)} MiB idle; peak +${peakOne.toFixed(0)} MiB for one exec, +${peakFour.toFixed(0)} MiB for four at once (200 MB each, 64 MiB cap)`);
        // Streaming holds the cap per stream (one ring buffer); at its end the kept tail is decoded to text
        // once, written as jsonb bytes once, and copied into the database message: a few times the cap,
        // never the output. Measured here: one +233 MiB, four +681 MiB (before the ring and the jsonb
        // bytes: one +374, four +1057; before that: one +674, four +1627). Generous bounds (8 x the cap each).
        expect(peakOne).to.be.below(8 * 64);
        expect(peakFour).to.be.below(4 * 8 * 64);
        await own.registry.call('tools.docker.stop', { target: run.intent_id, time: 0 }, own.ctx({ tenant_id: A }));
      } finally {
        await up.kill();
        await own.stop();
      }
    });

    it("the caps are bounded by the operator's policy: an exec's max_output_bytes and a logs read's max_bytes", async () => {
      const run = await detached();
      const strict = await Harness.start({ policy: { ...defaultPolicy, max_output_bytes: 1024 * 1024 } });
      try {
        for (const [tool, params, field] of [
          ['exec', { target: run.intent_id, command: ['true'], max_output_bytes: '2m' }, 'max_output_bytes'],
          ['logs', { target: run.intent_id, max_bytes: '2m' }, 'max_bytes'],
        ] as const) {
          const err = await strict.registry.call(`tools.docker.${tool}`, params, strict.ctx({ tenant_id: A })).then(
            () => null,
            (e: unknown) => e,
          );
          expect(err, tool).to.be.instanceOf(HighwayError);
          expect((err as HighwayError).message, tool).to.match(/exceeds the maximum of 1048576/);
          expect((err as { field?: string }).field, tool).to.equal(field);
        }
      } finally {
        await strict.stop();
      }
      await call('stop', { target: run.intent_id, time: 0 });
    });
  });
});
