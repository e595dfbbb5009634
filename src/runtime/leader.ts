import pg from 'pg';
import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import { errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { withTimeout } from '../timeouts.js';

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
  /** How long to wait before connecting again after a failure, and to sit out (twice) after losing the connection (default 1000 ms). */
  retryMs?: number;
  /**
   * How often the leader checks its session with a query (default 10 000 ms). A session the
   * server ends, or a connection that breaks, is noticed at once without it; the check catches
   * a connection that went silent.
   */
  checkMs?: number;
  logger?: Logger;
}

/**
 * Leadership held as a PostgreSQL session advisory lock on a dedicated connection (never a pool
 * connection: the lock lives and dies with that one session). A non-leader WAITS for the lock
 * inside PostgreSQL (`pg_advisory_lock`, one statement that returns when it is granted): no
 * polling, so a follower costs no statements while it waits, and it takes over the moment the
 * holder's session ends (the process died, the connection broke, the server restarted). The
 * leader checks its session every `checkMs`. One that lost its connection drops leadership at
 * once and competes again once it can connect, after sitting out two `retryMs` (so that a healthy
 * elector, not the one with the flaky connection, is the one that takes over).
 */
export class LeaderElector {
  readonly name: string;
  private readonly key: number;
  private readonly retryMs: number;
  private readonly checkMs: number;
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
  /** A pg_advisory_lock is waiting in PostgreSQL on `client`; `waitDone` settles when it ends. */
  private waiting = false;
  private waitDone: Promise<void> | null = null;

  constructor(private readonly options: LeaderElectorOptions) {
    this.name = options.name;
    this.key = leaderLockKey(options.name);
    this.retryMs = options.retryMs ?? 1000;
    this.checkMs = options.checkMs ?? 10_000;
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
    this.timer = setTimeout(() => void this.tick(), this.isLeader ? this.checkMs : this.retryMs);
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
    if (this.stopping || this.waiting) return;
    if (!this.isLeader && Date.now() < this.holdOffUntil) return;
    const client = this.client ?? (await this.connect());
    if (!client) return;
    try {
      if (this.isLeader) {
        // The session still holds the lock as long as it answers; a silent one is caught here.
        const ms = Math.max(1000, this.retryMs * 3);
        await withTimeout(client.query('SELECT 1'), ms, () => new Error(`no answer within ${ms} ms`));
        return;
      }
      const res = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::int4, $2::int4) AS ok', [LEADER_LOCK_CLASS, this.key]);
      if (res.rows[0]?.ok) await this.acquired(client);
      else this.waitForLock(client);
    } catch (err) {
      this.dropClient(client, `query failed: ${errorMessage(err)}`);
    }
  }

  /**
   * Wait for the lock inside PostgreSQL (one statement, granted the moment the holder's session
   * ends), in the background: start() and the ticks do not wait for it; stop() ends the session.
   */
  private waitForLock(client: pg.Client): void {
    this.waiting = true;
    this.waitDone = client
      .query('SELECT pg_advisory_lock($1::int4, $2::int4)', [LEADER_LOCK_CLASS, this.key])
      .then(
        () => this.acquired(client),
        (err: unknown) => this.dropClient(client, `waiting for the lock failed: ${errorMessage(err)}`),
      )
      .finally(() => {
        this.waiting = false;
        this.waitDone = null;
      });
  }

  private async acquired(client: pg.Client): Promise<void> {
    if (this.stopping || this.client !== client) {
      // stop() or a broken connection raced with us: give the lock back (a dead session already has).
      await client.query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [LEADER_LOCK_CLASS, this.key]).catch(() => {});
      return;
    }
    this.setLeader(true, 'lock acquired');
  }

  private async connect(): Promise<pg.Client | null> {
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      application_name: `highway-docker-leader:${this.name}${this.options.id ? `:${this.options.id}` : ''}`,
      connectionTimeoutMillis: Math.max(1000, this.retryMs * 2),
      // No query_timeout: the wait for the lock has none. The leader's check has its own (withTimeout).
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
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
    // A backend waiting for a lock does not read from its client: without this, the session of a
    // follower that stopped or died would wait on in PostgreSQL (holding a connection) until the
    // lock is granted to it. PostgreSQL 14+; older servers keep the old behaviour.
    await client.query(`SET client_connection_check_interval = '1s'`).catch(() => {});
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
    // The next tick was set for a leader's check (checkMs away): compete again on the retry pace.
    if (this.timer && !this.ticking) {
      clearTimeout(this.timer);
      this.timer = null;
      this.schedule();
    }
  }

  /** Give up leadership (the lock is released) and stop competing. Idempotent; never rejects. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      if (this.waiting && this.client) {
        // Give up waiting for the lock: end that session (its wait ends with it).
        const waiter = this.client;
        this.client = null;
        waiter.removeAllListeners('end');
        waiter.on('error', () => {});
        await waiter.end().catch(() => {});
      }
      await this.waitDone;
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
