/**
 * The soak's world: the database (an own embedded PostgreSQL, or DATABASE_URL), the two Docker
 * daemons (the main one and `hw-soak`, a second daemon of the soak's own), one loopback proxy
 * per host in front of PostgreSQL, and two `highway-docker up` hosts. Everything it starts it
 * stops, by PID; everything the product made is found by the database's cluster label.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type Docker from 'dockerode';
import pg from 'pg';
import { createPool, type Pool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { readClusterId } from '../../src/db/queries/cluster.js';
import { LABELS } from '../../src/model.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import { registerDockerTools, type DockerTools } from '../../src/tools/docker-tools.js';
import { connectDocker, removeByLabel } from '../support/docker-env.js';
import { ensureTestImage, TEST_IMAGE } from '../support/test-image.js';
import { startOwnPostgres, type OwnPostgres } from '../support/postgres.js';
import { startSecondDaemon, type SecondDaemon } from '../support/second-daemon.js';
import { ensureBuilt, startUp, type CliProcess } from '../support/processes.js';
import { pushToRegistry, startRegistry, type LocalRegistry } from '../support/registry.js';
import { DockerEventLog } from './docker-events.js';
import { PgProxy } from './proxy.js';
import type { Rng } from './rng.js';

export const SOAK_DAEMON = 'hw-soak';
export const WORKER_TIMEOUT_S = 6;
export { TEST_IMAGE };

export interface Host {
  name: 'A' | 'B';
  id: string;
  docker: Docker;
  dockerHost: string;
  proxy: PgProxy;
  timeoutS: number;
  proc: CliProcess | null;
  /** SIGSTOPped now. */
  paused: boolean;
  /** Every `up` process it ran, for the log lines. */
  history: CliProcess[];
}

export class World {
  readonly runId = randomUUID().slice(0, 8);
  readonly registry = new ToolRegistry();
  tools!: DockerTools;
  pool!: Pool;
  databaseUrl!: string;
  own: OwnPostgres | null = null;
  clusterId!: string;
  mainDocker!: Docker;
  second!: SecondDaemon;
  hosts: Host[] = [];
  eventLogs: DockerEventLog[] = [];
  /** Docker's own log of what happened to the bystanders (their own label), one per daemon. */
  bystanderLogs: DockerEventLog[] = [];
  /** The timeouts the hosts started with (host_timeout_skew changes them later). */
  initialTimeouts: Record<string, number> = {};
  private locked = false;
  /** Containers of "another cluster" on each daemon that nothing of ours may touch. */
  bystanders: Array<{ docker: Docker; id: string; daemon: string }> = [];
  secondDown = false;
  readonly tenants: string[];
  /** The local registry the pulls go to, and the image pushed there (null when it could not start). */
  registryServer: LocalRegistry | null = null;
  pullImage: string | null = null;

  constructor(readonly rng: Rng) {
    this.tenants = ['t1', 't2', 't3'].map((t) => `soak-${this.runId}-${t}`);
  }

  get clusterLabel(): string {
    return `${LABELS.clusterId}=${this.clusterId}`;
  }

  async start(log: (msg: string) => void): Promise<void> {
    ensureBuilt();
    this.lock();
    const external = process.env['DATABASE_URL'];
    if (external) {
      this.databaseUrl = external;
    } else {
      log('starting an embedded PostgreSQL of the soak');
      this.own = await startOwnPostgres({ flags: ['-c', 'max_connections=300'] });
      this.databaseUrl = this.own.url;
    }
    this.pool = createPool(this.databaseUrl, { max: 12, applicationName: 'highway-soak-callers' });
    await migrate(this.pool);
    this.clusterId = await readClusterId(this.pool);
    this.tools = registerDockerTools(this.registry, { databaseUrl: this.databaseUrl, pool: this.pool });

    this.mainDocker = await connectDocker();
    await ensureTestImage(this.mainDocker);
    log(`starting the second Docker daemon ${SOAK_DAEMON}`);
    this.second = await startSecondDaemon(60_000, SOAK_DAEMON);

    for (const [daemon, docker] of [['main', this.mainDocker], [SOAK_DAEMON, this.second.docker]] as const) {
      const ev = new DockerEventLog(daemon, docker, this.clusterLabel);
      await ev.start();
      this.eventLogs.push(ev);
    }
    for (const [daemon, docker] of [['main', this.mainDocker], [SOAK_DAEMON, this.second.docker]] as const) {
      const ev = new DockerEventLog(daemon, docker, `highway-soak.bystander=${this.runId}`);
      await ev.start();
      this.bystanderLogs.push(ev);
    }
    await this.startBystanders();
    try {
      this.registryServer = await startRegistry();
      this.pullImage = (await pushToRegistry(this.mainDocker, TEST_IMAGE, this.registryServer.address, `soak-${this.runId}/busybox:1`)).reference;
    } catch (err) {
      log(`no local registry, so no pulls: ${(err as Error).message}`);
    }

    const u = new URL(this.databaseUrl);
    const skew = this.rng.int(4, 7); // clock-skewed host timeouts: A 3 s, B 4..7 s
    for (const [name, docker, dockerHost, timeoutS] of [
      ['A', this.mainDocker, 'unix:///var/run/docker.sock', 3],
      ['B', this.second.docker, `unix://${this.second.socketPath}`, skew],
    ] as const) {
      const proxy = new PgProxy(u.hostname, Number(u.port || 5432));
      await proxy.start();
      this.hosts.push({ name, id: `soak-${this.runId}-${name.toLowerCase()}`, docker, dockerHost, proxy, timeoutS, proc: null, paused: false, history: [] });
    }
    for (const h of this.hosts) this.initialTimeouts[h.name] = h.timeoutS;
    for (const h of this.hosts) await this.startHost(h);
  }

  /**
   * One soak at a time on this machine: two would share the second daemon `hw-soak` (its socket,
   * data root and exec root are fixed), and the first to finish stops it, with the other's
   * bystander and containers on it. A lock file holds the soak's PID; a stale one is taken over.
   */
  private lock(): void {
    const file = `/run/${SOAK_DAEMON}.soak-lock`;
    let holder: number | null = null;
    try {
      holder = Number(readFileSync(file, 'utf8').trim()) || null;
    } catch {
      // no lock yet
    }
    if (holder && holder !== process.pid) {
      let alive = false;
      try {
        process.kill(holder, 0);
        alive = true;
      } catch {
        // stale: its soak is gone
      }
      if (alive) throw new Error(`another soak (PID ${holder}, ${file}) is running: the soak's second daemon ${SOAK_DAEMON} is one per machine, so run one soak at a time`);
    }
    writeFileSync(file, String(process.pid));
    this.locked = true;
  }

  hostEnv(h: Host): Record<string, string> {
    return {
      DOCKER_HOST: h.dockerHost,
      HIGHWAY_HOST_TIMEOUT_S: String(h.timeoutS),
      HIGHWAY_WORKER_TIMEOUT_S: String(WORKER_TIMEOUT_S),
      HIGHWAY_GC_INTERVAL_S: '5',
      HIGHWAY_LOG_LEVEL: 'info',
      HIGHWAY_HOST_LABELS: `zone=${h.name.toLowerCase()}`,
    };
  }

  /** Start (or restart) a host's `up`; retried while the database or its daemon is away. */
  async startHost(h: Host): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const proc = await startUp({ databaseUrl: h.proxy.urlFor(this.databaseUrl), reconcilerId: h.id, env: this.hostEnv(h) }, 45_000);
        h.proc = proc;
        h.paused = false;
        h.history.push(proc);
        return;
      } catch (err) {
        if (attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  /** Containers labelled as another cluster's (same managed label, another cluster id) on each daemon. */
  private async startBystanders(): Promise<void> {
    for (const [daemon, docker] of [['main', this.mainDocker], [SOAK_DAEMON, this.second.docker]] as const) {
      const intent = randomUUID();
      const c = await docker.createContainer({
        Image: TEST_IMAGE,
        name: `soak-bystander-${this.runId}-${daemon}`,
        Cmd: ['sleep', '100000'],
        Labels: {
          [LABELS.managed]: 'true',
          [LABELS.clusterId]: `other-cluster-${this.runId}`,
          [LABELS.intentId]: intent,
          [LABELS.tenantId]: this.tenants[0]!,
          'highway-soak.bystander': this.runId,
        },
        HostConfig: { NetworkMode: 'none', Init: true },
      });
      await c.start();
      this.bystanders.push({ docker, id: c.id, daemon });
    }
  }

  /**
   * Start the second daemon after a SIGKILL: dockerd's own containerd outlives it and may make the
   * new dockerd time out waiting for containerd under load, so a few tries, a second apart.
   */
  async startSecondAgain(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.second.startDaemon();
        return;
      } catch (err) {
        if (attempt >= 4) throw err;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  /**
   * After a daemon restart (our fault, not the product's): start the bystanders again if it
   * stopped them, so a bystander found stopped at the end was stopped by someone else.
   */
  async restartBystanders(): Promise<void> {
    for (const b of this.bystanders) {
      const info = await b.docker.getContainer(b.id).inspect().catch(() => null);
      if (info && !info.State.Running) await b.docker.getContainer(b.id).start().catch(() => {});
    }
  }

  /** Which host holds an advisory (leader) lock now, by its connections' application_name. */
  async leaders(): Promise<string[]> {
    const admin = new pg.Client({ connectionString: this.databaseUrl, connectionTimeoutMillis: 3_000 });
    try {
      await admin.connect();
      const res = await admin.query<{ app: string }>(
        `SELECT DISTINCT a.application_name AS app FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()`,
      );
      return res.rows.map((r) => r.app);
    } catch {
      return [];
    } finally {
      await admin.end().catch(() => {});
    }
  }

  docker(daemon: string): Docker {
    return daemon === 'main' ? this.mainDocker : this.second.docker;
  }

  /** Stop every host, the event logs, and remove what is ours (and the bystanders). */
  async stop(): Promise<void> {
    // Without the lock this soak started nothing (another one runs): nothing of its own to stop.
    if (!this.locked) return;
    for (const h of this.hosts) {
      if (h.proc) {
        if (h.paused) h.proc.signal('SIGCONT');
        h.proc.signal('SIGTERM');
        await h.proc.waitExit(20_000).catch(() => {});
      }
      await h.proxy.stop();
    }
    for (const ev of [...this.eventLogs, ...this.bystanderLogs]) await ev.stop();
    await this.tools?.close().catch(() => {});
    for (const docker of [this.mainDocker, this.second?.docker]) {
      if (!docker) continue;
      await removeByLabel(docker, this.clusterLabel).catch(() => {});
      await removeByLabel(docker, `highway-soak.bystander=${this.runId}`).catch(() => {});
    }
    if (this.pullImage) {
      for (const docker of [this.mainDocker, this.second?.docker]) await docker?.getImage(this.pullImage).remove({ force: true }).catch(() => {});
    }
    await this.registryServer?.stop().catch(() => {});
    await this.pool?.end().catch(() => {});
    await this.second?.stop().catch(() => {});
    reapOrphansOf(`/run/${SOAK_DAEMON}/`);
    await this.own?.stop().catch(() => {});
    if (this.locked) rmSync(`/run/${SOAK_DAEMON}.soak-lock`, { force: true });
  }
}

/**
 * A SIGKILLed dockerd leaves its containerd and container shims behind (they are its children,
 * reparented): once the soak's own daemon is stopped, end those still running, each by its PID
 * (found by the soak daemon's exec root in its command line; nothing else matches it).
 */
function reapOrphansOf(execRoot: string): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (!/^(\S*\/)?(containerd|containerd-shim-runc-v2) /.test(cmd) || !cmd.includes(execRoot)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
