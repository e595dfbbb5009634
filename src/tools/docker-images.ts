/**
 * tools.docker.images: the image inventory of each host, read from highway.docker_images (kept
 * by each host's `images` kind). A call never waits on Docker. Images belong to a host, not to
 * a tenant: every tenant sees the same inventory (the tenant is still required and checked).
 */
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { audited } from './audited.js';
import { HighwayError, ValidationError } from '../errors.js';
import { listImageRows } from '../kinds/images/queries/list-images.js';
import { matchesReference } from '../kinds/images/reference.js';
import { knownHosts } from '../kinds/pulls/queries/target-hosts.js';
import { formatPath } from '../params/schema.js';
import { validationErrorOf } from '../params/issues.js';

export const imagesParamsSchema = z.strictObject({
  reference: z
    .string({ error: 'must be a string such as "alpine", "alpine:3.20", "registry:5000/team/*" or "app@sha256:..."' })
    .min(1, 'must not be empty')
    .max(512)
    .regex(/^[A-Za-z0-9._\/:@*-]+$/, 'must be an image reference, optionally with "*" wildcards')
    .nullish(),
  host: z.string({ error: 'must be a host id (a reconciler id)' }).min(1, 'must not be empty').max(200).nullish(),
});
export type ImagesParams = z.output<typeof imagesParamsSchema>;

export interface ImageInfo {
  id: string;
  tags: string[];
  digests: string[];
  size: number;
  created: string | null;
}

export interface DockerImagesResult {
  hosts: Array<{ host: string; images: ImageInfo[] }>;
}

export function parseImagesParams(params: unknown): ImagesParams {
  const result = imagesParamsSchema.safeParse(params ?? {});
  if (result.success) return result.data;
  throw validationErrorOf(result.error, { unknownKey: 'is not a parameter of tools.docker.images (reference, host)' });
}

export function createDockerImages(deps: { pool: Pool; logger?: Logger }) {
  return (params: unknown, ctx: { tenant_id: string; worker_id?: string | null }): Promise<DockerImagesResult> =>
    audited(deps, 'tools.docker.images', ctx, async (call) => {
      const spec = parseImagesParams(params);
      call.note({ reference: spec.reference ?? null, host: spec.host ?? null });
      const [rows, hosts] = await Promise.all([listImageRows(deps.pool, { host: spec.host ?? null }), knownHosts(deps.pool)]);
      if (spec.host && !hosts.includes(spec.host)) {
        throw new HighwayError('not_found', `host: "${spec.host}" is not a known Docker host (known: ${hosts.join(', ') || 'none'})`);
      }
      const byHost = new Map<string, ImageInfo[]>((spec.host ? [spec.host] : hosts).map((h) => [h, []]));
      for (const row of rows) {
        if (spec.reference && !matchesReference(spec.reference, row)) continue;
        byHost.get(row.reconciler_id)?.push({
          id: row.image_id,
          tags: row.repo_tags,
          digests: row.repo_digests,
          size: Number(row.size),
          created: row.created ? row.created.toISOString() : null,
        });
      }
      return { hosts: [...byHost].map(([host, images]) => ({ host, images })) };
    });
}
