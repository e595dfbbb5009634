import os from 'node:os';
import type Docker from 'dockerode';
import type { Pool } from '../db/pool.js';
import { heartbeatHost, markHostStopped, registerHost, type HostIdentity } from '../db/queries/hosts.js';
import { errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import type { Kind } from '../runtime/controller.js';
import { periodicKind } from '../runtime/periodic.js';

export { listHosts, deadHosts, type HostInfo } from '../db/queries/hosts.js';

export interface DaemonInfo {
  id: string;
  version: string;
}

/** The daemon's id and version, from dockerode (`client.docker` of the ContainerClient). */
export async function dockerDaemonInfo(docker: Docker): Promise<DaemonInfo> {
  const info = (await docker.info()) as { ID: string; ServerVersion: string };
  return { id: info.ID, version: info.ServerVersion };
}

export interface HostRegistryOptions {
  pool: Pool;
  /** The reconciler id (the one written to `docker_containers.reconciler_id`). */
  id: string;
  /** Asked on the first beat and, until it answers, on every beat. */
  daemon: () => Promise<DaemonInfo>;
  labels?: Record<string, string>;
  capacity?: number | null;
  /** The host timeout; the registry beats every third of it. */
  hostTimeoutS: number;
  hostname?: string;
  logger?: Logger;
  /**
   * May this process write the row now? False while another live process holds this id (a
   * standby): it neither registers, nor beats, nor marks the row stopped. Default: always.
   */
  mayWrite?: () => boolean;
}

/**
 * This reconciler's row in `highway.hosts`: registered by the first beat, a heartbeat every
 * third of the host timeout (kind()), `stopped_at` on a graceful stop. A database that is down is logged and
 * tried again on the next beat; nothing here ever rejects unhandled.
 */
export class HostRegistry {
  readonly id: string;
  private readonly log: Logger;
  private readonly identity: HostIdentity;
  private inFlight: Promise<void> | null = null;
  private registered = false;
  private stopping: Promise<void> | null = null;
  private failing = false;
  private lastBeatOk: number | null = null;

  constructor(private readonly options: HostRegistryOptions) {
    this.id = options.id;
    this.log = (options.logger ?? silentLogger).child({ host_id: options.id });
    this.identity = {
      id: options.id,
      hostname: options.hostname ?? os.hostname(),
      dockerId: null,
      dockerVersion: null,
      labels: options.labels ?? {},
      capacity: options.capacity ?? null,
      timeoutS: options.hostTimeoutS,
    };
  }

  get intervalMs(): number {
    return Math.max(10, (this.options.hostTimeoutS * 1000) / 3);
  }

  /** True when the last beat reached the database and is younger than the host timeout (a readiness check). */
  get healthy(): boolean {
    return this.lastBeatOk !== null && Date.now() - this.lastBeatOk < this.options.hostTimeoutS * 1000;
  }

  /**
   * The heartbeat as periodic work on the controller runtime: a beat every `intervalMs`. Inside
   * a Host it runs on the manager (so a standby, which waits before its controllers start,
   * never beats); elsewhere with runKinds.
   */
  kind(): Kind<'heartbeat'> {
    return periodicKind({
      name: 'heartbeat',
      minIntervalMs: this.intervalMs,
      run: async () => {
        await this.beat();
        return this.intervalMs;
      },
    });
  }

  /**
   * One beat (registration first, as long as it has not succeeded): the first registers the
   * host, and resolves even when the database is down (the next beat tries again). Never
   * rejects; beats do not overlap; none after stop().
   */
  beat(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.inFlight ??= this.doBeat().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async doBeat(): Promise<void> {
    if (this.options.mayWrite && !this.options.mayWrite()) return;
    if (this.identity.dockerId === null) {
      try {
        const d = await this.options.daemon();
        this.identity.dockerId = d.id;
        this.identity.dockerVersion = d.version;
      } catch (err) {
        this.log.warn({ event: 'host.daemon_unavailable', err: errorMessage(err) }, 'Docker daemon did not say its id; registering without it');
      }
    }
    try {
      if (!this.registered) {
        await registerHost(this.options.pool, this.identity);
        this.registered = true;
        this.log.info(
          { event: 'host.registered', hostname: this.identity.hostname, labels: this.identity.labels, capacity: this.identity.capacity, docker_version: this.identity.dockerVersion },
          'host registered',
        );
      } else {
        await heartbeatHost(this.options.pool, this.identity);
      }
      this.lastBeatOk = Date.now();
      if (this.failing) {
        this.failing = false;
        this.log.info({ event: 'host.heartbeat_recovered' }, 'host heartbeat reaches the database again');
      }
    } catch (err) {
      if (!this.failing) {
        this.failing = true;
        this.log.error({ event: 'host.heartbeat_failed', err: errorMessage(err) }, 'host heartbeat failed; retrying on the next beat');
      } else {
        this.log.debug({ event: 'host.heartbeat_failed', err: errorMessage(err) }, 'host heartbeat failed again');
      }
    }
  }

  /** Stop beating and mark the row stopped. Idempotent (returns the same promise); never rejects. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.inFlight;
      // Never written by this process, or written before it turned out a standby: not ours to stop.
      if (!this.registered || (this.options.mayWrite && !this.options.mayWrite())) return;
      try {
        await markHostStopped(this.options.pool, this.id);
        this.log.info({ event: 'host.stopped' }, 'host marked stopped');
      } catch (err) {
        this.log.warn({ event: 'host.stop_failed', err: errorMessage(err) }, 'could not mark the host stopped; it will read as dead after the host timeout');
      }
    })();
    return this.stopping;
  }
}
