/**
 * Which Docker hosts a pull goes to: the live hosts of highway.hosts, plus reconcilers that
 * report an image inventory and never registered a host row (embedded uses, tests). A host
 * whose row says it is dead (stopped, or silent past the host timeout) is not a target.
 */
import type { Queryable } from '../../../db/pool.js';
import { DEFAULT_HOST_TIMEOUT_S, parsePositiveSeconds } from '../../../hosts/settings.js';
import { hostAliveSql } from '../../../db/queries/hosts.js';

/** The known hosts, sorted. */
export async function knownHosts(q: Queryable, hostTimeoutS = parsePositiveSeconds(process.env['HIGHWAY_HOST_TIMEOUT_S'], 'HIGHWAY_HOST_TIMEOUT_S', DEFAULT_HOST_TIMEOUT_S)): Promise<string[]> {
  const res = await q.query<{ id: string }>(
    `SELECT id FROM highway.hosts h WHERE ${hostAliveSql('h', '$1')}
     UNION
     SELECT DISTINCT i.reconciler_id FROM highway.docker_images i
      WHERE NOT EXISTS (SELECT 1 FROM highway.hosts h WHERE h.id = i.reconciler_id)
     ORDER BY 1`,
    [hostTimeoutS],
  );
  return res.rows.map((r) => r.id);
}
