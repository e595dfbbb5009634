import type { Logger } from 'pino';
import { createPool, type Pool } from '../db/pool.js';
import { requestStop } from '../db/queries/request-stop.js';
import { liveIntentIdsFor } from '../db/queries/live-intents.js';
import { silentLogger } from '../observability/logger.js';
import { defaultPolicy, type Policy } from '../params/policy.js';
import { CompletionWaiter, INTENT_WAIT } from './completion.js';
import { createDockerRun, isSettled } from './docker-run.js';
import { createOperationTools, type OperationTools } from './docker-ops.js';
import { OperationWaiter, OPERATION_WAIT } from './operation-waiter.js';
import { OPERATIONS } from '../operations/registry.js';
import type { ToolRegistry } from './registry.js';
import { registerCronTools } from './cron-tools.js';
import { createDockerImages } from './docker-images.js';
import { createDockerPull } from './docker-pull.js';
import { PullWaiter, PULL_WAIT } from './pull-completion.js';
import { RowWaiter } from './row-waiter.js';

export interface DockerToolsOptions {
  /** A pool to use, or a URL to make one from. The URL is needed for LISTEN either way. */
  databaseUrl: string;
  pool?: Pool;
  logger?: Logger;
  /** The operator policy (default: the built-in secure policy). */
  policy?: Policy;
}

export interface DockerTools {
  /**
   * The worker shutdown handler: asks the reconciler to stop and remove every live container
   * of this worker (stop_reason `worker_shutdown`) and waits, up to `timeoutMs`, until they are gone.
   */
  shutdownWorker(workerId: string, options?: { timeoutMs?: number }): Promise<{ stopped: number; pending: number }>;
  /** The container-targeted tools as functions (the CLI's `logs --follow` polls `logs` without an audit entry per poll). */
  readonly operations: OperationTools;
  /** Release the database resources (pool if we made it, LISTEN connection). */
  close(): Promise<void>;
}

/**
 * The worker shutdown handler, of DockerTools and of Engine alike: ask for every live container
 * of this worker to be stopped and removed (stop_reason `worker_shutdown`) and wait, up to
 * `timeoutMs` (default 30 s), until they are. `pending`: those not done in time (they stay
 * asked to stop). `waiter` is asked for only when there is something to wait for.
 */
export async function shutdownWorker(
  deps: { pool: Pool; waiter: () => CompletionWaiter; logger: Logger },
  workerId: string,
  opts: { timeoutMs?: number } = {},
): Promise<{ stopped: number; pending: number }> {
  await requestStop(deps.pool, { column: 'worker_id', value: workerId }, 'worker_shutdown');
  const ids = await liveIntentIdsFor(deps.pool, 'worker_id', workerId);
  let pending = 0;
  if (ids.length) {
    const waiter = deps.waiter();
    const signal = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
    const results = await Promise.allSettled(ids.map((id) => waiter.wait(id, (r) => isSettled(r), { signal })));
    pending = results.filter((r) => r.status === 'rejected').length;
  }
  deps.logger.info({ event: 'worker.shutdown', worker_id: workerId, stopped: ids.length - pending, pending }, 'worker shut down');
  return { stopped: ids.length - pending, pending };
}

/** Register tools.docker.* on an engine's tool registry. */
export function registerDockerTools(registry: ToolRegistry, options: DockerToolsOptions): DockerTools {
  const logger = options.logger ?? silentLogger;
  const ownPool = !options.pool;
  const pool = options.pool ?? createPool(options.databaseUrl, { applicationName: 'highway-docker-tools' });
  // One LISTEN connection for every wait of this tools instance.
  const rows = new RowWaiter(options.databaseUrl, logger, {
    [INTENT_WAIT.channel]: INTENT_WAIT.safetyPollMs,
    [OPERATION_WAIT.channel]: OPERATION_WAIT.safetyPollMs,
    [PULL_WAIT.channel]: PULL_WAIT.safetyPollMs,
  });
  const waiter = new CompletionWaiter(pool, rows);
  const deps = { pool, waiter, logger, policy: options.policy ?? defaultPolicy };

  registry.register('tools.docker.run', createDockerRun(deps));
  registerCronTools(registry, deps);
  const pullWaiter = new PullWaiter(pool, rows);
  registry.register('tools.docker.pull', createDockerPull({ ...deps, waiter: pullWaiter }));
  registry.register('tools.docker.images', createDockerImages(deps));
  const operationWaiter = new OperationWaiter(pool, rows);
  const operations = createOperationTools({ ...deps, operations: operationWaiter });
  // One tool per registered operation (src/operations/registry.ts).
  for (const def of OPERATIONS) registry.register(def.tool, (params, ctx) => operations.call(def, params, ctx));
  registry.register('tools.docker.stop', operations.stop);
  registry.register('tools.docker.remove', operations.remove);
  registry.register('tools.docker.wait', operations.wait);

  return {
    operations,
    shutdownWorker: (workerId, opts) => shutdownWorker({ pool, waiter: () => waiter, logger }, workerId, opts),
    async close() {
      await rows.stop();
      if (ownPool) await pool.end();
    },
  };
}
