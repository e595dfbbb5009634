import { createPool } from '../db/pool.js';
import { migrate } from '../db/migrate.js';
import { defaultHome, startEmbedded } from '../db/embedded.js';
import { createDockerClient } from '../docker/client.js';
import { Reconciler } from '../reconciler.js';
import { DockerGarbageCollector } from '../gc/collector.js';
import { loadPolicy } from '../params/policy.js';
import { Metrics } from '../observability/metrics.js';
import { hostSettingsFromEnv } from '../hosts/settings.js';
import { startHostServices } from '../hosts/host-services.js';
import { startHttpServer } from '../observability/http.js';
import { reconcilerLockHeld } from '../db/queries/reconciler-lock.js';
import { ClusterDuties } from '../hosts/cluster-duties.js';
import { CHANNELS } from '../db/listener.js';
import type { Logger } from '../observability/logger.js';
import type { Settings } from '../config.js';
import { onShutdown } from './signals.js';
import { describeDatabase } from './database.js';
import { errorMessage } from '../errors.js';
import { redactCredentials } from '../observability/redact.js';

/**
 * `highway-docker up`: migrate, then run this Docker host's reconciler (every kind, the GC),
 * its host row and heartbeat, and /metrics, /healthz, /readyz, until SIGINT/SIGTERM.
 *
 * Everything that can fail is checked before shared state is touched: the HTTP port is bound
 * first, then HIGHWAY_HOME is locked (embedded PostgreSQL), and the host row is written only
 * when no other live process holds this reconciler id. On the way down the reconciler stops
 * first and the embedded database last (it runs in a session of its own, so the terminal's
 * Ctrl-C does not reach it).
 */
export async function up(opts: { databaseUrl?: string }, settings: Settings, logger: Logger): Promise<void> {
  const hostSettings = await needs('configuration', async () => hostSettingsFromEnv()); // bad HIGHWAY_HOST_* settings fail before anything starts
  const http = await needs('HIGHWAY_HTTP_ADDR', () => startHttpServer({ addr: hostSettings.httpAddr, logger, starting: true }));
  // What has been started so far, stopped in reverse order (on a failure, or at the end).
  const undo: (() => Promise<void>)[] = [() => http.close()];
  const unwind = async () => {
    for (const step of undo.reverse().splice(0)) {
      await step().catch((err) => logger.warn({ event: 'up.stop_step_failed', err: redactCredentials(errorMessage(err)) }, `stopping: ${errorMessage(err)}`));
    }
  };
  // A signal from here on stops what has started, in order (a second one exits at once).
  let stopRequested = false;
  let shutdown: () => void = () => {};
  const shutdownRequested = new Promise<void>((resolve) => (shutdown = resolve));
  onShutdown(logger, () => {
    stopRequested = true;
    shutdown();
  });
  try {
    let url = opts.databaseUrl ?? settings.databaseUrl;
    if (!url) {
      const embedded = await needs('postgres (embedded)', () => startEmbedded(defaultHome(), logger));
      undo.push(() => embedded.stop());
      url = embedded.url;
    }
    const pool = createPool(url, { applicationName: 'highway-docker-reconciler' });
    undo.push(() => pool.end());
    const migrated = await needs(`postgres (${describeDatabase(url)})`, () => migrate(pool));
    if (migrated.applied.length) logger.info({ event: 'db.migrated', applied: migrated.applied }, 'migrations applied');
    const metrics = new Metrics({ pool, logger });
    const docker = createDockerClient({ logger, metrics });
    await needs(`docker (${redactCredentials(process.env['DOCKER_HOST'] ?? 'unix:///var/run/docker.sock')})`, () => docker.ping());
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
    // Another live process with this id (its lock is held): this one is its standby, and leaves
    // the host row to it until it takes over. Two started at once both see the lock free: the
    // one that then waits as a standby stops writing (and never marks the row stopped).
    const standbyAtStart = await needs('postgres', () => reconcilerLockHeld(pool, reconciler.id));
    let everActive = false;
    const mayWriteHostRow = () => everActive || (!standbyAtStart && reconciler.manager.active);
    // The host's row and heartbeat, the cluster election, and /metrics, /healthz, /readyz: up
    // before the reconciler starts, so a standby answers /readyz (503) too.
    const host = await needs('host services (the host row, the elections)', () =>
      startHostServices({
        pool,
        databaseUrl: url,
        reconcilerId: reconciler.id,
        docker: docker.docker,
        logger,
        settings: hostSettings,
        metrics,
        elections: ['cluster'],
        readiness: reconciler.manager.readiness(),
        http,
        mayWriteHostRow,
      }),
    );
    undo.push(() => host.stop());
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
    undo.push(() => reconciler.stop());
    await needs('the reconciler (Docker events, PostgreSQL LISTEN)', () => Promise.race([reconciler.start(), shutdownRequested]));
    if (stopRequested) return;
    everActive = true;
    if (standbyAtStart) await host.registry.beat(); // took over from the process that held the id: the row is ours now
    // A new intent may need the cluster's attention (no host takes it): the leader looks soon.
    reconciler.manager.notifications$.subscribe((n) => {
      if (n.type === 'notification' && n.channel === CHANNELS.intent && !n.payload.includes(' ')) duties.wake();
    });
    logger.info(
      { event: 'up.ready', database: redactCredentials(url), http: host.http.url },
      'highway-docker is up: run `npx highway-docker run IMAGE CMD...` in another terminal',
    );
    await shutdownRequested;
  } finally {
    // The reconciler first, then the host row, the pool, the embedded database, the port.
    await unwind();
  }
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
