import type { Queryable } from '../../../db/pool.js';
import type { IntentRow } from '../../../model.js';
import { INTENT_COLUMNS_WITHOUT_OUTPUT } from '../../../db/queries/intent-columns.js';

/** What the reconciler knows about an intent's surroundings: its run, activity and worker. */
export interface IntentSurroundings {
  run_status: string | null;
  activity_exists: boolean;
  activity_status: string | null;
  activity_heartbeat_at: Date | null;
  activity_heartbeat_timeout_s: number | null;
  activity_created_at: Date | null;
  worker_exists: boolean;
  worker_status: string | null;
  worker_heartbeat_at: Date | null;
}

export type ReconcileState = { intent: IntentRow; around: IntentSurroundings; dbNow: Date };

/**
 * The intent row with its run, activity and worker, and the database's clock, in one round
 * trip. Claiming is separate (claim-intents.ts): the first look at a row decides whose it is.
 */
export async function loadReconcileState(q: Queryable, id: string): Promise<ReconcileState | null> {
  const res = await q.query<IntentRow & IntentSurroundings & { db_now: Date }>(
    `SELECT ${INTENT_COLUMNS_WITHOUT_OUTPUT('c')},
            r.status               AS run_status,
            (a.id IS NOT NULL)     AS activity_exists,
            a.status               AS activity_status,
            a.heartbeat_at         AS activity_heartbeat_at,
            a.heartbeat_timeout_s  AS activity_heartbeat_timeout_s,
            a.created_at           AS activity_created_at,
            (w.id IS NOT NULL)     AS worker_exists,
            w.status               AS worker_status,
            w.heartbeat_at         AS worker_heartbeat_at,
            clock_timestamp()      AS db_now
       FROM highway.docker_containers c
       LEFT JOIN highway.workflow_runs r ON r.id = c.workflow_run_id
       LEFT JOIN highway.activities a ON a.id = c.activity_id
       LEFT JOIN highway.workers w ON w.id = c.worker_id
      WHERE c.id = $1`,
    [id],
  );
  const row = res.rows[0];
  if (!row) return null;
  const {
    run_status, activity_exists, activity_status, activity_heartbeat_at, activity_heartbeat_timeout_s,
    activity_created_at, worker_exists, worker_status, worker_heartbeat_at, db_now, ...intent
  } = row;
  return {
    intent: intent as IntentRow,
    around: {
      run_status, activity_exists, activity_status, activity_heartbeat_at, activity_heartbeat_timeout_s,
      activity_created_at, worker_exists, worker_status, worker_heartbeat_at,
    },
    dbNow: db_now,
  };
}
