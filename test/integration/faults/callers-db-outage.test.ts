/**
 * Callers that start or call while their PostgreSQL is down (real Docker, a PostgreSQL server of
 * this test's own, a reconciler in this process): a `highway-docker run` started while the
 * server is down runs once it is back, or exits 125 (`database_unavailable`) within its retry
 * deadline when it never comes back; stop, wait and inspect called during a short outage succeed.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import { createDockerClient } from '../../../src/docker/client.js';
import { createPool, type Pool } from '../../../src/db/pool.js';
import { CALLER_DB_RETRY_MS } from '../../../src/db/retry.js';
import { Reconciler } from '../../../src/reconciler.js';
import { ToolRegistry } from '../../../src/tools/registry.js';
import { registerDockerTools } from '../../../src/tools/docker-tools.js';
import type { DockerRunResult } from '../../../src/tools/docker-run.js';
import { LABELS } from '../../../src/model.js';
import { LogCapture, TEST_IMAGE } from '../../support/harness.js';
import { connectDocker, removeByLabel } from '../../support/docker-env.js';
import { ensureTestImage } from '../../support/test-image.js';
import { startOwnPostgres, type OwnPostgres } from '../../support/postgres.js';
import { ensureBuilt, parseRunResult, startRunWorker, type CliProcess } from '../../support/processes.js';
import { sleep } from './common.js';

describe('faults: callers while PostgreSQL is down at their start (own server)', function () {
  this.timeout(180_000);
  let pgServer: OwnPostgres;
  let pool: Pool;
  let docker: Docker;
  let reconciler: Reconciler;
  const log = new LogCapture();
  const reconcilerId = `test-db-outage-${randomUUID()}`;
  const label = `${LABELS.reconcilerId}=${reconcilerId}`;
  const children: CliProcess[] = [];

  before(async function () {
    this.timeout(180_000);
    ensureBuilt();
    docker = await connectDocker();
    await ensureTestImage(docker);
    pgServer = await startOwnPostgres();
    pool = createPool(pgServer.url, { max: 10, applicationName: 'highway-docker-test' });
    const client = createDockerClient({ logger: log.logger, docker });
    reconciler = await Reconciler.create({ pool, databaseUrl: pgServer.url, docker: client, logger: log.logger, reconcilerId, resyncIntervalMs: 120_000 });
    await reconciler.start();
  });
  after(async function () {
    this.timeout(60_000);
    for (const c of children) await c.kill();
    await pgServer?.start().catch(() => {});
    await reconciler?.stop().catch(() => {});
    await pool?.end().catch(() => {});
    if (docker) await removeByLabel(docker, label).catch(() => {});
    await pgServer?.stop();
  });

  it('a `run` started while PostgreSQL is down, back after 2 s, runs and prints its result', async () => {
    await pgServer.stopServer();
    const p = startRunWorker(['--tenant', 't-late', TEST_IMAGE, 'echo', 'after-outage'], { databaseUrl: pgServer.url, reconcilerId });
    children.push(p);
    try {
      await sleep(2_000);
    } finally {
      await pgServer.start();
    }
    const exit = await p.waitExit(90_000);
    expect(exit.code, `stderr: ${p.stderr.slice(-1500)}`).to.equal(0);
    const result = parseRunResult(p);
    expect(result['status']).to.equal('exited');
    expect(result['stdout']).to.equal('after-outage\n');
  });

  it('a `run` started while PostgreSQL is down for good exits 125 (database_unavailable) within its retry deadline', async () => {
    await pgServer.stopServer();
    try {
      const t0 = Date.now();
      const p = startRunWorker(['--tenant', 't-never', TEST_IMAGE, 'echo', 'never'], { databaseUrl: pgServer.url, reconcilerId });
      children.push(p);
      const exit = await p.waitExit(CALLER_DB_RETRY_MS + 60_000);
      const ms = Date.now() - t0;
      expect(exit.code, `stderr: ${p.stderr.slice(-1500)}`).to.equal(125);
      expect(p.stdout + p.stderr).to.include('database_unavailable');
      // The retry deadline, plus one connect timeout (10 s) and start-up: never a hang.
      expect(ms).to.be.below(CALLER_DB_RETRY_MS + 25_000);
    } finally {
      await pgServer.start();
    }
  });

  it('stop, wait and inspect called while PostgreSQL restarts (down ~2 s) succeed', async () => {
    const registry = new ToolRegistry();
    const tools = registerDockerTools(registry, { databaseUrl: pgServer.url, logger: log.logger });
    try {
      const ctx = { tenant_id: 't-ops', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null };
      const started = await registry.call<DockerRunResult>('tools.docker.run', { image: TEST_IMAGE, command: ['sleep', '60'], detach: true }, ctx);
      expect(started.status).to.equal('running');
      const target = started.intent_id;
      const opCtx = { ...ctx };
      await pgServer.stopServer();
      let inspect: Promise<unknown>, wait: Promise<DockerRunResult>, stop: Promise<DockerRunResult>;
      try {
        inspect = registry.call('tools.docker.inspect', { target }, opCtx);
        wait = registry.call<DockerRunResult>('tools.docker.wait', { target, timeout: 120 }, opCtx);
        stop = registry.call<DockerRunResult>('tools.docker.stop', { target, time: 1 }, opCtx);
        for (const c of [inspect, wait, stop]) c.catch(() => {});
        await sleep(2_000);
      } finally {
        await pgServer.start();
      }
      const inspected = (await inspect) as Record<string, unknown>;
      expect(inspected).to.be.an('object');
      const stopped = await stop;
      const waited = await wait;
      expect(waited.intent_id).to.equal(target);
      expect(['exited', 'stopped', 'cancelled']).to.include(waited.status);
      expect(stopped.status).to.equal(waited.status);
    } finally {
      await tools.close();
    }
  });
});
