import type { Queryable } from '../../../db/pool.js';

/** What a host offers: its id, its labels, its capacity (null: no limit). */
export interface HostOffer {
  id: string;
  labels: Record<string, string>;
  capacity: number | null;
}

/**
 * Claim unclaimed pending intents for this host: those whose placement it matches (host id,
 * labels), oldest first, as many as it has room for (at most `limit`), skipping rows another
 * host is claiming this instant. One statement; returns the ids claimed.
 *
 * Room is capacity minus the host's live intents (claimed and not ended). The caller runs one
 * claim at a time per host, so two claims of one host never both count the same free slot.
 */
export async function claimIntents(q: Queryable, host: HostOffer, limit: number): Promise<string[]> {
  // A named (prepared) statement: planned once per connection, not on every claim (planning
  // took as long as executing it: 0.66 ms and 0.64 ms, EXPLAIN ANALYZE on a 4000-intent backlog).
  const res = await q.query<{ id: string }>({
    name: 'highway-claim-intents',
    text: `WITH room AS (
       SELECT CASE WHEN $3::int IS NULL THEN $4::int
                   ELSE LEAST($4::int, $3::int - (
                     SELECT count(*)::int FROM highway.docker_containers
                      WHERE reconciler_id = $1 AND removed_at IS NULL
                        AND status IN ('pending', 'pulling', 'created', 'running', 'stopping')))
              END AS n
     ),
     picked AS (
       SELECT c.id FROM highway.docker_containers c
        WHERE c.reconciler_id IS NULL AND c.removed_at IS NULL AND c.status = 'pending'
          AND (c.spec->'placement'->>'host' IS NULL OR c.spec->'placement'->>'host' = $1)
          AND (c.spec->'placement'->'labels' IS NULL OR $2::jsonb @> (c.spec->'placement'->'labels'))
        ORDER BY c.created_at
        LIMIT GREATEST(0, (SELECT n FROM room))
        FOR UPDATE SKIP LOCKED
     )
     UPDATE highway.docker_containers c
        SET reconciler_id = $1, pending_reason = NULL, updated_at = now()
       FROM picked WHERE c.id = picked.id
     RETURNING c.id`,
    values: [host.id, JSON.stringify(host.labels), host.capacity, limit],
  });
  return res.rows.map((r) => r.id);
}
