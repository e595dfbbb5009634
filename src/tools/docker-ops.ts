/**
 * The container-targeted tools: tools.docker.stop, remove, wait, and one tool per registered
 * operation (src/operations/registry.ts: exec, logs, inspect, ...). None talks to Docker. Each
 * resolves its TARGET (an intent id, or a container id full or short) to an intent of the
 * caller's tenant (another tenant's is "not found", worded the same), then either changes the
 * intent's desired state and awaits its completion notification (stop, remove, wait), or
 * writes an operation row that the container's host performs and awaits its outcome.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { existsForAnotherTenant, findTarget } from '../db/queries/find-target.js';
import { requestRemoval, requestStopOf } from '../db/queries/intent-requests.js';
import { dropResultKeys, finishOperation, insertOperation, type OperationRow } from '../db/queries/operations.js';
import { HighwayError, type ErrorCode } from '../errors.js';
import { isTerminal, lifecycleOf, type IntentRow } from '../model.js';
import { parseParams, removeParams, stopParams, waitParams } from '../params/operations.js';
import type { Policy } from '../params/policy.js';
import type { AnyOperation, CallOptions, CallerContext, ResultOf } from '../operations/definition.js';
import { OPERATIONS, type OperationKind, type RegisteredOperation } from '../operations/registry.js';
import type { CompletionWaiter } from './completion.js';
import { isSettled, toResult, type DockerRunResult } from './docker-run.js';
import type { OperationWaiter } from './operation-waiter.js';
import { audited, callerDbStep, type AuditCall } from './audited.js';

export interface OperationDeps {
  pool: Pool;
  waiter: CompletionWaiter;
  operations: OperationWaiter;
  logger: Logger;
  policy: Policy;
}

export type { CallerContext, CallOptions } from '../operations/definition.js';
export type { ExecResult } from '../operations/exec.js';
export type { InspectResult } from '../operations/inspect.js';
export { rowLogs, type LogLineResult, type LogsResult } from '../operations/logs.js';

/** One function per registered operation: `exec`, `logs`, `inspect`, ... */
export type RegisteredTools = {
  [D in RegisteredOperation as D['name']]: (params: unknown, ctx: CallerContext, options?: CallOptions) => Promise<ResultOf<D>>;
};

export type RemoveResult = DockerRunResult & { removed_at: string };

export function createOperationTools(deps: OperationDeps) {
  /**
   * Resolve the target for the caller's tenant, noting it for the audit row. Another tenant's
   * intent is "not found" to the caller; its audit row says it was a cross-tenant attempt.
   */
  async function resolve(call: AuditCall, ctx: CallerContext, target: string): Promise<IntentRow> {
    call.note({ target });
    try {
      const intent = await callerDbStep(deps, 'target.find', () => findTarget(deps.pool, ctx.tenant_id, target), ctx.signal);
      call.intent(intent.id);
      return intent;
    } catch (err) {
      if (err instanceof HighwayError && err.code === 'not_found' && (await existsForAnotherTenant(deps.pool, ctx.tenant_id, target).catch(() => false))) {
        call.note({ cross_tenant: true });
      }
      throw err;
    }
  }

  /** Write an operation for the intent's host (its audit row with it) and await its outcome. */
  async function operate(def: AnyOperation, call: AuditCall, ctx: CallerContext, intent: IntentRow, params: unknown, timeoutMs: number, auditIt = true): Promise<OperationRow> {
    if (!intent.reconciler_id) throw new HighwayError('not_running', `container of intent ${intent.id} is not running (it is ${intent.status})`);
    const reconcilerId = intent.reconciler_id;
    const id = randomUUID();
    let attempts = 0;
    await callerDbStep(deps, 'operation.write', async () => {
      try {
        await insertOperation(deps.pool, {
          id,
          tenant_id: ctx.tenant_id,
          kind: def.name as OperationKind,
          intent_id: intent.id,
          reconciler_id: reconcilerId,
          actor: ctx.worker_id ?? null,
          params,
          audit: auditIt ? def.tool : null,
        });
      } catch (err) {
        // A retry after a write that did commit (its answer lost with the connection): written.
        if (attempts > 0 && (err as { code?: unknown })?.code === '23505') return;
        throw err;
      } finally {
        attempts++;
      }
    }, ctx.signal);
    if (auditIt) call.recorded();
    try {
      const op = await deps.operations.wait(id, timeoutMs);
      if (def.transientResult?.length && op.result) await dropResultKeys(deps.pool, id, def.transientResult);
      return op;
    } catch (err) {
      if (err instanceof HighwayError && err.code === 'timeout') {
        // Nobody took it: say so in the row too (a host that took it records its own outcome).
        const abandoned = await finishOperation(deps.pool, id, { status: 'failed', error: `no answer from host ${intent.reconciler_id}`, error_code: 'timeout' }, ['pending']);
        if (abandoned) throw new HighwayError('timeout', `host ${intent.reconciler_id} of container ${intent.short_id ?? intent.id} did not answer; is its reconciler running?`);
      }
      throw err;
    }
  }

  /** A failed operation as the error it reports. */
  function raise(op: OperationRow): never {
    throw new HighwayError((op.error_code ?? 'internal') as ErrorCode, op.error ?? `${op.kind} failed`);
  }

  async function waitIntent(id: string, until: (row: IntentRow) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<IntentRow> {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await deps.waiter.wait(id, until, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (err) {
      if (timeout.aborted) throw new HighwayError('timeout', `intent ${id} did not get there within ${Math.round(timeoutMs / 1000)} s`);
      throw err;
    }
  }

  const auditDeps = { pool: deps.pool, logger: deps.logger };

  /**
   * A registered operation's tool: validate, check the policy, resolve the target for the
   * caller's tenant, then the operation's own call (which writes the row for the host and
   * awaits it); one audit row per call, whatever happens.
   */
  function runOperation(def: AnyOperation, params: unknown, ctx: CallerContext, options: CallOptions = {}): Promise<unknown> {
    return audited(auditDeps, def.tool, ctx, async (call) => {
      const p = parseParams(def.schema, params) as { target: string };
      def.checkPolicy?.(p, deps.policy);
      const intent = await resolve(call, ctx, p.target);
      return def.call(
        {
          call,
          ctx,
          intent,
          policy: deps.policy,
          options,
          operate: (opParams, timeoutMs, o = {}) => operate(def, call, ctx, intent, opParams, timeoutMs, o.audit !== false),
          waitIntent: (until, timeoutMs) => waitIntent(intent.id, until, timeoutMs, ctx.signal),
          raise,
        },
        p,
      );
    });
  }

  const registered = Object.fromEntries(
    OPERATIONS.map((def) => [def.name, (params: unknown, ctx: CallerContext, options?: CallOptions) => runOperation(def as AnyOperation, params, ctx, options)]),
  ) as RegisteredTools;

  function stop(params: unknown, ctx: CallerContext): Promise<DockerRunResult> {
    return audited(auditDeps, 'tools.docker.stop', ctx, async (call) => {
      const p = parseParams(stopParams, params);
      const intent = await resolve(call, ctx, p.target);
      await call.okWith((q) => requestStopOf(q, intent.id, p.time), (changed) => ({ grace_s: p.time, already: !changed }));
      const grace = p.time ?? lifecycleOf(intent.spec).stopGraceMs / 1000;
      const row = await waitIntent(intent.id, (r) => isSettled(r), (p.wait_timeout ?? grace + 60) * 1000, ctx.signal);
      return toResult(row);
    });
  }

  function remove(params: unknown, ctx: CallerContext): Promise<RemoveResult> {
    return audited(auditDeps, 'tools.docker.remove', ctx, async (call) => {
      const p = parseParams(removeParams, params);
      const intent = await resolve(call, ctx, p.target);
      call.note({ force: p.force });
      if (!intent.removed_at) {
        if (!isTerminal(intent.status) && !p.force) {
          throw new HighwayError('not_ended', `container of intent ${intent.id} has not ended (it is ${intent.status}); stop it first, or use force`);
        }
        await call.okWith((q) => requestRemoval(q, intent.id, p.force));
      } else {
        await call.ok({ already: true });
      }
      const grace = lifecycleOf(intent.spec).stopGraceMs / 1000;
      const row = await waitIntent(intent.id, (r) => r.removed_at !== null, (p.wait_timeout ?? grace + 60) * 1000, ctx.signal);
      return { ...toResult(row), removed_at: row.removed_at!.toISOString() };
    });
  }

  function wait(params: unknown, ctx: CallerContext): Promise<DockerRunResult> {
    return audited(auditDeps, 'tools.docker.wait', ctx, async (call) => {
      const p = parseParams(waitParams, params);
      const intent = await resolve(call, ctx, p.target);
      await call.ok();
      const row = await waitIntent(intent.id, (r) => isTerminal(r.status), p.timeout * 1000, ctx.signal);
      return toResult(row);
    });
  }

  return {
    ...registered,
    stop,
    remove,
    wait,
    /** A registered operation's tool by its definition (the command line's generic subcommands). */
    call: (def: AnyOperation, params: unknown, ctx: CallerContext, options?: CallOptions): Promise<unknown> => runOperation(def, params, ctx, options),
  };
}

export type OperationTools = ReturnType<typeof createOperationTools>;
