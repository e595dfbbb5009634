/**
 * decide() for operations (every kind of the registry, src/operations/registry.ts): pure, from
 * the row as this reconciler reads it to what to do. Per key one reconcile runs at a time in a
 * process, so a row that says `running` when a reconcile starts was claimed by an earlier run
 * of this reconciler that died meanwhile: a rerun-safe operation (a read: logs, inspect, cp) is
 * simply done again; one that is not (an exec) is never run a second time silently: its
 * definition's `recover` collects what had ended (an exec with result_path: its file is read),
 * or ends what is left of it and records it failed, saying why.
 */
import type { OperationStatus } from '../../db/queries/operations.js';

export type OperationDecision =
  | { type: 'none' }
  /** Claim the pending row (pending -> running) and perform it. */
  | { type: 'perform' }
  /** Perform again a read that was in flight when the reconciler died. */
  | { type: 'perform_again' }
  /** An operation (an exec) that was in flight when the reconciler died: its `recover` finishes what ended, or ends what is left and records it failed. */
  | { type: 'abandon'; error: string };

export interface OperationView {
  status: OperationStatus;
  /** From the operation's definition: may it be performed again? */
  rerun_safe: boolean;
  reconciler_id: string;
}

export const ABANDONED_EXEC_ERROR =
  'the reconciler stopped while this exec was in flight; its processes were ended and it was not run again (its outcome is unknown)';
/** The same, when not all of its processes could be ended (the detail follows). */
export const ABANDONED_EXEC_ERROR_UNKILLED =
  'the reconciler stopped while this exec was in flight; it was not run again (its outcome is unknown), and its processes could not all be ended';

export function decideOperation(op: OperationView | null, reconcilerId: string): OperationDecision {
  if (!op || op.reconciler_id !== reconcilerId) return { type: 'none' };
  switch (op.status) {
    case 'pending':
      return { type: 'perform' };
    case 'running':
      return op.rerun_safe ? { type: 'perform_again' } : { type: 'abandon', error: ABANDONED_EXEC_ERROR };
    default:
      return { type: 'none' };
  }
}
