/**
 * The schedules kind's pure logic: fire times (croner: 5 or 6 fields, nicknames; IANA time
 * zones with DST by the wall clock, see calendar.ts), which ticks are due or missed within the
 * catch-up window, and what each tick does under its overlap policy given the ticks running and
 * buffered. No clock and no I/O here: every function takes `now`.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../../errors.js';
import { calendar, nextInstant, type Calendar } from './calendar.js';

export const OVERLAP_POLICIES = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'allow_all'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** When a schedule fires. */
export interface Timing {
  expression: string;
  timezone: string;
  start_at: Date | null;
  end_at: Date | null;
}

/** An IANA time zone name Intl knows (croner resolves zones through Intl). */
export function isTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Parse an expression for a time zone; a ValidationError names `schedule` or `timezone`. */
export function compile(expression: string, timezone: string): Calendar {
  if (!isTimezone(timezone)) {
    throw new ValidationError([{ field: 'timezone', message: `"${timezone}" is not an IANA time zone; use e.g. "UTC" or "Europe/Berlin"` }]);
  }
  try {
    return calendar(expression, timezone);
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^CronPattern: /, '') : String(err);
    throw new ValidationError([
      { field: 'schedule', message: `"${expression}" is not a cron expression (${why}); use 5 fields, 6 with seconds first, or a nickname like @hourly` },
    ]);
  }
}

/**
 * The first fire time strictly after `after`, within [start_at, end_at); null when there is none.
 * Each local wall-clock time the expression names runs once a day (calendar.ts: a time in a
 * spring-forward gap shifted forward by the gap, a repeated time at its first occurrence).
 */
export function nextFireTime(t: Timing, after: Date, cal: Calendar = compile(t.expression, t.timezone)): Date | null {
  let from = after;
  if (t.start_at && t.start_at.getTime() > from.getTime()) from = new Date(t.start_at.getTime() - 1);
  const next = nextInstant(cal, from.getTime());
  if (next === null) return null;
  if (t.end_at && next >= t.end_at.getTime()) return null;
  return new Date(next);
}

/** Every fire time in (after, until], in order. No cap: a long outage yields every tick it spanned. */
export function fireTimesBetween(t: Timing, after: Date, until: Date): Date[] {
  const cal = compile(t.expression, t.timezone);
  const times: Date[] = [];
  for (let next = nextFireTime(t, after, cal); next && next.getTime() <= until.getTime(); next = nextFireTime(t, next, cal)) {
    times.push(next);
  }
  return times;
}

/** The schedule never fires (an impossible date, or nothing between start_at and end_at). */
export function neverFires(t: Timing, now: Date): boolean {
  return nextFireTime(t, t.start_at && t.start_at > now ? new Date(t.start_at.getTime() - 1) : now) === null;
}

/** A tick's jitter: a delay in [0, jitter_s) derived from (schedule, time), the same on every scheduler. */
export function jitterMs(scheduleId: string, time: Date, jitterS: number): number {
  if (jitterS <= 0) return 0;
  const h = createHash('sha256').update(`${scheduleId}/${time.toISOString()}`).digest();
  return h.readUInt32BE(0) % (jitterS * 1000);
}

/**
 * The schedule's fire times that are due at `now` (jitter included), in order. Stops at the
 * first one not yet due, so the times decided are always a prefix.
 */
export function dueTimes(t: Timing & { id: string; jitter_s: number }, after: Date, now: Date): Date[] {
  const due: Date[] = [];
  for (const time of fireTimesBetween(t, after, now)) {
    if (time.getTime() + jitterMs(t.id, time, t.jitter_s) > now.getTime()) break;
    due.push(time);
  }
  return due;
}

/** A fire time older than the catch-up window is missed: recorded, never run. */
export function isMissed(time: Date, now: Date, catchupWindowMs: number): boolean {
  return now.getTime() - time.getTime() > catchupWindowMs;
}

export type OverlapDecision =
  | { action: 'start' }
  | { action: 'buffer' }
  | { action: 'skip'; reason: string }
  /** cancel_other: stop the running ticks, drop what was buffered, and buffer this one (it starts once they ended). */
  | { action: 'cancel_then_start' };

/** What one tick does under a policy, given the ticks of its schedule running and buffered. */
export function decideOverlap(policy: OverlapPolicy, running: number, buffered: number): OverlapDecision {
  const busy = running > 0 || buffered > 0;
  switch (policy) {
    case 'allow_all':
      return { action: 'start' };
    case 'skip':
      return busy ? { action: 'skip', reason: `overlap skip: ${running > 0 ? 'the previous run is still running' : 'a run is waiting'}` } : { action: 'start' };
    case 'buffer_one':
      if (buffered >= 1) return { action: 'skip', reason: 'overlap buffer_one: a run is running and another is already buffered' };
      return busy ? { action: 'buffer' } : { action: 'start' };
    case 'buffer_all':
      return busy ? { action: 'buffer' } : { action: 'start' };
    case 'cancel_other':
      return busy ? { action: 'cancel_then_start' } : { action: 'start' };
  }
}

/** A tick waiting for a decision (a trigger or backfill request) or for its turn (buffered). */
export interface OpenTick {
  time: Date;
  overlap: OverlapPolicy;
}

export interface PassInput {
  now: Date;
  /**
   * The schedule is paused: nothing starts. Buffered and requested (trigger, backfill) ticks
   * keep waiting, and are decided as usual once it is resumed.
   */
  paused?: boolean;
  /** The schedule's own policy (for its fire times). */
  overlap: OverlapPolicy;
  catchupWindowMs: number;
  /** Ticks started whose run has not ended. */
  running: number;
  /** Buffered ticks, oldest first. */
  buffered: OpenTick[];
  /** Requested ticks (trigger, backfill) not yet decided. */
  pending: OpenTick[];
  /** The schedule's fire times due now (none when paused), in order. */
  due: Date[];
}

export type TickAction =
  | { type: 'start'; time: Date; was: 'buffered' | 'pending' | 'new' }
  | { type: 'buffer'; time: Date; was: 'pending' | 'new'; overlap: OverlapPolicy }
  | { type: 'skip'; time: Date; was: 'buffered' | 'pending' | 'new'; reason: string }
  | { type: 'missed'; time: Date }
  | { type: 'cancel_running' };

/**
 * One scheduler pass (none while paused): first a buffered tick starts when nothing runs; then every requested tick
 * and every due fire time, in time order, is missed (a fire time older than the catch-up
 * window), started, buffered or skipped under its policy, each seeing what the ones before did.
 */
export function planPass(input: PassInput): TickAction[] {
  if (input.paused) return [];
  const actions: TickAction[] = [];
  let running = input.running;
  const buffered = [...input.buffered];
  const startBuffered = () => {
    if (running > 0 || buffered.length === 0) return;
    const next = buffered.shift()!;
    actions.push({ type: 'start', time: next.time, was: 'buffered' });
    running++;
  };
  startBuffered();

  const items = [
    ...input.pending.map((p) => ({ time: p.time, overlap: p.overlap, was: 'pending' as const })),
    ...input.due.map((time) => ({ time, overlap: input.overlap, was: 'new' as const })),
  ].sort((a, b) => a.time.getTime() - b.time.getTime());

  let cancelled = false;
  for (const item of items) {
    if (item.was === 'new' && isMissed(item.time, input.now, input.catchupWindowMs)) {
      actions.push({ type: 'missed', time: item.time });
      continue;
    }
    const d = decideOverlap(item.overlap, running, buffered.length);
    if (d.action === 'start') {
      actions.push({ type: 'start', time: item.time, was: item.was });
      running++;
    } else if (d.action === 'buffer') {
      actions.push({ type: 'buffer', time: item.time, was: item.was, overlap: item.overlap });
      buffered.push({ time: item.time, overlap: item.overlap });
    } else if (d.action === 'skip') {
      actions.push({ type: 'skip', time: item.time, was: item.was, reason: d.reason });
    } else {
      if (running > 0 && !cancelled) {
        actions.push({ type: 'cancel_running' });
        cancelled = true;
      }
      for (const older of buffered.splice(0)) {
        actions.push({ type: 'skip', time: older.time, was: 'buffered', reason: 'overlap cancel_other: superseded by a newer tick' });
      }
      if (running > 0) {
        actions.push({ type: 'buffer', time: item.time, was: item.was, overlap: item.overlap });
        buffered.push({ time: item.time, overlap: item.overlap });
      } else {
        actions.push({ type: 'start', time: item.time, was: item.was });
        running++;
      }
    }
  }
  return actions;
}

/**
 * Ids derived from (schedule, scheduled time, what), UUID v5 style (SHA-1, version and variant
 * bits set): every scheduler derives the same intent, activity and run for a tick.
 */
export function tickUuid(scheduleId: string, time: Date, what: 'intent' | 'activity' | 'workflow_run'): string {
  const h = createHash('sha1').update(`highway-docker/schedule/${scheduleId}/${time.toISOString()}/${what}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
