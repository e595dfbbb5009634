import type { Queryable } from '../../../db/pool.js';
import type { OverlapPolicy } from '../decide.js';
import type { TickSource, TickStatus } from '../model.js';

export interface TickWrite {
  schedule_id: string;
  time: Date;
  status: Exclude<TickStatus, 'pending'>;
  /** The row as it was: none yet (`new`), or a pending/buffered one moving on. */
  was: 'new' | 'pending' | 'buffered';
  source?: TickSource;
  overlap?: OverlapPolicy | null;
  reason?: string | null;
  intent_id?: string | null;
  lateness_ms?: number | null;
}

/**
 * Write one tick: insert it (unique on schedule and time: a tick another scheduler wrote first
 * is left alone), or move a pending/buffered one on (only from the state this pass saw).
 * Returns whether this call wrote it: only then may the caller write its intent.
 */
export async function writeTick(q: Queryable, t: TickWrite): Promise<boolean> {
  const values = [t.schedule_id, t.time, t.status, t.reason ?? null, t.intent_id ?? null, t.lateness_ms ?? null];
  if (t.was === 'new') {
    const res = await q.query(
      `INSERT INTO highway.docker_schedule_ticks (schedule_id, scheduled_time, status, reason, intent_id, lateness_ms, source, overlap)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (schedule_id, scheduled_time) DO NOTHING
       RETURNING id`,
      [...values, t.source ?? 'schedule', t.overlap ?? null],
    );
    return (res.rowCount ?? 0) > 0;
  }
  const res = await q.query(
    `UPDATE highway.docker_schedule_ticks
        SET status = $3, reason = $4, intent_id = COALESCE($5, intent_id), lateness_ms = COALESCE($6, lateness_ms), updated_at = now()
      WHERE schedule_id = $1 AND scheduled_time = $2 AND status = $7
      RETURNING id`,
    [...values, t.was],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Record fire times older than the catch-up window as missed, in one statement; returns how many were new. */
export async function writeMissed(q: Queryable, scheduleId: string, times: Date[], now: Date): Promise<number> {
  if (times.length === 0) return 0;
  const res = await q.query(
    `INSERT INTO highway.docker_schedule_ticks (schedule_id, scheduled_time, status, reason, lateness_ms)
     SELECT $1, t, 'missed', 'older than the catch-up window', (extract(epoch FROM ($3::timestamptz - t)) * 1000)::int
       FROM unnest($2::timestamptz[]) AS t
     ON CONFLICT (schedule_id, scheduled_time) DO NOTHING`,
    [scheduleId, times, now],
  );
  return res.rowCount ?? 0;
}

/**
 * The scheduler's bookkeeping: fire times up to `lastTickAt` are decided; the next is
 * `nextFireAt`. With `decidedFrom` (the last_tick_at the pass started from), the span
 * (decidedFrom, lastTickAt] joins the schedule's decided instants: a backfill never writes them again.
 */
export async function advanceSchedule(q: Queryable, id: string, lastTickAt: Date, nextFireAt: Date | null, decidedFrom: Date | null = null): Promise<void> {
  await q.query(
    `UPDATE highway.docker_schedules
        SET last_tick_at = GREATEST(last_tick_at, $2), next_fire_at = $3,
            decided = CASE WHEN $4::timestamptz IS NULL OR $4::timestamptz >= $2::timestamptz THEN decided
                           ELSE decided + tstzmultirange(tstzrange($4::timestamptz, $2::timestamptz, '(]')) END
      WHERE id = $1`,
    [id, lastTickAt, nextFireAt, decidedFrom],
  );
}

/** Pause a schedule on a failed run (a change: it notifies). */
export async function pauseOnFailure(q: Queryable, id: string, note: string): Promise<void> {
  await q.query(`UPDATE highway.docker_schedules SET paused = true, pause_note = $2, updated_at = now() WHERE id = $1 AND NOT paused`, [id, note]);
}

/**
 * History: keep the newest `keepSucceeded` ticks whose run exited 0 and the newest
 * `keepFailed` of the others that are over (failed runs, skipped, missed). Open ticks stay.
 */
export async function pruneTicks(q: Queryable, scheduleId: string, keepSucceeded: number, keepFailed: number): Promise<number> {
  const res = await q.query(
    `DELETE FROM highway.docker_schedule_ticks WHERE id IN (
       SELECT id FROM (
         SELECT id, ok, row_number() OVER (PARTITION BY ok ORDER BY scheduled_time DESC) AS rn
           FROM (SELECT id, scheduled_time, COALESCE(outcome = 'exited', false) AS ok
                   FROM highway.docker_schedule_ticks
                  WHERE schedule_id = $1 AND (status IN ('skipped', 'missed', 'failed') OR (status = 'started' AND outcome IS NOT NULL))) x
       ) y
       WHERE (ok AND rn > $2) OR (NOT ok AND rn > $3))`,
    [scheduleId, keepSucceeded, keepFailed],
  );
  return res.rowCount ?? 0;
}

/** Every schedule that may need a pass: the safety net for lost hints. */
export async function listScheduleIds(q: Queryable): Promise<string[]> {
  const res = await q.query<{ id: string }>(`SELECT id FROM highway.docker_schedules`);
  return res.rows.map((r) => r.id);
}
