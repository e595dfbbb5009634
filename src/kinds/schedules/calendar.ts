/**
 * Fire times by the wall clock of a time zone, DST included. croner finds the local wall-clock
 * times an expression names (it runs at UTC offset 0 here, where no clock ever jumps); this
 * module turns each local time into the instant it happens:
 *  - a local time that exists once: that instant;
 *  - a local time inside a spring-forward gap (02:30 when 02:00 jumps to 03:00): shifted forward
 *    by the gap's length, i.e. read with the offset from before the gap (02:30 runs at 03:30,
 *    02:45 at 03:45), as RFC 5545 and java.time read such a time. When that instant is also a
 *    time the expression names (`30 2,3 * * *`: 02:30 -> 03:30), the two are one tick;
 *  - a local time that happens twice (fall back): once, at its first occurrence. The exception is
 *    an expression that names every hour of the day (`*`, `@hourly`, `*\/15 * * * *`): it is a
 *    rhythm through the day rather than times of day, so the repeated hour runs like any other
 *    hour (both passes; an hourly job runs 25 times that day, an every-minute job never stalls).
 * Pure: no clock, no I/O. Assumes a zone's offset changes at most once an hour and by less than
 * a day (true of every zone since 2012).
 */
import { Cron, CronPattern } from 'croner';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A compiled expression in a time zone. */
export interface Calendar {
  /** The expression, read at UTC offset 0: it enumerates local wall-clock times (as UTC-valued Dates). */
  readonly local: Cron;
  readonly timezone: string;
  /** The expression names every hour of the day: the repeated hour of a fall-back day runs twice. */
  readonly everyHour: boolean;
}

/** Parse; throws croner's error on a bad expression. */
export function calendar(expression: string, timezone: string): Calendar {
  const options = { mode: '5-or-6-parts' as const };
  const pattern = new CronPattern(expression, undefined, options);
  return {
    local: new Cron(expression, { ...options, utcOffset: 0, paused: true }),
    timezone,
    everyHour: pattern.hour.length === 24 && pattern.hour.every((h) => h === 1),
  };
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Per zone, per UTC hour: the offset when it is the same all hour, else null. */
const offsetCache = new Map<string, Map<number, number | null>>();

/** The zone's offset (local minus UTC, ms, whole seconds) at an instant, from Intl. */
function rawOffset(timezone: string, ms: number): number {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
  const year = p['era'] === 'BC' || p['era'] === 'B' ? 1 - Number(p['year']) : Number(p['year']);
  const d = new Date(0);
  d.setUTCFullYear(year, Number(p['month']) - 1, Number(p['day']));
  d.setUTCHours(Number(p['hour']), Number(p['minute']), Number(p['second']), 0);
  return d.getTime() - Math.floor(ms / 1000) * 1000;
}

/** The zone's offset at an instant; constant hours are cached. */
export function offsetAt(timezone: string, ms: number): number {
  let cache = offsetCache.get(timezone);
  if (!cache) offsetCache.set(timezone, (cache = new Map()));
  const bucket = Math.floor(ms / HOUR);
  let known = cache.get(bucket);
  if (known === undefined) {
    const start = rawOffset(timezone, bucket * HOUR);
    known = start === rawOffset(timezone, bucket * HOUR + HOUR - 1000) ? start : null;
    if (cache.size > 100_000) cache.clear();
    cache.set(bucket, known);
  }
  return known ?? rawOffset(timezone, ms);
}

/** The instants whose local time is `local` (a wall-clock time as UTC ms): none (a gap), one, or two (a repeated time), in order. */
export function instantsOf(timezone: string, local: number): { instants: number[]; offsetBefore: number } {
  const before = offsetAt(timezone, local - DAY);
  const after = offsetAt(timezone, local + DAY);
  const offsets = new Set([before, after, offsetAt(timezone, local - before), offsetAt(timezone, local - after)]);
  const instants = [...offsets].map((o) => local - o).filter((t) => offsetAt(timezone, t) === local - t);
  return { instants: [...new Set(instants)].sort((a, b) => a - b), offsetBefore: before };
}

/** The instants a local wall-clock time of the expression runs at (see the rules above). */
function runsOf(cal: Calendar, local: number): number[] {
  const { instants, offsetBefore } = instantsOf(cal.timezone, local);
  if (instants.length === 0) return [local - offsetBefore]; // in a gap: shifted forward by its length
  if (instants.length > 1 && !cal.everyHour) return [instants[0]!]; // repeated: the first occurrence
  return instants;
}

/**
 * The first fire time strictly after `after` (ms), or null when the expression has none.
 * Every run is a local time read with one of the zone's offsets around it (o1 before a change,
 * o2 after). Per offset o, local times from `after + o` on are walked in order until one read
 * with o is past the best run found: each walk is a step or two (one period of the expression),
 * also around a clock change, where local times do not map to instants in order.
 */
export function nextInstant(cal: Calendar, after: number): number | null {
  const tz = cal.timezone;
  let best: number | null = null;
  const walk = (o: number) => {
    for (let local = after + o; ; ) {
      const next = cal.local.nextRun(new Date(local));
      if (!next) return;
      local = next.getTime();
      for (const t of runsOf(cal, local)) if (t > after && (best === null || t < best)) best = t;
      if (best !== null && local - o >= best) return;
    }
  };
  const around = (ms: number) => [offsetAt(tz, ms), offsetAt(tz, ms - DAY), offsetAt(tz, ms + DAY)];
  const tried = new Set<number>();
  for (const o of around(after)) if (!tried.has(o)) tried.add(o), walk(o);
  // A next run more than a day away may be under offsets not in force around `after`.
  const found = best as number | null;
  if (found !== null && found - after > DAY / 2) for (const o of around(found)) if (!tried.has(o)) tried.add(o), walk(o);
  return best;
}
