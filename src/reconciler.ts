/**
 * The reconciler of one Docker host: the controller runtime's manager with every kind this
 * project reconciles. `highway-docker up` runs one; so does each integration test.
 */
import type { Logger } from 'pino';
import type { Pool } from './db/pool.js';
import type { ContainerClient } from './docker/client.js';
import type { Policy } from './params/policy.js';
import type { SecretResolver } from './secrets.js';
import { Manager } from './runtime/manager.js';
import { readClusterId } from './db/queries/cluster.js';
import type { Metrics } from './observability/metrics.js';
import { ContainersKind } from './kinds/containers/kind.js';
import { SchedulesKind } from './kinds/schedules/kind.js';
import { ImagesKind } from './kinds/images/kind.js';
import { PullsKind } from './kinds/pulls/kind.js';
import { OperationsKind } from './kinds/operations/kind.js';

export { envSecretResolver, type SecretResolver } from './secrets.js';

export interface ReconcilerOptions {
  pool: Pool;
  databaseUrl: string;
  docker: ContainerClient;
  logger: Logger;
  /** Which reconciler this is (one per Docker host). Default: the Docker daemon's ID, so a restart re-attaches. */
  reconcilerId?: string;
  /** This database's identity (default: read from highway.cluster, made at migrate time). */
  clusterId?: string;
  workerTimeoutMs?: number;
  /** Safety-net relist interval (default 30 s). */
  resyncIntervalMs?: number;
  /** Reconciles in flight at most, per kind (default 16). */
  concurrency?: number;
  resolveSecret?: SecretResolver;
  /** On stop, how long execs in flight may still finish before they are left to the next start (default 10 s). */
  execShutdownGraceMs?: number;
  /** The operator policy, enforced again at create time (default: the built-in policy). */
  policy?: Policy;
  /** One live reconciler per id; a second waits as a standby (default true). */
  exclusive?: boolean;
  metrics?: Metrics;
  /** This host's labels (HIGHWAY_HOST_LABELS) and capacity (HIGHWAY_MAX_CONTAINERS), for placement. */
  hostLabels?: Record<string, string>;
  capacity?: number | null;
  /** Durable cron: only the cluster's leader writes ticks (default: always; the tick uniqueness is the guarantee). */
  isLeader?: () => boolean;
}

export class Reconciler {
  private constructor(
    readonly manager: Manager,
    private readonly operations: OperationsKind,
    private readonly execShutdownGraceMs: number,
  ) {}

  get id(): string {
    return this.manager.id;
  }

  /** This database's identity: the `highway.cluster_id` label of every container this reconciler makes. */
  get clusterId(): string {
    return this.manager.clusterId;
  }

  static async create(options: ReconcilerOptions): Promise<Reconciler> {
    const id = options.reconcilerId ?? (await options.docker.daemonId());
    const clusterId = options.clusterId ?? (await readClusterId(options.pool));
    const manager = new Manager({
      id,
      clusterId,
      pool: options.pool,
      databaseUrl: options.databaseUrl,
      docker: options.docker,
      logger: options.logger,
      ...(options.resyncIntervalMs !== undefined ? { resyncIntervalMs: options.resyncIntervalMs } : {}),
      ...(options.exclusive !== undefined ? { exclusive: options.exclusive } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
    const common = { pool: options.pool, docker: options.docker, logger: manager.log, reconcilerId: id };
    manager.add(
      new ContainersKind({
        ...common,
        clusterId,
        ...(options.workerTimeoutMs !== undefined ? { workerTimeoutMs: options.workerTimeoutMs } : {}),
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
        ...(options.resolveSecret ? { resolveSecret: options.resolveSecret } : {}),
        ...(options.policy ? { policy: options.policy } : {}),
        ...(options.metrics ? { metrics: options.metrics } : {}),
        ...(options.hostLabels ? { hostLabels: options.hostLabels } : {}),
        ...(options.capacity !== undefined ? { capacity: options.capacity } : {}),
      }),
    );
    manager.add(
      new SchedulesKind({
        ...common,
        ...(options.policy ? { policy: options.policy } : {}),
        ...(options.isLeader ? { isLeader: options.isLeader } : {}),
        ...(options.metrics ? { metrics: options.metrics } : {}),
      }),
    );
    manager.add(new ImagesKind(common));
    manager.add(
      new PullsKind({
        ...common,
        ...(options.resolveSecret ? { resolveSecret: options.resolveSecret } : {}),
        ...(options.policy ? { policy: options.policy } : {}),
      }),
    );
    const operations = new OperationsKind({
      ...common,
      ...(options.resolveSecret ? { resolveSecret: options.resolveSecret } : {}),
      ...(options.policy ? { policy: options.policy } : {}),
    });
    manager.add(operations);
    return new Reconciler(manager, operations, options.execShutdownGraceMs ?? 10_000);
  }

  /** Connect the sources and start reconciling. Resolves once both streams are connected. */
  start(): Promise<void> {
    return this.manager.start();
  }

  /** Stop: no new work, wait for what is in flight, close the shared connections. Idempotent. */
  stop(): Promise<void> {
    this.operations.beginShutdown(this.execShutdownGraceMs);
    return this.manager.stop();
  }
}
