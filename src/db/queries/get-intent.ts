import { prepared, type Queryable } from '../pool.js';
import type { IntentRow } from '../../model.js';

export async function getIntent(q: Queryable, id: string): Promise<IntentRow | null> {
  const res = await q.query<IntentRow>(prepared(`SELECT * FROM highway.docker_containers WHERE id = $1`, [id]));
  return res.rows[0] ?? null;
}
