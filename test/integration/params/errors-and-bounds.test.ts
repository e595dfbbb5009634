/**
 * Issue 16, items 6 and 7: no value hangs a run, and a failed start says which container it was.
 * - A start Docker refuses keeps the container's id on the row and in the result; the container
 *   stays when auto_remove is false, and goes (its id still recorded) when it is true.
 * - A failure that looks transient (the daemon answering 503 to every create) is retried, but
 *   the intent ends `failed` with the last error once its own timeout has passed.
 * - A row written past the tool with a value Docker cannot decode (stop_grace_period 1e30) ends
 *   `failed` at once, instead of `pending` for ever.
 */
import { expect } from 'chai';
import Docker from 'dockerode';
import { randomUUID } from 'node:crypto';
import { createDockerClient } from '../../../src/docker/client.js';
import type { DockerRunResult } from '../../../src/tools/docker-run.js';
import { TEST_IMAGE, type Harness } from '../../support/harness.js';
import { startHarness } from './helpers.js';
import { useHarness } from '../../support/fixture.js';

describe('params: a failed start keeps its container id; transient failures are bounded', function () {
  this.timeout(120_000);
  const h = useHarness();

  it('a start Docker refuses, with auto_remove false: failed, the container id in the result and the row, the container kept', async () => {
    const ctx = h.ctx();
    const result = await h.run({ command: ['/nonexistent'], init: false, auto_remove: false, pull_policy: 'never' }, ctx);
    expect(result.status).to.equal('failed');
    expect(result.container_id).to.match(/^[0-9a-f]{64}$/);
    expect(result.short_id).to.equal(result.container_id!.slice(0, 12));
    expect(result.error).to.match(/^start failed: .*\/nonexistent/);
    const row = await h.intentOfActivity(ctx.activity_id);
    expect(row?.container_id).to.equal(result.container_id);
    expect(row?.removed_at).to.equal(null);
    // Kept, for the caller to look at: still there after a few more passes.
    await new Promise((r) => setTimeout(r, 1_500));
    const info = await h.docker.getContainer(result.container_id!).inspect();
    expect(info.State.Status).to.equal('created');
    expect(info.State.Error).to.contain('/nonexistent');
    await h.docker.getContainer(result.container_id!).remove({ force: true });
  });

  it('a start Docker refuses, with auto_remove true: failed with what Docker said, the container removed, its id still recorded', async () => {
    const ctx = h.ctx();
    const result = await h.run({ command: ['/nonexistent'], init: false, pull_policy: 'never' }, ctx);
    expect(result.status).to.equal('failed');
    expect(result.container_id).to.match(/^[0-9a-f]{64}$/);
    expect(result.error).to.match(/^start failed: .*no such file or directory/);
    const row = await h.waitFor(ctx.activity_id, (r) => r.removed_at !== null);
    expect(row.container_id).to.equal(result.container_id);
    expect(row.error).to.equal(result.error);
    expect(await h.containerGone(result.container_id)).to.equal(true);
  });

  it('a cpu_limit above what the host has: failed at the reconciler, the error naming cpu_limit and what Docker said; no container', async () => {
    const ctx = h.ctx();
    const result = await h.run({ command: ['true'], cpu_limit: 1000, pull_policy: 'never' }, ctx);
    expect(result.status).to.equal('failed');
    expect(result.error).to.match(/^cpu_limit: 1000 CPUs is more than this Docker host has \(create failed: Range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available\); ask for fewer/);
    expect(result.container_id).to.equal(null);
    expect(await h.containers()).to.deep.equal([]);
  });

  it('a row written past the tool with stop_grace_period 1e30 ends failed at once, saying why (never pending for ever)', async () => {
    const ctx = h.ctx();
    const id = randomUUID();
    await h.db.pool.query(`INSERT INTO highway.workflow_runs (id, tenant_id) VALUES ($1, $2)`, [ctx.workflow_run_id, ctx.tenant_id]);
    await h.db.pool.query(`INSERT INTO highway.activities (id, workflow_run_id) VALUES ($1, $2)`, [ctx.activity_id, ctx.workflow_run_id]);
    const spec = { image: TEST_IMAGE, command: ['true'], pull_policy: 'never', stop_grace_period: 1e30 };
    await h.db.pool.query(
      `INSERT INTO highway.docker_containers (id, activity_id, workflow_run_id, tenant_id, image, spec) VALUES ($1, $2, $3, $4, $5, $6)`,
      [id, ctx.activity_id, ctx.workflow_run_id, ctx.tenant_id, TEST_IMAGE, JSON.stringify(spec)],
    );
    const row = await h.waitFor(ctx.activity_id, (r) => r.status !== 'pending' && r.status !== 'pulling', 30_000);
    expect(row.status).to.equal('failed');
    expect(row.error).to.match(/stop_grace_period/);
  });
});

describe('params: a daemon that keeps failing does not keep an intent pending past its timeout', function () {
  this.timeout(120_000);
  let h: Harness;

  before(async () => {
    h = await startHarness({ withoutReconciler: true });
    // The real daemon, except that every create answers 503 (the daemon unavailable): a
    // failure that looks transient and never ends.
    const real = h.docker;
    const failing = Object.create(real) as Docker;
    (failing as unknown as { createContainer: () => Promise<never> }).createContainer = () =>
      Promise.reject(Object.assign(new Error('(HTTP code 503) unavailable - the daemon is busy'), { statusCode: 503, json: { message: 'the daemon is busy' } }));
    await h.startReconciler({ docker: createDockerClient({ logger: h.log.logger, docker: failing, retries: 1 }) });
  });
  after(async () => {
    await h?.stop();
  });

  it('ends failed with the last error once its timeout (2 s) has passed, and the caller gets it', async () => {
    const started = Date.now();
    const result: DockerRunResult = await h.run({ command: ['true'], timeout: 2, pull_policy: 'never' });
    const elapsed = Date.now() - started;
    expect(result.status).to.equal('failed');
    expect(result.error).to.match(/^could not be started within 2 s \(its timeout\); last error: Docker daemon failed create \(HTTP 503\): the daemon is busy$/);
    expect(result.container_id).to.equal(null);
    // Retried meanwhile (several passes), and ended within the timeout plus one backoff (30 s at most).
    expect(h.log.events('reconcile.error', result.intent_id).length).to.be.at.least(1);
    expect(elapsed).to.be.below(2_000 + 30_000 + 10_000);
    const row = await h.intent(result.intent_id);
    expect(row?.status).to.equal('failed');
    expect(row?.error).to.equal(result.error);
  });
});

describe('params: a daemon that answers 500 to every logs read does not keep a finished intent from ending', function () {
  this.timeout(120_000);
  let h: Harness;

  before(async () => {
    h = await startHarness({ withoutReconciler: true });
    const real = h.docker;
    const failing = Object.create(real) as Docker;
    (failing as unknown as { getContainer: (id: string) => Docker.Container }).getContainer = (id: string) => {
      const container = real.getContainer(id);
      container.logs = (() =>
        Promise.reject(Object.assign(new Error('(HTTP code 500) server error - failed to read the log file'), { statusCode: 500, json: { message: 'failed to read the log file' } }))) as never;
      return container;
    };
    await h.startReconciler({ docker: createDockerClient({ logger: h.log.logger, docker: failing, retries: 1 }) });
  });
  after(async () => {
    await h?.stop();
  });

  it('ends with its exit code, the output said to be unavailable with what Docker said, and the container removed', async () => {
    const result = await h.run({ command: ['sh', '-c', 'echo hi; exit 4'], pull_policy: 'never' });
    expect(result.status).to.equal('failed');
    expect(result.exit_code).to.equal(4);
    expect(result.error).to.equal('exited with code 4; output unavailable: failed to read the log file');
    expect(result.logs_truncated).to.equal(true);
    expect(await h.containerGone(result.container_id)).to.equal(true);
  });
});
