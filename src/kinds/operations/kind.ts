/**
 * The operations kind: requests (rows of highway.docker_operations) on the containers of this
 * host, one kind per operation of the registry (src/operations/registry.ts), dispatched
 * through its definition: nothing here names an operation. Keys are operation ids; a new row notifies `highway_docker_op`;
 * list() returns this reconciler's live operations. Reconcile claims a pending row, performs
 * it and records exactly one outcome (which notifies the waiting caller).
 */
import { filter, map, type Observable } from 'rxjs';
import { getIntent } from '../../db/queries/get-intent.js';
import {
  claimOperation,
  finishOperation,
  getOperation,
  listLiveOperationIds,
  saveOperationProgress,
  type OperationOutcome,
  type OperationRow,
} from '../../db/queries/operations.js';
import { HighwayError } from '../../errors.js';
import { defaultPolicy } from '../../params/policy.js';
import { parseParams } from '../../params/operations.js';
import type { AnyOperation } from '../../operations/definition.js';
import { operationNamed } from '../../operations/registry.js';
import { envSecretResolver } from '../../secrets.js';
import type { Kind, Sources } from '../../runtime/controller.js';
import type { ReconcileResult } from '../../runtime/workqueue.js';
import { decideOperation } from './decide.js';
import { ExecLeftAtShutdown, RepeatableStep, failure, type OperationContext } from './effects.js';
import { UUID } from '../../ids.js';
import type { HostKindOptions } from '../host-kind-options.js';

export const OPERATION_CHANNELS = { requested: 'highway_docker_op', done: 'highway_docker_op_done' } as const;

export interface OperationsKindOptions extends HostKindOptions {
  /** Operations in flight at most (an exec holds its slot until it ends; default 32). */
  concurrency?: number;
}


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
      progress: (id, progress) => saveOperationProgress(options.pool, id, progress),
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
    if (!seen) return {};
    const def = operationNamed(seen.kind);
    if (!def) {
      // A kind this build does not know (written by a newer one): said, not left pending.
      const claimed = seen.reconciler_id === reconcilerId ? await claimOperation(pool, id, reconcilerId) : null;
      if (claimed) await this.record(null, claimed, { status: 'failed', error: `this host does not know operations of kind ${JSON.stringify(seen.kind)}; upgrade it`, error_code: 'invalid_params' });
      return {};
    }
    const decision = decideOperation({ ...seen, rerun_safe: def.rerunSafe }, reconcilerId);
    if (decision.type === 'none') return {};
    const op = decision.type === 'perform' ? await claimOperation(pool, id, reconcilerId) : seen;
    if (!op) return {}; // claimed meanwhile (another process with our id)
    const intent = await getIntent(pool, op.intent_id);

    let outcome: OperationOutcome;
    try {
      if (decision.type === 'abandon') {
        const failed: OperationOutcome = { status: 'failed', error: decision.error, error_code: def.failureCode ?? 'internal' };
        outcome = intent && def.recover ? await def.recover(this.ctx, op, intent, parseParams(def.schema, op.params)) : failed;
      } else {
        if (!intent) throw new HighwayError('not_found', `intent ${op.intent_id} does not exist`);
        const params = parseParams(def.schema, op.params);
        def.checkPolicy?.(params, this.ctx.policy); // again on the host: a row written past the tool meets the same policy
        outcome = await def.perform(this.ctx, op, intent, params);
      }
    } catch (err) {
      if (err instanceof ExecLeftAtShutdown) return {};
      // A step safe to repeat (reading an ended exec's result file) met an unavailable daemon: retried by the queue's backoff.
      if (err instanceof RepeatableStep) throw err.cause;
      // Docker unreachable for a rerun-safe operation: retried by the queue's backoff (the row stays running, ours).
      if (err instanceof HighwayError && err.code === 'docker_unavailable' && def.rerunSafe) throw err;
      outcome = failure(err, def.failureCode ?? 'internal');
    }
    await this.record(def, op, outcome);
    return {};
  }

  /** Record the outcome (once; with the host's own audit row when the operation has one, in the same statement). */
  private async record(def: AnyOperation | null, op: OperationRow, outcome: OperationOutcome): Promise<void> {
    const own = def?.hostAudit?.(op, outcome);
    const audit = own
      ? { actor: this.options.reconcilerId, operation: own.operation, outcome: outcome.status === 'failed' ? ('error' as const) : ('ok' as const), detail: own.detail }
      : undefined;
    await finishOperation(this.options.pool, op.id, outcome, ['running'], audit);
  }
}
