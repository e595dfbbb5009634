/**
 * The operations kind: exec, logs and inspect requests (rows of highway.docker_operations) on
 * the containers of this host. Keys are operation ids; a new row notifies `highway_docker_op`;
 * list() returns this reconciler's live operations. Reconcile claims a pending row, performs
 * it and records exactly one outcome (which notifies the waiting caller).
 */
import { filter, map, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Pool } from '../../db/pool.js';
import { getIntent } from '../../db/queries/get-intent.js';
import {
  claimOperation,
  finishOperation,
  getOperation,
  listLiveOperationIds,
  type OperationOutcome,
  type OperationRow,
} from '../../db/queries/operations.js';
import type { ContainerClient } from '../../docker/client.js';
import { HighwayError, errorMessage } from '../../errors.js';
import { defaultPolicy, type Policy } from '../../params/policy.js';
import { parseExecParams } from '../../params/exec.js';
import { envSecretResolver, type SecretResolver } from '../../secrets.js';
import type { Kind, Sources } from '../../runtime/controller.js';
import type { ReconcileResult } from '../../runtime/workqueue.js';
import { ABANDONED_EXEC_ERROR_UNKILLED, decideOperation } from './decide.js';
import { ExecLeftAtShutdown, failure, findRunningExec, killExecProcesses, performExec, performInspect, performLogs, type OperationContext } from './effects.js';

export const OPERATION_CHANNELS = { requested: 'highway_docker_op', done: 'highway_docker_op_done' } as const;

export interface OperationsKindOptions {
  pool: Pool;
  docker: ContainerClient;
  logger: Logger;
  reconcilerId: string;
  resolveSecret?: SecretResolver;
  policy?: Policy;
  /** Operations in flight at most (an exec holds its slot until it ends; default 32). */
  concurrency?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class OperationsKind implements Kind {
  readonly name = 'operations';
  readonly channels = [OPERATION_CHANNELS.requested];
  readonly concurrency: number;
  private readonly ctx: OperationContext;
  private readonly shutdown = new AbortController();

  constructor(private readonly options: OperationsKindOptions) {
    this.concurrency = options.concurrency ?? 32;
    this.ctx = {
      docker: options.docker,
      logger: options.logger,
      resolveSecret: options.resolveSecret ?? envSecretResolver,
      policy: options.policy ?? defaultPolicy,
      shutdown: this.shutdown.signal,
    };
  }

  /**
   * The reconciler is stopping: execs still running after `graceMs` are left (their rows stay
   * `running`; the next start ends their processes and records them failed), so a shutdown
   * never waits for an exec's whole timeout. Reads are short and finish.
   */
  beginShutdown(graceMs: number): void {
    setTimeout(() => this.shutdown.abort(), graceMs).unref();
  }

  fields(id: string) {
    return { operation_id: id };
  }

  watch(sources: Sources): Observable<string> {
    return sources.notifications$.pipe(
      filter((s) => s.type === 'notification' && s.channel === OPERATION_CHANNELS.requested && UUID.test(s.payload)),
      map((s) => (s as { payload: string }).payload),
    );
  }

  list(): Promise<string[]> {
    return listLiveOperationIds(this.options.pool, this.options.reconcilerId);
  }

  async reconcile(id: string): Promise<ReconcileResult> {
    const { pool, reconcilerId } = this.options;
    const seen = await getOperation(pool, id);
    const decision = decideOperation(seen, reconcilerId);
    if (decision.type === 'none') return {};
    const op = decision.type === 'perform' ? await claimOperation(pool, id, reconcilerId) : seen;
    if (!op) return {}; // claimed meanwhile (another process with our id)
    const intent = await getIntent(pool, op.intent_id);

    if (decision.type === 'abandon') {
      let error = decision.error;
      if (intent?.container_id) {
        const containerId = intent.container_id;
        const kill = await (async () => {
          const spec = parseExecParams(op.params);
          // Its Docker exec, found by command and user: its session is then known as the host sees it.
          const execId = await findRunningExec(this.ctx, containerId, spec).catch(() => null);
          return killExecProcesses(this.ctx, containerId, op.id, spec.user, this.options.logger, execId ? { execId } : undefined);
        })().catch((err: unknown) => ({ complete: false, summary: errorMessage(err) }));
        if (!kill.complete) error = `${ABANDONED_EXEC_ERROR_UNKILLED}: ${kill.summary}`;
      }
      await this.record(op, { status: 'failed', error, error_code: 'exec_failed' });
      return {};
    }

    let outcome: OperationOutcome;
    try {
      if (!intent) throw new HighwayError('not_found', `intent ${op.intent_id} does not exist`);
      outcome =
        op.kind === 'exec' ? await performExec(this.ctx, op, intent) : op.kind === 'logs' ? await performLogs(this.ctx, op, intent) : await performInspect(this.ctx, op, intent);
    } catch (err) {
      if (err instanceof ExecLeftAtShutdown) return {};
      // Docker unreachable for a read: retried by the queue's backoff (the row stays running, ours).
      if (err instanceof HighwayError && err.code === 'docker_unavailable' && op.kind !== 'exec') throw err;
      outcome = failure(err, op.kind === 'exec' ? 'exec_failed' : 'internal');
    }
    await this.record(op, outcome);
    return {};
  }

  /** Record the outcome (once; an exec's with its audit entry, in the same statement). */
  private async record(op: OperationRow, outcome: OperationOutcome): Promise<void> {
    const result = outcome.result as { exit_code?: number | null } | null | undefined;
    const audit =
      op.kind === 'exec'
        ? {
            actor: this.options.reconcilerId,
            operation: 'container.exec',
            outcome: outcome.status === 'failed' ? ('error' as const) : ('ok' as const),
            detail: { operation_id: op.id, status: outcome.status, exit_code: result?.exit_code ?? null, error: outcome.error ?? null, code: outcome.error_code ?? null },
          }
        : undefined;
    await finishOperation(this.options.pool, op.id, outcome, ['running'], audit);
  }
}
