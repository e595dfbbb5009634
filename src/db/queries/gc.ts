import type { Queryable } from '../pool.js';
import type { IntentRow } from '../../model.js';

/**
 * What the GC needs of the intent behind a container. `changed_ms_ago`: how long ago the row
 * last changed, by the database's clock (a row that ended or was removed moments ago is the
 * reconciler's to clean up, not an orphan).
 */
export type GcRow = Pick<IntentRow, 'id' | 'status' | 'removed_at' | 'gc_protected_until' | 'spec'> & { activity_exists: boolean; changed_ms_ago: number };

export async function gcRowsFor(q: Queryable, intentIds: string[]): Promise<GcRow[]> {
  if (intentIds.length === 0) return [];
  const res = await q.query<GcRow>(
    `SELECT c.id, c.status, c.removed_at, c.gc_protected_until, c.spec, (a.id IS NOT NULL) AS activity_exists,
            (extract(epoch FROM clock_timestamp() - c.updated_at) * 1000)::float8 AS changed_ms_ago
       FROM highway.docker_containers c
       LEFT JOIN highway.activities a ON a.id = c.activity_id
      WHERE c.id = ANY($1::uuid[])`,
    [intentIds],
  );
  return res.rows;
}

/**
 * Live rows of this reconciler that say a container exists (created, running, stopping)
 * while it is not among `presentIds`, and that were last updated before the listing was
 * taken (a row updated after it may refer to a container created after it): they end `lost`.
 */
export async function markVanishedLost(
  q: Queryable,
  reconcilerId: string,
  presentIds: string[],
  listedAt: Date,
): Promise<Array<Pick<IntentRow, 'id' | 'tenant_id' | 'workflow_run_id' | 'activity_id' | 'container_id'>>> {
  const res = await q.query(
    `UPDATE highway.docker_containers
        SET status = 'lost', error = 'container disappeared before its result was collected', error_code = 'container_lost',
            finished_at = now(), removed_at = now(), updated_at = now()
      WHERE reconciler_id = $1
        AND status IN ('created', 'running', 'stopping')
        AND removed_at IS NULL
        AND updated_at < $3
        AND NOT (id = ANY($2::uuid[]))
      RETURNING id, tenant_id, workflow_run_id, activity_id, container_id`,
    [reconcilerId, presentIds, listedAt],
  );
  return res.rows;
}
