import type { Logger } from 'pino';
import { PgListener } from '../db/listener.js';
import { HighwayError, errorMessage } from '../errors.js';
import { CALLER_DB_RETRY_MS, isTransientPgError, withPgRetry } from '../db/retry.js';

/** One wait for rows to reach a condition. */
export interface RowWait<R> {
  /** The channel whose payloads ("<id>" or "<id> <field> ...") name the rows. */
  channel: string;
  ids: readonly string[];
  /** What is awaited, for messages ("intent <id>", "the pulls"). */
  what: string;
  /**
   * Read the rows: a result ends the wait, undefined waits on; a HighwayError thrown ends it
   * (e.g. `not_found`), any other error is logged and the next wake reads again.
   * `final` (see `onAbort`): return what there is.
   */
  read: (final: boolean) => Promise<R | undefined>;
  /** A cheap pre-filter on a payload's fields after the id; a payload of only an id always wakes. */
  wakeOn?: (fields: readonly string[]) => boolean;
  /**
   * The caller wrote the rows after `listening()` resolved, so every later change is notified:
   * no first read. A defined `result` (what the rows as written give) ends the wait at once.
   */
  initial?: { result: R | undefined };
  signal?: AbortSignal;
  /** On abort: reject with `shutdown` (default), or read once more and end with what is there. */
  onAbort?: 'reject' | 'read';
  /** Extra log fields for a failed read. */
  logFields?: Record<string, unknown>;
}

interface Watch {
  channel: string;
  what: string;
  keys: string[];
  wakeOn: (fields: readonly string[]) => boolean;
  check: (final?: boolean) => void;
  cancel: (err: Error) => void;
}

/**
 * Awaits rows reaching a condition, for every tool, on ONE LISTEN connection over all the
 * channels given. Race-free: the LISTEN is in place before a row is first read, so a change
 * written before the wait began is seen by that read, and one written after it by a
 * notification. Each wait reads one at a time, with at most one more read queued. After a
 * (re)connect (notifications may have been lost) and every safety poll of its channel, every
 * wait re-reads. A LISTEN that cannot start (the database is unreachable) is retried for
 * `connectRetryMs` (default CALLER_DB_RETRY_MS); a failure after that is not cached: the next
 * wait tries again.
 */
export class RowWaiter {
  private readonly listener: PgListener;
  private readonly watches = new Map<string, Set<Watch>>();
  private readonly all = new Set<Watch>();
  private started: Promise<void> | null = null;
  private polls: NodeJS.Timeout[] = [];
  private readonly stopping = new AbortController();

  /** `channels`: each channel with its safety-poll interval in ms. */
  constructor(
    databaseUrl: string,
    private readonly logger: Logger,
    private readonly channels: Readonly<Record<string, number>>,
    private readonly options: { connectRetryMs?: number } = {},
  ) {
    this.listener = new PgListener(databaseUrl, Object.keys(channels), logger);
    this.listener.signals$.subscribe((signal) => {
      if (signal.type === 'connected') return this.checkAll();
      const [id, ...fields] = signal.payload.split(' ');
      this.watches.get(key(signal.channel, id!))?.forEach((w) => {
        if (fields.length === 0 || w.wakeOn(fields)) w.check();
      });
    });
  }

  private ensureStarted(): Promise<void> {
    this.started ??= withPgRetry('listen', () => this.listener.start(), {
      logger: this.logger,
      maxRetryTime: this.options.connectRetryMs ?? CALLER_DB_RETRY_MS,
      signal: this.stopping.signal,
    }).then(
      () => {
        this.polls = Object.entries(this.channels).map(([channel, ms]) => {
          const poll = setInterval(() => this.checkAll(channel), ms);
          poll.unref();
          return poll;
        });
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
   * may wait for that row with `initial`: every change after the write is notified.
   */
  listening(): Promise<void> {
    return this.ensureStarted();
  }

  async wait<R>(spec: RowWait<R>): Promise<R> {
    if (!(spec.channel in this.channels)) throw new Error(`not listening on ${spec.channel}`);
    await this.ensureStarted();
    const { signal } = spec;
    return new Promise<R>((resolve, reject) => {
      let reading = false;
      let again = false;
      let final = false;
      let over = false;
      let quickRetries = 0;
      const end = (result: R | Error) => {
        if (over) return;
        over = true;
        this.all.delete(watch);
        for (const k of watch.keys) {
          const set = this.watches.get(k);
          set?.delete(watch);
          if (set?.size === 0) this.watches.delete(k);
        }
        signal?.removeEventListener('abort', onAbort);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      const read = async (last: boolean) => {
        final ||= last;
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        try {
          do {
            again = false;
            const result = await spec.read(final);
            if (result !== undefined) return end(result);
          } while (again && !over);
          quickRetries = 0;
        } catch (err) {
          if (err instanceof HighwayError) return end(err);
          // The database is unreachable for now; the next notification or poll tries again. A
          // transient failure (a connection the pool just replaced) is read again shortly, a few times.
          this.logger.warn({ event: 'wait.read_error', ...spec.logFields, err: errorMessage(err) }, `could not read ${spec.what}`);
          if (final) end(new HighwayError('database_unavailable', `could not read ${spec.what}: ${errorMessage(err)}`, { cause: err }));
          else if (isTransientPgError(err) && quickRetries++ < QUICK_RETRIES) setTimeout(() => watch.check(), QUICK_RETRY_MS).unref();
        } finally {
          reading = false;
        }
      };
      const watch: Watch = {
        channel: spec.channel,
        what: spec.what,
        keys: [...new Set(spec.ids)].map((id) => key(spec.channel, id)),
        wakeOn: spec.wakeOn ?? (() => true),
        check: (last = false) => void read(last),
        cancel: end,
      };
      const onAbort = () => {
        if (spec.onAbort === 'read') watch.check(true);
        else end(new HighwayError('shutdown', `stopped waiting for ${spec.what}`, { cause: signal?.reason }));
      };
      this.all.add(watch);
      for (const k of watch.keys) {
        const set = this.watches.get(k) ?? new Set();
        set.add(watch);
        this.watches.set(k, set);
      }
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!spec.initial) watch.check();
      else if (spec.initial.result !== undefined) end(spec.initial.result);
    });
  }

  private checkAll(channel?: string): void {
    for (const w of this.all) if (channel === undefined || w.channel === channel) w.check();
  }

  /** Ends every wait (`shutdown`) and closes the LISTEN connection. */
  async stop(): Promise<void> {
    this.stopping.abort(new HighwayError('shutdown', 'stopped waiting: shutting down'));
    for (const poll of this.polls) clearInterval(poll);
    for (const w of [...this.all]) w.cancel(new HighwayError('shutdown', `stopped waiting for ${w.what}: shutting down`));
    await this.listener.stop();
  }
}

const key = (channel: string, id: string) => `${channel} ${id}`;

/** A read that failed transiently is tried again this many times, this long apart, before waiting for a wake. */
const QUICK_RETRIES = 3;
const QUICK_RETRY_MS = 250;
