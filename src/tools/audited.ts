/**
 * The one way a tool call reaches the audit trail: check the caller (tenant, actor), act, and
 * record the outcome, one row per call, allowed, refused or failed. Every tool goes through it
 * (tools.docker.*, tools.cron.durable_cron); none writes its own "invalid, so audit the denial".
 *
 * The row: `tenant_id` the caller's tenant (null when it is not a valid tenant id: then
 * `detail.tenant_given` holds a bounded view of what was given), `actor` the caller's
 * `worker_id` (the CLI passes `cli:<user>@<hostname>`), `operation` the tool's name, `outcome`
 * `ok` / `denied` (invalid input, policy, a target not found for this tenant, a state that
 * refuses the call: `not_ended`, `not_running`) / `error` (anything else), `detail` the tool's
 * notes plus, on a failure, `code`, `field`, `rule` and `error`.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { inTransaction, type Pool, type Queryable } from '../db/pool.js';
import { appendAudit, boundAuditText } from '../db/queries/audit.js';
import { CALLER_DB_RETRY_MS, withPgRetry } from '../db/retry.js';
import { HighwayError, PolicyError, ValidationError, errorMessage } from '../errors.js';
import { stringProblem } from '../params/bounds.js';
import { tenantIdProblem } from '../params/tenant.js';

/** Codes that mean "refused": nothing was done, on purpose. */
const REFUSALS = new Set(['invalid_params', 'usage', 'policy_denied', 'not_found', 'not_ended', 'not_running']);

export type AuditOutcome = 'ok' | 'denied' | 'error';

/** What a tool body may tell the audit of its call. */
export interface AuditCall {
  /** The intent the call is about, once known. */
  intent(id: string): void;
  /** Add to the row's detail. */
  note(detail: Record<string, unknown>): void;
  /**
   * The act is done (a request written): record `ok` now. What follows (a wait) does not change
   * the outcome; a later failure is not a second row.
   */
  ok(detail?: Record<string, unknown>): Promise<void>;
  /**
   * Do the act and write its `ok` row in one transaction (a crash leaves both or neither);
   * `detail` may depend on the act's result.
   */
  okWith<T>(act: (q: Queryable) => Promise<T>, detail?: (result: T) => Record<string, unknown>): Promise<T>;
  /** The act's own statement wrote this call's row, atomically with the change: write none. */
  recorded(): void;
  /** This call is not audited (a poll of `logs --follow` after its first, audited, call). */
  skip(): void;
}

/** The caller as the audit trail records it. */
export interface AuditedCaller {
  tenant_id: string | null;
  actor: string | null;
  /** An invalid tenant id: its length, head and digest (never the whole). */
  tenant_given?: { chars: number; head: string; sha256: string } | string | null;
}

/** The caller of a tool as the audit trail may hold it: only valid ids in the columns. */
export function auditedCaller(ctx: { tenant_id?: unknown; worker_id?: unknown } | null | undefined): AuditedCaller {
  const tenant = ctx?.tenant_id;
  const valid = tenantIdProblem(tenant) === null;
  const worker = ctx?.worker_id;
  const actor = typeof worker === 'string' && worker.length <= 200 && stringProblem(worker) === null ? worker : null;
  const caller: AuditedCaller = { tenant_id: valid ? (tenant as string) : null, actor };
  if (!valid) {
    caller.tenant_given =
      typeof tenant === 'string'
        ? { chars: tenant.length, head: boundAuditText(tenant.slice(0, 64), 200), sha256: createHash('sha256').update(tenant).digest('hex') }
        : tenant === undefined || tenant === null
          ? null
          : `(${typeof tenant})`;
  }
  return caller;
}

/** The default check of a caller: a valid tenant id, and a recordable worker id. */
export function checkCaller(ctx: { tenant_id?: unknown; worker_id?: unknown } | null | undefined): void {
  const tenantProblem = tenantIdProblem(ctx?.tenant_id);
  if (tenantProblem) throw new ValidationError([{ field: 'ctx.tenant_id', message: tenantProblem }]);
  checkActor(ctx);
}

/** Refuse a `worker_id` (the actor) that cannot be recorded as given. */
export function checkActor(ctx: { worker_id?: unknown } | null | undefined): void {
  const worker = ctx?.worker_id;
  if (worker === undefined || worker === null) return;
  const problem = typeof worker !== 'string' || worker.length > 200 ? 'must be a string of at most 200 characters' : stringProblem(worker);
  if (problem) throw new ValidationError([{ field: 'ctx.worker_id', message: problem }]);
}

function signalOf(ctx: unknown): AbortSignal | undefined {
  const signal = (ctx as { signal?: unknown } | null | undefined)?.signal;
  return signal instanceof AbortSignal ? signal : undefined;
}

/** The outcome a failure is recorded with. */
export function outcomeOf(err: unknown): AuditOutcome {
  if (err instanceof ValidationError || err instanceof PolicyError) return 'denied';
  const code = (err as { code?: unknown })?.code;
  return err instanceof HighwayError && typeof code === 'string' && REFUSALS.has(code) ? 'denied' : 'error';
}

/** A failure as the row's detail: its code, the field and rule it names, its message. */
export function failureDetail(err: unknown): Record<string, unknown> {
  return {
    code: err instanceof HighwayError ? err.code : 'internal',
    ...(err instanceof ValidationError || err instanceof PolicyError ? { field: err.field } : {}),
    ...(err instanceof PolicyError ? { rule: err.rule } : {}),
    error: errorMessage(err),
  };
}

export interface AuditedDeps {
  pool: Pool;
  logger?: Logger;
}

/**
 * A tool's database step, ridden through a transient outage (a restart, a dropped connection):
 * retried with the project's one mechanism (withPgRetry) for CALLER_DB_RETRY_MS, or until the
 * caller's signal aborts. Only for idempotent steps (a read, a write that may be repeated).
 */
export function callerDbStep<T>(deps: AuditedDeps, op: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return withPgRetry(op, fn, { ...(deps.logger ? { logger: deps.logger } : {}), maxRetryTime: CALLER_DB_RETRY_MS, ...(signal ? { signal } : {}) });
}

/**
 * Run `body` as the audited call `operation`: the caller is checked first (a valid tenant id,
 * a recordable worker id), then the body acts, then the outcome is recorded, unless the body
 * did (`ok()`, `recorded()`). A failure to write the audit row is logged, and never hides the
 * call's own result or error.
 */
export async function audited<C extends { tenant_id?: unknown; worker_id?: unknown } | null | undefined, R>(
  deps: AuditedDeps,
  operation: string,
  ctx: C,
  body: (call: AuditCall) => Promise<R>,
  options: { checkCaller?: () => void } = {},
): Promise<R> {
  const caller = auditedCaller(ctx);
  let intentId: string | null = null;
  let detail: Record<string, unknown> = caller.tenant_given !== undefined ? { tenant_given: caller.tenant_given } : {};
  let done = false;
  const write = async (outcome: AuditOutcome, extra: Record<string, unknown> = {}) => {
    done = true;
    try {
      await appendAudit(deps.pool, { tenant_id: caller.tenant_id, actor: caller.actor, intent_id: intentId, operation, outcome, detail: { ...detail, ...extra } });
    } catch (err) {
      deps.logger?.error({ event: 'audit.write_failed', operation, outcome, tenant_id: caller.tenant_id, intent_id: intentId, err: errorMessage(err) }, `could not write the audit row of ${operation}`);
    }
  };
  const call: AuditCall = {
    intent: (id) => void (intentId = id),
    note: (more) => void (detail = { ...detail, ...more }),
    ok: (more) => (done ? Promise.resolve() : write('ok', more)),
    async okWith(act, more) {
      // The act and its row are one transaction: a failed attempt left neither, so it is retried.
      const result = await callerDbStep(deps, operation, () => inTransaction(deps.pool, async (client) => {
        const r = await act(client);
        if (!done) {
          await appendAudit(client, { tenant_id: caller.tenant_id, actor: caller.actor, intent_id: intentId, operation, outcome: 'ok', detail: { ...detail, ...more?.(r) } });
        }
        return r;
      }), signalOf(ctx));
      done = true;
      return result;
    },
    recorded: () => void (done = true),
    skip: () => void (done = true),
  };
  let result: R;
  try {
    if (options.checkCaller) options.checkCaller();
    else checkCaller(ctx);
    result = await body(call);
  } catch (err) {
    if (!done) await write(outcomeOf(err), failureDetail(err));
    throw err;
  }
  if (!done) await write('ok');
  return result;
}
