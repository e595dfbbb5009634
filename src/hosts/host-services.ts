import type Docker from 'dockerode';
import type { Pool } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { startHttpServer, type HttpServer, type ReadinessCheck } from '../observability/http.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { LeaderElector } from '../runtime/leader.js';
import { HostRegistry, dockerDaemonInfo } from './registry.js';
import { hostSettingsFromEnv, type HostSettings } from './settings.js';

export interface HostServicesOptions {
  pool: Pool;
  /** For the leader elections' dedicated connections. */
  databaseUrl: string;
  /** The reconciler id (`reconciler.id`). */
  reconcilerId: string;
  /** The raw dockerode of the ContainerClient (`docker.docker`): daemon id and version, the readiness ping. */
  docker: Docker;
  logger?: Logger;
  /** Default: hostSettingsFromEnv() (HIGHWAY_HOST_LABELS, HIGHWAY_MAX_CONTAINERS, HIGHWAY_HOST_TIMEOUT_S, HIGHWAY_HTTP_ADDR). */
  settings?: HostSettings;
  /** One LeaderElector per name (e.g. `['cron']`); default none. */
  elections?: string[];
  /** Extra readiness checks, beside `database`, `docker` and `host_registry`. */
  readiness?: Record<string, ReadinessCheck>;
  /** Metrics to serve (default: a new Metrics counting intents on `pool`). */
  metrics?: Metrics;
  /** An HTTP server bound already (`startHttpServer({ starting: true })`): it serves these metrics and checks. Default: one on `settings.httpAddr`. */
  http?: HttpServer;
  /** May this process write the host row now (HostRegistryOptions.mayWrite)? Default: always. */
  mayWriteHostRow?: () => boolean;
}

export interface HostServices {
  readonly settings: HostSettings;
  readonly metrics: Metrics;
  readonly registry: HostRegistry;
  readonly leaders: Readonly<Record<string, LeaderElector>>;
  readonly http: HttpServer;
  /** Leaders step down, the host is marked stopped, the HTTP server closes. Idempotent; never rejects. */
  stop(): Promise<void>;
}

/**
 * What `highway-docker up` adds for many hosts on one database: the host's row (registered
 * here; its heartbeat is `registry.kind()`, for the caller to add to its manager), the leader
 * elections, the metrics, and the HTTP server of /metrics, /healthz, /readyz. Create it after
 * the reconciler (it needs the reconciler's id); stop it after the reconciler, before the pool ends.
 */
export async function startHostServices(options: HostServicesOptions): Promise<HostServices> {
  const log = options.logger ?? silentLogger;
  const settings = options.settings ?? hostSettingsFromEnv();
  const metrics = options.metrics ?? new Metrics({ pool: options.pool, logger: log });
  const registry = new HostRegistry({
    pool: options.pool,
    id: options.reconcilerId,
    daemon: () => dockerDaemonInfo(options.docker),
    labels: settings.labels,
    capacity: settings.capacity,
    hostTimeoutS: settings.hostTimeoutS,
    logger: log,
    ...(options.mayWriteHostRow ? { mayWrite: options.mayWriteHostRow } : {}),
  });
  const leaders: Record<string, LeaderElector> = {};
  for (const name of options.elections ?? []) {
    leaders[name] = new LeaderElector({ connectionString: options.databaseUrl, name, id: options.reconcilerId, logger: log });
  }
  const readiness: Record<string, ReadinessCheck> = {
    database: async () => (await options.pool.query('SELECT 1')).rowCount === 1,
    docker: async () => {
      await options.docker.ping();
      return true;
    },
    host_registry: () => registry.healthy,
    ...options.readiness,
  };
  // The port first: a second process on the same address fails here, before it writes the host row.
  const http = options.http ?? (await startHttpServer({ addr: settings.httpAddr, metrics, logger: log, readiness }));
  options.http?.serve({ metrics, readiness });
  try {
    await registry.beat(); // registers the host; its heartbeat is registry.kind(), on the caller's runtime
    await Promise.all(Object.values(leaders).map((l) => l.start()));
  } catch (err) {
    await Promise.all([...Object.values(leaders).map((l) => l.stop()), registry.stop(), http.close()]);
    throw err;
  }

  let stopping: Promise<void> | null = null;
  return {
    settings,
    metrics,
    registry,
    leaders,
    http,
    stop() {
      stopping ??= (async () => {
        await Promise.all(Object.values(leaders).map((l) => l.stop()));
        await registry.stop();
        await http.close().catch((err) => log.warn({ event: 'http.close_failed', err: errorMessage(err) }, 'closing the HTTP server failed'));
      })();
      return stopping;
    },
  };
}
