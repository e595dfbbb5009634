import { createPool } from '../db/pool.js';
import { migrate } from '../db/migrate.js';
import { defaultHome, startEmbedded, type EmbeddedServer } from '../db/embedded.js';
import { createDockerClient } from '../docker/client.js';
import { Reconciler } from '../reconciler.js';
import { DockerGarbageCollector } from '../gc/collector.js';
import { loadPolicy } from '../params/policy.js';
import { Metrics } from '../observability/metrics.js';
import { hostSettingsFromEnv } from '../hosts/settings.js';
import { startHostServices } from '../hosts/host-services.js';
import { ClusterDuties } from '../hosts/cluster-duties.js';
import { CHANNELS } from '../db/listener.js';
import type { Logger } from '../observability/logger.js';
import type { Settings } from '../config.js';
import { onShutdown } from './signals.js';
import { errorMessage } from '../errors.js';

/**
 * `highway-docker up`: migrate, then run this Docker host's reconciler (every kind, the GC),
 * its host row and heartbeat, and /metrics, /healthz, /readyz, until SIGINT/SIGTERM.
 */
export async function up(opts: { databaseUrl?: string }, settings: Settings, logger: Logger): Promise<void> {
  const hostSettings = await needs('configuration', async () => hostSettingsFromEnv()); // bad HIGHWAY_HOST_* settings fail before anything starts
  let embedded: EmbeddedServer | null = null;
  let url = opts.databaseUrl ?? settings.databaseUrl;
  if (!url) {
    embedded = await needs('postgres (embedded)', () => startEmbedded(defaultHome(), logger));
    url = embedded.url;
  }
  const pool = createPool(url, { applicationName: 'highway-docker-reconciler' });
  const migrated = await needs(`postgres (${redact(url)})`, () => migrate(pool));
  if (migrated.applied.length) logger.info({ event: 'db.migrated', applied: migrated.applied }, 'migrations applied');
  const metrics = new Metrics({ pool, logger });
  const docker = createDockerClient({ logger, metrics });
  await needs(`docker (${process.env['DOCKER_HOST'] ?? 'unix:///var/run/docker.sock'})`, () => docker.ping());
  let isClusterLeader: () => boolean = () => false;
  const reconciler = await Reconciler.create({
    pool,
    databaseUrl: url,
    docker,
    logger,
    metrics,
    workerTimeoutMs: settings.workerTimeoutS * 1000,
    policy: loadPolicy(settings.policyFile),
    hostLabels: hostSettings.labels,
    capacity: hostSettings.capacity,
    isLeader: () => isClusterLeader(),
    ...(settings.reconcilerId ? { reconcilerId: settings.reconcilerId } : {}),
  });
  // The host's row and heartbeat, the cluster election, and /metrics, /healthz, /readyz: up
  // before the reconciler starts, so a standby is visible and answers /healthz too.
  const host = await needs('host services (HIGHWAY_HTTP_ADDR, the host row)', () => startHostServices({
    pool,
    databaseUrl: url,
    reconcilerId: reconciler.id,
    docker: docker.docker,
    logger,
    settings: hostSettings,
    metrics,
    elections: ['cluster'],
    readiness: reconciler.manager.readiness(),
  }));
  const cluster = host.leaders['cluster']!;
  isClusterLeader = () => cluster.isLeader;
  reconciler.addRunnable(
    new DockerGarbageCollector({
      pool,
      docker,
      logger,
      metrics,
      reconcilerId: reconciler.id,
      creationGraceMs: settings.gcCreationGraceS * 1000,
      staleMaxAgeMs: settings.staleMaxAgeS * 1000,
      intervalMs: settings.gcIntervalS * 1000,
      hostTimeoutS: hostSettings.hostTimeoutS,
    }),
  );
  const duties = new ClusterDuties({ pool, logger, metrics, isLeader: isClusterLeader, hostTimeoutS: hostSettings.hostTimeoutS, workerTimeoutS: settings.workerTimeoutS, retentionDays: settings.retentionDays });
  reconciler.addRunnable(duties);
  try {
    await needs('the reconciler (Docker events, PostgreSQL LISTEN)', () => reconciler.start());
  } catch (err) {
    await host.stop();
    throw err;
  }
  // A new intent may need the cluster's attention (no host takes it): the leader looks soon.
  reconciler.manager.notifications$.subscribe((n) => {
    if (n.type === 'notification' && n.channel === CHANNELS.intent && !n.payload.includes(' ')) duties.wake();
  });
  logger.info(
    { event: 'up.ready', database: redact(url), http: host.http.url },
    'highway-docker is up: run `npx highway-docker run IMAGE CMD...` in another terminal',
  );

  await new Promise<void>((resolve) => onShutdown(logger, () => resolve()));
  await reconciler.stop();
  await host.stop();
  await pool.end();
  await embedded?.stop();
}

/** A fatal error of `up`, naming the dependency that failed. */
export class StartupError extends Error {
  constructor(
    readonly dependency: string,
    cause: unknown,
  ) {
    super(`${dependency}: ${errorMessage(cause)}`, { cause });
    this.name = 'StartupError';
  }
}

/** Run one start-up step; its failure names the dependency. */
async function needs<T>(dependency: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StartupError) throw err;
    throw new StartupError(dependency, err);
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
