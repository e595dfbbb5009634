import createSubscriber from 'pg-listen';
import { Subject, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';

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

type Subscriber = ReturnType<typeof createSubscriber.default>;

/**
 * One dedicated LISTEN connection (pg-listen), reconnecting forever with jittered backoff,
 * as a hot Observable of notifications and (re)connections.
 */
export class PgListener {
  private readonly subject = new Subject<NotificationSignal>();
  readonly signals$: Observable<NotificationSignal> = this.subject.asObservable();
  private subscriber: Subscriber | null = null;
  private connections = 0;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private listening = false;

  /** Is the LISTEN connection up (for readiness)? */
  get connected(): boolean {
    return this.listening && !this.stopped;
  }

  constructor(
    private readonly databaseUrl: string,
    private readonly channels: readonly string[],
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.open();
  }

  private async open(): Promise<void> {
    const sub = createSubscriber.default(
      { connectionString: this.databaseUrl, application_name: 'highway-docker-listen' },
      {
        parse: (s: string) => s,
        paranoidChecking: 5_000,
        retryLimit: Infinity,
        retryTimeout: 0, // never give up (a PostgreSQL restart can take a while)
        retryInterval: (attempt: number) => Math.min(5_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2),
      },
    );
    this.subscriber = sub;
    let listening = false;
    const announce = () => {
      this.listening = true;
      const reconnect = this.connections++ > 0;
      if (reconnect) this.logger.info({ event: 'postgres.listen_reconnected' }, 'LISTEN connection back');
      this.subject.next({ type: 'connected', reconnect });
    };
    // pg-listen says `connected` after a reconnect once it has re-LISTENed; the first time,
    // we announce only after our own LISTENs, so nothing sent in between goes unseen.
    sub.events.on('connected', () => {
      if (listening) announce();
    });
    sub.events.on('reconnect', (attempt: number) => {
      this.listening = false;
      if (attempt === 1) this.logger.warn({ event: 'postgres.listen_lost' }, 'LISTEN connection lost; reconnecting');
    });
    sub.events.on('notification', (n: { channel: string; payload?: unknown }) => {
      this.subject.next({ type: 'notification', channel: n.channel, payload: String(n.payload ?? '') });
    });
    sub.events.on('error', (err: Error) => {
      // pg-listen gave up on this connection: start a fresh subscriber.
      this.listening = false;
      this.logger.error({ event: 'postgres.listen_error', err: errorMessage(err) }, 'LISTEN connection failed');
      void sub.close().catch(() => {});
      this.scheduleRestart();
    });
    try {
      await sub.connect();
      for (const channel of this.channels) await sub.listenTo(channel);
      listening = true;
      announce();
    } catch (err) {
      if (this.connections === 0) {
        await sub.close().catch(() => {});
        throw err;
      }
      this.scheduleRestart();
    }
  }

  private scheduleRestart(): void {
    if (this.stopped || this.restartTimer) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopped) void this.open().catch(() => this.scheduleRestart());
    }, 1_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.subscriber?.close().catch(() => {});
    this.subject.complete();
  }
}
