import type { Queryable } from '../pool.js';

export interface RetentionOptions {
  /** Delete intents removed longer ago than this many days. */
  olderThanDays: number;
  /** Rows per statement (default 500): short statements, short locks, no bloat spike. */
  batchSize?: number;
  /** Stop after this many statements (default unlimited); the next run continues. */
  maxBatches?: number;
  /** Checked between batches: stop early (shutdown). */
  signal?: AbortSignal;
}

/**
 * Delete ended intents (terminal, container removed, `removed_at` older than the retention and
 * no longer GC-protected) in small batches, oldest first, until none is left. Each statement
 * is its own transaction; rows a concurrent statement holds are skipped, not waited for.
 * Their audit entries stay (the audit trail is append-only). Returns how many rows went.
 */
export async function deleteEndedIntents(q: Queryable, opts: RetentionOptions): Promise<number> {
  if (!(opts.olderThanDays > 0)) throw new Error(`retention: olderThanDays must be > 0, got ${opts.olderThanDays}`);
  const batch = opts.batchSize ?? 500;
  let total = 0;
  for (let n = 0; opts.maxBatches === undefined || n < opts.maxBatches; n++) {
    if (opts.signal?.aborted) break;
    const res = await q.query(
      `DELETE FROM highway.docker_containers
        WHERE id IN (
          SELECT id FROM highway.docker_containers
           WHERE removed_at < now() - make_interval(days => $1::int) - make_interval(secs => $2::float8)
             AND status IN ('exited', 'failed', 'timeout', 'cancelled', 'lost')
             AND (gc_protected_until IS NULL OR gc_protected_until < now())
           ORDER BY removed_at
           LIMIT $3
           FOR UPDATE SKIP LOCKED)`,
      [Math.floor(opts.olderThanDays), (opts.olderThanDays % 1) * 86_400, batch],
    );
    const deleted = res.rowCount ?? 0;
    total += deleted;
    if (deleted < batch) break;
  }
  return total;
}
