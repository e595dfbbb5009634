/**
 * The images kind: this host's image inventory in highway.docker_images, so that
 * tools.docker.images reads a table and never waits on Docker.
 *
 * One key, `inventory`: every image event (pull, tag, untag, delete, import, load, ...) is a
 * hint for it, bursts coalesce in the work queue, and a pass relists the daemon's images and
 * replaces the host's rows in one statement. The runtime's resync (every (re)connect of the
 * events stream, stalls, the periodic safety net) relists it too, which also catches what the
 * events stream missed (the daemon replays only 256 events, none after a restart).
 */
import { filter, map, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Pool } from '../../db/pool.js';
import type { ContainerClient } from '../../docker/client.js';
import type { Kind, Sources } from '../../runtime/controller.js';
import type { ReconcileResult } from '../../runtime/workqueue.js';
import { replaceHostImages } from './queries/replace-host-images.js';

export const INVENTORY_KEY = 'inventory';

export interface ImagesKindOptions {
  pool: Pool;
  docker: ContainerClient;
  logger: Logger;
  reconcilerId: string;
}

export class ImagesKind implements Kind {
  readonly name = 'images';
  readonly concurrency = 1;
  /** What changes a daemon's images (push and save do not). */
  readonly dockerActions = ['pull', 'tag', 'untag', 'delete', 'import', 'load', 'prune'];

  constructor(private readonly options: ImagesKindOptions) {}

  watch(sources: Sources): Observable<string> {
    return sources.docker$.pipe(
      filter((s) => s.type === 'event' && s.event.type === 'image'),
      map(() => INVENTORY_KEY),
    );
  }

  async list(): Promise<string[]> {
    return [INVENTORY_KEY];
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    if (key !== INVENTORY_KEY) return {};
    const { pool, docker, reconcilerId, logger } = this.options;
    const images = await docker.listImages();
    const changed = await replaceHostImages(pool, reconcilerId, images);
    if (changed > 0) logger.debug({ event: 'images.inventory_updated', images: images.length, changed }, 'image inventory updated');
    return {};
  }
}
