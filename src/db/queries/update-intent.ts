import type { Queryable } from '../pool.js';
import type { IntentRow } from '../../model.js';
import { patchAssignments, TERMINAL_SQL, type IntentPatch } from './intent-columns.js';

/** Patch a live (non-terminal) intent. Returns the new row, or null if it had already ended. */
export async function patchLiveIntent(q: Queryable, id: string, patch: IntentPatch): Promise<IntentRow | null> {
  const { sql, values } = patchAssignments(patch, 2);
  const res = await q.query<IntentRow>(
    `UPDATE highway.docker_containers SET ${sql} WHERE id = $1 AND status NOT IN ${TERMINAL_SQL} RETURNING *`,
    [id, ...values],
  );
  return res.rows[0] ?? null;
}

/** Patch an intent whatever its status (bookkeeping after the end: removal, protection). */
export async function patchIntent(q: Queryable, id: string, patch: IntentPatch): Promise<IntentRow | null> {
  const { sql, values } = patchAssignments(patch, 2);
  const res = await q.query<IntentRow>(`UPDATE highway.docker_containers SET ${sql} WHERE id = $1 RETURNING *`, [
    id,
    ...values,
  ]);
  return res.rows[0] ?? null;
}
