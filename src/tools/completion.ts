import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { CHANNELS, PgListener } from '../db/listener.js';
import { getIntent } from '../db/queries/get-intent.js';
import type { IntentRow } from '../model.js';
import { HighwayError, errorMessage } from '../errors.js';

/** A cheap pre-filter on the notification (status, removed) before the row is re-read. */
export type WakeOn = (status: string, removed: boolean) => boolean;

interface Waiter {
  id: string;
  until: (row: IntentRow) => boolean;
  wakeOn: WakeOn;
  resolve: (row: IntentRow) => void;
  reject: (err: Error) => void;
  checking: boolean;
  again: boolean;
}

/**
 * Awaits intents reaching a condition, on one shared LISTEN connection.
 * Race-free: the LISTEN is in place before the row is first read, so a result written
 * before the wait began is seen by that read, and one written after it by a notification.
 * After a reconnect (notifications may have been lost) and every `safetyPollMs`, every
 * waiter re-reads its row.
 */
export class CompletionWaiter {
  private readonly listener: PgListener;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private started: Promise<void> | null = null;
  private poll: NodeJS.Timeout | null = null;

  constructor(
    private readonly pool: Pool,
    databaseUrl: string,
    private readonly logger: Logger,
    private readonly safetyPollMs = 5_000,
  ) {
    this.listener = new PgListener(databaseUrl, [CHANNELS.done], logger);
    this.listener.signals$.subscribe((signal) => {
      if (signal.type === 'connected') return this.checkAll();
      // Payload: "<intent id> <status> <removed 0|1>" (just the id from older triggers).
      const [id, status, removed] = signal.payload.split(' ');
      this.waiters.get(id!)?.forEach((w) => {
        if (status === undefined || w.wakeOn(status, removed === '1')) void this.check(w);
      });
    });
  }

  private ensureStarted(): Promise<void> {
    // A failed start is not cached: the next wait tries again (the database may be back).
    this.started ??= this.listener.start().then(
      () => {
        this.poll = setInterval(() => this.checkAll(), this.safetyPollMs);
        this.poll.unref();
      },
      (err: unknown) => {
        this.started = null;
        throw new HighwayError('database_unavailable', `cannot LISTEN for completions: ${errorMessage(err)}`, { cause: err });
      },
    );
    return this.started;
  }

  /**
   * Resolves once the LISTEN connection is up. A caller that awaits this before it writes a row
   * may pass that row as `initial` to wait(): every change after the write is notified, so the
   * first read is not needed.
   */
  listening(): Promise<void> {
    return this.ensureStarted();
  }

  async wait(
    id: string,
    until: (row: IntentRow) => boolean,
    options: { signal?: AbortSignal; wakeOn?: WakeOn; initial?: IntentRow } = {},
  ): Promise<IntentRow> {
    const { signal, wakeOn = () => true, initial } = options;
    await this.ensureStarted();
    return new Promise<IntentRow>((resolve, reject) => {
      const waiter: Waiter = { id, until, wakeOn, resolve, reject, checking: false, again: false };
      const set = this.waiters.get(id) ?? new Set();
      set.add(waiter);
      this.waiters.set(id, set);
      const done = () => {
        set.delete(waiter);
        if (set.size === 0 && this.waiters.get(id) === set) this.waiters.delete(id);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(new HighwayError('shutdown', `stopped waiting for intent ${id}`, { cause: signal?.reason }));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      waiter.resolve = (row) => {
        done();
        resolve(row);
      };
      waiter.reject = (err) => {
        done();
        reject(err);
      };
      // Written while we listened: the row as written is current until a notification says otherwise.
      if (initial && initial.id === id) {
        if (until(initial)) waiter.resolve(initial);
        return;
      }
      void this.check(waiter);
    });
  }

  private checkAll(): void {
    for (const set of this.waiters.values()) for (const w of set) void this.check(w);
  }

  /** Re-read the row; one read per waiter at a time, with at most one more queued behind it. */
  private async check(w: Waiter): Promise<void> {
    if (w.checking) {
      w.again = true;
      return;
    }
    w.checking = true;
    try {
      do {
        w.again = false;
        const row = await getIntent(this.pool, w.id);
        if (!row) return w.reject(new HighwayError('not_found', `intent ${w.id} does not exist`));
        if (w.until(row)) return w.resolve(row);
      } while (w.again);
    } catch (err) {
      // The database is unreachable for now; the next notification or poll tries again.
      this.logger.warn({ event: 'wait.read_error', intent_id: w.id, err: errorMessage(err) }, 'could not read intent');
    } finally {
      w.checking = false;
    }
  }

  async stop(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    for (const set of this.waiters.values())
      for (const w of set) w.reject(new HighwayError('shutdown', `stopped waiting for intent ${w.id}: shutting down`));
    await this.listener.stop();
  }
}
