import type { Queryable } from '../../../db/pool.js';
import type { ScheduleRow } from '../model.js';

/**
 * The schedule row, locked for this transaction (two schedulers on one schedule take turns;
 * the tick uniqueness makes it safe either way), with the database's clock.
 */
export async function lockSchedule(q: Queryable, id: string): Promise<{ schedule: ScheduleRow; now: Date } | null> {
  const res = await q.query<ScheduleRow & { db_now: Date }>(
    `SELECT s.*, clock_timestamp() AS db_now FROM highway.docker_schedules s WHERE s.id = $1 FOR UPDATE`,
    [id],
  );
  const row = res.rows[0];
  if (!row) return null;
  const { db_now, ...schedule } = row;
  return { schedule, now: db_now };
}
