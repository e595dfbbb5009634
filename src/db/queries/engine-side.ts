/**
 * The engine's side of the contract (highway.workflow_runs, activities, workers): the writes an
 * engine makes. Engines in other languages write the same SQL (docs/library.md lists it).
 */
import type { Queryable } from '../pool.js';

/** Mark a run cancelled (its containers are stopped); the tenant, when given, must own it. Rows changed. */
export async function cancelRun(q: Queryable, runId: string, tenantId: string | null): Promise<number> {
  const res = await q.query(
    `UPDATE highway.workflow_runs SET status = 'cancelled', updated_at = now() WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2)`,
    [runId, tenantId],
  );
  return res.rowCount ?? 0;
}

/** Create a run (if missing) and return its tenant. */
export async function ensureRun(q: Queryable, runId: string, tenantId: string): Promise<string | null> {
  const res = await q.query<{ tenant_id: string }>(
    `WITH ins AS (
       INSERT INTO highway.workflow_runs (id, tenant_id) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING tenant_id
     )
     SELECT tenant_id FROM ins UNION ALL SELECT tenant_id FROM highway.workflow_runs WHERE id = $1 LIMIT 1`,
    [runId, tenantId],
  );
  return res.rows[0]?.tenant_id ?? null;
}

export interface ActivityRow {
  id: string;
  workflow_run_id: string;
  status: string;
  heartbeat_at: Date | null;
  heartbeat_timeout_s: number | null;
  created_at: Date;
}

/** Create an activity (or return the existing one: same id, same run). */
export async function insertActivity(q: Queryable, id: string, runId: string, heartbeatTimeoutS: number | null): Promise<ActivityRow | null> {
  const res = await q.query<ActivityRow>(
    `WITH ins AS (
       INSERT INTO highway.activities (id, workflow_run_id, heartbeat_at, heartbeat_timeout_s) VALUES ($1, $2, now(), $3)
       ON CONFLICT (id) DO NOTHING RETURNING *
     )
     SELECT * FROM ins UNION ALL SELECT * FROM highway.activities WHERE id = $1 LIMIT 1`,
    [id, runId, heartbeatTimeoutS],
  );
  return res.rows[0] ?? null;
}

/**
 * Heartbeat an activity (and optionally change its heartbeat timeout); only a running one. With a
 * tenant, only an activity of that tenant's run. The row, or null when there is none.
 */
export async function touchActivity(q: Queryable, id: string, tenantId: string | null, heartbeatTimeoutS: number | null | undefined): Promise<ActivityRow | null> {
  const res = await q.query<ActivityRow>(
    `UPDATE highway.activities a
        SET heartbeat_at = now(),
            heartbeat_timeout_s = CASE WHEN $3::boolean THEN $4::int ELSE a.heartbeat_timeout_s END
      WHERE a.id = $1
        AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM highway.workflow_runs r WHERE r.id = a.workflow_run_id AND r.tenant_id = $2))
      RETURNING a.*`,
    [id, tenantId, heartbeatTimeoutS !== undefined, heartbeatTimeoutS ?? null],
  );
  return res.rows[0] ?? null;
}

/** Set an activity's status (`timed_out` stops its containers). */
export async function setActivityStatus(q: Queryable, id: string, tenantId: string | null, status: string): Promise<ActivityRow | null> {
  const res = await q.query<ActivityRow>(
    `UPDATE highway.activities a SET status = $3
      WHERE a.id = $1
        AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM highway.workflow_runs r WHERE r.id = a.workflow_run_id AND r.tenant_id = $2))
      RETURNING a.*`,
    [id, tenantId, status],
  );
  return res.rows[0] ?? null;
}
