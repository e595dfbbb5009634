/**
 * Callers that start or call while their PostgreSQL is down (real Docker, a PostgreSQL server of
 * this test's own, a reconciler in this process): a `highway-docker run` started while the
 * server is down runs once it is back, or exits 125 (`database_unavailable`) within its retry
 * deadline when it never comes back; stop, wait and inspect called during a short outage succeed.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import { CALLER_DB_RETRY_MS } from '../../../src/db/retry.js';
import type { DockerRunResult } from '../../../src/tools/docker-run.js';
import { TEST_IMAGE } from '../../support/harness.js';
import { parseRunResult, startRunWorker } from '../../support/processes.js';
import { sleep } from '../../support/fault-checks.js';
import { useOwnPostgresStack } from '../../support/fault-fixture.js';

describe('faults: callers while PostgreSQL is down at their start (own server)', function () {
  this.timeout(180_000);
  const s = useOwnPostgresStack('test-db-outage');

  it('a `run` started while PostgreSQL is down, back after 2 s, runs and prints its result', async () => {
    await s.pgServer.stopServer();
    const p = startRunWorker(['--tenant', 't-late', TEST_IMAGE, 'echo', 'after-outage'], { databaseUrl: s.pgServer.url, reconcilerId: s.reconcilerId });
    s.children.push(p);
    try {
      await sleep(2_000);
    } finally {
      await s.pgServer.start();
    }
    const exit = await p.waitExit(90_000);
    expect(exit.code, `stderr: ${p.stderr.slice(-1500)}`).to.equal(0);
    const result = parseRunResult(p);
    expect(result['status']).to.equal('exited');
    expect(result['stdout']).to.equal('after-outage\n');
  });

  it('a `run` started while PostgreSQL is down for good exits 125 (database_unavailable) within its retry deadline', async () => {
    await s.pgServer.stopServer();
    try {
      const t0 = Date.now();
      const p = startRunWorker(['--tenant', 't-never', TEST_IMAGE, 'echo', 'never'], { databaseUrl: s.pgServer.url, reconcilerId: s.reconcilerId });
      s.children.push(p);
      const exit = await p.waitExit(CALLER_DB_RETRY_MS + 60_000);
      const ms = Date.now() - t0;
      expect(exit.code, `stderr: ${p.stderr.slice(-1500)}`).to.equal(125);
      expect(p.stdout + p.stderr).to.include('database_unavailable');
      // The retry deadline, plus one connect timeout (10 s) and start-up: never a hang.
      expect(ms).to.be.below(CALLER_DB_RETRY_MS + 25_000);
    } finally {
      await s.pgServer.start();
    }
  });

  it('stop, wait and inspect called while PostgreSQL restarts (down ~2 s) succeed', async () => {
    const { registry, tools } = s.tools();
    try {
      const ctx = { tenant_id: 't-ops', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null };
      const started = await registry.call<DockerRunResult>('tools.docker.run', { image: TEST_IMAGE, command: ['sleep', '60'], detach: true }, ctx);
      expect(started.status).to.equal('running');
      const target = started.intent_id;
      const opCtx = { ...ctx };
      await s.pgServer.stopServer();
      let inspect: Promise<unknown>, wait: Promise<DockerRunResult>, stop: Promise<DockerRunResult>;
      try {
        inspect = registry.call('tools.docker.inspect', { target }, opCtx);
        wait = registry.call<DockerRunResult>('tools.docker.wait', { target, timeout: 120 }, opCtx);
        stop = registry.call<DockerRunResult>('tools.docker.stop', { target, time: 1 }, opCtx);
        for (const c of [inspect, wait, stop]) c.catch(() => {});
        await sleep(2_000);
      } finally {
        await s.pgServer.start();
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
