import { createPool } from '../db/pool.js';
import { migrate } from '../db/migrate.js';
import { defaultHome, startEmbedded, type EmbeddedServer } from '../db/embedded.js';
import { createDockerClient } from '../docker/client.js';
import { Reconciler } from '../reconciler.js';
import { DockerGarbageCollector } from '../gc/collector.js';
import { loadPolicy } from '../params/policy.js';
import type { Logger } from '../observability/logger.js';
import type { Settings } from '../config.js';
import { onShutdown } from './signals.js';

/** `highway-docker up`: migrate, then run the reconciler until SIGINT/SIGTERM. */
export async function up(opts: { databaseUrl?: string }, settings: Settings, logger: Logger): Promise<void> {
  let embedded: EmbeddedServer | null = null;
  let url = opts.databaseUrl ?? settings.databaseUrl;
  if (!url) {
    embedded = await startEmbedded(defaultHome(), logger);
    url = embedded.url;
  }
  const pool = createPool(url, { applicationName: 'highway-docker-reconciler' });
  const migrated = await migrate(pool);
  if (migrated.applied.length) logger.info({ event: 'db.migrated', applied: migrated.applied }, 'migrations applied');
  const docker = createDockerClient({ logger });
  await docker.ping();
  const reconciler = await Reconciler.create({
    pool,
    databaseUrl: url,
    docker,
    logger,
    workerTimeoutMs: settings.workerTimeoutS * 1000,
    policy: loadPolicy(settings.policyFile),
    ...(settings.reconcilerId ? { reconcilerId: settings.reconcilerId } : {}),
  });
  await reconciler.start();
  const gc = new DockerGarbageCollector({
    pool,
    docker,
    logger,
    reconcilerId: reconciler.id,
    creationGraceMs: settings.gcCreationGraceS * 1000,
    staleMaxAgeMs: settings.staleMaxAgeS * 1000,
    intervalMs: settings.gcIntervalS * 1000,
  });
  gc.start();
  logger.info({ event: 'up.ready', database: redact(url) }, 'highway-docker is up: run `npx highway-docker run IMAGE CMD...` in another terminal');

  await new Promise<void>((resolve) => onShutdown(logger, () => resolve()));
  await gc.stop();
  await reconciler.stop();
  await pool.end();
  await embedded?.stop();
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
