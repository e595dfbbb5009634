import type { Queryable } from '../pool.js';
import type { IntentRow, IntentStatus, StopReason } from '../../model.js';
import { INTENT_COLUMNS_WITHOUT_OUTPUT } from './intent-columns.js';
import { SURROUNDINGS_COLUMNS, SURROUNDINGS_FROM, splitSurroundings, type IntentSurroundings } from '../../kinds/containers/queries/load-reconcile-state.js';

export interface UnclaimedIntent {
  intent: IntentRow;
  around: IntentSurroundings;
  dbNow: Date;
}

/**
 * Unclaimed pending intents (no host took them) older than `minAgeMs`, with their run,
 * activity and worker, oldest first: the cluster leader judges whether their caller went away.
 */
export async function unclaimedIntents(q: Queryable, minAgeMs: number, limit = 1000): Promise<UnclaimedIntent[]> {
  const res = await q.query<IntentRow & IntentSurroundings & { db_now: Date }>(
    `SELECT ${INTENT_COLUMNS_WITHOUT_OUTPUT('c')}, ${SURROUNDINGS_COLUMNS}
       ${SURROUNDINGS_FROM}
      WHERE c.reconciler_id IS NULL AND c.removed_at IS NULL AND c.status = 'pending'
        AND c.created_at < now() - make_interval(secs => $1 / 1000.0)
      ORDER BY c.created_at
      LIMIT $2`,
    [minAgeMs, limit],
  );
  return res.rows.map((row) => {
    const { intent, around, dbNow } = splitSurroundings(row);
    return { intent, around, dbNow };
  });
}

/**
 * End an intent no host took (it had no container: nothing to collect or remove), if it is
 * still unclaimed and pending. Returns the row, or null when a host took it meanwhile.
 */
export async function endUnclaimed(q: Queryable, id: string, status: IntentStatus, stopReason: StopReason | null, error: string | null) {
  const res = await q.query<{ id: string; tenant_id: string; workflow_run_id: string; activity_id: string; error: string | null }>(
    `UPDATE highway.docker_containers
        SET status = $2, stop_reason = $3, error = $4, error_code = CASE WHEN $4::text IS NULL THEN NULL ELSE 'never_started' END, finished_at = now(), removed_at = now(), updated_at = now()
      WHERE id = $1 AND reconciler_id IS NULL AND removed_at IS NULL AND status = 'pending'
      RETURNING id, tenant_id, workflow_run_id, activity_id, error`,
    [id, status, stopReason, error],
  );
  return res.rows[0] ?? null;
}
