/**
 * The container-targeted tools: tools.docker.exec, stop, remove, logs, inspect, wait.
 * None talks to Docker. Each resolves its TARGET (an intent id, or a container id full or
 * short) to an intent of the caller's tenant (another tenant's is "not found", worded the
 * same), then either changes the intent's desired state and awaits its completion
 * notification (stop, remove, wait), or writes an operation row that the container's host
 * performs (exec, logs and inspect of a live container) and awaits its outcome.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { existsForAnotherTenant, findTarget } from '../db/queries/find-target.js';
import { requestRemoval, requestStopOf } from '../db/queries/intent-requests.js';
import { finishOperation, insertOperation, type OperationKind, type OperationRow } from '../db/queries/operations.js';
import { HighwayError, type ErrorCode } from '../errors.js';
import { isTerminal, lifecycleOf, type IntentRow } from '../model.js';
import { parseExecParams } from '../params/exec.js';
import { inspectParams, logsParams, parseParams, removeParams, stopParams, waitParams, type LogsParams } from '../params/operations.js';
import { checkExecPolicy, checkLogsPolicy, type Policy } from '../params/policy.js';
import type { CompletionWaiter } from './completion.js';
import { isSettled, toResult, type DockerRunResult } from './docker-run.js';
import type { OperationWaiter } from './operation-waiter.js';
import type { ActivityContext } from './registry.js';
import { audited, type AuditCall } from './audited.js';

export interface OperationDeps {
  pool: Pool;
  waiter: CompletionWaiter;
  operations: OperationWaiter;
  logger: Logger;
  policy: Policy;
}

/** The caller: only its tenant matters to these tools (and its worker id, for the audit trail). */
export type CallerContext = Pick<ActivityContext, 'tenant_id'> & Partial<Pick<ActivityContext, 'worker_id' | 'signal'>>;

export interface ExecResult {
  operation_id: string;
  intent_id: string;
  container_id: string;
  /** `exited` (the command ended; see exit_code) or `timeout` (ran past its timeout: killed). */
  status: 'exited' | 'timeout';
  exit_code: number | null;
  stdout: string;
  stderr: string;
  duration_ms: number;
  logs_truncated: boolean;
  error: string | null;
  /**
   * A timeout only: what ending the exec's processes achieved. `complete` false means something
   * could not be ended (`left` says what); the error says the same.
   */
  kill?: { killed: number; complete: boolean; left: string[] };
}

export interface LogLineResult {
  stream: 'stdout' | 'stderr';
  timestamp: string;
  text: string;
}

export interface LogsResult {
  intent_id: string;
  container_id: string | null;
  /** `host`: read now from the container's host; `row`: the output recorded when it ended. */
  source: 'host' | 'row';
  stdout: string;
  stderr: string;
  logs_truncated: boolean;
  /** Host reads: each line with its stream and Docker's timestamp, oldest first. */
  lines: LogLineResult[];
  /** Host reads: is the container still running? */
  running: boolean;
}

export type RemoveResult = DockerRunResult & { removed_at: string };

export interface InspectResult {
  intent: Record<string, unknown>;
  /** The live container from its host (secret values redacted); null once it is gone. */
  container: Record<string, unknown> | null;
}

const LIVE = new Set(['running', 'stopping']);

export function createOperationTools(deps: OperationDeps) {
  /**
   * Resolve the target for the caller's tenant, noting it for the audit row. Another tenant's
   * intent is "not found" to the caller; its audit row says it was a cross-tenant attempt.
   */
  async function resolve(call: AuditCall, ctx: CallerContext, target: string): Promise<IntentRow> {
    call.note({ target });
    try {
      const intent = await findTarget(deps.pool, ctx.tenant_id, target);
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
  async function operate(kind: OperationKind, call: AuditCall, ctx: CallerContext, intent: IntentRow, params: unknown, timeoutMs: number, auditIt = true): Promise<OperationRow> {
    if (!intent.reconciler_id) throw new HighwayError('not_running', `container of intent ${intent.id} is not running (it is ${intent.status})`);
    const id = randomUUID();
    await insertOperation(deps.pool, {
      id,
      tenant_id: ctx.tenant_id,
      kind,
      intent_id: intent.id,
      reconciler_id: intent.reconciler_id,
      actor: ctx.worker_id ?? null,
      params,
      audit: auditIt,
    });
    if (auditIt) call.recorded();
    try {
      return await deps.operations.wait(id, timeoutMs);
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

  function exec(params: unknown, ctx: CallerContext): Promise<ExecResult> {
    return audited(auditDeps, 'tools.docker.exec', ctx, async (call) => {
      const spec = parseExecParams(params);
      checkExecPolicy(spec, deps.policy);
      const intent = await resolve(call, ctx, spec.target);
      if (!LIVE.has(intent.status) || !intent.container_id) {
        throw new HighwayError('not_running', `container of intent ${intent.id} is not running (it is ${intent.status})`);
      }
      const op = await operate('exec', call, ctx, intent, spec, (spec.timeout + 30) * 1000);
      if (op.status === 'failed') raise(op);
      const r = op.result as Omit<ExecResult, 'operation_id' | 'intent_id' | 'container_id' | 'error'>;
      return { operation_id: op.id, intent_id: intent.id, container_id: intent.container_id, ...r, error: op.error };
    });
  }

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

  function logs(params: unknown, ctx: CallerContext, options: { audit?: boolean } = {}): Promise<LogsResult> {
    return audited(auditDeps, 'tools.docker.logs', ctx, async (call) => {
      // A poll of `logs --follow` after its first call: not audited again.
      if (options.audit === false) call.skip();
      const p = parseParams(logsParams, params);
      checkLogsPolicy(p, deps.policy);
      const intent = await resolve(call, ctx, p.target);
      if (LIVE.has(intent.status) && intent.container_id) {
        const op = await operate('logs', call, ctx, intent, p, 30_000, options.audit !== false);
        if (op.status === 'done') return hostLogs(intent, p, op.result as { lines: Array<[LogLineResult['stream'], string, string]>; truncated: boolean; running: boolean });
        if (op.error_code !== 'not_running') raise(op);
        // It ended meanwhile: what it wrote is (or is about to be) recorded in the row.
        return rowLogs(await waitIntent(intent.id, (r) => isTerminal(r.status), 30_000, ctx.signal), p);
      }
      call.note({ source: 'row' });
      return rowLogs(intent, p);
    });
  }

  function inspect(params: unknown, ctx: CallerContext): Promise<InspectResult> {
    return audited(auditDeps, 'tools.docker.inspect', ctx, async (call) => {
      const p = parseParams(inspectParams, params);
      const intent = await resolve(call, ctx, p.target);
      let container: Record<string, unknown> | null = null;
      if (intent.container_id && !intent.removed_at && intent.reconciler_id) {
        const op = await operate('inspect', call, ctx, intent, { target: intent.id }, 30_000);
        if (op.status === 'done') container = op.result;
        else if (op.error_code !== 'not_running') raise(op);
      }
      return { intent: intentView(intent), container };
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

  return { exec, stop, remove, logs, inspect, wait };
}

export type OperationTools = ReturnType<typeof createOperationTools>;

function hostLogs(intent: IntentRow, p: LogsParams, r: { lines: Array<[LogLineResult['stream'], string, string]>; truncated: boolean; running: boolean }): LogsResult {
  const lines = r.lines.map(([stream, timestamp, text]) => ({ stream, timestamp, text }));
  const join = (stream: 'stdout' | 'stderr') =>
    lines.filter((l) => l.stream === stream).map((l) => (p.timestamps ? `${l.timestamp} ${l.text}` : l.text)).join('');
  return {
    intent_id: intent.id,
    container_id: intent.container_id,
    source: 'host',
    stdout: join('stdout'),
    stderr: join('stderr'),
    logs_truncated: r.truncated,
    lines,
    running: r.running,
  };
}

/** An ended container's output, from its row: tail (lines), stream selection and byte cap apply; it has no timestamps. */
export function rowLogs(row: IntentRow, p: Pick<LogsParams, 'tail' | 'stdout' | 'stderr' | 'max_bytes'>): LogsResult {
  let truncated = row.logs_truncated;
  const pick = (text: string | null, wanted: boolean): string => {
    if (!wanted || !text) return '';
    let out = text;
    if (p.tail !== 'all') {
      const lines = text.split(/(?<=\n)/);
      out = lines.slice(Math.max(0, lines.length - p.tail)).join('');
      if (p.tail === 0) out = '';
    }
    const bytes = Buffer.from(out);
    if (bytes.length > p.max_bytes) {
      truncated = true;
      out = bytes.subarray(bytes.length - p.max_bytes).toString('utf8');
    }
    return out;
  };
  return {
    intent_id: row.id,
    container_id: row.container_id,
    source: 'row',
    stdout: pick(row.stdout, p.stdout),
    stderr: pick(row.stderr, p.stderr),
    logs_truncated: truncated,
    lines: [],
    running: false,
  };
}

function intentView(r: IntentRow): Record<string, unknown> {
  return {
    intent_id: r.id,
    container_id: r.container_id,
    short_id: r.short_id,
    tenant_id: r.tenant_id,
    workflow_run_id: r.workflow_run_id,
    activity_id: r.activity_id,
    reconciler_id: r.reconciler_id,
    image: r.image,
    status: r.status,
    desired_state: r.desired_state,
    stop_reason: r.stop_reason,
    error: r.error,
    exit_code: r.exit_code,
    oom_killed: r.oom_killed,
    logs_truncated: r.logs_truncated,
    duration_ms: r.duration_ms,
    warnings: r.warnings,
    labels: r.labels,
    created_at: r.created_at,
    started_at: r.started_at,
    finished_at: r.finished_at,
    deadline_at: r.deadline_at,
    removed_at: r.removed_at,
    gc_protected_until: r.gc_protected_until,
    remove_requested_at: r.remove_requested_at ?? null,
    // The validated parameters: secret references (names), never secret values.
    spec: r.spec,
  };
}
