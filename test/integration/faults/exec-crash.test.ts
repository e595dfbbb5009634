/**
 * Reconciler SIGKILLed during an exec (real Docker, real PostgreSQL). The reconciler runs as a
 * child process (`highway-docker up`); an exec it started is in flight when it dies. The next
 * reconciler with the same id finds the operation `running` and records exactly one outcome:
 * failed, saying the exec was in flight, never re-run silently; the exec's processes inside the
 * container are ended (nothing leaked), and the caller's wait ends with that error.
 */
import { expect } from 'chai';
import { HighwayError } from '../../../src/errors.js';
import type { ExecResult } from '../../../src/tools/docker-ops.js';
import { ABANDONED_EXEC_ERROR } from '../../../src/kinds/operations/decide.js';
import { eventually } from '../../support/eventually.js';
import { useCrashFixture } from '../../support/fault-fixture.js';
import { processesIn } from '../../support/docker-env.js';

describe('faults: reconciler SIGKILLed during an exec, then restarted', function () {
  this.timeout(90_000);
  const { h, up } = useCrashFixture();
  const ps = (containerId: string) => processesIn(h.docker, containerId);

  it('the exec in flight ends failed (one outcome, not re-run), its processes killed; the container runs on', async () => {
    const p = await up({ HIGHWAY_WORKER_TIMEOUT_S: '30' });
    const ctx = h.ctx();
    const run = await h.run({ detach: true, command: ['sleep', '300'] }, ctx);
    expect(run.status).to.equal('running');

    const call = h.registry.call<ExecResult>('tools.docker.exec', { target: run.intent_id, command: ['sh', '-c', 'echo in-flight >> /tmp/runs; exec sleep 181'], timeout: 300 }, ctx);
    const outcome = call.then(
      (r) => ({ ok: r as ExecResult, err: null }),
      (err: unknown) => ({ ok: null, err: err as HighwayError }),
    );
    await p.waitForEvent('exec.started', undefined, 20_000);
    await eventually(async () => /sleep 181/.test(await ps(run.container_id!)), { what: 'the exec runs in the container', timeoutMs: 10_000 });
    await p.kill();

    const op = (await h.db.pool.query(`SELECT * FROM highway.docker_operations WHERE intent_id = $1`, [run.intent_id])).rows[0];
    expect(op.status).to.equal('running');

    await h.startReconciler();
    const { ok, err } = await outcome;
    expect(ok).to.equal(null);
    expect(err).to.be.instanceOf(HighwayError);
    expect(err!.code).to.equal('exec_failed');
    expect(err!.message).to.equal(ABANDONED_EXEC_ERROR);

    const after = (await h.db.pool.query(`SELECT * FROM highway.docker_operations WHERE id = $1`, [op.id])).rows[0];
    expect(after).to.include({ status: 'failed', error_code: 'exec_failed' });
    // Exactly one outcome recorded, and the command ran once.
    const audits = await h.db.pool.query(`SELECT * FROM highway.docker_audit WHERE operation = 'container.exec' AND detail->>'operation_id' = $1`, [op.id]);
    expect(audits.rows).to.have.length(1);
    const runs = await h.docker.getContainer(run.container_id!).exec({ Cmd: ['cat', '/tmp/runs'], AttachStdout: true });
    const stream = await runs.start({ hijack: true, stdin: false });
    let text = '';
    await new Promise<void>((resolve) => {
      stream.on('data', (c: Buffer) => (text += c.toString('latin1')));
      stream.on('end', resolve);
    });
    expect(text.match(/in-flight/g)).to.have.length(1);
    // Nothing leaked: the exec's process is gone, the container itself runs on.
    const left = await ps(run.container_id!);
    expect(left).to.not.match(/sleep 181/);
    expect(left).to.match(/sleep 300/);
    expect((await h.intent(run.intent_id))!.status).to.equal('running');

    await h.registry.call('tools.docker.stop', { target: run.intent_id, time: 0 }, ctx);
    expect(await h.containerGone(run.container_id)).to.equal(true);
    await h.stopReconciler();
  });

  it('a graceful stop does not wait for an exec to its timeout; the next start ends it failed, once', async () => {
    await h.startReconciler({ execShutdownGraceMs: 300 });
    const ctx = h.ctx();
    const run = await h.run({ detach: true, command: ['sleep', '300'] }, ctx);
    const outcome = h.registry
      .call<ExecResult>('tools.docker.exec', { target: run.intent_id, command: ['sleep', '182'], timeout: 600 }, ctx)
      .then(() => null, (err: unknown) => err as HighwayError);
    await eventually(async () => /sleep 182/.test(await ps(run.container_id!)), { what: 'the exec runs in the container', timeoutMs: 10_000 });
    const stopping = Date.now();
    await h.stopReconciler();
    expect(Date.now() - stopping).to.be.below(20_000); // not the exec's 600 s
    const op = (await h.db.pool.query(`SELECT * FROM highway.docker_operations WHERE intent_id = $1`, [run.intent_id])).rows[0];
    expect(op.status).to.equal('running');

    await h.startReconciler();
    const err = await outcome;
    expect(err).to.be.instanceOf(HighwayError);
    expect(err!.code).to.equal('exec_failed');
    expect(await ps(run.container_id!)).to.not.match(/sleep 182/);
    const audits = await h.db.pool.query(`SELECT * FROM highway.docker_audit WHERE operation = 'container.exec' AND detail->>'operation_id' = $1`, [op.id]);
    expect(audits.rows).to.have.length(1);
    await h.registry.call('tools.docker.stop', { target: run.intent_id, time: 0 }, ctx);
    await h.stopReconciler();
  });
});
