/**
 * The engine API: what a workflow engine does to the engine-side tables (highway.workflow_runs,
 * activities, workers), typed, so an engine in TypeScript writes no SQL. The reconciler watches
 * these rows: a cancelled run, an activity timed out (or its heartbeat older than its timeout, or
 * the row gone), a dead worker (or its heartbeat older than HIGHWAY_WORKER_TIMEOUT_S) stop their
 * containers. Engines in other languages write the same rows (docs/library.md).
 */
import type { Logger } from 'pino';
import { createPool, type Pool } from '../db/pool.js';
import { HighwayError, ValidationError } from '../errors.js';
import { tenantIdProblem } from '../params/tenant.js';
import { cancelRun, ensureRun, insertActivity, setActivityStatus, touchActivity, type ActivityRow } from '../db/queries/engine-side.js';
import { heartbeatWorker, registerWorker, setWorkerStatus } from '../db/queries/workers.js';
import { silentLogger } from '../observability/logger.js';
import type { Policy } from '../params/policy.js';
import { CompletionWaiter, INTENT_WAIT } from '../tools/completion.js';
import { RowWaiter } from '../tools/row-waiter.js';
import { shutdownWorker } from '../tools/docker-tools.js';
import { createScheduleApi, type ScheduleApi } from './schedules.js';
import { UUID } from '../ids.js';

export type { ActivityRow } from '../db/queries/engine-side.js';

/** The activity statuses an engine ends an activity with. Only `timed_out` stops its containers. */
export const ACTIVITY_END_STATUSES = ['completed', 'failed', 'cancelled', 'timed_out'] as const;
export type ActivityEndStatus = (typeof ACTIVITY_END_STATUSES)[number];

export interface EngineOptions {
  /** The database: a URL, or a pool (or both). shutdownWorker LISTENs for its containers' ends on the URL (default: the pool's connection string). */
  databaseUrl?: string;
  /** A pool to use (default: one made from databaseUrl, ended by close()). */
  pool?: Pool;
  logger?: Logger;
  /** Recorded as the actor of audited schedule changes (default `engine`). */
  actor?: string;
  /** The operator policy new schedules are checked against (default: the built-in policy). */
  policy?: Policy;
}


function checkUuid(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || !UUID.test(value)) {
    throw new ValidationError([{ field, message: `${JSON.stringify(String(value).slice(0, 80))} is not a UUID` }]);
  }
}
function checkTenant(value: unknown, field = 'tenant'): void {
  const problem = tenantIdProblem(value);
  if (problem) throw new ValidationError([{ field, message: problem }]);
}
function checkWorkerId(value: unknown, field = 'workerId'): asserts value is string {
  if (typeof value !== 'string' || value.length < 1 || value.length > 200) {
    throw new ValidationError([{ field, message: 'must be a string of 1 to 200 characters' }]);
  }
}
function checkTimeout(value: unknown, field = 'heartbeatTimeoutS'): void {
  if (value === null || value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 31_536_000) {
    throw new ValidationError([{ field, message: 'must be a whole number of seconds from 1 to 31536000, or null (no heartbeat timeout)' }]);
  }
}

export class Engine {
  readonly pool: Pool;
  /** Schedule management (durable cron), per tenant, audited. */
  readonly schedules: ScheduleApi;
  private readonly ownPool: boolean;
  private readonly logger: Logger;
  private rows: RowWaiter | null = null;

  constructor(private readonly options: EngineOptions) {
    if (!options.pool && !options.databaseUrl) throw new ValidationError([{ field: 'databaseUrl', message: 'is required when no pool is given' }]);
    this.ownPool = !options.pool;
    this.pool = options.pool ?? createPool(options.databaseUrl!, { applicationName: 'highway-docker-engine' });
    this.logger = options.logger ?? silentLogger;
    this.schedules = createScheduleApi({ pool: this.pool, ...(options.actor ? { actor: options.actor } : {}), ...(options.policy ? { policy: options.policy } : {}) });
  }

  /**
   * Cancel a workflow run: its containers are stopped (SIGTERM, grace, SIGKILL) and removed,
   * their intents end `cancelled` with stop_reason `workflow_cancelled`. With `tenant`, only that
   * tenant's run (another tenant's is "not found"). Throws `not_found` when there is no such run.
   */
  async cancelWorkflowRun(runId: string, opts: { tenant?: string } = {}): Promise<{ cancelled: string }> {
    checkUuid(runId, 'runId');
    if (opts.tenant !== undefined) checkTenant(opts.tenant);
    const n = await cancelRun(this.pool, runId, opts.tenant ?? null);
    if (!n) throw new HighwayError('not_found', `workflow run ${runId} not found${opts.tenant !== undefined ? ' for this tenant' : ''}`);
    return { cancelled: runId };
  }

  /**
   * Create an activity (and its workflow run, when missing) with its first heartbeat. With
   * `heartbeatTimeoutS`, its containers are stopped (stop_reason `activity_timeout`) once its last
   * heartbeat is older than that. The same id again returns the existing activity (a retried
   * activity re-attaches: key tools.docker.run on the activity, not the attempt).
   */
  async createActivity(activity: { id: string; workflowRunId: string; tenant: string; heartbeatTimeoutS?: number | null }): Promise<ActivityRow> {
    checkUuid(activity.id, 'id');
    checkUuid(activity.workflowRunId, 'workflowRunId');
    checkTenant(activity.tenant);
    checkTimeout(activity.heartbeatTimeoutS);
    const owner = await ensureRun(this.pool, activity.workflowRunId, activity.tenant);
    if (owner !== activity.tenant) throw new HighwayError('not_found', `workflow run ${activity.workflowRunId} not found for this tenant`);
    const row = await insertActivity(this.pool, activity.id, activity.workflowRunId, activity.heartbeatTimeoutS ?? null);
    if (!row || row.workflow_run_id !== activity.workflowRunId) throw new HighwayError('not_found', `activity ${activity.id} not found for this tenant`);
    return row;
  }

  /**
   * Heartbeat an activity: its heartbeat timeout counts from now. `heartbeatTimeoutS` changes the
   * timeout (null: none). Throws `not_found` when there is no such activity (for the tenant).
   */
  async heartbeatActivity(activityId: string, opts: { tenant?: string; heartbeatTimeoutS?: number | null } = {}): Promise<ActivityRow> {
    checkUuid(activityId, 'activityId');
    if (opts.tenant !== undefined) checkTenant(opts.tenant);
    checkTimeout(opts.heartbeatTimeoutS);
    const row = await touchActivity(this.pool, activityId, opts.tenant ?? null, opts.heartbeatTimeoutS);
    if (!row) throw new HighwayError('not_found', `activity ${activityId} not found${opts.tenant !== undefined ? ' for this tenant' : ''}`);
    return row;
  }

  /**
   * End an activity with `status` (default `completed`). `timed_out` stops its containers
   * (stop_reason `activity_timeout`); the other statuses leave a detached container running.
   */
  async endActivity(activityId: string, opts: { tenant?: string; status?: ActivityEndStatus } = {}): Promise<ActivityRow> {
    checkUuid(activityId, 'activityId');
    if (opts.tenant !== undefined) checkTenant(opts.tenant);
    const status = opts.status ?? 'completed';
    if (!ACTIVITY_END_STATUSES.includes(status)) throw new ValidationError([{ field: 'status', message: `must be one of ${ACTIVITY_END_STATUSES.join(', ')}` }]);
    const row = await setActivityStatus(this.pool, activityId, opts.tenant ?? null, status);
    if (!row) throw new HighwayError('not_found', `activity ${activityId} not found${opts.tenant !== undefined ? ' for this tenant' : ''}`);
    return row;
  }

  /** Register (or revive) a worker, with its first heartbeat. Heartbeat it at a third of HIGHWAY_WORKER_TIMEOUT_S. */
  async registerWorker(workerId: string): Promise<void> {
    checkWorkerId(workerId);
    await registerWorker(this.pool, workerId);
  }

  /** Heartbeat a worker. A worker whose heartbeat is older than HIGHWAY_WORKER_TIMEOUT_S is presumed dead (stop_reason `worker_lost`). */
  async heartbeatWorker(workerId: string): Promise<void> {
    checkWorkerId(workerId);
    await heartbeatWorker(this.pool, workerId);
  }

  /**
   * Retire a worker: `stopped` (default; a clean exit: its detached containers keep running) or
   * `dead` (its containers are stopped, stop_reason `worker_lost`). To stop its containers and
   * wait for them, call shutdownWorker first.
   */
  async retireWorker(workerId: string, opts: { status?: 'stopped' | 'dead' } = {}): Promise<void> {
    checkWorkerId(workerId);
    const status = opts.status ?? 'stopped';
    if (status !== 'stopped' && status !== 'dead') throw new ValidationError([{ field: 'status', message: 'must be stopped or dead' }]);
    await setWorkerStatus(this.pool, workerId, status);
  }

  /**
   * The worker shutdown handler: ask for every live container of this worker to be stopped and
   * removed (stop_reason `worker_shutdown`) and wait, up to `timeoutMs` (default 30 s), until
   * they are. `pending`: those not done in time (they stay asked to stop). One implementation
   * with DockerTools.shutdownWorker (tools/docker-tools.ts).
   */
  async shutdownWorker(workerId: string, opts: { timeoutMs?: number } = {}): Promise<{ stopped: number; pending: number }> {
    checkWorkerId(workerId);
    return shutdownWorker({ pool: this.pool, waiter: () => this.intentWaiter(), logger: this.logger }, workerId, opts);
  }

  /** A waiter on intents' ends, over this engine's one LISTEN connection (made on first use). */
  private intentWaiter(): CompletionWaiter {
    const url = this.options.databaseUrl ?? (this.pool as unknown as { options?: { connectionString?: string } }).options?.connectionString;
    if (!url) throw new ValidationError([{ field: 'databaseUrl', message: 'shutdownWorker needs the database URL (the pool has no connection string)' }]);
    this.rows ??= new RowWaiter(url, this.logger, { [INTENT_WAIT.channel]: INTENT_WAIT.safetyPollMs });
    return new CompletionWaiter(this.pool, this.rows);
  }

  /** Release the LISTEN connection and the pool (when the engine made it). Idempotent. */
  async close(): Promise<void> {
    const rows = this.rows;
    this.rows = null;
    await rows?.stop();
    if (this.ownPool && !this.closed) {
      this.closed = true;
      await this.pool.end();
    }
  }
  private closed = false;
}

/** The engine API on a database: `createEngine({ databaseUrl })`. Call close() when done. */
export function createEngine(options: EngineOptions): Engine {
  return new Engine(options);
}
