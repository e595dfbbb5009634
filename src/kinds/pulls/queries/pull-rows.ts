/** The queries of highway.docker_pulls: the tool writes and reads, the host's pulls kind claims and finishes. */
import type { Queryable } from '../../../db/pool.js';

export type PullStatus = 'pending' | 'running' | 'done' | 'failed';

export interface PullRow {
  id: string;
  tenant_id: string;
  image: string;
  reconciler_id: string;
  registry_auth: string | null;
  status: PullStatus;
  digest: string | null;
  duration_ms: number | null;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const COLUMNS = 'id, tenant_id, image, reconciler_id, registry_auth, status, digest, duration_ms, error, created_at, started_at, finished_at';

export interface NewPull {
  id: string;
  reconciler_id: string;
}

/** One row per host, and the request's audit entry, in one statement. */
export async function insertPulls(
  q: Queryable,
  request: { tenant_id: string; actor: string | null; image: string; registry_auth: string | null; pulls: NewPull[] },
): Promise<void> {
  await q.query(
    `WITH rows AS (
       INSERT INTO highway.docker_pulls (id, tenant_id, image, reconciler_id, registry_auth)
       SELECT p.id, $1, $2, p.reconciler_id, $3 FROM jsonb_to_recordset($4::jsonb) AS p(id uuid, reconciler_id text)
       RETURNING id, reconciler_id
     )
     INSERT INTO highway.docker_audit (tenant_id, actor, operation, outcome, detail)
     SELECT $1, $5, 'tools.docker.pull', 'ok',
            jsonb_build_object('image', $2::text, 'registry_auth', $3::text,
                               'pulls', jsonb_agg(jsonb_build_object('pull_id', id, 'host', reconciler_id)))
       FROM rows`,
    [request.tenant_id, request.image, request.registry_auth, JSON.stringify(request.pulls), request.actor],
  );
}

export async function getPulls(q: Queryable, ids: readonly string[]): Promise<PullRow[]> {
  const res = await q.query<PullRow>(`SELECT ${COLUMNS} FROM highway.docker_pulls WHERE id = ANY($1::uuid[])`, [ids]);
  return res.rows;
}

/** The image of a live pull of this host (to map a notification to the kind's key), or null. */
export async function livePullImage(q: Queryable, id: string, reconcilerId: string): Promise<string | null> {
  const res = await q.query<{ image: string }>(
    `SELECT image FROM highway.docker_pulls WHERE id = $1 AND reconciler_id = $2 AND status IN ('pending', 'running')`,
    [id, reconcilerId],
  );
  return res.rows[0]?.image ?? null;
}

/** Every image with live pulls on this host: the resync's keys (running ones were cut short by a crash). */
export async function livePullImages(q: Queryable, reconcilerId: string): Promise<string[]> {
  const res = await q.query<{ image: string }>(
    `SELECT DISTINCT image FROM highway.docker_pulls WHERE reconciler_id = $1 AND status IN ('pending', 'running')`,
    [reconcilerId],
  );
  return res.rows.map((r) => r.image);
}

/** Mark the live pulls of an image on this host running; returns them. */
export async function claimPulls(q: Queryable, reconcilerId: string, image: string): Promise<PullRow[]> {
  const res = await q.query<PullRow>(
    `UPDATE highway.docker_pulls SET status = 'running', started_at = coalesce(started_at, now())
      WHERE reconciler_id = $1 AND image = $2 AND status IN ('pending', 'running')
      RETURNING ${COLUMNS}`,
    [reconcilerId, image],
  );
  return res.rows;
}

export interface PullOutcome {
  status: 'done' | 'failed';
  digest: string | null;
  duration_ms: number | null;
  error: string | null;
}

/**
 * Finish every live pull of `image` on this host with these credentials (also those that came in
 * while the pull ran: they share its result), with one audit entry each. Returns the rows finished.
 */
export async function finishPulls(
  q: Queryable,
  reconcilerId: string,
  image: string,
  registryAuth: string | null,
  outcome: PullOutcome,
): Promise<PullRow[]> {
  const res = await q.query<PullRow>(
    `WITH done AS (
       UPDATE highway.docker_pulls
          SET status = $4, digest = $5, duration_ms = $6, error = $7, finished_at = now(), started_at = coalesce(started_at, now())
        WHERE reconciler_id = $1 AND image = $2 AND registry_auth IS NOT DISTINCT FROM $3 AND status IN ('pending', 'running')
        RETURNING ${COLUMNS}
     ), audit AS (
       INSERT INTO highway.docker_audit (tenant_id, actor, operation, outcome, detail)
       SELECT tenant_id, $1, 'image.pull', CASE WHEN $4 = 'done' THEN 'ok' ELSE 'error' END,
              jsonb_strip_nulls(jsonb_build_object('pull_id', id, 'image', image, 'digest', digest, 'duration_ms', duration_ms, 'error', error))
         FROM done
     )
     SELECT * FROM done`,
    [reconcilerId, image, registryAuth, outcome.status, outcome.digest, outcome.duration_ms, outcome.error],
  );
  return res.rows;
}

/** A waiter gave up: pulls no host has started yet end failed (a running pull is left to finish). */
export async function expirePendingPulls(q: Queryable, ids: readonly string[], error: string): Promise<void> {
  await q.query(
    `UPDATE highway.docker_pulls SET status = 'failed', error = $2, finished_at = now()
      WHERE id = ANY($1::uuid[]) AND status = 'pending'`,
    [ids, error],
  );
}
