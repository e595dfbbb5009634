import type { Queryable } from '../pool.js';
import { TERMINAL_SQL } from './intent-columns.js';

/**
 * tools.docker.stop of one intent: desired state `stopped` (reason `requested`; the first reason
 * recorded wins) and, when given, the grace period before SIGKILL, recorded as the spec's
 * `stop_grace_period` (the reconciler reads it from there). Returns whether it changed the intent.
 */
export async function requestStopOf(q: Queryable, id: string, graceSeconds: number | null): Promise<boolean> {
  const res = await q.query(
    `UPDATE highway.docker_containers
        SET desired_state = 'stopped',
            stop_reason = COALESCE(stop_reason, 'requested'),
            spec = CASE WHEN $2::float8 IS NULL THEN spec ELSE jsonb_set(spec, '{stop_grace_period}', to_jsonb($2::float8)) END,
            updated_at = now()
      WHERE id = $1 AND desired_state = 'running' AND status NOT IN ${TERMINAL_SQL}`,
    [id, graceSeconds],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * tools.docker.remove: ask for the container to go (beats auto_remove false and gc
 * protection). With `stop`, a live intent is also stopped (reason `requested`) first.
 */
export async function requestRemoval(q: Queryable, id: string, stop: boolean): Promise<void> {
  await q.query(
    `UPDATE highway.docker_containers
        SET remove_requested_at = COALESCE(remove_requested_at, now()),
            desired_state = CASE WHEN $2 AND status NOT IN ${TERMINAL_SQL} THEN 'stopped' ELSE desired_state END,
            stop_reason = CASE WHEN $2 AND status NOT IN ${TERMINAL_SQL} THEN COALESCE(stop_reason, 'requested') ELSE stop_reason END,
            updated_at = now()
      WHERE id = $1 AND removed_at IS NULL`,
    [id, stop],
  );
}
