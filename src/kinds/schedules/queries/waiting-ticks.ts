import type { Queryable } from '../../../db/pool.js';

/** Ticks of a schedule that wait (buffered, or requested and pending): they wait while it is paused and are decided once resumed. */
export async function countWaitingTicks(q: Queryable, tenantId: string, name: string): Promise<number> {
  const res = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM highway.docker_schedule_ticks t JOIN highway.docker_schedules s ON s.id = t.schedule_id
      WHERE s.tenant_id = $1 AND s.name = $2 AND t.status IN ('buffered', 'pending')`,
    [tenantId, name],
  );
  return res.rows[0]?.n ?? 0;
}
