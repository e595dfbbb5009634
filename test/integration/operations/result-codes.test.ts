/**
 * Every result type exported from src/index.ts that can describe a failure carries a stable
 * `error_code` (docs/library.md, "error_code"); the others throw a HighwayError whose `code` is
 * one of the same codes. Real Docker, real PostgreSQL.
 */
import { expect } from 'chai';
import { HighwayError } from '../../../src/errors.js';
import type { DockerPullResult, DockerRunResult, ExecResult, RemoveResult } from '../../../src/index.js';
import { Harness } from '../../support/harness.js';
import { removeByLabel } from '../../support/docker-env.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(HighwayError);
    return (err as HighwayError).code;
  }
  throw new Error('expected the call to fail');
}

describe('result types: a failure carries its error_code (real Docker, real PostgreSQL)', function () {
  this.timeout(120_000);
  let h: Harness;
  const call = <R>(tool: string, params: Record<string, unknown>) => h.registry.call<R>(`tools.docker.${tool}`, params, h.ctx());

  before(async function () {
    this.timeout(180_000);
    h = await Harness.start();
  });
  after(async () => {
    if (h) await removeByLabel(h.docker, h.label).catch(() => {});
    await h?.stop();
  });

  it('DockerRunResult (run, wait, stop) and RemoveResult: nonzero_exit', async () => {
    const run = await h.run({ command: ['sh', '-c', 'exit 3'], auto_remove: false });
    expect(run).to.include({ status: 'failed', exit_code: 3, error_code: 'nonzero_exit' });
    expect((await call<DockerRunResult>('wait', { target: run.intent_id })).error_code).to.equal('nonzero_exit');
    expect((await call<DockerRunResult>('stop', { target: run.intent_id })).error_code).to.equal('nonzero_exit');
    const removed = await call<RemoveResult>('remove', { target: run.intent_id });
    expect(removed.error_code).to.equal('nonzero_exit');
    expect(removed.removed_at).to.be.a('string');
  });

  it('DockerRunResult: timeout', async () => {
    const run = await h.run({ command: ['sleep', '60'], timeout: 1, stop_grace_period: 0 });
    expect(run).to.include({ status: 'timeout', error_code: 'timeout' });
  });

  it('ExecResult: nonzero_exit, timeout; null on exit 0', async () => {
    const run = await h.run({ detach: true, command: ['sleep', '300'] });
    expect((await call<ExecResult>('exec', { target: run.intent_id, command: ['true'] })).error_code).to.equal(null);
    expect((await call<ExecResult>('exec', { target: run.intent_id, command: ['false'] })).error_code).to.equal('nonzero_exit');
    expect((await call<ExecResult>('exec', { target: run.intent_id, command: ['sleep', '30'], timeout: 1 })).error_code).to.equal('timeout');
    await call('stop', { target: run.intent_id, time: 0 });
  });

  it('HostPullResult: pull_failed for a registry that does not answer', async () => {
    const r = await call<DockerPullResult>('pull', { image: '127.0.0.1:1/highway-result-codes/none:1', timeout: 60 });
    expect(r.results).to.have.length.greaterThan(0);
    for (const host of r.results) expect(host.error_code, JSON.stringify(host)).to.be.oneOf(['pull_failed', 'image_not_found']);
  });

  it('cp, logs, inspect only describe a success: a failure is thrown with its code', async () => {
    const run = await h.run({ detach: true, command: ['sleep', '300'] });
    expect(await codeOf(call('cp', { target: run.intent_id, path: '/no/such/file' }))).to.equal('not_found');
    expect(await codeOf(call('logs', { target: '00000000-0000-4000-8000-000000000000' }))).to.equal('not_found');
    expect(await codeOf(call('inspect', { target: '00000000-0000-4000-8000-000000000000' }))).to.equal('not_found');
    expect(await codeOf(call('exec', { target: run.intent_id, command: ['true'], result_path: 'relative' }))).to.equal('invalid_params');
    await call('stop', { target: run.intent_id, time: 0 });
    expect(await codeOf(call('exec', { target: run.intent_id, command: ['true'] }))).to.equal('not_running');
  });
});
