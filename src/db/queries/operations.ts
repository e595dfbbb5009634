/**
 * highway.docker_operations: requests on a container (exec, logs, inspect, ...), performed by the
 * reconciler that owns it. The caller inserts (with its audit entry), the host claims and
 * finishes; every status change notifies `highway_docker_op_done` ("<id> <status>").
 */
import { jsonbParam } from '../jsonb-param.js';
import type { Queryable } from '../pool.js';
import type { OperationKind } from '../../operations/registry.js';

/** The kinds follow from the registry of operations (src/operations/registry.ts). */
export type { OperationKind };
export type OperationStatus = 'pending' | 'running' | 'done' | 'failed' | 'timeout';

export interface OperationRow {
  id: string;
  tenant_id: string;
  kind: OperationKind;
  intent_id: string;
  reconciler_id: string;
  actor: string | null;
  params: Record<string, unknown>;
  status: OperationStatus;
  result: Record<string, unknown> | null;
  error: string | null;
  error_code: string | null;
  /** What a two-step operation's first step gave, recorded while it is running (migration 026); null for the others. */
  progress: Record<string, unknown> | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export const isFinished = (status: OperationStatus): boolean => status === 'done' || status === 'failed' || status === 'timeout';

/** A new operation: the columns the caller writes (the rest have their defaults). */
export interface NewOperation extends Pick<OperationRow, 'id' | 'tenant_id' | 'kind' | 'intent_id' | 'reconciler_id' | 'actor'> {
  params: unknown;
  /** The audit entry written with the row (its operation: the tool's name); null: none (logs polls). */
  audit: string | null;
}

/** Insert a pending operation (and, unless told not to, its audit entry) in one statement. */
export async function insertOperation(q: Queryable, op: NewOperation): Promise<void> {
  await q.query(
    `WITH inserted AS (
       INSERT INTO highway.docker_operations (id, tenant_id, kind, intent_id, reconciler_id, actor, params)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, tenant_id, kind, intent_id, actor
     )
     INSERT INTO highway.docker_audit (tenant_id, actor, intent_id, operation, outcome, detail)
     SELECT tenant_id, actor, intent_id, $8::text, 'ok', jsonb_build_object('operation_id', id)
       FROM inserted WHERE $8::text IS NOT NULL`,
    [op.id, op.tenant_id, op.kind, op.intent_id, op.reconciler_id, op.actor, JSON.stringify(op.params), op.audit],
  );
}

export async function getOperation(q: Queryable, id: string): Promise<OperationRow | null> {
  const res = await q.query<OperationRow>(`SELECT * FROM highway.docker_operations WHERE id = $1`, [id]);
  return res.rows[0] ?? null;
}

/** Ids of this reconciler's operations that are not finished (pending, or running when it last looked). */
export async function listLiveOperationIds(q: Queryable, reconcilerId: string): Promise<string[]> {
  const res = await q.query<{ id: string }>(
    `SELECT id FROM highway.docker_operations WHERE reconciler_id = $1 AND status IN ('pending', 'running')`,
    [reconcilerId],
  );
  return res.rows.map((r) => r.id);
}

/** Claim a pending operation of this reconciler: it becomes `running`. Null when it is not pending (or not ours). */
export async function claimOperation(q: Queryable, id: string, reconcilerId: string): Promise<OperationRow | null> {
  const res = await q.query<OperationRow>(
    `UPDATE highway.docker_operations SET status = 'running', started_at = now()
      WHERE id = $1 AND reconciler_id = $2 AND status = 'pending'
      RETURNING *`,
    [id, reconcilerId],
  );
  return res.rows[0] ?? null;
}

/** Record what a running operation has done so far (its outcome is recorded later, by finishOperation). */
export async function saveOperationProgress(q: Queryable, id: string, progress: Record<string, unknown>): Promise<void> {
  await q.query(`UPDATE highway.docker_operations SET progress = $2 WHERE id = $1 AND status = 'running'`, [id, JSON.stringify(progress)]);
}

export interface OperationOutcome {
  status: 'done' | 'failed' | 'timeout';
  result?: Record<string, unknown> | null;
  error?: string | null;
  error_code?: string | null;
}

/**
 * Record the outcome of an operation that is not finished yet (exactly one outcome is ever
 * recorded: a second finish finds it finished and changes nothing), with its audit entry in
 * the same statement when `audit` is given. Returns whether it did.
 */
export async function finishOperation(
  q: Queryable,
  id: string,
  outcome: OperationOutcome,
  from: OperationStatus[] = ['running'],
  audit?: { actor: string; operation: string; outcome: 'ok' | 'error'; detail: Record<string, unknown> },
): Promise<boolean> {
  const res = await q.query(
    `WITH finished AS (
       UPDATE highway.docker_operations
          SET status = $2, result = $3, error = $4, error_code = $5, finished_at = now()
        WHERE id = $1 AND status = ANY($6::text[])
        RETURNING id, tenant_id, intent_id
     ), audit AS (
       INSERT INTO highway.docker_audit (tenant_id, actor, intent_id, operation, outcome, detail)
       SELECT tenant_id, $7::text, intent_id, $8::text, $9::text, $10::jsonb FROM finished WHERE $8::text IS NOT NULL
     )
     SELECT id FROM finished`,
    [
      id,
      outcome.status,
      // An exec's result carries its output (up to the cap per stream): written once, as bytes.
      outcome.result === undefined || outcome.result === null ? null : jsonbParam(outcome.result),
      outcome.error ?? null,
      outcome.error_code ?? null,
      from,
      audit?.actor ?? null,
      audit?.operation ?? null,
      audit?.outcome ?? null,
      JSON.stringify(audit?.detail ?? {}),
    ],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Drop these keys of a finished operation's result (bulky content, once its caller has read it). */
export async function dropResultKeys(q: Queryable, id: string, keys: string[]): Promise<void> {
  await q.query(`UPDATE highway.docker_operations SET result = result - $2::text[] WHERE id = $1 AND result IS NOT NULL`, [id, keys]);
}
