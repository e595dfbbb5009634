/**
 * Which Docker hosts a pull goes to. Today a host is a reconciler that has reported an image
 * inventory (rows in highway.docker_images); when highway.hosts lands, this one module reads
 * the live hosts from it instead.
 */
import type { Queryable } from '../../../db/pool.js';

/** The known hosts, sorted. */
export async function knownHosts(q: Queryable): Promise<string[]> {
  const res = await q.query<{ reconciler_id: string }>(
    'SELECT DISTINCT reconciler_id FROM highway.docker_images ORDER BY reconciler_id',
  );
  return res.rows.map((r) => r.reconciler_id);
}
