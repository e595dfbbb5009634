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
    async shutdownWorker(workerId, { timeoutMs = 30_000 } = {}) {
      await requestStop(pool, { column: 'worker_id', value: workerId }, 'worker_shutdown');
      const ids = await liveIntentIdsFor(pool, 'worker_id', workerId);
      const abort = AbortSignal.timeout(timeoutMs);
      const results = await Promise.allSettled(ids.map((id) => waiter.wait(id, (r) => isSettled(r), { signal: abort })));
      const pending = results.filter((r) => r.status === 'rejected').length;
      logger.info({ event: 'worker.shutdown', worker_id: workerId, stopped: ids.length - pending, pending }, 'worker shut down');
      return { stopped: ids.length - pending, pending };
    },
    async close() {
      await rows.stop();
      if (ownPool) await pool.end();
    },
  };
}
