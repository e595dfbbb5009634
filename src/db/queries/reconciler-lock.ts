import type { Queryable } from '../pool.js';
import { LEADER_LOCK_CLASS, leaderLockKey } from '../../runtime/leader.js';

/**
 * Does a session hold the lock of reconciler id `id` (the live reconciler of that id, see
 * Manager)? Read from pg_locks, without taking it: `up` asks before it writes the host row.
 */
export async function reconcilerLockHeld(q: Queryable, id: string): Promise<boolean> {
  const res = await q.query(
    `SELECT 1 FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objsubid = 2
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND classid = $1::bigint::oid AND objid = $2::bigint::oid`,
    [LEADER_LOCK_CLASS, leaderLockKey(`reconciler:${id}`) >>> 0],
  );
  return (res.rowCount ?? 0) > 0;
}
