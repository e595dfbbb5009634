import type { Pool } from '../db/pool.js';
import { CHANNELS } from '../db/listener.js';
import { getIntent } from '../db/queries/get-intent.js';
import type { IntentRow } from '../model.js';
import { HighwayError } from '../errors.js';
import type { RowWaiter } from './row-waiter.js';

/** A cheap pre-filter on the notification (status, removed) before the row is re-read. */
export type WakeOn = (status: string, removed: boolean) => boolean;

/** The intent channel and its safety poll, for the shared RowWaiter. */
export const INTENT_WAIT = { channel: CHANNELS.done, safetyPollMs: 5_000 } as const;

/**
 * Awaits intents reaching a condition, on the tools' shared LISTEN connection (RowWaiter).
 * Payload of highway_docker_done: "<intent id> <status> <removed 0|1>" (just the id from older triggers).
 */
export class CompletionWaiter {
  constructor(
    private readonly pool: Pool,
    private readonly rows: RowWaiter,
  ) {}

  /**
   * Resolves once the LISTEN connection is up. A caller that awaits this before it writes a row
   * may pass that row as `initial` to wait(): every change after the write is notified, so the
   * first read is not needed.
   */
  listening(): Promise<void> {
    return this.rows.listening();
  }

  async wait(
    id: string,
    until: (row: IntentRow) => boolean,
    options: { signal?: AbortSignal; wakeOn?: WakeOn; initial?: IntentRow } = {},
  ): Promise<IntentRow> {
    const { signal, wakeOn, initial } = options;
    return this.rows.wait<IntentRow>({
      channel: INTENT_WAIT.channel,
      ids: [id],
      what: `intent ${id}`,
      logFields: { intent_id: id },
      // Written while we listened: the row as written is current until a notification says otherwise.
      ...(initial && initial.id === id ? { initial: { result: until(initial) ? initial : undefined } } : {}),
      ...(signal ? { signal } : {}),
      ...(wakeOn ? { wakeOn: ([status, removed]) => wakeOn(status!, removed === '1') } : {}),
      read: async () => {
        const row = await getIntent(this.pool, id);
        if (!row) throw new HighwayError('not_found', `intent ${id} does not exist`);
        return until(row) ? row : undefined;
      },
    });
  }
}
