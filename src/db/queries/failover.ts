import type { Queryable } from '../pool.js';
import { TERMINAL_SQL } from './intent-columns.js';
import { hostAliveSql, hostExpirySql } from './hosts.js';

/**
 * A host's intents that never reached Docker (claimed, no start attempted): back to the pool,
 * announced so a live host claims them now, with `reason` as their pending reason. For a dead
 * host (failover), and for a live one that cannot reach its Docker daemon. Returns their ids.
 */
export async function releaseUnstarted(q: Queryable, hostId: string, reason = `released by dead host ${hostId}`): Promise<string[]> {
  const res = await q.query<{ id: string }>(
    `WITH released AS (
       UPDATE highway.docker_containers
          SET reconciler_id = NULL, status = 'pending', container_id = NULL, short_id = NULL, updated_at = now(),
              pending_reason = $2
        WHERE reconciler_id = $1 AND removed_at IS NULL AND status IN ('pending', 'pulling')
          AND start_attempted_at IS NULL AND desired_state = 'running'
       RETURNING id)
     SELECT id, pg_notify('highway_docker_intent', id::text) FROM released`,
    [hostId, reason],
  );
  return res.rows.map((r) => r.id);
}

/**
 * A dead host's other live intents (a container created, started, or being started): they end
 * `lost`, with the host named. `removed_at` stays empty: when the host comes back, its
 * reconciler removes what is left there.
 */
export async function endLostOnDeadHost(q: Queryable, hostId: string, timeoutS: number) {
  const res = await q.query<{ id: string; tenant_id: string; workflow_run_id: string; activity_id: string; container_id: string | null }>(
    `UPDATE highway.docker_containers
        SET status = 'lost', finished_at = now(), updated_at = now(), error_code = 'host_lost',
            error = 'host ' || $1 || ' stopped answering (no heartbeat for ' || $2 || ' s); its container may still be running there and is removed when the host comes back'
      WHERE reconciler_id = $1 AND removed_at IS NULL AND status NOT IN ${TERMINAL_SQL}
      RETURNING id, tenant_id, workflow_run_id, activity_id, container_id`,
    [hostId, timeoutS],
  );
  return res.rows;
}

/**
 * Why unclaimed intents still wait (no live host matches their placement; every matching host
 * cannot reach its Docker daemon, or is full), recorded where it changed; and a nudge (NOTIFY) for those a live host could take.
 * Only intents older than `minAgeMs` (a fresh one is claimed within milliseconds).
 */
export async function recordPendingReasons(q: Queryable, hostTimeoutS: number, minAgeMs: number): Promise<{ waiting: number; nudged: number }> {
  const res = await q.query<{ id: string; reason: string | null; changed: boolean }>(
    `WITH live AS (
       SELECT h.id, h.labels, h.capacity, (h.docker_unreachable_since IS NULL) AS docker_ok, h.docker_error,
              (SELECT count(*) FROM highway.docker_containers c
                WHERE c.reconciler_id = h.id AND c.removed_at IS NULL
                  AND c.status IN ('pending', 'pulling', 'created', 'running', 'stopping')) AS active
         FROM highway.hosts h
        WHERE ${hostAliveSql('h', '$1')}
     ),
     waiting AS (
       SELECT c.id, c.spec->'placement' AS p, c.pending_reason
         FROM highway.docker_containers c
        WHERE c.reconciler_id IS NULL AND c.removed_at IS NULL AND c.status = 'pending'
          AND c.created_at < now() - make_interval(secs => $2 / 1000.0)
        ORDER BY c.created_at LIMIT 1000
     ),
     judged AS (
       SELECT w.id, w.pending_reason,
              CASE WHEN count(l.id) = 0 THEN
                     CASE WHEN w.p IS NULL OR jsonb_typeof(w.p) = 'null' THEN 'no live host' ELSE 'no live host matches placement ' || w.p::text END
                   WHEN count(l.id) FILTER (WHERE l.docker_ok) = 0 THEN
                     'no matching host can reach its Docker daemon: '
                       || string_agg(l.id || ' (' || COALESCE(l.docker_error, 'unreachable') || ')', ', ' ORDER BY l.id)
                   WHEN count(l.id) FILTER (WHERE l.docker_ok AND (l.capacity IS NULL OR l.active < l.capacity)) = 0 THEN
                     'waiting for capacity: every matching host (' || string_agg(l.id, ', ' ORDER BY l.id) FILTER (WHERE l.docker_ok) || ') is full'
                       || COALESCE('; ' || string_agg(l.id, ', ' ORDER BY l.id) FILTER (WHERE NOT l.docker_ok) || ' cannot reach its Docker daemon', '')
              END AS reason
         FROM waiting w
         LEFT JOIN live l ON (w.p->>'host' IS NULL OR w.p->>'host' = l.id)
                         AND (w.p->'labels' IS NULL OR l.labels @> (w.p->'labels'))
        GROUP BY w.id, w.p, w.pending_reason
     ),
     updated AS (
       UPDATE highway.docker_containers c SET pending_reason = j.reason
         FROM judged j WHERE c.id = j.id AND c.pending_reason IS DISTINCT FROM j.reason
       RETURNING c.id
     )
     SELECT j.id, j.reason, (j.id IN (SELECT id FROM updated)) AS changed,
            CASE WHEN j.reason IS NULL THEN pg_notify('highway_docker_intent', j.id::text) END AS nudge
       FROM judged j`,
    [hostTimeoutS, minAgeMs],
  );
  return { waiting: res.rows.length, nudged: res.rows.filter((r) => r.reason === null).length };
}

/** Unclaimed intents past their placement_timeout end `failed`, saying why they waited. */
export async function failPlacementTimeouts(q: Queryable) {
  const res = await q.query<{ id: string; tenant_id: string; error: string }>(
    `UPDATE highway.docker_containers
        SET status = 'failed', finished_at = now(), removed_at = now(), updated_at = now(), error_code = 'placement_timeout',
            error = 'placement_timeout: no live host took it within ' || (spec->>'placement_timeout') || ' s'
                    || COALESCE(' (' || pending_reason || ')', '')
      WHERE reconciler_id IS NULL AND removed_at IS NULL AND status = 'pending'
        AND spec ? 'placement_timeout' AND jsonb_typeof(spec->'placement_timeout') = 'number'
        AND created_at + make_interval(secs => (spec->>'placement_timeout')::float8) < now()
      RETURNING id, tenant_id, error`,
  );
  return res.rows;
}

/**
 * Is there anything for the cluster's duties to do, in one cheap statement: a host silent for
 * longer than `timeoutS` that still owns live intents (`dead`), an unclaimed pending intent
 * (`waiting`: its reason to record, its placement_timeout to enforce), and when the next host
 * with live intents would be dead if it stays silent (`next_death_ms`, null when none): the
 * leader sleeps until then rather than polling.
 */
export async function clusterWork(q: Queryable, timeoutS: number): Promise<{ dead: boolean; waiting: boolean; next_death_ms: number | null }> {
  const res = await q.query<{ dead: boolean; waiting: boolean; next_death_ms: number | null }>(
    `WITH busy AS (
       SELECT h.id, ${hostExpirySql('h', '$1')} AS expires_at FROM highway.hosts h
        WHERE EXISTS (SELECT 1 FROM highway.docker_containers c
                       WHERE c.reconciler_id = h.id AND c.removed_at IS NULL AND c.status NOT IN ${TERMINAL_SQL}))
     SELECT EXISTS (SELECT 1 FROM highway.docker_containers
                     WHERE reconciler_id IS NULL AND removed_at IS NULL AND status = 'pending') AS waiting,
            EXISTS (SELECT 1 FROM busy WHERE expires_at <= now()) AS dead,
            (SELECT (extract(epoch FROM (min(expires_at) - now())) * 1000)::float8
               FROM busy WHERE expires_at > now()) AS next_death_ms`,
    [timeoutS],
  );
  return res.rows[0]!;
}
