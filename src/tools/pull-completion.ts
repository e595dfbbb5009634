import type { Pool } from '../db/pool.js';
import { PULL_CHANNELS } from '../kinds/pulls/kind.js';
import { getPulls, type PullRow } from '../kinds/pulls/queries/pull-rows.js';
import type { RowWaiter } from './row-waiter.js';

/** The pull channel and its safety poll, for the shared RowWaiter. */
export const PULL_WAIT = { channel: PULL_CHANNELS.done, safetyPollMs: 2_000 } as const;

const finished = (r: PullRow) => r.status === 'done' || r.status === 'failed';

/**
 * Awaits pull rows reaching done/failed, on the tools' shared LISTEN connection (RowWaiter).
 * Payload of highway_docker_pull_done: "<pull id>".
 */
export class PullWaiter {
  constructor(
    private readonly pool: Pool,
    private readonly rows: RowWaiter,
  ) {}

  /** Resolves with the rows once every one has finished, or when `signal` aborts (with the rows as they are). */
  wait(ids: readonly string[], signal: AbortSignal): Promise<PullRow[]> {
    return this.rows.wait<PullRow[]>({
      channel: PULL_WAIT.channel,
      ids,
      what: 'the pulls',
      signal,
      onAbort: 'read',
      read: async (final) => {
        const rows = await getPulls(this.pool, ids);
        return final || (rows.length === ids.length && rows.every(finished)) ? rows : undefined;
      },
    });
  }
}
