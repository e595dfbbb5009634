import pg from 'pg';
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import { errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../observability/logger.js';

/** Class id of the two-key advisory locks of leader elections ("hwdc"); the two-key space never meets the one-key space. */
export const LEADER_LOCK_CLASS = 0x6877_6463;

/** The lock's object id for an election name: 32-bit FNV-1a, as a signed int4. */
export function leaderLockKey(name: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(name, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

export interface LeaderElectorOptions {
  connectionString: string;
  /** The election (one leader per name per database), e.g. `cron`. */
  name: string;
  /** Who we are, for logs and `application_name`. */
  id?: string;
  /** How often a non-leader tries the lock and a leader checks its session (default 1000 ms). */
  retryMs?: number;
  logger?: Logger;
}

/**
 * Leadership held as a PostgreSQL session advisory lock on a dedicated connection (never a pool
 * connection: the lock lives and dies with that one session). A non-leader tries the lock every
 * `retryMs`; the leader checks its session as often. When the session ends (the process died,
 * the connection broke, the server restarted) the lock is free at once, so another elector takes
 * over within about `retryMs`; and the one that lost its connection drops leadership at once and
 * competes again once it can connect, after sitting out two `retryMs` (so that a healthy elector,
 * not the one with the flaky connection, is the one that takes over).
 */
export class LeaderElector {
  readonly name: string;
  private readonly key: number;
  private readonly retryMs: number;
  private readonly log: Logger;
  private readonly subject = new BehaviorSubject<boolean>(false);
  /** Emits the current leadership at subscription, then every change; completes after stop(). */
  readonly leader$: Observable<boolean> = this.subject.pipe(distinctUntilChanged());
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private started = false;
  private stopping: Promise<void> | null = null;
  private connectFailing = false;
  /** After losing its connection an elector sits out a while, so a healthy one takes over instead of a flapping one. */
  private holdOffUntil = 0;

  constructor(private readonly options: LeaderElectorOptions) {
    this.name = options.name;
    this.key = leaderLockKey(options.name);
    this.retryMs = options.retryMs ?? 1000;
    this.log = (options.logger ?? silentLogger).child({ election: options.name, ...(options.id ? { elector_id: options.id } : {}) });
  }

  get isLeader(): boolean {
    return this.subject.value;
  }

  /** Starts competing; resolves after the first attempt (leader or not). */
  async start(): Promise<void> {
    if (this.started || this.stopping) return;
    this.started = true;
    await this.tick();
  }

  private setLeader(value: boolean, reason: string): void {
    if (this.subject.value === value || this.subject.closed) return;
    this.log.info({ event: value ? 'leader.acquired' : 'leader.lost', reason }, value ? 'became leader' : 'leadership lost');
    this.subject.next(value);
  }

  private schedule(): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => void this.tick(), this.retryMs);
  }

  private tick(): Promise<void> {
    this.ticking ??= this.attempt()
      .catch((err) => this.log.error({ event: 'leader.error', err: errorMessage(err) }, 'leader election step failed'))
      .finally(() => {
        this.ticking = null;
        this.schedule();
      });
    return this.ticking;
  }

  private async attempt(): Promise<void> {
    if (this.stopping) return;
    if (!this.isLeader && Date.now() < this.holdOffUntil) return;
    const client = this.client ?? (await this.connect());
    if (!client) return;
    try {
      if (this.isLeader) {
        // The session still holds the lock as long as it answers; a dead one is caught here.
        await client.query('SELECT 1');
        return;
      }
      const res = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::int4, $2::int4) AS ok', [LEADER_LOCK_CLASS, this.key]);
      if (res.rows[0]?.ok) {
        if (this.stopping || this.client !== client) {
          // stop() or a broken connection raced with us: give the lock back (a dead session already has).
          await client.query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [LEADER_LOCK_CLASS, this.key]).catch(() => {});
          return;
        }
        this.setLeader(true, 'lock acquired');
      }
    } catch (err) {
      this.dropClient(client, `query failed: ${errorMessage(err)}`);
    }
  }

  private async connect(): Promise<pg.Client | null> {
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      application_name: `highway-docker-leader:${this.name}${this.options.id ? `:${this.options.id}` : ''}`,
      connectionTimeoutMillis: Math.max(1000, this.retryMs * 2),
      // A leader's check must not hang on a half-open connection.
      query_timeout: Math.max(1000, this.retryMs * 3),
      keepAlive: true,
    });
    client.on('error', (err) => this.dropClient(client, `connection error: ${errorMessage(err)}`));
    client.on('end', () => this.dropClient(client, 'connection ended'));
    try {
      await client.connect();
    } catch (err) {
      client.removeAllListeners('end');
      client.on('error', () => {});
      await client.end().catch(() => {});
      if (!this.connectFailing) {
        this.connectFailing = true;
        this.log.warn({ event: 'leader.connect_failed', err: errorMessage(err) }, 'cannot reach PostgreSQL for the leader election; retrying');
      }
      return null;
    }
    this.connectFailing = false;
    if (this.stopping) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      return null;
    }
    this.client = client;
    return client;
  }

  /** The connection is gone (or unusable): so is the lock, and so is leadership, at once. */
  private dropClient(client: pg.Client, reason: string): void {
    if (this.client !== client) return;
    this.client = null;
    this.holdOffUntil = Date.now() + 2 * this.retryMs;
    client.removeAllListeners('end');
    client.on('error', () => {});
    client.end().catch(() => {});
    this.log.warn({ event: 'leader.connection_lost', err: reason }, 'leader election connection lost');
    this.setLeader(false, reason);
  }

  /** Give up leadership (the lock is released) and stop competing. Idempotent; never rejects. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      await this.ticking;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      const client = this.client;
      this.client = null;
      const wasLeader = this.isLeader;
      this.setLeader(false, 'stopped');
      if (client) {
        client.removeAllListeners('end');
        client.on('error', () => {});
        if (wasLeader) await client.query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [LEADER_LOCK_CLASS, this.key]).catch(() => {});
        await client.end().catch(() => {});
      }
      this.subject.complete();
    })();
    return this.stopping;
  }
}
