/**
 * Callers while their PostgreSQL goes away (real Docker, a PostgreSQL server of this test's
 * own, a reconciler in this process): every waiting `run` process ends with its result when the
 * server restarts, with no deprecation warning; a library `close()` during a reconnect leaves
 * nothing alive; and a call made while the server is briefly down retries instead of failing.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type Docker from 'dockerode';
import type { DockerRunResult } from '../../../src/tools/docker-run.js';
import { TEST_IMAGE } from '../../support/harness.js';
import { ROOT, parseRunResult, startRunWorker } from '../../support/processes.js';
import { expectConverged, report, sleep } from '../../support/fault-checks.js';
import { eventually } from '../../support/eventually.js';
import { useOwnPostgresStack } from '../../support/fault-fixture.js';
import { CALLER_DB_RETRY_MS } from '../../../src/db/retry.js';

const DEPRECATION = /DeprecationWarning|already executing a query/;

describe('faults: callers while PostgreSQL goes away (own server)', function () {
  this.timeout(120_000);
  const s = useOwnPostgresStack('test-callers');

  const waitingCount = async (tenant: string) =>
    Number((await s.pool.query<{ n: string }>(`SELECT count(*) AS n FROM highway.docker_containers WHERE tenant_id = $1 AND finished_at IS NULL`, [tenant])).rows[0]!.n);

  it('6 `run` processes waiting through a PostgreSQL restart all print their result and exit, with no deprecation warning', async () => {
    const N = 6;
    const runs = Array.from({ length: N }, (_, i) => {
      const p = startRunWorker(['--tenant', 't-restart', TEST_IMAGE, 'sh', '-c', `sleep 6; echo done-${i}`], { databaseUrl: s.pgServer.url, reconcilerId: s.reconcilerId });
      s.children.push(p);
      return p;
    });
    // Every process has written its intent and waits for it (none ended yet).
    await eventually(async () => (await waitingCount('t-restart')) === N, { what: `${N} callers waiting`, timeoutMs: 60_000 });
    await s.pgServer.restart();
    const t0 = Date.now();
    const exits = await Promise.all(runs.map((p) => p.waitExit(60_000).then((e) => ({ ...e, ms: Date.now() - t0 }))));
    report(`${N} run processes through a PostgreSQL restart: slowest exit after the restart (ms)`, Math.max(...exits.map((e) => e.ms)));
    const ids: string[] = [];
    runs.forEach((p, i) => {
      expect(exits[i]!.code, `run ${i} exit code; stderr: ${p.stderr.slice(-500)}`).to.equal(0);
      const result = parseRunResult(p);
      expect(result['status']).to.equal('exited');
      expect(result['stdout']).to.equal(`done-${i}\n`);
      expect(p.stderr, `run ${i} stderr`).not.to.match(DEPRECATION);
      ids.push(String(result['intent_id']));
    });
    await expectConverged({ docker: s.docker, label: s.label, pool: s.pool, intentIds: ids, logs: [s.log.lines] });
  });

  it('a library close() while its LISTEN connection is reconnecting leaves no handle: the process exits on its own', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/support/tools-close-child.ts')], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: s.pgServer.url, TEST_IMAGE, HIGHWAY_RECONCILER_ID: s.reconcilerId },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await eventually(async () => stdout.includes('ran exited') || child.exitCode !== null, { what: 'the child ran its container', timeoutMs: 60_000 });
      expect(stdout, stderr).to.include('ran exited');
      await s.pgServer.stopServer();
      await sleep(1_500); // its LISTEN connection is lost and reconnecting now
      child.stdin!.end('close\n');
      const code = await Promise.race([exited, sleep(15_000).then(() => 'alive' as const)]);
      expect(code, `the child did not exit after close(); stdout: ${stdout}; stderr: ${stderr.slice(-1000)}`).to.equal(0);
      const resources = JSON.parse(/resources (.*)/.exec(stdout)![1]!) as string[];
      expect(resources.filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap')).to.deep.equal([]);
      expect(stderr).not.to.match(DEPRECATION);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await s.pgServer.start();
    }
  });

  it('a run called while PostgreSQL is briefly down waits for it (LISTEN and the intent write are retried) and gets its result', async () => {
    const { registry, tools } = s.tools();
    try {
      await s.pgServer.stopServer();
      const ctx = { tenant_id: 't-retry', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null };
      const call = registry.call<DockerRunResult>('tools.docker.run', { image: TEST_IMAGE, command: ['echo', 'written-once'] }, ctx);
      let settled = false;
      void call.then(() => (settled = true), () => (settled = true));
      await sleep(2_000);
      expect(settled, 'the call ended while the database was down').to.equal(false);
      await s.pgServer.start();
      const r = await call;
      expect(r.status).to.equal('exited');
      expect(r.stdout).to.equal('written-once\n');
      const rows = await s.pool.query('SELECT id FROM highway.docker_containers WHERE activity_id = $1', [ctx.activity_id]);
      expect(rows.rows).to.have.length(1);
      await expectConverged({ docker: s.docker, label: s.label, pool: s.pool, intentIds: [r.intent_id], logs: [s.log.lines] });
    } finally {
      await s.pgServer.start();
      await tools.close();
    }
  });

  it('a worker shutdown while the database is down ends the waiting call at once, not after the retry time', async () => {
    const { registry, tools } = s.tools();
    const shutdown = new AbortController();
    try {
      await s.pgServer.stopServer();
      const ctx = { tenant_id: 't-retry', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null, signal: shutdown.signal };
      const call = registry.call<DockerRunResult>('tools.docker.run', { image: TEST_IMAGE, command: ['true'] }, ctx).catch((e: unknown) => e);
      await sleep(1_000);
      const t0 = Date.now();
      shutdown.abort(new Error('worker shutting down'));
      const err = await call;
      expect(Date.now() - t0, 'ms from the abort to the call ending').to.be.below(CALLER_DB_RETRY_MS / 2); // not after the retry time
      expect((err as Error).message).to.equal('worker shutting down');
    } finally {
      await s.pgServer.start();
      await tools.close();
    }
  });
});
