/** What the engine passes to a tool: who is calling, for which activity. */
export interface ActivityContext {
  tenant_id: string;
  workflow_run_id: string;
  activity_id: string;
  worker_id?: string | null;
  /** Stop waiting (the intent itself goes on; cancel the workflow run to stop it). */
  signal?: AbortSignal;
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

  async call<R = unknown>(name: string, params: unknown, ctx: ActivityContext): Promise<R> {
    const tool = this.tools.get(name);
    if (!tool) throw new Error(`no such tool: ${name} (registered: ${this.names().join(', ')})`);
    return tool(params, ctx) as Promise<R>;
  }
}
