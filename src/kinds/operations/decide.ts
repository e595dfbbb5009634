/**
 * decide() for operations (exec, logs, inspect): pure, from the row as this reconciler reads
 * it to what to do. Per key one reconcile runs at a time in a process, so a row that says
 * `running` when a reconcile starts was claimed by an earlier run of this reconciler that died
 * meanwhile: a read (logs, inspect) is simply done again; an exec is never run a second time
 * silently: its processes are ended and it is recorded failed, saying why.
 */
import type { OperationKind, OperationStatus } from '../../db/queries/operations.js';

export type OperationDecision =
  | { type: 'none' }
  /** Claim the pending row (pending -> running) and perform it. */
  | { type: 'perform' }
  /** Perform again a read that was in flight when the reconciler died. */
  | { type: 'perform_again' }
  /** End what is left of an exec that was in flight when the reconciler died, and record it failed. */
  | { type: 'abandon'; error: string };

export interface OperationView {
  kind: OperationKind;
  status: OperationStatus;
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
      return op.kind === 'exec' ? { type: 'abandon', error: ABANDONED_EXEC_ERROR } : { type: 'perform_again' };
    default:
      return { type: 'none' };
  }
}
