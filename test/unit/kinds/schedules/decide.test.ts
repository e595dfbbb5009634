/** The schedules kind's pure logic with a fixed clock: fire times and DST, due and missed ticks, overlap. */
import { expect } from 'chai';
import { ValidationError } from '../../../../src/errors.js';
import {
  compile,
  decideOverlap,
  dueTimes,
  fireTimesBetween,
  isMissed,
  jitterMs,
  neverFires,
  nextFireTime,
  planPass,
  tickUuid,
  type OverlapPolicy,
} from '../../../../src/kinds/schedules/decide.js';

const at = (iso: string) => new Date(iso);
const iso = (ds: Date[]) => ds.map((d) => d.toISOString());
const timing = (expression: string, timezone = 'UTC', start_at: Date | null = null, end_at: Date | null = null) => ({ expression, timezone, start_at, end_at });

describe('schedules: fire times (croner)', () => {
  it('runs a 02:30 Europe/Berlin job once on the spring-forward day, shifted forward by the gap: 03:30 local', () => {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist (more in dst.test.ts).
    const times = fireTimesBetween(timing('30 2 * * *', 'Europe/Berlin'), at('2026-03-28T12:00:00Z'), at('2026-03-30T12:00:00Z'));
    expect(iso(times)).to.deep.equal(['2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
  });

  it('runs a 02:30 Europe/Berlin job once on the fall-back day (02:30 happens twice)', () => {
    // 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 occurs at 00:30Z and at 01:30Z.
    const times = fireTimesBetween(timing('30 2 * * *', 'Europe/Berlin'), at('2026-10-24T12:00:00Z'), at('2026-10-26T12:00:00Z'));
    expect(iso(times)).to.deep.equal(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('keeps an hourly job hourly across both DST changes (23 and 25 ticks)', () => {
    expect(fireTimesBetween(timing('0 * * * *', 'Europe/Berlin'), at('2026-03-28T22:59:59Z'), at('2026-03-29T21:59:59Z'))).to.have.length(23);
    expect(fireTimesBetween(timing('@hourly', 'Europe/Berlin'), at('2026-10-24T21:59:59Z'), at('2026-10-25T22:59:59Z'))).to.have.length(25);
  });

  it('reads 6 fields as seconds first, and nicknames', () => {
    expect(iso(fireTimesBetween(timing('*/2 * * * * *'), at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:06Z')))).to.deep.equal([
      '2026-01-01T00:00:02.000Z',
      '2026-01-01T00:00:04.000Z',
      '2026-01-01T00:00:06.000Z',
    ]);
    expect(nextFireTime(timing('@daily', 'America/New_York'), at('2026-07-01T12:00:00Z'))!.toISOString()).to.equal('2026-07-02T04:00:00.000Z');
  });

  it('honours start_at (inclusive) and end_at (exclusive)', () => {
    const t = timing('* * * * * *', 'UTC', at('2026-01-01T00:00:10Z'), at('2026-01-01T00:00:13Z'));
    expect(iso(fireTimesBetween(t, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:01:00Z')))).to.deep.equal([
      '2026-01-01T00:00:10.000Z',
      '2026-01-01T00:00:11.000Z',
      '2026-01-01T00:00:12.000Z',
    ]);
  });

  it('has no cap: six hours of seconds are 21600 ticks', () => {
    expect(fireTimesBetween(timing('* * * * * *'), at('2026-01-01T00:00:00Z'), at('2026-01-01T06:00:00Z'))).to.have.length(21_600);
  });

  it('names the field of bad input', () => {
    const fieldOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(err).to.be.instanceOf(ValidationError);
        return (err as ValidationError).field;
      }
      return null;
    };
    expect(fieldOf(() => compile('61 * * * *', 'UTC'))).to.equal('schedule');
    expect(fieldOf(() => compile('* * *', 'UTC'))).to.equal('schedule');
    expect(fieldOf(() => compile('* * * * *', 'Mars/Olympus'))).to.equal('timezone');
    expect(neverFires(timing('0 0 30 2 *'), at('2026-01-01T00:00:00Z'))).to.equal(true);
    expect(neverFires(timing('* * * * *', 'UTC', null, at('2025-01-01T00:00:00Z')), at('2026-01-01T00:00:00Z'))).to.equal(true);
    expect(neverFires(timing('* * * * *'), at('2026-01-01T00:00:00Z'))).to.equal(false);
  });
});

describe('schedules: due and missed ticks', () => {
  const s = { ...timing('* * * * * *'), id: '6f1c1f0e-0000-4000-8000-000000000001', jitter_s: 0 };

  it('takes every fire time after the last decided one up to now', () => {
    expect(iso(dueTimes(s, at('2026-01-01T00:00:00Z'), at('2026-01-01T00:00:03.400Z')))).to.deep.equal([
      '2026-01-01T00:00:01.000Z',
      '2026-01-01T00:00:02.000Z',
      '2026-01-01T00:00:03.000Z',
    ]);
    expect(dueTimes(s, at('2026-01-01T00:00:03Z'), at('2026-01-01T00:00:03.999Z'))).to.deep.equal([]);
  });

  it('holds a tick back by its jitter, the same on every scheduler, and stops at the first not due', () => {
    const j = { ...s, expression: '0 * * * *', jitter_s: 30 };
    const t = at('2026-01-01T01:00:00Z');
    const delay = jitterMs(j.id, t, 30);
    expect(delay).to.equal(jitterMs(j.id, t, 30));
    expect(delay).to.be.within(0, 29_999);
    expect(dueTimes(j, at('2026-01-01T00:30:00Z'), new Date(t.getTime() + delay - 1))).to.deep.equal([]);
    expect(iso(dueTimes(j, at('2026-01-01T00:30:00Z'), new Date(t.getTime() + delay)))).to.deep.equal([t.toISOString()]);
  });

  const table: Array<[string, number, boolean]> = [
    ['exactly at the window', 60_000, false],
    ['1 ms past the window', 60_001, true],
    ['on time', 0, false],
  ];
  for (const [name, lateMs, missed] of table) {
    it(`a tick ${name} is ${missed ? 'missed' : 'run'}`, () => {
      const t = at('2026-01-01T00:00:00Z');
      expect(isMissed(t, new Date(t.getTime() + lateMs), 60_000)).to.equal(missed);
    });
  }
});

describe('schedules: overlap decisions', () => {
  const table: Array<[OverlapPolicy, number, number, string]> = [
    ['skip', 0, 0, 'start'],
    ['skip', 1, 0, 'skip'],
    ['buffer_one', 0, 0, 'start'],
    ['buffer_one', 1, 0, 'buffer'],
    ['buffer_one', 1, 1, 'skip'],
    ['buffer_all', 1, 0, 'buffer'],
    ['buffer_all', 1, 5, 'buffer'],
    ['buffer_all', 0, 0, 'start'],
    ['cancel_other', 0, 0, 'start'],
    ['cancel_other', 1, 0, 'cancel_then_start'],
    ['allow_all', 3, 0, 'start'],
  ];
  for (const [policy, running, buffered, action] of table) {
    it(`${policy} with ${running} running and ${buffered} buffered: ${action}`, () => {
      const d = decideOverlap(policy, running, buffered);
      expect(d.action).to.equal(action);
      if (d.action === 'skip') expect(d.reason).to.include(policy);
    });
  }
});

describe('schedules: one scheduler pass', () => {
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const base = { now: t(10), overlap: 'skip' as OverlapPolicy, catchupWindowMs: 3_000, running: 0, buffered: [], pending: [], due: [] as Date[] };
  const brief = (actions: ReturnType<typeof planPass>) =>
    actions.map((a) => (a.type === 'cancel_running' ? 'cancel' : `${a.type}@${a.time.getUTCSeconds()}${a.type === 'start' && a.was !== 'new' ? `(${a.was})` : ''}`));

  it('catch-up: ticks older than the window are missed, the rest run in order under the policy', () => {
    expect(brief(planPass({ ...base, overlap: 'allow_all', due: [t(5), t(6), t(7), t(8), t(9), t(10)] }))).to.deep.equal([
      'missed@5', 'missed@6', 'start@7', 'start@8', 'start@9', 'start@10',
    ]);
    expect(brief(planPass({ ...base, overlap: 'skip', due: [t(6), t(7), t(8)] }))).to.deep.equal(['missed@6', 'start@7', 'skip@8']);
    expect(brief(planPass({ ...base, overlap: 'buffer_all', due: [t(7), t(8), t(9)] }))).to.deep.equal(['start@7', 'buffer@8', 'buffer@9']);
    expect(brief(planPass({ ...base, overlap: 'buffer_one', due: [t(7), t(8), t(9)] }))).to.deep.equal(['start@7', 'buffer@8', 'skip@9']);
  });

  it('starts the oldest buffered tick once nothing runs, before new ones', () => {
    const buffered = [{ time: t(3), overlap: 'buffer_all' as const }, { time: t(4), overlap: 'buffer_all' as const }];
    expect(brief(planPass({ ...base, overlap: 'buffer_all', buffered, due: [t(10)] }))).to.deep.equal(['start@3(buffered)', 'buffer@10']);
    expect(brief(planPass({ ...base, overlap: 'buffer_all', running: 1, buffered, due: [] }))).to.deep.equal([]);
  });

  it('while paused nothing starts: buffered and requested ticks keep waiting', () => {
    const buffered = [{ time: t(3), overlap: 'buffer_all' as const }];
    const pending = [{ time: t(5), overlap: 'allow_all' as const }];
    expect(brief(planPass({ ...base, paused: true, overlap: 'buffer_all', buffered, pending, due: [] }))).to.deep.equal([]);
    expect(brief(planPass({ ...base, paused: false, overlap: 'buffer_all', buffered, pending, due: [] }))).to.deep.equal(['start@3(buffered)', 'start@5(pending)']);
  });

  it('cancel_other stops the running tick once, drops what was buffered, and buffers the newest', () => {
    expect(brief(planPass({ ...base, overlap: 'cancel_other', running: 1, due: [t(9), t(10)] }))).to.deep.equal(['cancel', 'buffer@9', 'skip@9', 'buffer@10']);
  });

  it('requested ticks (trigger, backfill) are never missed and keep their own policy', () => {
    const pending = [{ time: t(1), overlap: 'buffer_all' as const }, { time: t(2), overlap: 'buffer_all' as const }];
    expect(brief(planPass({ ...base, overlap: 'skip', pending, due: [t(10)] }))).to.deep.equal(['start@1(pending)', 'buffer@2', 'skip@10']);
  });
});

describe('schedules: tick ids', () => {
  it('derives the same UUID (v5 form) from the same schedule and time, a different one otherwise', () => {
    const id = 'a3bb189e-8bf9-4888-9912-ace4e6543002';
    const a = tickUuid(id, new Date('2026-01-01T00:00:00Z'), 'intent');
    expect(a).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(tickUuid(id, new Date('2026-01-01T00:00:00Z'), 'intent')).to.equal(a);
    expect(tickUuid(id, new Date('2026-01-01T00:00:01Z'), 'intent')).to.not.equal(a);
    expect(tickUuid(id, new Date('2026-01-01T00:00:00Z'), 'activity')).to.not.equal(a);
  });
});
