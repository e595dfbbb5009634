import type { Queryable } from '../../../db/pool.js';

/** A row of highway.docker_images. */
export interface ImageRow {
  reconciler_id: string;
  image_id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: string; // bigint
  created: Date | null;
  updated_at: Date;
}

/** The inventory (of one host, or of every host), in host order, newest image first. */
export async function listImageRows(q: Queryable, options: { host?: string | null } = {}): Promise<ImageRow[]> {
  const res = await q.query<ImageRow>(
    `SELECT reconciler_id, image_id, repo_tags, repo_digests, size, created, updated_at
       FROM highway.docker_images
      WHERE $1::text IS NULL OR reconciler_id = $1
      ORDER BY reconciler_id, created DESC NULLS LAST, image_id`,
    [options.host ?? null],
  );
  return res.rows;
}
