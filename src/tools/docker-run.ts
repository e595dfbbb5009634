import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { insertIntent } from '../db/queries/insert-intent.js';
import { PolicyError, ValidationError, type ErrorCode } from '../errors.js';
import { TERMINAL_STATUSES, isTerminal, lifecycleOf, type IntentRow, type IntentStatus, type ResultError, type StopReason } from '../model.js';
import { CALLER_DB_RETRY_MS, withPgRetry } from '../db/retry.js';
import { checkInput, stringProblem } from '../params/bounds.js';
import { parseRunParams } from '../params/schema.js';
import { checkPolicy, resourceWarnings, type Policy } from '../params/policy.js';
import { tenantIdProblem } from '../params/tenant.js';
import type { CompletionWaiter, WakeOn } from './completion.js';
import type { ActivityContext } from './registry.js';
import { audited, auditedCaller, type AuditCall } from './audited.js';
import { UUID as CONTEXT_UUID } from '../ids.js';

/** What tools.docker.run returns. */
export interface DockerRunResult {
  intent_id: string;
  container_id: string | null;
  short_id: string | null;
  status: IntentStatus;
  exit_code: number | null;
  stdout: string;
  stderr: string;
  duration_ms: number | null;
  image: string;
  logs_truncated: boolean;
  oom_killed: boolean;
  stop_reason: StopReason | null;
  error: string | null;
  /** The stable code of `error` (null when there is none): docs/library.md lists them. */
  error_code: ErrorCode | null;
  warnings: string[];
  /** The `result_path` file: parsed JSON, or text with result_format "text"; null without one (docs/steps.md). */
  result: unknown;
  /** Why there is no result: {code, message}; null when there is one, or no result_path. */
  result_error: ResultError | null;
  /** With `services`: each service's output (stdout, stderr, exit_code, logs_truncated) by name. */
  services?: NonNullable<IntentRow['services']>;
}

export interface RunDeps {
  pool: Pool;
  waiter: CompletionWaiter;
  logger: Logger;
  policy: Policy;
  /** How long the intent write is retried while the database is unreachable (default CALLER_DB_RETRY_MS). */
  databaseRetryMs?: number;
}

/** A finished intent whose container is gone (or kept on purpose): nothing more will change. */
export function isSettled(row: IntentRow, now = new Date()): boolean {
  if (!isTerminal(row.status)) return false;
  // Lost: its host is gone (the container, if any, is removed when the host comes back).
  if (row.removed_at || row.status === 'lost') return true;
  const kept = !lifecycleOf(row.spec).autoRemove || (row.gc_protected_until !== null && row.gc_protected_until > now);
  return kept;
}

/** For detach: the container runs (or the intent already ended). */
export function isRunningOrSettled(row: IntentRow): boolean {
  return row.status === 'running' || row.status === 'stopping' || isSettled(row);
}

export function toResult(row: IntentRow): DockerRunResult {
  return {
    intent_id: row.id,
    container_id: row.container_id,
    short_id: row.short_id,
    status: row.status,
    exit_code: row.exit_code,
    stdout: row.stdout ?? '',
    stderr: row.stderr ?? '',
    duration_ms: row.duration_ms,
    image: row.image,
    logs_truncated: row.logs_truncated,
    oom_killed: row.oom_killed ?? false,
    stop_reason: row.stop_reason,
    error: row.error,
    error_code: row.error_code ?? null,
    warnings: row.warnings ?? [],
    result: row.result ?? null,
    result_error: row.result_error ?? null,
    ...(row.services ? { services: row.services } : {}),
  };
}

/** `p`, or the signal's reason as soon as it aborts (a worker shutdown while the database is away). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e: unknown) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}


function checkContext(ctx: ActivityContext): void {
  const issues: Array<{ field: string; message: string }> = [];
  const tenantProblem = tenantIdProblem(ctx?.tenant_id);
  if (tenantProblem) issues.push({ field: 'ctx.tenant_id', message: tenantProblem });
  for (const key of ['workflow_run_id', 'activity_id'] as const) {
    if (typeof ctx?.[key] !== 'string' || !CONTEXT_UUID.test(ctx[key])) issues.push({ field: `ctx.${key}`, message: 'is required: a UUID' });
  }
  if (ctx?.worker_id != null) {
    const problem = typeof ctx.worker_id !== 'string' || ctx.worker_id.length > 200 ? 'must be a string of at most 200 characters' : stringProblem(ctx.worker_id);
    if (problem) issues.push({ field: 'ctx.worker_id', message: problem });
  }
  if (issues.length) throw new ValidationError(issues);
}

/**
 * tools.docker.run: validate, check the operator policy, write the intent (once per
 * activity), and await its result. It never talks to Docker: the reconciler does.
 */
export function createDockerRun(deps: RunDeps) {
  return (params: unknown, ctx: ActivityContext): Promise<DockerRunResult> =>
    audited(deps, 'tools.docker.run', ctx, (call) => run(params, ctx, call), { checkCaller: () => {} });

  async function run(params: unknown, ctx: ActivityContext, call: AuditCall): Promise<DockerRunResult> {
    const log = deps.logger.child({ tenant_id: auditedCaller(ctx).tenant_id ?? undefined, workflow_run_id: ctx?.workflow_run_id, activity_id: ctx?.activity_id });
    let spec;
    try {
      // The caller is checked here, with the rest (every problem in one error, logged).
      checkContext(ctx);
      checkInput(params, deps.policy);
      spec = parseRunParams(params);
      checkPolicy(spec, deps.policy);
    } catch (err) {
      if (err instanceof ValidationError || err instanceof PolicyError) {
        const denied = err instanceof PolicyError;
        log.warn(
          {
            event: denied ? 'intent.denied' : 'intent.invalid',
            field: err.field,
            ...(denied ? { rule: err.rule } : {}),
            error: err.message,
          },
          err.message,
        );
      }
      throw err;
    }

    const warnings = resourceWarnings(spec);
    // LISTEN before the write: every change after it is notified, so the wait needs no first read.
    await untilAborted(deps.waiter.listening(), ctx.signal);
    // Idempotent per activity (highway.create_intent returns the activity's intent when it has
    // one): a retry after a write that did commit returns that intent, never a second one.
    const id = randomUUID();
    const { row, created } = await withPgRetry('intent.write', () => insertIntent(deps.pool, {
      id,
      activity_id: ctx.activity_id,
      workflow_run_id: ctx.workflow_run_id,
      tenant_id: ctx.tenant_id,
      worker_id: ctx.worker_id ?? null,
      image: spec.image,
      spec,
      labels: spec.labels ?? {},
      warnings,
    }), { logger: log, maxRetryTime: deps.databaseRetryMs ?? CALLER_DB_RETRY_MS, ...(ctx.signal ? { signal: ctx.signal } : {}) });

    const ilog = log.child({ intent_id: row.id });
    call.intent(row.id);
    // A new intent's audit row is written with it; a re-attach is a call of its own.
    if (created) call.recorded();
    else await call.ok({ reattached: true, image: row.image });
    if (created) {
      ilog.info({ event: 'intent.created', image: row.image, status: row.status }, `intent created for ${row.image}`);
      for (const warning of warnings) ilog.warn({ event: 'intent.warning', warning }, warning);
    } else {
      ilog.info({ event: 'intent.reattached', status: row.status }, 'activity already has an intent: re-attached');
    }

    // Wake on the notification that can finish the wait: for a detached run, once it runs; else
    // at removal, or at the end when nothing more will come: the container is kept (auto_remove
    // false, gc protection) or the intent is `lost` (its host is gone: no removal follows soon).
    const kept = !spec.auto_remove || spec.gc_protect_seconds !== null;
    const wakeOn: WakeOn = spec.detach
      ? (status) => status === 'running' || status === 'stopping' || TERMINAL_STATUSES.has(status as IntentStatus)
      : (status, removed) => removed || status === 'lost' || (kept && TERMINAL_STATUSES.has(status as IntentStatus));
    const settled = await deps.waiter.wait(row.id, spec.detach ? isRunningOrSettled : (r) => isSettled(r), {
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      wakeOn,
      initial: row,
    });
    return toResult(settled);
  }
}
