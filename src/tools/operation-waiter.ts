import type { Pool } from '../db/pool.js';
import { getOperation, isFinished, type OperationRow } from '../db/queries/operations.js';
import { HighwayError } from '../errors.js';
import type { RowWaiter } from './row-waiter.js';

/** The operation channel and its safety poll, for the shared RowWaiter. */
export const OPERATION_WAIT = { channel: 'highway_docker_op_done', safetyPollMs: 2_000 } as const;

/**
 * Awaits operations (highway.docker_operations) reaching an outcome, on the tools' shared
 * LISTEN connection (RowWaiter). Payload of highway_docker_op_done: "<id> <status>".
 */
export class OperationWaiter {
  constructor(
    private readonly pool: Pool,
    private readonly rows: RowWaiter,
  ) {}

  /** The operation's row once it has an outcome; rejects with `timeout` after `timeoutMs`. */
  async wait(id: string, timeoutMs: number): Promise<OperationRow> {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await this.rows.wait<OperationRow>({
        channel: OPERATION_WAIT.channel,
        ids: [id],
        what: `operation ${id}`,
        logFields: { operation_id: id },
        signal: timeout,
        wakeOn: ([status]) => status !== 'pending' && status !== 'running',
        read: async () => {
          const row = await getOperation(this.pool, id);
          if (!row) throw new HighwayError('not_found', `operation ${id} does not exist`);
          return isFinished(row.status) ? row : undefined;
        },
      });
    } catch (err) {
      if (timeout.aborted && err instanceof HighwayError && err.code === 'shutdown') {
        throw new HighwayError('timeout', `no outcome for operation ${id} within ${Math.round(timeoutMs / 1000)} s`);
      }
      throw err;
    }
  }
}
