/**
 * The shared set-up of the fault-injection tests (test/integration/faults/*.test.ts), so that
 * each file reads as the fault it injects:
 * - `useCrashFixture`: a harness (database, Docker, tools) whose reconciler is a child process
 *   `highway-docker up` the test can SIGKILL, or one in this process; every child is killed and
 *   every container of the harness's label removed after each test and after the file.
 * - `useOwnPostgresStack`: a PostgreSQL server of the file's own (to stop and restart), a pool on
 *   it and a reconciler in this process; everything with its label removed after the file.
 */
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import { createDockerClient } from '../../src/docker/client.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { Reconciler } from '../../src/reconciler.js';
import { LABELS, type IntentRow } from '../../src/model.js';
import { expectConverged } from './fault-checks.js';
import type { ActivityContext } from '../../src/tools/registry.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import { registerDockerTools, type DockerTools } from '../../src/tools/docker-tools.js';
import { Harness, LogCapture, type HarnessOptions } from './harness.js';
import { connectDocker, removeByLabel } from './docker-env.js';
import { usePerFile } from './fixture.js';
import { startOwnPostgres, type OwnPostgres } from './postgres.js';
import { ensureBuilt, startUp, type CliProcess, type LogLine } from './processes.js';
import { ensureTestImage } from './test-image.js';

export interface CrashFixture {
  /** The harness (see Harness); unless `harness.withoutReconciler` is set false, no reconciler runs until the test starts one. */
  readonly h: Harness;
  /** The child processes of the current test, killed after it. */
  readonly children: CliProcess[];
  /** Start `highway-docker up` on the harness's database with its reconciler id (the child is killed after the test). */
  up(env?: Record<string, string>): Promise<CliProcess>;
  /** Keep a child started otherwise (`run`, `gc --once`), to kill it after the test. */
  track<P extends CliProcess>(p: P): P;
  /** Every log of this test: this process's and every child's (`extra` too, e.g. a child already killed). */
  logs(...extra: CliProcess[]): LogLine[][];
  /** The id of the intent a call for `ctx` wrote (events are matched on it, never on "the first one"). */
  intentIdOf(ctx: Pick<ActivityContext, 'activity_id'>): Promise<string>;
  /** The promise after every fault (see expectConverged): these intents ended once and removed, no container left. */
  converged(intentIds: string[], logs?: LogLine[][]): Promise<IntentRow[]>;
}

export interface CrashFixtureOptions {
  /** The environment of every `up` child (merged under the test's own `up(env)`). */
  env?: Record<string, string>;
  /** The harness's options; `withoutReconciler` defaults to true (the test runs its reconciler). */
  harness?: HarnessOptions;
}

/**
 * A harness for tests that crash the reconciler. After each test: its children killed; unless the
 * harness keeps an in-process reconciler for the whole file, that reconciler is stopped too, every
 * intent still live is ended (one a failed test left must not run in the next, as all tests share
 * the reconciler id) and the harness's containers are removed by label.
 */
export function useCrashFixture(options: CrashFixtureOptions = {}): CrashFixture {
  const harnessOptions: HarnessOptions = { withoutReconciler: true, ...options.harness };
  const h = usePerFile(
    async () => {
      ensureBuilt();
      return Harness.start(harnessOptions);
    },
    async (started) => {
      for (const c of children.splice(0)) await c.kill();
      await started.stop();
    },
    { what: 'the fault-test harness' },
  );
  const children: CliProcess[] = [];
  afterEach(async function () {
    this.timeout(60_000);
    for (const c of children.splice(0)) await c.kill();
    if (!harnessOptions.withoutReconciler) return;
    await h.stopReconciler();
    await h.endLeftovers();
    await removeByLabel(h.docker, h.label).catch(() => {});
  });
  const track = <P extends CliProcess>(p: P): P => {
    children.push(p);
    return p;
  };
  return {
    h,
    children,
    track,
    up: async (env = {}) => track(await startUp({ databaseUrl: h.db.url, reconcilerId: h.reconcilerId, env: { ...options.env, ...env } })),
    logs: (...extra) => [h.log.lines, ...new Set([...children, ...extra].map((c) => c.lines))],
    intentIdOf: async (ctx) => (await h.waitFor(ctx.activity_id, () => true, 20_000)).id,
    converged: (intentIds, logs = [h.log.lines, ...children.map((c) => c.lines)]) => expectConverged({ docker: h.docker, label: h.label, pool: h.db.pool, intentIds, logs }),
  };
}

export interface OwnPostgresStack {
  /** The file's own server: stopServer(), start(), restart(). */
  readonly pgServer: OwnPostgres;
  readonly pool: Pool;
  readonly docker: Docker;
  readonly reconciler: Reconciler;
  readonly log: LogCapture;
  readonly reconcilerId: string;
  /** The label every container of this stack carries (what the cleanup removes by). */
  readonly label: string;
  /** Child processes to kill after the file. */
  readonly children: CliProcess[];
  /** Tools on a registry of their own, connected to the file's server (close them after use). */
  tools(): { registry: ToolRegistry; tools: DockerTools };
}

/** A PostgreSQL server of the file's own, a pool on it, and a reconciler in this process; `name` prefixes the reconciler id. */
export function useOwnPostgresStack(name: string): OwnPostgresStack {
  const log = new LogCapture();
  const reconcilerId = `${name}-${randomUUID()}`;
  const label = `${LABELS.reconcilerId}=${reconcilerId}`;
  const children: CliProcess[] = [];
  type Started = Pick<OwnPostgresStack, 'pgServer' | 'pool' | 'docker' | 'reconciler'>;
  const started = usePerFile<Started>(
    async () => {
      ensureBuilt();
      const docker = await connectDocker();
      await ensureTestImage(docker);
      const pgServer = await startOwnPostgres();
      const pool = createPool(pgServer.url, { max: 10, applicationName: 'highway-docker-test' });
      const client = createDockerClient({ logger: log.logger, docker });
      const reconciler = await Reconciler.create({ pool, databaseUrl: pgServer.url, docker: client, logger: log.logger, reconcilerId, resyncIntervalMs: 120_000 });
      await reconciler.start();
      return { pgServer, pool, docker, reconciler };
    },
    async (s) => {
      for (const c of children) await c.kill();
      await s.pgServer.start().catch(() => {}); // a test that failed while it was down
      await s.reconciler.stop().catch(() => {});
      await s.pool.end().catch(() => {});
      await removeByLabel(s.docker, label).catch(() => {});
      await s.pgServer.stop();
    },
    { what: 'the own-PostgreSQL stack' },
  );
  return {
    get pgServer() {
      return started.pgServer;
    },
    get pool() {
      return started.pool;
    },
    get docker() {
      return started.docker;
    },
    get reconciler() {
      return started.reconciler;
    },
    log,
    reconcilerId,
    label,
    children,
    tools() {
      const registry = new ToolRegistry();
      return { registry, tools: registerDockerTools(registry, { databaseUrl: started.pgServer.url, logger: log.logger }) };
    },
  };
}
