import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { PgListener } from '../db/listener.js';
import { HighwayError, errorMessage } from '../errors.js';
import { PULL_CHANNELS } from '../kinds/pulls/kind.js';
import { getPulls, type PullRow } from '../kinds/pulls/queries/pull-rows.js';

const finished = (r: PullRow) => r.status === 'done' || r.status === 'failed';

interface Waiter {
  ids: Set<string>;
  check: () => void;
  cancel: (err: Error) => void;
}

/**
 * Awaits pull rows reaching done/failed, on one LISTEN connection (highway_docker_pull_done).
 * Race-free as the intent waiter: LISTEN first, then read; after a reconnect and every
 * `safetyPollMs` every waiter re-reads. A failed LISTEN start is retried by the next wait.
 */
export class PullWaiter {
  private readonly listener: PgListener;
  private readonly waiters = new Set<Waiter>();
  private started: Promise<void> | null = null;
  private poll: NodeJS.Timeout | null = null;

  constructor(
    private readonly pool: Pool,
    databaseUrl: string,
    private readonly logger: Logger,
    private readonly safetyPollMs = 2_000,
  ) {
    this.listener = new PgListener(databaseUrl, [PULL_CHANNELS.done], logger);
    this.listener.signals$.subscribe((signal) => {
      for (const w of this.waiters) if (signal.type === 'connected' || w.ids.has(signal.payload)) w.check();
    });
  }

  private ensureStarted(): Promise<void> {
    this.started ??= this.listener.start().then(
      () => {
        this.poll = setInterval(() => this.waiters.forEach((w) => w.check()), this.safetyPollMs);
        this.poll.unref();
      },
      (err) => {
        this.started = null;
        throw err;
      },
    );
    return this.started;
  }

  /** Resolves with the rows once every one has finished, or when `signal` aborts (with the rows as they are). */
  async wait(ids: readonly string[], signal: AbortSignal): Promise<PullRow[]> {
    await this.ensureStarted();
    return new Promise<PullRow[]>((resolve, reject) => {
      let reading = false;
      let again = false;
      let over = false;
      let final = false;
      const end = (rows: PullRow[] | Error) => {
        if (over) return;
        over = true;
        this.waiters.delete(waiter);
        signal.removeEventListener('abort', onAbort);
        if (rows instanceof Error) reject(rows);
        else resolve(rows);
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
            const rows = await getPulls(this.pool, ids);
            if (final || (rows.length === ids.length && rows.every(finished))) return end(rows);
          } while (again && !over);
        } catch (err) {
          this.logger.warn({ event: 'wait.read_error', err: errorMessage(err) }, 'could not read pulls');
          if (final) end(new HighwayError('database_unavailable', `could not read the pulls: ${errorMessage(err)}`, { cause: err }));
        } finally {
          reading = false;
        }
      };
      const waiter: Waiter = { ids: new Set(ids), check: () => void read(false), cancel: (err) => end(err) };
      const onAbort = () => void read(true);
      this.waiters.add(waiter);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      waiter.check();
    });
  }

  async stop(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    for (const w of [...this.waiters]) w.cancel(new HighwayError('shutdown', 'stopped waiting for the pulls: shutting down'));
    await this.listener.stop();
  }
}
