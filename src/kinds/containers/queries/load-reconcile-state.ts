import { prepared, type Queryable } from '../../../db/pool.js';
import type { IntentRow } from '../../../model.js';
import { INTENT_COLUMNS_WITHOUT_OUTPUT } from '../../../db/queries/intent-columns.js';
import type { HostOffer } from './claim-intents.js';

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

/** The surroundings of intent `c` (its run, activity, worker) and the database's clock, as columns ... */
export const SURROUNDINGS_COLUMNS = `r.status AS run_status, (a.id IS NOT NULL) AS activity_exists, a.status AS activity_status,
  a.heartbeat_at AS activity_heartbeat_at, a.heartbeat_timeout_s AS activity_heartbeat_timeout_s, a.created_at AS activity_created_at,
  (w.id IS NOT NULL) AS worker_exists, w.status AS worker_status, w.heartbeat_at AS worker_heartbeat_at, clock_timestamp() AS db_now`;

/** ... and the joins they come from. */
export const SURROUNDINGS_FROM = `FROM highway.docker_containers c
  LEFT JOIN highway.workflow_runs r ON r.id = c.workflow_run_id
  LEFT JOIN highway.activities a ON a.id = c.activity_id
  LEFT JOIN highway.workers w ON w.id = c.worker_id`;

/** A row of `INTENT_COLUMNS_WITHOUT_OUTPUT('c'), SURROUNDINGS_COLUMNS` (and any other columns, left on the intent), taken apart. */
export function splitSurroundings(row: IntentRow & IntentSurroundings & { db_now: Date }): ReconcileState {
  const {
    run_status, activity_exists, activity_status, activity_heartbeat_at, activity_heartbeat_timeout_s,
    activity_created_at, worker_exists, worker_status, worker_heartbeat_at, db_now, ...intent
  } = row;
  return {
    intent,
    around: {
      run_status, activity_exists, activity_status, activity_heartbeat_at, activity_heartbeat_timeout_s,
      activity_created_at, worker_exists, worker_status, worker_heartbeat_at,
    },
    dbNow: db_now,
  };
}

/**
 * The intent row with its run, activity and worker, and the database's clock, in one round
 * trip. With `claimFor` (a host without a capacity limit), an unclaimed pending intent whose
 * placement the host matches is claimed in the same statement; the returned row shows it.
 * (A host with a capacity claims separately, oldest first: claim-intents.ts.)
 */
export async function loadReconcileState(q: Queryable, id: string, claimFor?: HostOffer): Promise<ReconcileState | null> {
  const res = await q.query<IntentRow & IntentSurroundings & { db_now: Date; claimed_by: string | null }>(
    prepared(
      `WITH claim AS (
         UPDATE highway.docker_containers SET reconciler_id = $2, pending_reason = NULL, updated_at = now()
          WHERE id = $1 AND $2::text IS NOT NULL AND reconciler_id IS NULL AND removed_at IS NULL AND status = 'pending'
            AND (spec->'placement'->>'host' IS NULL OR spec->'placement'->>'host' = $2)
            AND (spec->'placement'->'labels' IS NULL OR $3::jsonb @> (spec->'placement'->'labels'))
          RETURNING reconciler_id
       )
       SELECT ${INTENT_COLUMNS_WITHOUT_OUTPUT('c')},
              COALESCE(c.reconciler_id, (SELECT reconciler_id FROM claim)) AS claimed_by,
              ${SURROUNDINGS_COLUMNS}
         ${SURROUNDINGS_FROM}
        WHERE c.id = $1`,
      [id, claimFor?.id ?? null, JSON.stringify(claimFor?.labels ?? {})],
    ),
  );
  const row = res.rows[0];
  if (!row) return null;
  const { intent, around, dbNow } = splitSurroundings(row);
  const { claimed_by, ...rest } = intent as IntentRow & { claimed_by: string | null };
  return { intent: { ...rest, reconciler_id: claimed_by }, around, dbNow };
}

/**
 * Every live intent of this reconciler (ours or unclaimed, not removed) with its surroundings,
 * in one statement: what the periodic resync compares with the containers (periodic.ts).
 */
export async function loadLiveStates(q: Queryable, reconcilerId: string): Promise<ReconcileState[]> {
  const res = await q.query<IntentRow & IntentSurroundings & { db_now: Date }>(
    `SELECT ${INTENT_COLUMNS_WITHOUT_OUTPUT('c')}, ${SURROUNDINGS_COLUMNS}
       ${SURROUNDINGS_FROM}
      WHERE c.removed_at IS NULL AND (c.reconciler_id = $1 OR c.reconciler_id IS NULL)`,
    [reconcilerId],
  );
  return res.rows.map(splitSurroundings);
}
