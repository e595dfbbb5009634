import type { Queryable } from '../../../db/pool.js';
import { TERMINAL_SQL } from '../../../db/queries/intent-columns.js';
import type { OverlapPolicy } from '../decide.js';

export interface EndedTick {
  scheduled_time: Date;
  intent_id: string;
  outcome: string;
}

/** Record the outcome of started ticks whose run has ended; returns them. */
export async function recordOutcomes(q: Queryable, scheduleId: string): Promise<EndedTick[]> {
  const res = await q.query<EndedTick>(
    `UPDATE highway.docker_schedule_ticks t
        SET outcome = c.status, updated_at = now()
       FROM highway.docker_containers c
      WHERE t.schedule_id = $1 AND t.status = 'started' AND t.outcome IS NULL
        AND c.id = t.intent_id AND c.status IN ${TERMINAL_SQL}
      RETURNING t.scheduled_time, t.intent_id, t.outcome`,
    [scheduleId],
  );
  return res.rows.sort((a, b) => a.scheduled_time.getTime() - b.scheduled_time.getTime());
}

export interface OpenTicks {
  /** Intent ids of the started ticks whose run has not ended. */
  running: string[];
  buffered: Array<{ time: Date; overlap: OverlapPolicy }>;
  pending: Array<{ time: Date; overlap: OverlapPolicy; source: string }>;
}

/** The ticks of a schedule still open: running, buffered, pending. */
export async function openTicks(q: Queryable, scheduleId: string, fallback: OverlapPolicy): Promise<OpenTicks> {
  const res = await q.query<{ status: string; scheduled_time: Date; overlap: OverlapPolicy | null; intent_id: string | null; source: string }>(
    `SELECT status, scheduled_time, overlap, intent_id, source FROM highway.docker_schedule_ticks
      WHERE schedule_id = $1 AND (status IN ('pending', 'buffered') OR (status = 'started' AND outcome IS NULL))
      ORDER BY scheduled_time`,
    [scheduleId],
  );
  const open: OpenTicks = { running: [], buffered: [], pending: [] };
  for (const r of res.rows) {
    if (r.status === 'started') open.running.push(r.intent_id!);
    else if (r.status === 'buffered') open.buffered.push({ time: r.scheduled_time, overlap: r.overlap ?? fallback });
    else open.pending.push({ time: r.scheduled_time, overlap: r.overlap ?? fallback, source: r.source });
  }
  return open;
}
