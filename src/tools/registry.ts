import type { DockerRunResult } from './docker-run.js';
import type { DockerPullResult } from './docker-pull.js';
import type { DockerImagesResult } from './docker-images.js';
import type { ExecResult, InspectResult, LogsResult, RemoveResult } from './docker-ops.js';
import type { DurableCronResult } from './cron-tools.js';
import type { OperationResult } from '../operations/registry.js';
import type { CallerContext } from '../operations/definition.js';

/** What the engine passes to a tool: who is calling, for which activity. */
export interface ActivityContext {
  tenant_id: string;
  workflow_run_id: string;
  activity_id: string;
  worker_id?: string | null;
  /** Stop waiting (the intent itself goes on; cancel the workflow run to stop it). */
  signal?: AbortSignal;
}

/** What each of this package's tools returns: `registry.call('tools.docker.run', ...)` is typed by its name. */
export interface ToolResults {
  'tools.docker.run': DockerRunResult;
  'tools.docker.exec': ExecResult;
  'tools.docker.stop': DockerRunResult;
  'tools.docker.remove': RemoveResult;
  'tools.docker.wait': DockerRunResult;
  'tools.docker.logs': LogsResult;
  'tools.docker.inspect': InspectResult;
  'tools.docker.cp': OperationResult<'cp'>;
  'tools.docker.pull': DockerPullResult;
  'tools.docker.images': DockerImagesResult;
  'tools.cron.durable_cron': DurableCronResult;
}

export type Tool<P = unknown, R = unknown> = (params: P, ctx: ActivityContext) => Promise<R>;

/** The engine's tool registry: names to functions. */
export class ToolRegistry {
  private readonly tools = new Map<string, Tool<any, any>>();

  register<P, R>(name: string, fn: Tool<P, R>): void {
    if (this.tools.has(name)) throw new Error(`tool already registered: ${name}`);
    this.tools.set(name, fn);
  }

  has(name: string): boolean {
    return this.tools.has(name);
  }

  names(): string[] {
    return [...this.tools.keys()].sort();
  }

  /**
   * A tool of this package: its result is typed by its name. `tools.docker.run` needs the whole
   * activity context; the others need only the caller's tenant (and take a worker id and a signal).
   */
  call<N extends keyof ToolResults>(name: N, params: unknown, ctx: N extends 'tools.docker.run' ? ActivityContext : CallerContext): Promise<ToolResults[N]>;
  /** Any other registered tool. */
  call<R = unknown>(name: string, params: unknown, ctx: ActivityContext): Promise<R>;
  async call(name: string, params: unknown, ctx: ActivityContext | CallerContext): Promise<unknown> {
    const tool = this.tools.get(name);
    if (!tool) throw new Error(`no such tool: ${name} (registered: ${this.names().join(', ')})`);
    return tool(params, ctx as ActivityContext);
  }
}
