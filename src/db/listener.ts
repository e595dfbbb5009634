import pg from 'pg';
import pRetry from 'p-retry';
import { Subject, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { withTimeout } from '../timeouts.js';

export const CHANNELS = {
  intent: 'highway_docker_intent',
  done: 'highway_docker_done',
  workflowRun: 'highway_workflow_run',
  activity: 'highway_activity',
  worker: 'highway_worker',
} as const;

/**
 * `connected` comes on the first connect and after every reconnect: notifications sent while
 * the connection was down are lost, so listeners re-read what they care about then.
 */
export type NotificationSignal =
  | { type: 'connected'; reconnect: boolean }
  | { type: 'notification'; channel: string; payload: string };

/** How often an idle LISTEN connection is checked (a query), and how long that check may take. */
const PING_EVERY_MS = 5_000;
const PING_TIMEOUT_MS = 10_000;
/** How long stop() waits for the server to acknowledge the goodbye before it drops the socket. */
const END_TIMEOUT_MS = 2_000;

/**
 * One dedicated LISTEN connection (a plain pg.Client), reconnecting with jittered backoff
 * (p-retry, the project's one backoff mechanism) until stop(), as a hot Observable of
 * notifications and (re)connections.
 *
 * One query at a time on the connection: the LISTENs one after the other, then a periodic
 * check (`SELECT 1`) that finds a connection that died silently. stop() ends everything it
 * started, a reconnect in progress included, so a process that stops its listener can exit.
 */
export class PgListener {
  private readonly subject = new Subject<NotificationSignal>();
  readonly signals$: Observable<NotificationSignal> = this.subject.asObservable();
  private client: pg.Client | null = null;
  /** A connection being set up (stop() cuts it short). */
  private connecting: pg.Client | null = null;
  private connections = 0;
  private stopped = false;
  private stopping: Promise<void> | null = null;
  private listening = false;
  private reconnecting: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private ping: NodeJS.Timeout | null = null;

  /** Is the LISTEN connection up (for readiness)? */
  get connected(): boolean {
    return this.listening && !this.stopped;
  }

  constructor(
    private readonly databaseUrl: string,
    private readonly channels: readonly string[],
    private readonly logger: Logger,
  ) {}

  /** Connect and LISTEN; rejects when that fails (the caller decides whether to try again). */
  async start(): Promise<void> {
    if (this.stopped) throw new Error('the LISTEN connection was stopped');
    await this.connect();
  }

  /** One connection: connect, LISTEN on each channel in turn, then announce it. */
  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'highway-docker-listen', keepAlive: true, connectionTimeoutMillis: 10_000 });
    let ready = false;
    let gone = false;
    const onLost = (err?: unknown) => {
      if (gone) return;
      gone = true;
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      // Before it is ready, the connect below fails by itself (its query or connect rejects).
      if (ready && this.client === client) this.lost(err);
    };
    client.on('error', onLost);
    client.on('end', () => onLost(new Error('connection ended')));
    client.on('notification', (n) => this.subject.next({ type: 'notification', channel: n.channel, payload: String(n.payload ?? '') }));
    this.connecting = client;
    try {
      await client.connect();
      // One at a time: node-postgres queues concurrent queries on one client (deprecated in pg 8).
      for (const channel of this.channels) await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
      if (gone) throw new Error('connection ended while it was set up');
    } catch (err) {
      gone = true;
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
      throw err;
    } finally {
      this.connecting = null;
    }
    if (this.stopped) {
      gone = true;
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    ready = true;
    this.startPing(client, onLost);
    this.listening = true;
    const reconnect = this.connections++ > 0;
    if (reconnect) this.logger.info({ event: 'postgres.listen_reconnected' }, 'LISTEN connection back');
    this.subject.next({ type: 'connected', reconnect });
  }

  /** A query now and then, never two at once: a dead connection fails it, or it takes too long. */
  private startPing(client: pg.Client, onLost: (err?: unknown) => void): void {
    let inFlight = false;
    this.ping = setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      withTimeout(client.query('SELECT 1'), PING_TIMEOUT_MS, () => new Error(`no answer to a check within ${PING_TIMEOUT_MS} ms`))
        .catch((err: unknown) => onLost(err))
        .finally(() => (inFlight = false));
    }, PING_EVERY_MS);
    this.ping.unref();
  }

  private stopPing(): void {
    if (this.ping) clearInterval(this.ping);
    this.ping = null;
  }

  /** The connection went away: reconnect with backoff until it is back or we stop. */
  private lost(err: unknown): void {
    this.listening = false;
    this.stopPing();
    this.client = null;
    if (this.stopped || this.reconnecting) return;
    this.logger.warn({ event: 'postgres.listen_lost', err: errorMessage(err) }, 'LISTEN connection lost; reconnecting');
    this.reconnecting = pRetry(() => this.connect(), {
      retries: Infinity,
      minTimeout: 100,
      maxTimeout: 5_000,
      randomize: true,
      signal: this.abort.signal,
      onFailedAttempt: ({ error, attemptNumber }) => {
        this.logger.debug({ event: 'postgres.listen_retry', attempt: attemptNumber, err: errorMessage(error) }, 'LISTEN reconnect failed; trying again');
      },
    })
      .catch(() => {}) // stopped
      .finally(() => {
        this.reconnecting = null;
      });
  }

  /** Idempotent: ends the connection and any reconnect in progress; nothing of ours stays alive. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      this.listening = false;
      this.abort.abort();
      this.stopPing();
      if (this.connecting) dropSocket(this.connecting);
      await this.reconnecting;
      const client = this.client;
      this.client = null;
      if (client) {
        client.removeAllListeners();
        client.on('error', () => {});
        await withTimeout(client.end(), END_TIMEOUT_MS, () => new Error('no goodbye')).catch(() => dropSocket(client)); // the server did not acknowledge the goodbye
      }
      this.subject.complete();
    })();
    return this.stopping;
  }
}

/** Close a client's socket at once (a connect in progress fails; an end waiting on the server completes). */
function dropSocket(client: pg.Client): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}
