import type { Queryable } from '../pool.js';

/**
 * Claim an intent for this reconciler (Docker host). An intent is run by exactly one
 * reconciler: the first to claim it. Returns true when the intent is (now) ours.
 */
export async function claimIntent(q: Queryable, id: string, reconcilerId: string): Promise<boolean> {
  const res = await q.query(
    `UPDATE highway.docker_containers SET reconciler_id = $2, updated_at = now()
      WHERE id = $1 AND reconciler_id IS NULL
      RETURNING id`,
    [id, reconcilerId],
  );
  if (res.rowCount) return true;
  const owner = await q.query<{ reconciler_id: string | null }>(
    `SELECT reconciler_id FROM highway.docker_containers WHERE id = $1`,
    [id],
  );
  return owner.rows[0]?.reconciler_id === reconcilerId;
}
