/**
 * Shared by the scale-envelope scenarios (many, noisy, bigoutput): a highway-docker whose
 * reconciler runs in a process of its own (reconciler-child.mjs, on the built code), so its
 * CPU and memory can be read from /proc/<pid> apart from the bench's own work; the tools
 * (tools.docker.run, tools.docker.exec) are called from the bench process against the same
 * fresh database, as a workflow engine's worker would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ToolRegistry, type ActivityContext } from '../../src/tools/registry.js';
import { registerDockerTools, type DockerTools } from '../../src/tools/docker-tools.js';
import type { DockerRunResult } from '../../src/tools/docker-run.js';
import { LABELS } from '../../src/model.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import type { BenchContext } from './context.js';
import { benchActivity, runInBench } from './highway.js';

const CHILD = fileURLToPath(new URL('./reconciler-child.mjs', import.meta.url));
const TICK_MS = 10; // USER_HZ

/** CPU (user + system, ms) of a process from /proc/<pid>/stat; NaN when it is gone. */
export function procCpuMs(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return Number.NaN;
  }
}

/** VmRSS and VmHWM (peak RSS) of a process in MB (MiB); NaN when it is gone. */
export function procMemMb(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}

/** A reconciler in its own process over a fresh database, with the tools in this one. */
export class ChildStack {
  readonly registry = new ToolRegistry();
  readonly reconcilerId = `bench-${randomUUID().slice(0, 8)}`;
  private tools: DockerTools | null = null;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly ctx: BenchContext,
    readonly db: TestDatabase,
  ) {}

  static async start(ctx: BenchContext, options: { concurrency?: number } = {}): Promise<ChildStack> {
    const db = await freshDatabase();
    const stack = new ChildStack(ctx, db);
    ctx.sweep(stack.label);
    ctx.onCleanup(`child reconciler ${stack.reconcilerId}`, () => stack.stop());
    stack.tools = registerDockerTools(stack.registry, { databaseUrl: db.url, pool: db.pool, logger: ctx.logger });
    const child = spawn(process.execPath, [CHILD], {
      env: {
        ...process.env,
        BENCH_CHILD_DATABASE_URL: db.url,
        BENCH_CHILD_RECONCILER_ID: stack.reconcilerId,
        ...(options.concurrency !== undefined ? { BENCH_CHILD_CONCURRENCY: String(options.concurrency) } : {}),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    stack.child = child;
    stack.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the child reconciler did not start within 60 s')), 60_000);
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('ready\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the child reconciler exited (code ${code}) before it was ready`));
      });
    });
    return stack;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  /** The reconciler process's CPU so far (ms). */
  cpuMs(): number {
    return procCpuMs(this.pid);
  }

  /** The reconciler process's RSS now and its peak so far (MB). */
  mem(): { rss: number; peak: number } {
    return procMemMb(this.pid);
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
      if (this.child && this.child.exitCode === null) {
        this.child.kill('SIGTERM');
        const killer = setTimeout(() => this.child?.kill('SIGKILL'), 15_000);
        await this.exited;
        clearTimeout(killer);
      }
      await this.tools?.close().catch(() => {});
      await this.db.drop().catch(() => {});
    })();
    return this.stopping;
  }
}

/** Run `count` jobs with `workers` at a time; resolves with the errors (the jobs' own results are theirs to keep). */
export async function pool(count: number, workers: number, job: (i: number) => Promise<void>, signal?: AbortSignal): Promise<string[]> {
  const errors: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, count) }, async () => {
      while (next < count && !signal?.aborted) {
        const i = next++;
        try {
          await job(i);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    }),
  );
  return errors;
}

export const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '-');
