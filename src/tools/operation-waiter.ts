import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { PgListener } from '../db/listener.js';
import { getOperation, isFinished, type OperationRow } from '../db/queries/operations.js';
import { HighwayError, errorMessage } from '../errors.js';

interface Waiter {
  resolve: (row: OperationRow) => void;
  reject: (err: Error) => void;
  checking: boolean;
  again: boolean;
}

/**
 * Awaits operations (highway.docker_operations) reaching an outcome, on one LISTEN connection
 * (`highway_docker_op_done`). Race-free as the intent waiter: LISTEN first, then read the row;
 * every waiter re-reads after a reconnect and every `safetyPollMs`. A failed LISTEN start is
 * not cached: the next wait tries again.
 */
export class OperationWaiter {
  private listener: PgListener | null = null;
  private started: Promise<void> | null = null;
  private readonly waiters = new Map<string, Waiter>();
  private poll: NodeJS.Timeout | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly databaseUrl: string,
    private readonly logger: Logger,
    private readonly safetyPollMs = 2_000,
  ) {}

  private ensureStarted(): Promise<void> {
    this.started ??= (async () => {
      const listener = new PgListener(this.databaseUrl, ['highway_docker_op_done'], this.logger);
      listener.signals$.subscribe((signal) => {
        if (signal.type === 'connected') return this.checkAll();
        const [id, status] = signal.payload.split(' ');
        if (status === 'pending' || status === 'running') return;
        const w = this.waiters.get(id!);
        if (w) void this.check(id!, w);
      });
      this.listener = listener;
      await listener.start();
      this.poll = setInterval(() => this.checkAll(), this.safetyPollMs);
      this.poll.unref();
    })().catch((err) => {
      this.started = null;
      throw err;
    });
    return this.started;
  }

  /** The operation's row once it has an outcome; rejects with `timeout` after `timeoutMs`. */
  async wait(id: string, timeoutMs: number): Promise<OperationRow> {
    await this.ensureStarted();
    return new Promise<OperationRow>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new HighwayError('timeout', `no outcome for operation ${id} within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      const w: Waiter = {
        resolve: (row) => {
          clearTimeout(timer);
          this.waiters.delete(id);
          resolve(row);
        },
        reject: (err) => {
          clearTimeout(timer);
          this.waiters.delete(id);
          reject(err);
        },
        checking: false,
        again: false,
      };
      this.waiters.set(id, w);
      void this.check(id, w);
    });
  }

  private checkAll(): void {
    for (const [id, w] of this.waiters) void this.check(id, w);
  }

  private async check(id: string, w: Waiter): Promise<void> {
    if (w.checking) {
      w.again = true;
      return;
    }
    w.checking = true;
    try {
      do {
        w.again = false;
        const row = await getOperation(this.pool, id);
        if (!row) return w.reject(new HighwayError('not_found', `operation ${id} does not exist`));
        if (isFinished(row.status)) return w.resolve(row);
      } while (w.again);
    } catch (err) {
      this.logger.warn({ event: 'wait.read_error', operation_id: id, err: errorMessage(err) }, 'could not read operation');
    } finally {
      w.checking = false;
    }
  }

  async stop(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    for (const w of this.waiters.values()) w.reject(new HighwayError('shutdown', 'stopped waiting for operations: shutting down'));
    await this.listener?.stop();
  }
}
