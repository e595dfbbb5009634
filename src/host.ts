/**
 * One Docker host, embeddable: everything `highway-docker up` runs, as a library object.
 *
 *   const host = createHost({ databaseUrl, http: false });
 *   await host.start();   // migrate, reconcile every kind, GC, host row + heartbeat, elections, cluster duties
 *   ...
 *   await host.stop();    // graceful; idempotent
 *
 * Start-up order (everything that can fail is checked before shared state is touched): the HTTP
 * port is bound first, then HIGHWAY_HOME is locked (embedded PostgreSQL, when no database URL is
 * given), the database is migrated, Docker is pinged, and the host row is written only when no
 * other live process holds this reconciler id (that one is then a standby until it takes over).
 * Stop order: the reconciler, the host row (leaders step down), the pool, the embedded database,
 * the port.
 */
import { createPool, type Pool } from './db/pool.js';
import { migrate as runMigrations } from './db/migrate.js';
import { defaultHome, startEmbedded } from './db/embedded.js';
import { createDockerClient, type ContainerClient } from './docker/client.js';
import { Reconciler } from './reconciler.js';
import { DockerGarbageCollector } from './gc/collector.js';
import { loadPolicy, type Policy } from './params/policy.js';
import { Metrics } from './observability/metrics.js';
import { hostSettingsFromEnv, parseListenAddress, type HostSettings, type ListenAddress } from './hosts/settings.js';
import { startHostServices, type HostServices } from './hosts/host-services.js';
import { startHttpServer, type HttpServer } from './observability/http.js';
import { reconcilerLockHeld } from './db/queries/reconciler-lock.js';
import { ClusterDuties } from './hosts/cluster-duties.js';
import { silentLogger, type Logger } from './observability/logger.js';
import { settingsFromEnv, type Settings } from './config.js';
import { errorMessage } from './errors.js';
import { redactCredentials } from './observability/redact.js';
import type { SecretResolver } from './secrets.js';
import { describeDatabase } from './cli/database.js';

export interface HostOptions {
  /** The database. Default: `settings.databaseUrl` (DATABASE_URL); with neither, an embedded PostgreSQL under `embeddedHome`. */
  databaseUrl?: string;
  /** Where the embedded PostgreSQL keeps its data and lock (default HIGHWAY_HOME, else ~/.highway-docker). */
  embeddedHome?: string;
  /** Apply the SQL migrations first (default true). */
  migrate?: boolean;
  /**
   * /metrics, /healthz, /readyz: `true` (default) on `hostSettings.httpAddr` (HIGHWAY_HTTP_ADDR), an
   * address (`"127.0.0.1:0"` picks a free port), or `false` for none.
   */
  http?: boolean | string | ListenAddress;
  /** Default: settingsFromEnv() (HIGHWAY_WORKER_TIMEOUT_S, HIGHWAY_GC_*, HIGHWAY_RETENTION_DAYS, ...); fields given here win. */
  settings?: Partial<Settings>;
  /** Default: hostSettingsFromEnv() (HIGHWAY_HOST_LABELS, HIGHWAY_MAX_CONTAINERS, HIGHWAY_HOST_TIMEOUT_S, HIGHWAY_HTTP_ADDR); fields given here win. */
  hostSettings?: Partial<HostSettings>;
  /** Default: a silent logger. */
  logger?: Logger;
  /** The operator policy (default: HIGHWAY_POLICY_FILE, else the built-in policy). */
  policy?: Policy;
  /** The Docker client (default: one from DOCKER_HOST). */
  docker?: ContainerClient;
  /** How environment secret references are resolved (default: the reconciler's). */
  resolveSecret?: SecretResolver;
}

/** A fatal error while starting a host, naming the dependency that failed (`postgres (...)`, `docker (...)`, `HIGHWAY_HTTP_ADDR`, ...). */
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

/** A stand-in when the host serves no HTTP. */
function noHttpServer(): HttpServer {
  return {
    url: '',
    address: { address: '', family: '', port: 0 },
    serve: () => {},
    close: async () => {},
  };
}

export class Host {
  private readonly logger: Logger;
  private readonly undo: (() => Promise<void>)[] = [];
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private stopFlag = false;
  private requestStop: () => void = () => {};
  private readonly stopRequest = new Promise<void>((resolve) => (this.requestStop = resolve));
  private parts: { url: string; pool: Pool; reconciler: Reconciler; services: HostServices; metrics: Metrics } | null = null;

  constructor(private readonly options: HostOptions = {}) {
    this.logger = options.logger ?? silentLogger;
  }

  /** The reconciler id (HIGHWAY_RECONCILER_ID, else the Docker daemon's id); after start(). */
  get id(): string {
    return this.started().reconciler.id;
  }
  /** The database this host runs on (the embedded one's URL when it started one); after start(). */
  get databaseUrl(): string {
    return this.started().url;
  }
  /** The host's pool (for the engine API, e.g. `createEngine({ pool: host.pool, ... })`); after start(). */
  get pool(): Pool {
    return this.started().pool;
  }
  get reconciler(): Reconciler {
    return this.started().reconciler;
  }
  get metrics(): Metrics {
    return this.started().metrics;
  }
  /** Where /metrics, /healthz, /readyz are served (`''` with `http: false`); after start(). */
  get httpUrl(): string {
    return this.started().services.http.url;
  }
  /** Is this host the cluster's leader now (it runs the cluster duties: failover, pending reasons, retention)? */
  get isClusterLeader(): boolean {
    return this.parts?.services.leaders['cluster']?.isLeader ?? false;
  }
  /** Has stop() been called? */
  get stopRequested(): boolean {
    return this.stopFlag;
  }
  /** Resolves when stop() is called (or was). */
  whenStopRequested(): Promise<void> {
    return this.stopRequest;
  }

  private started() {
    if (!this.parts) throw new Error('the host is not started: call start() first');
    return this.parts;
  }

  /**
   * Start everything, in the order above. Resolves once the reconciler runs (or, for a standby,
   * once it took over); a stop() meanwhile ends the start early (it resolves, and the host is
   * stopped). On a failure, what started is stopped and the error (a StartupError) is thrown.
   * Idempotent: a second call returns the first one's promise.
   */
  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('the host was stopped: make a new one'));
    this.starting ??= this.run().catch(async (err) => {
      await this.unwind();
      throw err;
    });
    return this.starting;
  }

  /** Stop, graceful: the reconciler (in-flight work finishes), the host row, the pool, the embedded database, the port. Idempotent; never rejects. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopFlag = true;
      this.requestStop();
      await this.starting?.catch(() => {});
      await this.unwind();
    })();
    return this.stopping;
  }

  private async unwind(): Promise<void> {
    for (const step of this.undo.reverse().splice(0)) {
      await step().catch((err) => this.logger.warn({ event: 'up.stop_step_failed', err: redactCredentials(errorMessage(err)) }, `stopping: ${errorMessage(err)}`));
    }
  }

  private async run(): Promise<void> {
    const o = this.options;
    const logger = this.logger;
    const settings: Settings = { ...settingsFromEnv(), ...o.settings };
    // Bad HIGHWAY_HOST_* settings fail before anything starts.
    const hostSettings: HostSettings = await needs('configuration', async () => {
      const fromEnv = hostSettingsFromEnv();
      const given = { ...fromEnv, ...o.hostSettings };
      if (typeof o.http === 'string' || (typeof o.http === 'object' && o.http !== null)) {
        given.httpAddr = typeof o.http === 'string' ? parseListenAddress(o.http, 'http') : o.http;
      }
      return given;
    });
    const http = o.http === false ? noHttpServer() : await needs('HIGHWAY_HTTP_ADDR', () => startHttpServer({ addr: hostSettings.httpAddr, logger, starting: true }));
    this.undo.push(() => http.close());
    let url = o.databaseUrl ?? settings.databaseUrl;
    if (!url) {
      const embedded = await needs('postgres (embedded)', () => startEmbedded(o.embeddedHome ?? defaultHome(), logger));
      this.undo.push(() => embedded.stop());
      url = embedded.url;
    }
    const pool = createPool(url, { applicationName: 'highway-docker-reconciler' });
    this.undo.push(() => pool.end());
    if (o.migrate !== false) {
      const migrated = await needs(`postgres (${describeDatabase(url)})`, () => runMigrations(pool));
      if (migrated.applied.length) logger.info({ event: 'db.migrated', applied: migrated.applied }, 'migrations applied');
    }
    const metrics = new Metrics({ pool, logger });
    const docker = o.docker ?? createDockerClient({ logger, metrics });
    await needs(`docker (${redactCredentials(process.env['DOCKER_HOST'] ?? 'unix:///var/run/docker.sock')})`, () => docker.ping());
    let isClusterLeader: () => boolean = () => false;
    const reconciler = await Reconciler.create({
    pool,
    databaseUrl: url,
    docker,
    logger,
    metrics,
    workerTimeoutMs: settings.workerTimeoutS * 1000,
    policy: o.policy ?? loadPolicy(settings.policyFile),
    hostLabels: hostSettings.labels,
    capacity: hostSettings.capacity,
    isLeader: () => isClusterLeader(),
    ...(o.resolveSecret ? { resolveSecret: o.resolveSecret } : {}),
    ...(settings.reconcilerId ? { reconcilerId: settings.reconcilerId } : {}),
    });
    // Another live process with this id (its lock is held): this one is its standby, and leaves
    // the host row to it until it takes over. Two started at once both see the lock free: the
    // one that then waits as a standby stops writing (and never marks the row stopped).
    if (this.stopFlag) return; // stopped while starting: nothing shared is written
    const standbyAtStart = await needs('postgres', () => reconcilerLockHeld(pool, reconciler.id));
    let everActive = false;
    const mayWriteHostRow = () => everActive || (!standbyAtStart && reconciler.manager.active);
    // The host's row and heartbeat, the cluster election, and /metrics, /healthz, /readyz: up
    // before the reconciler starts, so a standby answers /readyz (503) too.
    const services = await needs('host services (the host row, the elections)', () =>
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
    this.undo.push(() => services.stop());
    const cluster = services.leaders['cluster']!;
    isClusterLeader = () => cluster.isLeader;
    const gc = new DockerGarbageCollector({
      pool,
      docker,
      logger,
      metrics,
      reconcilerId: reconciler.id,
      creationGraceMs: settings.gcCreationGraceS * 1000,
      staleMaxAgeMs: settings.staleMaxAgeS * 1000,
      intervalMs: settings.gcIntervalS * 1000,
      hostTimeoutS: hostSettings.hostTimeoutS,
    });
    const duties = new ClusterDuties({ pool, logger, metrics, isLeader: isClusterLeader, hostTimeoutS: hostSettings.hostTimeoutS, workerTimeoutS: settings.workerTimeoutS, retentionDays: settings.retentionDays });
    // The periodic work, on the controller runtime (src/runtime/periodic.ts: one key each, with
    // requeueAfter): the host heartbeat, a GC sweep every HIGHWAY_GC_INTERVAL_S, and the
    // cluster duties (gated on the cluster lock, woken by new intents).
    for (const kind of [services.registry.kind(), gc.kind(), duties.kind()]) reconciler.manager.add(kind);
    this.undo.push(() => reconciler.stop());
    this.parts = { url, pool, reconciler, services, metrics };
    await needs('the reconciler (Docker events, PostgreSQL LISTEN)', () => Promise.race([reconciler.start(), this.stopRequest]));
    if (this.stopFlag) return;
    everActive = true;
    if (standbyAtStart) await services.registry.beat(); // took over from the process that held the id: the row is ours now
  }
}

/** A host, not started yet: `await createHost(options).start()`. */
export function createHost(options: HostOptions = {}): Host {
  return new Host(options);
}
