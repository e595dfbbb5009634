/**
 * A highway-docker for benchmarks: a fresh database (test/support/postgres.ts), an
 * in-process reconciler with its own id, and tools.docker.run on a tool registry. Like
 * test/support/harness.ts, but with the caller's logger (the harness captures every line
 * in memory at debug level, which would dominate a benchmark) and hooks to wrap the pool
 * and the Docker client (for tracing).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { createDockerClient, type ContainerClient } from '../../src/docker/client.js';
import type { Pool } from '../../src/db/pool.js';
import { Reconciler, type ReconcilerOptions } from '../../src/reconciler.js';
import { ToolRegistry, type ActivityContext } from '../../src/tools/registry.js';
import { registerDockerTools, type DockerTools } from '../../src/tools/docker-tools.js';
import type { DockerRunResult } from '../../src/tools/docker-run.js';
import { LABELS } from '../../src/model.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { TEST_IMAGE } from '../support/test-image.js';
import type { BenchContext } from './context.js';

/** A fresh activity context of the bench's tenant (new run and activity ids). */
export function benchActivity(overrides: Partial<ActivityContext> = {}): ActivityContext {
  return { tenant_id: 'bench', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null, ...overrides };
}

/** tools.docker.run through a registry, with the bench run's labels added to the container. */
export function runInBench(registry: ToolRegistry, ctx: BenchContext, params: Record<string, unknown>, activity: ActivityContext = benchActivity()): Promise<DockerRunResult> {
  const labels = { ...ctx.labels, ...((params['labels'] as Record<string, string> | undefined) ?? {}) };
  return registry.call<DockerRunResult>('tools.docker.run', { image: TEST_IMAGE, ...params, labels }, activity);
}

export interface HighwayStackOptions {
  reconciler?: Partial<ReconcilerOptions>;
  /** Wrap the pool the reconciler uses (the tools keep the plain one). */
  wrapReconcilerPool?: (pool: Pool) => Pool;
  /** Wrap the reconciler's Docker client. */
  wrapDockerClient?: (client: ContainerClient) => ContainerClient;
}

export class HighwayStack {
  readonly registry = new ToolRegistry();
  readonly reconcilerId: string;
  private tools: DockerTools | null = null;
  private reconciler: Reconciler | null = null;

  private constructor(
    readonly ctx: BenchContext,
    readonly db: TestDatabase,
  ) {
    this.reconcilerId = `bench-${ctx.runId}-${randomUUID().slice(0, 8)}`;
  }

  /** Start a stack; its stop (and the removal of its containers) is registered with the context's cleanups. */
  static async start(ctx: BenchContext, options: HighwayStackOptions = {}): Promise<HighwayStack> {
    const db = await freshDatabase();
    const stack = new HighwayStack(ctx, db);
    ctx.sweep(stack.label);
    ctx.onCleanup(`highway stack ${stack.reconcilerId}`, () => stack.stop());
    const logger = ctx.logger;
    stack.tools = registerDockerTools(stack.registry, { databaseUrl: db.url, pool: db.pool, logger });
    const base = createDockerClient({ logger, docker: ctx.docker });
    stack.reconciler = await Reconciler.create({
      pool: options.wrapReconcilerPool ? options.wrapReconcilerPool(db.pool) : db.pool,
      databaseUrl: db.url,
      docker: options.wrapDockerClient ? options.wrapDockerClient(base) : base,
      logger,
      reconcilerId: stack.reconcilerId,
      ...options.reconciler,
    });
    await stack.reconciler.start();
    ctx.cpu.watchPostgres(await stack.postmasterPid());
    return stack;
  }

  /** The pid of the PostgreSQL server's postmaster, when it runs on this machine. */
  async postmasterPid(): Promise<number | null> {
    const res = await this.db.pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    try {
      const stat = readFileSync(`/proc/${res.rows[0]!.pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return null; // a server elsewhere (TEST_DATABASE_URL)
    }
  }

  /** The label every container of this stack's reconciler carries. */
  get label(): string {
    return `${LABELS.reconcilerId}=${this.reconcilerId}`;
  }

  activity(overrides: Partial<ActivityContext> = {}): ActivityContext {
    return benchActivity(overrides);
  }

  run(params: Record<string, unknown>, activity: ActivityContext = this.activity()): Promise<DockerRunResult> {
    return runInBench(this.registry, this.ctx, params, activity);
  }

  private stopping: Promise<void> | null = null;
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.reconciler?.stop().catch(() => {});
      await this.tools?.close().catch(() => {});
      await this.db.drop().catch(() => {});
    })();
    return this.stopping;
  }
}
