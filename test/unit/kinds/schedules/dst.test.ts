/**
 * DST by the wall clock: every local time an expression names runs exactly once a day, with one
 * value or many in its fields. A time in a spring-forward gap runs shifted forward by the gap's
 * length (read with the offset from before it); a repeated time (fall back) runs at its first
 * occurrence; an expression that names every hour keeps its rhythm through the repeated hour.
 * Expected times are written as local wall-clock time with the offset in force.
 */
import { expect } from 'chai';
import { fireTimesBetween } from '../../../../src/kinds/schedules/decide.js';
import { instantsOf, offsetAt } from '../../../../src/kinds/schedules/calendar.js';

/** The instant `t` as local "HH:MM+hh:mm" in `tz`. */
function local(tz: string, t: Date): string {
  const off = offsetAt(tz, t.getTime());
  const hhmm = new Date(t.getTime() + off).toISOString().slice(11, 16);
  const abs = Math.abs(off) / 60_000;
  return `${hhmm}${off < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** The fire times of one local calendar day (midnight to midnight, local). */
function day(expression: string, tz: string, date: string): string[] {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const midnight = (dd: number) => instantsOf(tz, Date.UTC(y, m - 1, dd)).instants[0]!;
  const times = fireTimesBetween({ expression, timezone: tz, start_at: null, end_at: null }, new Date(midnight(d) - 1), new Date(midnight(d + 1) - 1));
  return times.map((t) => local(tz, t));
}

const hours = (from: number, to: number, off: string) => Array.from({ length: to - from + 1 }, (_, i) => `${String(from + i).padStart(2, '0')}:00${off}`);

// [zone, day, what happens, expression, expected local runs]
const table: Array<[string, string, string, string, string[]]> = [
  // Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
  ['Europe/Berlin', '2026-03-29', 'spring forward', '30 2 * * *', ['03:30+02:00']],
  ['Europe/Berlin', '2026-03-29', 'spring forward', '30,45 2 * * *', ['03:30+02:00', '03:45+02:00']],
  ['Europe/Berlin', '2026-03-29', 'spring forward', '*/15 2 * * *', ['03:00+02:00', '03:15+02:00', '03:30+02:00', '03:45+02:00']],
  ['Europe/Berlin', '2026-03-29', 'spring forward', '0 2-4 * * *', ['03:00+02:00', '04:00+02:00']],
  ['Europe/Berlin', '2026-03-29', 'spring forward', '30 1,2,3 * * *', ['01:30+01:00', '03:30+02:00']],
  ['Europe/Berlin', '2026-03-29', 'spring forward', '0 0 * * *', ['00:00+01:00']],
  ['Europe/Berlin', '2026-03-29', 'spring forward', '0 * * * *', [...hours(0, 1, '+01:00'), ...hours(3, 23, '+02:00')]],
  ['Europe/Berlin', '2026-03-30', 'the day after', '30,45 2 * * *', ['02:30+02:00', '02:45+02:00']],
  ['Europe/Berlin', '2026-10-25', 'fall back', '30 2 * * *', ['02:30+02:00']],
  ['Europe/Berlin', '2026-10-25', 'fall back', '0 2,3 * * *', ['02:00+02:00', '03:00+01:00']],
  ['Europe/Berlin', '2026-10-25', 'fall back', '30,45 2 * * *', ['02:30+02:00', '02:45+02:00']],
  ['Europe/Berlin', '2026-10-25', 'fall back', '*/15 2 * * *', ['02:00+02:00', '02:15+02:00', '02:30+02:00', '02:45+02:00']],
  ['Europe/Berlin', '2026-10-25', 'fall back', '0 * * * *', [...hours(0, 2, '+02:00'), ...hours(2, 23, '+01:00')]],
  ['Europe/Berlin', '2026-10-24', 'the day before', '0 2,3 * * *', ['02:00+02:00', '03:00+02:00']],
  // America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
  ['America/New_York', '2026-03-08', 'spring forward', '30 2 * * *', ['03:30-04:00']],
  ['America/New_York', '2026-03-08', 'spring forward', '30 1,2 * * *', ['01:30-05:00', '03:30-04:00']],
  ['America/New_York', '2026-11-01', 'fall back', '30 1,2 * * *', ['01:30-04:00', '02:30-05:00']],
  ['America/New_York', '2026-11-01', 'fall back', '0 1 * * *', ['01:00-04:00']],
  ['America/New_York', '2026-11-01', 'fall back', '*/20 1 * * *', ['01:00-04:00', '01:20-04:00', '01:40-04:00']],
  // Australia/Sydney (southern hemisphere): 2026-04-05 03:00 AEDT -> 02:00 AEST; 2026-10-04 02:00 AEST -> 03:00 AEDT.
  ['Australia/Sydney', '2026-04-05', 'fall back', '0 2,3 * * *', ['02:00+11:00', '03:00+10:00']],
  ['Australia/Sydney', '2026-04-05', 'fall back', '*/30 2 * * *', ['02:00+11:00', '02:30+11:00']],
  ['Australia/Sydney', '2026-10-04', 'spring forward', '30,45 2 * * *', ['03:30+11:00', '03:45+11:00']],
  ['Australia/Sydney', '2026-10-04', 'spring forward', '0 2 * * *', ['03:00+11:00']],
  // Australia/Lord_Howe (a 30-minute change): 2026-04-05 02:00 (+11) -> 01:30 (+10:30); 2026-10-04 02:00 (+10:30) -> 02:30 (+11).
  ['Australia/Lord_Howe', '2026-04-05', 'fall back (30 min)', '30,45 1 * * *', ['01:30+11:00', '01:45+11:00']],
  ['Australia/Lord_Howe', '2026-04-05', 'fall back (30 min)', '0 1,2 * * *', ['01:00+11:00', '02:00+10:30']],
  ['Australia/Lord_Howe', '2026-10-04', 'spring forward (30 min)', '15 2 * * *', ['02:45+11:00']],
  ['Australia/Lord_Howe', '2026-10-04', 'spring forward (30 min)', '0,15,30 2 * * *', ['02:30+11:00', '02:45+11:00']],
  // Asia/Kolkata: no DST at all.
  ['Asia/Kolkata', '2026-03-29', 'no change', '30,45 2 * * *', ['02:30+05:30', '02:45+05:30']],
  ['Asia/Kolkata', '2026-10-25', 'no change', '0 2,3 * * *', ['02:00+05:30', '03:00+05:30']],
];

describe('schedules: DST, a table of expected local run times', () => {
  for (const [tz, date, what, expression, expected] of table) {
    it(`${tz} ${date} (${what}): ${expression}`, () => {
      expect(day(expression, tz, date)).to.deep.equal(expected);
    });
  }

  it('an expression that names every hour keeps its rhythm through the repeated hour', () => {
    // Every 30 minutes: 48 runs a normal day, 46 on spring forward, 50 on fall back (Berlin);
    // 49 on Lord Howe's fall back (only 01:30-02:00 repeats).
    expect(day('*/30 * * * *', 'Europe/Berlin', '2026-03-28')).to.have.length(48);
    expect(day('*/30 * * * *', 'Europe/Berlin', '2026-03-29')).to.have.length(46);
    expect(day('*/30 * * * *', 'Europe/Berlin', '2026-10-25')).to.have.length(50);
    expect(day('*/30 * * * *', 'Australia/Lord_Howe', '2026-04-05')).to.have.length(49);
  });

  it('every second through a clock change: one tick per real second, in bounded time', function () {
    this.timeout(30_000); // a scan per tick near the change once took minutes here
    for (const [tz, from] of [['Europe/Berlin', '2026-03-29T00:00:00Z'], ['Europe/Berlin', '2026-10-24T22:00:00Z'], ['Australia/Lord_Howe', '2026-10-03T13:00:00Z']] as const) {
      const times = fireTimesBetween({ expression: '* * * * * *', timezone: tz, start_at: null, end_at: null }, new Date(from), new Date(new Date(from).getTime() + 6 * 3_600_000));
      expect(times, `${tz} ${from}`).to.have.length(21_600);
      for (let i = 1; i < times.length; i++) expect(times[i]!.getTime() - times[i - 1]!.getTime()).to.equal(1000);
    }
  });

  it('never runs a time twice or goes backwards over a year of days, in every zone', () => {
    for (const tz of ['Europe/Berlin', 'America/New_York', 'Australia/Sydney', 'Australia/Lord_Howe', 'Asia/Kolkata', 'UTC']) {
      for (const [expression, perDay] of [['30,45 2 * * *', 2], ['*/15 2 * * *', 4], ['0 2,3 * * *', 2], ['30 1,2 * * *', 2]] as const) {
        const times = fireTimesBetween({ expression, timezone: tz, start_at: null, end_at: null }, new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z'));
        for (let i = 1; i < times.length; i++) expect(times[i]!.getTime(), `${tz} ${expression} at ${times[i]!.toISOString()}`).to.be.greaterThan(times[i - 1]!.getTime());
        // Every named time once a day. A shifted time that lands on a named one is that tick:
        // `0 2,3` where 02:00 shifts onto 03:00 (a 1 h gap), `*/15 2` on Lord Howe's 30 min gap
        // (02:00 and 02:15 shift onto 02:30 and 02:45).
        const collisions = expression === '0 2,3 * * *' && tz !== 'Asia/Kolkata' && tz !== 'UTC' && tz !== 'Australia/Lord_Howe' ? 1 : tz === 'Australia/Lord_Howe' && expression === '*/15 2 * * *' ? 2 : 0;
        expect(times.length, `${tz} ${expression}`).to.equal(365 * perDay - collisions);
      }
    }
  });
});
