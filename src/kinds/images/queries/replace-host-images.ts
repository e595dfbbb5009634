import type { Queryable } from '../../../db/pool.js';
import type { ImageSummary } from '../../../docker/client.js';

/**
 * Make the host's rows of highway.docker_images exactly `images`, in one statement (so one
 * transaction: a reader sees the old inventory or the new one, never a mix). Rows that did not
 * change keep their updated_at. Returns how many rows were written or deleted.
 */
export async function replaceHostImages(q: Queryable, reconcilerId: string, images: ImageSummary[]): Promise<number> {
  const incoming = images.map((i) => ({
    image_id: i.id,
    repo_tags: i.repoTags,
    repo_digests: i.repoDigests,
    size: i.size,
    created: i.created.toISOString(),
  }));
  const res = await q.query<{ changed: number }>(
    `WITH incoming AS (
       SELECT * FROM jsonb_to_recordset($2::jsonb)
         AS x(image_id text, repo_tags text[], repo_digests text[], size bigint, created timestamptz)
     ), deleted AS (
       DELETE FROM highway.docker_images d
        WHERE d.reconciler_id = $1 AND NOT EXISTS (SELECT 1 FROM incoming i WHERE i.image_id = d.image_id)
       RETURNING 1
     ), upserted AS (
       INSERT INTO highway.docker_images AS d (reconciler_id, image_id, repo_tags, repo_digests, size, created, updated_at)
       SELECT $1, image_id, repo_tags, repo_digests, size, created, now() FROM incoming
       ON CONFLICT (reconciler_id, image_id) DO UPDATE
         SET repo_tags = EXCLUDED.repo_tags, repo_digests = EXCLUDED.repo_digests, size = EXCLUDED.size,
             created = EXCLUDED.created, updated_at = now()
         WHERE (d.repo_tags, d.repo_digests, d.size, d.created)
               IS DISTINCT FROM (EXCLUDED.repo_tags, EXCLUDED.repo_digests, EXCLUDED.size, EXCLUDED.created)
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM deleted)::int + (SELECT count(*) FROM upserted)::int AS changed`,
    [reconcilerId, JSON.stringify(incoming)],
  );
  return res.rows[0]?.changed ?? 0;
}
