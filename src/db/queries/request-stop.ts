import type { Queryable } from '../pool.js';
import type { StopReason } from '../../model.js';
import { TERMINAL_SQL } from './intent-columns.js';
import type { Related } from './live-intents.js';

/**
 * Ask for the live intents of a worker, run or activity (or one intent) to be stopped.
 * Only the desired state changes here; the reconciler does the stopping. The first
 * reason recorded wins. Returns the ids affected.
 */
export async function requestStop(
  q: Queryable,
  where: { column: Related | 'id'; value: string },
  reason: StopReason,
): Promise<string[]> {
  const res = await q.query<{ id: string }>(
    `UPDATE highway.docker_containers
        SET desired_state = 'stopped',
            stop_reason = COALESCE(stop_reason, $2),
            updated_at = now()
      WHERE ${where.column} = $1 AND desired_state = 'running' AND status NOT IN ${TERMINAL_SQL}
      RETURNING id`,
    [where.value, reason],
  );
  return res.rows.map((r) => r.id);
}
