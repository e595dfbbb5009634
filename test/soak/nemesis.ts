/**
 * The nemesis: faults on a schedule drawn from the seed, one at a time, each bounded in time and
 * healed before the next one starts. `heal()` ends whatever is in progress (SIGCONT, restart,
 * reconnect), so the run reaches quiescence by itself.
 */
import pg from 'pg';
import type { Rng } from './rng.js';
import type { Host, World } from './world.js';
import type { Workload } from './workload.js';

export const FAULT_KINDS = [
  'reconciler_kill',
  'reconciler_pause',
  'worker_kill',
  'worker_pause',
  'pg_terminate_backend',
  'pg_restart',
  'daemon_kill_restart',
  'proxy_cut',
  'host_timeout_skew',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** How long a worker fault drawn while no `run` worker is alive waits for one before it is skipped. */
const WORKER_WAIT_MS = 15_000;

/**
 * The range of HIGHWAY_HOST_TIMEOUT_S each host's `up` is (re)started with by host_timeout_skew:
 * A short, B long, and never both the same (the hosts judge each other with clock-skewed timeouts).
 */
export const TIMEOUT_RANGE: Record<'A' | 'B', [number, number]> = { A: [2, 4], B: [4, 8] };

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  started_at: string;
  healed_at: string | null;
  detail: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Nemesis {
  readonly faults: FaultRecord[] = [];
  /** Kinds drawn but not injectable now (no live worker, no own PostgreSQL), by kind. */
  readonly skipped: Record<string, number> = {};
  private stopped = false;
  readonly kinds: Array<(typeof FAULT_KINDS)[number]>;
  lastHealedAt = 0;
  private readonly counts: Record<string, number> = {};
  /** At most this many faults of one kind per run (SOAK_MAX_FAULTS_PER_KIND, default one per 10 s of run, at least 3). */
  readonly maxPerKind: number;

  constructor(
    private readonly world: World,
    private readonly workload: Workload,
    private readonly rng: Rng,
    private readonly log: (msg: string) => void,
  ) {
    const wanted = (process.env['SOAK_FAULTS'] ?? 'all').split(',').map((s) => s.trim());
    this.kinds = wanted.includes('none') ? [] : FAULT_KINDS.filter((k) => wanted.includes('all') || wanted.includes(k));
    if (!world.own) this.kinds = this.kinds.filter((k) => k !== 'pg_restart');
    const seconds = Number(process.env['SOAK_SECONDS'] ?? 60);
    this.maxPerKind = Number(process.env['SOAK_MAX_FAULTS_PER_KIND'] ?? Math.max(3, Math.ceil(seconds / 10)));
  }

  get enabled(): boolean {
    return this.kinds.length > 0;
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * The next kind: the kinds are dealt in rounds, each a seeded shuffle of every kind still under its
   * cap, so the order is random but the counts of any two kinds never differ by more than about one
   * (a run of N faults gives each of K kinds about N/K; a plain draw let a kind fall far behind).
   */
  private deck: Array<(typeof FAULT_KINDS)[number]> = [];
  private draw(): (typeof FAULT_KINDS)[number] | null {
    if (this.deck.length === 0) {
      const open = this.kinds.filter((k) => (this.counts[k] ?? 0) < this.maxPerKind);
      for (let i = open.length - 1; i > 0; i--) {
        const j = this.rng.int(0, i);
        [open[i], open[j]] = [open[j]!, open[i]!];
      }
      this.deck = open;
    }
    return this.deck.shift() ?? null;
  }

  /** Inject faults from `from` to `until` (epoch ms). */
  async run(from: number, until: number): Promise<void> {
    if (!this.enabled) return;
    await sleep(Math.max(0, from - Date.now()));
    const requeued = new Set<string>();
    while (!this.stopped && Date.now() < until) {
      const kind = this.draw();
      if (!kind) break; // every kind reached its cap
      const duration = this.rng.int(500, 6000);
      const pickN = this.rng.next();
      const before = this.faults.length;
      try {
        await this.inject(kind, duration, pickN);
      } catch (err) {
        this.log(`nemesis: ${kind} failed: ${(err as Error).message}`);
      }
      if (this.faults.length > before) {
        this.counts[kind] = (this.counts[kind] ?? 0) + 1;
        requeued.delete(kind);
      } else if (!requeued.has(kind)) {
        // Not injectable now (no live worker): once more, later in this round.
        requeued.add(kind);
        this.deck.push(kind);
      }
      this.lastHealedAt = Date.now();
      await sleep(this.rng.int(1000, 5000));
    }
  }

  private record(kind: FaultKind, target: string, detail: Record<string, unknown> = {}): FaultRecord {
    const f: FaultRecord = { kind, target, started_at: new Date().toISOString(), healed_at: null, detail };
    this.faults.push(f);
    this.log(`nemesis: ${kind} ${target} ${JSON.stringify(detail)}`);
    return f;
  }

  private healed(f: FaultRecord): void {
    f.healed_at = new Date().toISOString();
  }

  private async pickHost(x: number): Promise<{ host: Host; leader: boolean }> {
    const leaders = await this.world.leaders();
    const live = this.world.hosts.filter((h) => h.proc?.alive);
    const pool = live.length ? live : this.world.hosts;
    const host = pool[Math.floor(x * pool.length)]!;
    // The cluster-wide elections (cron, GC, ...); a host's own `reconciler:<id>` lock is not leadership.
    const leader = leaders.some((a) => a.startsWith('highway-docker-leader:') && !a.startsWith('highway-docker-leader:reconciler:') && a.endsWith(`:${host.id}`));
    return { host, leader };
  }

  private async inject(kind: (typeof FAULT_KINDS)[number], duration: number, x: number): Promise<void> {
    switch (kind) {
      case 'reconciler_kill': {
        const { host, leader } = await this.pickHost(x);
        if (!host.proc?.alive) return this.skip(kind);
        const f = this.record(kind, host.id, { leader, down_ms: duration });
        if (host.paused) host.proc.signal('SIGCONT');
        await host.proc.kill();
        await sleep(duration);
        await this.world.startHost(host);
        this.healed(f);
        return;
      }
      case 'reconciler_pause': {
        const { host, leader } = await this.pickHost(x);
        if (!host.proc?.alive) return this.skip(kind);
        // Sometimes past its host timeout (the others judge it dead), sometimes not.
        const ms = Math.min(duration + host.timeoutS * 1000 * (x < 0.5 ? 1 : 0), 10_000);
        const f = this.record(kind, host.id, { leader, paused_ms: ms, host_timeout_s: host.timeoutS });
        host.proc.signal('SIGSTOP');
        host.paused = true;
        await sleep(ms);
        host.proc.signal('SIGCONT');
        host.paused = false;
        this.healed(f);
        return;
      }
      case 'worker_kill':
      case 'worker_pause': {
        // Workers come and go: wait a while for one rather than skip (each kind must reach its count).
        let workers = this.workload.liveWorkers();
        for (const until = Date.now() + WORKER_WAIT_MS; workers.length === 0 && !this.stopped && Date.now() < until; ) {
          await sleep(250);
          workers = this.workload.liveWorkers();
        }
        if (workers.length === 0) return this.skip(kind);
        const c = workers[Math.floor(x * workers.length)]!;
        const ms = kind === 'worker_pause' ? duration + (x < 0.5 ? 8_000 : 0) : 0;
        const f = this.record(kind, `caller#${c.n}`, { pid: c.proc!.pid, ...(ms ? { paused_ms: ms } : {}) });
        c.faults.push(`${kind}@${new Date().toISOString()}`);
        if (kind === 'worker_kill') {
          await c.proc!.kill();
        } else {
          c.proc!.signal('SIGSTOP');
          await sleep(ms);
          c.proc!.signal('SIGCONT');
        }
        this.healed(f);
        return;
      }
      case 'pg_terminate_backend': {
        const admin = new pg.Client({ connectionString: this.world.databaseUrl, connectionTimeoutMillis: 3_000 });
        await admin.connect();
        try {
          const res = await admin.query<{ pid: number; app: string }>(
            `SELECT pid, application_name AS app FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' ORDER BY pid`,
          );
          const n = 1 + Math.floor(x * 4);
          const victims: Array<{ pid: number; app: string }> = [];
          const rows = [...res.rows];
          for (let i = 0; i < n && rows.length; i++) victims.push(rows.splice(this.rng.int(0, rows.length - 1), 1)[0]!);
          const f = this.record(kind, victims.map((v) => v.app || String(v.pid)).join(','), { pids: victims.map((v) => v.pid) });
          for (const v of victims) await admin.query('SELECT pg_terminate_backend($1)', [v.pid]);
          this.healed(f);
        } finally {
          await admin.end().catch(() => {});
        }
        return;
      }
      case 'pg_restart': {
        const own = this.world.own!;
        const ms = Math.min(duration, 3000);
        const f = this.record(kind, 'postgresql', { down_ms: ms });
        await own.stopServer();
        await sleep(ms);
        await own.start();
        this.healed(f);
        return;
      }
      case 'daemon_kill_restart': {
        // Only the second daemon (hw-soak): the main one is never stopped.
        const ms = Math.min(duration, 4000);
        const f = this.record(kind, 'hw-soak', { down_ms: ms });
        this.world.secondDown = true;
        await this.world.second.killDaemon();
        await sleep(ms);
        await this.world.startSecondAgain();
        this.world.secondDown = false;
        await this.world.restartBystanders();
        this.healed(f);
        return;
      }
      case 'host_timeout_skew': {
        // A configuration change made live: one host's `up` is stopped (SIGTERM, a rolling restart)
        // and started again with another host timeout, drawn from its range and never equal to the
        // other host's, so the two hosts judge each other with a new skew from then on.
        const host = this.world.hosts[Math.floor(x * this.world.hosts.length)]!;
        const other = this.world.hosts.find((h) => h !== host)!;
        const [lo, hi] = TIMEOUT_RANGE[host.name];
        const choices: number[] = [];
        for (let t = lo; t <= hi; t++) if (t !== other.timeoutS && t !== host.timeoutS) choices.push(t);
        const next = choices[duration % choices.length]!;
        const f = this.record(kind, host.id, { from_s: host.timeoutS, to_s: next, other_s: other.timeoutS });
        if (host.proc?.alive) {
          if (host.paused) host.proc.signal('SIGCONT');
          host.proc.signal('SIGTERM');
          await host.proc.waitExit(30_000).catch(() => host.proc?.kill());
        }
        host.timeoutS = next;
        await this.world.startHost(host);
        this.healed(f);
        return;
      }
      case 'proxy_cut': {
        const host = this.world.hosts[Math.floor(x * this.world.hosts.length)]!;
        const f = this.record(kind, host.id, { cut_ms: duration });
        host.proxy.cut(duration);
        await sleep(duration);
        host.proxy.heal();
        this.healed(f);
        return;
      }
    }
  }

  private skip(kind: string): void {
    this.skipped[kind] = (this.skipped[kind] ?? 0) + 1;
  }

  /** End every fault still in effect. */
  async heal(): Promise<void> {
    for (const h of this.world.hosts) {
      h.proxy.heal();
      if (h.paused) {
        h.proc?.signal('SIGCONT');
        h.paused = false;
      }
      if (!h.proc?.alive) await this.world.startHost(h).catch((err) => this.log(`heal: host ${h.id}: ${(err as Error).message}`));
    }
    if (this.world.secondDown) {
      await this.world.startSecondAgain().catch((err) => this.log(`heal: daemon: ${(err as Error).message}`));
      this.world.secondDown = false;
      await this.world.restartBystanders();
    }
    if (this.world.own) await this.world.own.start().catch(() => {});
    for (const c of this.workload.liveWorkers()) c.proc!.signal('SIGCONT');
  }
}
