import type { Queryable } from '../pool.js';

/** Ids of the intents this reconciler must keep reconciling: ours or unclaimed, not yet removed. */
export async function listLiveIntentIds(q: Queryable, reconcilerId: string): Promise<string[]> {
  const res = await q.query<{ id: string }>(
    `SELECT id FROM highway.docker_containers
      WHERE removed_at IS NULL AND (reconciler_id = $1 OR reconciler_id IS NULL)`,
    [reconcilerId],
  );
  return res.rows.map((r) => r.id);
}

export type Related = 'workflow_run_id' | 'activity_id' | 'worker_id';

/** Live intents of a workflow run, an activity or a worker (the key mapping for engine notifications). */
export async function liveIntentIdsFor(q: Queryable, column: Related, value: string): Promise<string[]> {
  const res = await q.query<{ id: string }>(
    `SELECT id FROM highway.docker_containers WHERE ${column} = $1 AND removed_at IS NULL`,
    [value],
  );
  return res.rows.map((r) => r.id);
}
