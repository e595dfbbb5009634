/**
 * Durable cron on the real daemon and a real PostgreSQL, with second-resolution schedules
 * (croner's seconds field): every overlap policy against a container that outlives its
 * period, pause/resume, trigger, backfill, catch-up after the scheduler was down, bad input.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { HighwayError, ValidationError } from '../../src/errors.js';
import {
  backfillSchedule,
  deleteSchedule,
  getSchedule,
  putSchedule,
  scheduleRuns,
  setPaused,
  triggerSchedule,
  validateSchedule,
  type ScheduleInput,
} from '../../src/kinds/schedules/operations.js';
import type { DurableCronResult } from '../../src/tools/cron-tools.js';
import { defaultPolicy } from '../../src/params/policy.js';
import type { IntentStatus } from '../../src/model.js';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { eventually } from '../support/eventually.js';

interface Tick {
  scheduled_time: Date;
  status: string;
  source: string;
  reason: string | null;
  intent_id: string | null;
  lateness_ms: number | null;
  intent_status: IntentStatus | null;
  stop_reason: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  stdout: string | null;
}

const TERMINAL = new Set(['exited', 'failed', 'timeout', 'cancelled', 'lost']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('durable cron (real Docker, real PostgreSQL)', function () {
  this.timeout(90_000);
  let h: Harness;
  const tenant = 'tenant-a';
  const who = { tenant_id: tenant, actor: 'test' };

  before(async () => {
    h = await Harness.start();
  });
  after(async () => {
    await h?.stop();
  });
  afterEach(async () => {
    // Every schedule of a test is deleted by it (cancelling its run); nothing may be left.
    await eventually(async () => (await h.containers()).length === 0, { what: 'containers left', timeoutMs: 30_000 });
  });

  function create(name: string, input: Partial<ScheduleInput> & { command?: string[] }, ctxTenant = tenant): Promise<DurableCronResult> {
    const { command, ...rest } = input;
    return h.registry.call<DurableCronResult>(
      'tools.cron.durable_cron',
      { name, schedule: '* * * * * *', params: { image: TEST_IMAGE, init: true, command: command ?? ['true'] }, ...rest },
      h.ctx({ tenant_id: ctxTenant }),
    );
  }

  async function ticks(scheduleId: string): Promise<Tick[]> {
    const res = await h.db.pool.query<Tick>(
      `SELECT t.scheduled_time, t.status, t.source, t.reason, t.intent_id, t.lateness_ms,
              c.status AS intent_status, c.stop_reason, c.started_at, c.finished_at, c.stdout
         FROM highway.docker_schedule_ticks t LEFT JOIN highway.docker_containers c ON c.id = t.intent_id
        WHERE t.schedule_id = $1 ORDER BY t.scheduled_time`,
      [scheduleId],
    );
    return res.rows;
  }

  /** Pause, then wait until every started tick's run has ended (buffered and pending ticks wait for a resume). */
  async function settle(name: string, scheduleId: string, timeoutMs = 40_000): Promise<Tick[]> {
    await setPaused(h.db.pool, who, name, true, 'test over');
    let rows: Tick[] = [];
    await eventually(async () => {
        rows = await ticks(scheduleId);
        return rows.every((t) => t.status !== 'started' || TERMINAL.has(t.intent_status ?? ''));
      }, { what: `runs of ${name} to end`, timeoutMs: timeoutMs });
    return rows;
  }

  async function remove(name: string): Promise<void> {
    await deleteSchedule(h.db.pool, who, name, { cancel: true });
  }

  const started = (rows: Tick[]) => rows.filter((t) => t.status === 'started');
  const seconds = (rows: Tick[]) => rows.map((t) => t.scheduled_time.getTime() / 1000);

  /** One tick row per second from the first to the last: none missing, none twice. */
  function expectEverySecondOnce(rows: Tick[]): void {
    const s = seconds(rows.filter((t) => t.source === 'schedule'));
    expect(s.length).to.be.greaterThan(1);
    for (let i = 1; i < s.length; i++) expect(s[i]! - s[i - 1]!, `gap after ${new Date(s[i - 1]! * 1000).toISOString()}`).to.equal(1);
  }

  /** No two runs of the schedule were running at the same time. */
  function expectSequential(rows: Tick[]): void {
    const runs = started(rows)
      .filter((t) => t.started_at)
      .sort((a, b) => a.started_at!.getTime() - b.started_at!.getTime());
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i]!.started_at!.getTime(), `run of ${runs[i]!.scheduled_time.toISOString()} began before the previous ended`).to.be.at.least(runs[i - 1]!.finished_at!.getTime());
    }
  }

  it('runs a container at every tick, exactly once, with HIGHWAY_SCHEDULE and HIGHWAY_SCHEDULED_TIME', async () => {
    const name = `env-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { overlap: 'allow_all', command: ['sh', '-c', 'echo "$HIGHWAY_SCHEDULE $HIGHWAY_SCHEDULED_TIME"'] });
    expect(s.change).to.equal('created');
    await eventually(async () => started(await ticks(s.schedule_id)).length >= 3, { what: '3 ticks', timeoutMs: 20_000 });
    const rows = await settle(name, s.schedule_id);
    expectEverySecondOnce(rows);
    for (const t of started(rows)) {
      expect(t.intent_status).to.equal('exited');
      expect(t.stdout).to.equal(`${name} ${t.scheduled_time.toISOString()}\n`);
    }
    const tickEvents = h.log.events('cron.tick').filter((e) => e['schedule'] === name);
    expect(tickEvents.length).to.equal(started(rows).length);
    for (const e of tickEvents) expect(e['lateness_ms']).to.be.a('number').and.at.least(0);
    // The same definition again changes nothing; runs --json shape.
    expect((await create(name, { overlap: 'allow_all', paused: true, command: ['sh', '-c', 'echo "$HIGHWAY_SCHEDULE $HIGHWAY_SCHEDULED_TIME"'] })).change).to.equal('unchanged');
    const view = await scheduleRuns(h.db.pool, tenant, name);
    expect(view.map((r) => r.intent_id)).to.deep.equal(rows.map((r) => r.intent_id));
    expect(view[0]).to.include({ status: 'exited', scheduled_time: rows[0]!.scheduled_time.toISOString() });
    await remove(name);
  });

  it('skip: a tick that comes while the previous run is running is recorded skipped, with why', async () => {
    const name = `skip-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { overlap: 'skip', command: ['sleep', '2'] });
    await eventually(async () => (await ticks(s.schedule_id)).filter((t) => t.status === 'skipped').length >= 2 && started(await ticks(s.schedule_id)).length >= 2, { what: 'skips', timeoutMs: 30_000 });
    const rows = await settle(name, s.schedule_id);
    expectEverySecondOnce(rows);
    expectSequential(rows);
    for (const t of rows.filter((r) => r.status === 'skipped')) expect(t.reason).to.match(/overlap skip: the previous run is still running/);
    expect(h.log.events('cron.skipped').filter((e) => e['schedule'] === name).length).to.equal(rows.filter((r) => r.status === 'skipped').length);
    await remove(name);
  });

  it('buffer_one: one tick waits for the running one, more are skipped', async () => {
    const name = `b1-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { overlap: 'buffer_one', command: ['sleep', '2'] });
    await eventually(async () => {
        const rows = await ticks(s.schedule_id);
        return rows.some((t) => t.status === 'skipped') && started(rows).length >= 2;
      }, { what: 'a buffered start and a skip', timeoutMs: 30_000 });
    const rows = await settle(name, s.schedule_id);
    expectEverySecondOnce(rows);
    expectSequential(rows);
    for (const t of rows.filter((r) => r.status === 'skipped')) expect(t.reason).to.include('buffer_one');
    // The second run was buffered: it started once the first ended, well after its time.
    expect(started(rows)[1]!.lateness_ms).to.be.greaterThan(500);
    await remove(name);
  });

  it('buffer_all: every tick runs, one after the other, in order', async () => {
    const name = `ball-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { overlap: 'buffer_all', command: ['sleep', '1'], end_at: new Date(Date.now() + 2_500).toISOString() });
    let rows: Tick[] = [];
    await eventually(async () => {
        rows = await ticks(s.schedule_id);
        return rows.length >= 2 && rows.every((t) => t.status === 'started' && TERMINAL.has(t.intent_status ?? ''));
      }, { what: 'every buffered tick to run', timeoutMs: 40_000 });
    expectEverySecondOnce(rows);
    expectSequential(rows);
    expect(rows.map((t) => t.intent_status)).to.deep.equal(rows.map(() => 'exited'));
    const byStart = [...rows].sort((a, b) => a.started_at!.getTime() - b.started_at!.getTime());
    expect(seconds(byStart)).to.deep.equal(seconds(rows));
    await remove(name);
  });

  it('cancel_other: the running one is stopped (reason requested), then the new one starts', async () => {
    const name = `cancel-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { overlap: 'cancel_other', command: ['sleep', '3'] });
    await eventually(async () => started(await ticks(s.schedule_id)).some((t) => t.intent_status === 'cancelled') && started(await ticks(s.schedule_id)).length >= 2, { what: 'a cancelled run', timeoutMs: 30_000 });
    const rows = await settle(name, s.schedule_id);
    expectEverySecondOnce(rows);
    expectSequential(rows);
    const cancelled = started(rows).filter((t) => t.intent_status === 'cancelled');
    expect(cancelled.length).to.be.at.least(1);
    for (const t of cancelled) expect(t.stop_reason).to.equal('requested');
    await remove(name);
  });

  it('allow_all: runs overlap', async () => {
    const name = `all-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { overlap: 'allow_all', command: ['sleep', '2'], end_at: new Date(Date.now() + 3_500).toISOString() });
    await eventually(async () => started(await ticks(s.schedule_id)).length >= 3, { what: '3 runs', timeoutMs: 20_000 });
    const rows = await settle(name, s.schedule_id);
    expectEverySecondOnce(rows);
    expect(rows.every((t) => t.status === 'started')).to.equal(true);
    const runs = started(rows).filter((t) => t.started_at);
    const overlapping = runs.some((a, i) => runs.some((b, j) => i < j && b.started_at! < a.finished_at! && a.started_at! < b.finished_at!));
    expect(overlapping, 'two runs at the same time').to.equal(true);
    await remove(name);
  });

  it('pause and resume: nothing runs while paused, and the paused time is not caught up', async () => {
    const name = `pause-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { overlap: 'allow_all', catchup_window: 60 });
    await eventually(async () => started(await ticks(s.schedule_id)).length >= 1, { what: 'a first tick', timeoutMs: 20_000 });
    const paused = await setPaused(h.db.pool, who, name, true, 'maintenance');
    expect(paused.pause_note).to.equal('maintenance');
    const pausedAt = Date.now();
    await sleep(2_500);
    const during = await ticks(s.schedule_id);
    await setPaused(h.db.pool, who, name, false);
    const resumedAt = Date.now();
    await eventually(async () => (await ticks(s.schedule_id)).length > during.length + 1, { what: 'ticks after resume', timeoutMs: 20_000 });
    const rows = await settle(name, s.schedule_id);
    const inPause = rows.filter((t) => t.scheduled_time.getTime() > pausedAt + 1_000 && t.scheduled_time.getTime() < resumedAt - 1_000);
    expect(inPause.map((t) => t.scheduled_time.toISOString())).to.deep.equal([]);
    expect(rows.filter((t) => t.scheduled_time.getTime() >= resumedAt).length).to.be.at.least(1);
    await remove(name);
  });

  it('pause holds buffered ticks: nothing starts while paused; they start after resume', async () => {
    // A run of 3 s every second under buffer_all: ticks pile up buffered behind the running one.
    const name = `pausebuf-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { overlap: 'buffer_all', command: ['sleep', '3'] });
    await eventually(async () => (await ticks(s.schedule_id)).filter((t) => t.status === 'buffered').length >= 2, { what: 'two buffered ticks', timeoutMs: 30_000 });
    await setPaused(h.db.pool, who, name, true, 'hold');
    const atPause = await ticks(s.schedule_id);
    const startedAtPause = started(atPause).map((t) => t.intent_id);
    const bufferedAtPause = atPause.filter((t) => t.status === 'buffered').map((t) => t.scheduled_time.toISOString());
    expect(bufferedAtPause.length).to.be.at.least(2);
    // The running one ends within ~3 s; before the fix the next buffered tick started then.
    await eventually(async () => started(await ticks(s.schedule_id)).every((t) => TERMINAL.has(t.intent_status ?? '')), { what: 'the running tick to end', timeoutMs: 30_000 });
    await sleep(3_000);
    const during = await ticks(s.schedule_id);
    expect(started(during).map((t) => t.intent_id), 'ticks started while paused').to.deep.equal(startedAtPause);
    expect(during.filter((t) => t.status === 'buffered').map((t) => t.scheduled_time.toISOString())).to.deep.equal(bufferedAtPause);
    const intents = await h.db.pool.query(`SELECT id FROM highway.docker_containers WHERE tenant_id = $1 AND spec->'environment'->>'HIGHWAY_SCHEDULE' = $2`, [tenant, name]);
    expect(intents.rows.length, 'intents written while paused').to.equal(startedAtPause.length);
    // Resumed: the oldest buffered tick starts (the paused time itself is not caught up).
    await setPaused(h.db.pool, who, name, false);
    await eventually(async () => (await ticks(s.schedule_id)).some((t) => t.scheduled_time.toISOString() === bufferedAtPause[0] && t.status === 'started'), { what: 'the oldest buffered tick to start after resume', timeoutMs: 20_000 });
    await settle(name, s.schedule_id);
    await remove(name);
  });

  it('trigger: runs a tick now, outside the schedule', async () => {
    const name = `trig-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { schedule: '0 0 1 1 *', command: ['sh', '-c', 'echo $HIGHWAY_SCHEDULED_TIME'] });
    const at = await triggerSchedule(h.db.pool, who, name);
    await eventually(async () => (await ticks(s.schedule_id)).some((t) => t.intent_status === 'exited'), { what: 'the triggered run', timeoutMs: 20_000 });
    const [t] = await ticks(s.schedule_id);
    expect(t!.source).to.equal('trigger');
    expect(t!.scheduled_time.toISOString()).to.equal(at.toISOString());
    expect(t!.stdout).to.equal(`${at.toISOString()}\n`);
    await remove(name);
  });

  it('backfill: every fire time of a past range runs once, in order (buffer_all); again adds none', async () => {
    const name = `fill-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { schedule: '0 0 * * * *', overlap: 'skip', command: ['sh', '-c', 'echo $HIGHWAY_SCHEDULED_TIME; sleep 1'] });
    const to = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 1);
    const from = new Date(to.getTime() - 3 * 3_600_000);
    expect(await backfillSchedule(h.db.pool, who, name, from, to)).to.include({ ticks: 3, already: 0, clipped: false });
    let rows: Tick[] = [];
    await eventually(async () => {
        rows = await ticks(s.schedule_id);
        return rows.length === 3 && rows.every((t) => TERMINAL.has(t.intent_status ?? ''));
      }, { what: 'the backfilled runs', timeoutMs: 40_000 });
    expect(rows.map((t) => t.source)).to.deep.equal(['backfill', 'backfill', 'backfill']);
    expect(rows.map((t) => t.stdout)).to.deep.equal(rows.map((t) => `${t.scheduled_time.toISOString()}\n`));
    expectSequential(rows);
    const byStart = [...rows].sort((a, b) => a.started_at!.getTime() - b.started_at!.getTime());
    expect(seconds(byStart)).to.deep.equal(seconds(rows));
    expect(await backfillSchedule(h.db.pool, who, name, from, to)).to.include({ ticks: 0, already: 3 });
    await remove(name);
  });

  it('backfill runs past fire times only: a range past now is clipped (said in the result), one wholly ahead refused', async () => {
    const name = `fillfut-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { schedule: '*/10 * * * * *', overlap: 'allow_all' });
    const asked = Date.now();
    const r = await backfillSchedule(h.db.pool, who, name, new Date(asked - 25_000), new Date(asked + 60_000), 'allow_all');
    expect(r.clipped).to.equal(true);
    expect(new Date(r.to).getTime()).to.be.within(asked - 5_000, asked + 5_000);
    expect(r.ticks).to.be.within(2, 3);
    const ahead = await backfillSchedule(h.db.pool, who, name, new Date(Date.now() + 30_000), new Date(Date.now() + 90_000)).catch((e: unknown) => e);
    expect(ahead).to.be.instanceOf(ValidationError);
    expect((ahead as ValidationError).field).to.equal('from');
    // The next regular fire times stay the schedule's own, and none starts before its time.
    const cut = new Date(r.to).getTime();
    await eventually(async () => (await ticks(s.schedule_id)).filter((t) => t.scheduled_time.getTime() > cut && t.status === 'started').length >= 2, { what: 'two regular ticks after the backfill', timeoutMs: 30_000 });
    const rows = await settle(name, s.schedule_id);
    for (const t of rows) {
      if (t.scheduled_time.getTime() > cut) expect(t.source, t.scheduled_time.toISOString()).to.equal('schedule');
      else expect(t.source).to.equal('backfill');
      if (t.started_at) expect(t.started_at.getTime(), `run of ${t.scheduled_time.toISOString()} started early`).to.be.at.least(t.scheduled_time.getTime());
    }
    await remove(name);
  });

  it('backfill over pruned history runs nothing again: ticks the schedule or a backfill decided stay decided', async () => {
    const name = `fillprune-${randomUUID().slice(0, 8)}`;
    // Every second for 3 s, keeping one tick of history.
    const s = await create(name, { overlap: 'allow_all', keep_succeeded: 1, keep_failed: 1, end_at: new Date(Date.now() + 3_000).toISOString() });
    const created = await getSchedule(h.db.pool, tenant, name);
    const t0 = Math.floor(created.created_at.getTime() / 1000) * 1000;
    const first = await backfillSchedule(h.db.pool, who, name, new Date(t0 - 10_000), new Date(t0 - 5_000), 'allow_all');
    expect(first).to.include({ ticks: 5, already: 0 });
    const intents = async () =>
      (await h.db.pool.query<{ t: string }>(`SELECT spec->'environment'->>'HIGHWAY_SCHEDULED_TIME' AS t FROM highway.docker_containers WHERE tenant_id = $1 AND spec->'environment'->>'HIGHWAY_SCHEDULE' = $2`, [tenant, name])).rows.map((r) => r.t);
    // Every run ends and the history is pruned to one tick.
    await eventually(async () => {
        const rows = await ticks(s.schedule_id);
        return Date.now() > t0 + 4_000 && rows.length <= 2 && rows.every((t) => t.status !== 'started' || TERMINAL.has(t.intent_status ?? ''));
      }, { what: 'the runs to end and the history to be pruned', timeoutMs: 40_000 });
    const ran = (await intents()).sort();
    expect(ran.length).to.be.at.least(7); // 5 backfilled and the regular ones
    // The same range again, and one over the whole life of the schedule: nothing that ran is written again.
    expect(await backfillSchedule(h.db.pool, who, name, new Date(t0 - 10_000), new Date(t0 - 5_000), 'allow_all')).to.include({ ticks: 0, already: 5 });
    const whole = await backfillSchedule(h.db.pool, who, name, new Date(t0 - 10_000), new Date(), 'allow_all');
    // Only the fire times between the first backfill and the schedule's creation never ran.
    const fresh = await h.db.pool.query<{ scheduled_time: Date }>(`SELECT scheduled_time FROM highway.docker_schedule_ticks WHERE schedule_id = $1 AND source = 'backfill' AND status IN ('pending', 'started', 'buffered')`, [s.schedule_id]);
    for (const r of fresh.rows) {
      expect(ran, `${r.scheduled_time.toISOString()} ran before`).to.not.include(r.scheduled_time.toISOString());
      expect(r.scheduled_time.getTime()).to.be.within(t0 - 5_000, created.created_at.getTime());
    }
    expect(whole.ticks).to.equal(fresh.rows.length);
    await eventually(async () => (await ticks(s.schedule_id)).every((t) => t.status !== 'pending' && (t.status !== 'started' || TERMINAL.has(t.intent_status ?? ''))), { what: 'the new backfill to run', timeoutMs: 30_000 });
    const after = (await intents()).sort();
    expect(after.length, 'each fire time ran once').to.equal(new Set(after).size);
    expect(after.length).to.equal(ran.length + whole.ticks);
    await remove(name);
  });

  it('catch-up: after the scheduler was down, ticks inside the window run in order, older ones are recorded missed', async () => {
    const name = `catch-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { overlap: 'allow_all', catchup_window: 2 });
    await eventually(async () => started(await ticks(s.schedule_id)).length >= 1, { what: 'a first tick', timeoutMs: 20_000 });
    await h.stopReconciler();
    const stoppedAt = Date.now();
    await sleep(5_000);
    await h.startReconciler();
    await eventually(async () => (await ticks(s.schedule_id)).some((t) => t.scheduled_time.getTime() > Date.now() - 500 - 1_000 && t.scheduled_time.getTime() > stoppedAt + 5_000), { what: 'ticking again', timeoutMs: 20_000 });
    const rows = await settle(name, s.schedule_id);
    expectEverySecondOnce(rows);
    const missed = rows.filter((t) => t.status === 'missed');
    expect(missed.length).to.be.at.least(2);
    // Missed ones are one block inside the outage, older than the window; the ones after them ran.
    const firstMissed = rows.indexOf(missed[0]!);
    const lastMissed = rows.indexOf(missed[missed.length - 1]!);
    expect(lastMissed - firstMissed + 1).to.equal(missed.length);
    expect(rows.slice(lastMissed + 1).every((t) => t.status === 'started')).to.equal(true);
    expect(rows.slice(lastMissed + 1, lastMissed + 3).every((t) => t.source === 'schedule' && t.lateness_ms! > 0)).to.equal(true);
    for (const t of missed) expect(t.reason).to.include('catch-up window');
    const caughtUp = rows.slice(lastMissed + 1).filter((t) => t.lateness_ms! >= 1_000);
    expect(caughtUp.length, 'ticks inside the window ran late').to.be.at.least(1);
    expect(h.log.events('cron.missed').some((e) => e['schedule'] === name && e['count'] === missed.length)).to.equal(true);
    expect(h.log.events('cron.caught_up').some((e) => e['schedule'] === name && typeof e['lateness_ms'] === 'number')).to.equal(true);
    await remove(name);
  });

  it('a scheduler that does not lead writes no ticks; the leader does', async () => {
    await h.stopReconciler();
    let leads = false;
    await h.startReconciler({ isLeader: () => leads });
    const name = `lead-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { overlap: 'allow_all', catchup_window: 1 });
    await sleep(2_500);
    expect(await ticks(s.schedule_id)).to.deep.equal([]);
    leads = true;
    await eventually(async () => started(await ticks(s.schedule_id)).length >= 1, { what: 'ticks once leading', timeoutMs: 20_000 });
    const rows = await settle(name, s.schedule_id);
    // The seconds it did not lead are past the (1 s) catch-up window: recorded missed, not run late.
    expect(rows.filter((t) => t.status === 'missed').length).to.be.at.least(1);
    await remove(name);
    await h.stopReconciler();
    await h.startReconciler();
  });

  it('pause on failure: a failed run pauses the schedule with a note', async () => {
    const name = `pof-${randomUUID().slice(0, 8)}`;
    const s = await create(name, { pause_on_failure: true, command: ['sh', '-c', 'exit 3'] });
    await eventually(async () => (await getSchedule(h.db.pool, tenant, name)).paused, { what: 'paused', timeoutMs: 20_000 });
    const row = await getSchedule(h.db.pool, tenant, name);
    expect(row.pause_note).to.match(/paused on failure: the run of .* ended failed/);
    const rows = await settle(name, s.schedule_id);
    expect(started(rows).length).to.be.at.least(1);
    await remove(name);
  });

  it('keeps the history to the last N succeeded ticks', async () => {
    const name = `keep-${randomUUID().slice(0, 8)}`;
    const endAt = Date.now() + 4_500;
    const s = await create(name, { overlap: 'allow_all', keep_succeeded: 2, end_at: new Date(endAt).toISOString() });
    await eventually(async () => h.log.events('cron.tick').filter((e) => e['schedule'] === name).length >= 4, { what: '4 ticks', timeoutMs: 20_000 });
    // Over (end_at; not paused: a paused schedule's trigger would wait for the resume) and every run ended.
    await eventually(async () => Date.now() > endAt && started(await ticks(s.schedule_id)).every((t) => TERMINAL.has(t.intent_status ?? '')), { what: 'the runs to end', timeoutMs: 30_000 });
    // The pass after a run ends prunes: a trigger makes one more run, and after it only the newest 2 succeeded ticks remain.
    await triggerSchedule(h.db.pool, who, name);
    await eventually(async () => {
        const rows = await ticks(s.schedule_id);
        return rows.some((t) => t.source === 'trigger' && t.intent_status === 'exited') && rows.filter((t) => t.intent_status === 'exited').length === 2;
      }, { what: 'history pruned to 2 succeeded ticks', timeoutMs: 20_000 });
    const rows = await ticks(s.schedule_id);
    expect(rows[rows.length - 1]!.source).to.equal('trigger');
    await remove(name);
  });

  describe('bad input: an error naming the field, nothing stored', () => {
    const cases: Array<[string, Partial<ScheduleInput>, string]> = [
      ['an invalid expression', { schedule: '61 * * * *' }, 'schedule'],
      ['too few fields', { schedule: '* *' }, 'schedule'],
      ['an unknown time zone', { timezone: 'Mars/Olympus' }, 'timezone'],
      ['a schedule that never fires', { schedule: '0 0 30 2 *' }, 'schedule'],
      ['an end before the start', { start_at: '2030-01-02T00:00:00Z', end_at: '2030-01-01T00:00:00Z' }, 'end_at'],
      ['an unknown overlap policy', { overlap: 'replace' as never }, 'overlap'],
      ['a negative catch-up window', { catchup_window: -1 }, 'catchup_window'],
      ['a zero catch-up window', { catchup_window: 0 }, 'catchup_window'],
      ['invalid run parameters', { params: { image: TEST_IMAGE, memory_limit: '12q' } }, 'params.memory_limit'],
      ['a name with spaces', { name: 'two words' }, 'name'],
    ];
    for (const [what, input, field] of cases) {
      it(what, async () => {
        const name = input.name ?? `bad-${randomUUID().slice(0, 8)}`;
        const err = await create(name, input).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(ValidationError);
        expect((err as ValidationError).field).to.equal(field);
        const n = await h.db.pool.query(`SELECT 1 FROM highway.docker_schedules WHERE name = $1`, [name]);
        expect(n.rowCount).to.equal(0);
      });
    }

    it('a policy denial names the rule', async () => {
      const err = await create(`priv-${randomUUID().slice(0, 8)}`, { params: { image: TEST_IMAGE, privileged: true } }).catch((e: unknown) => e);
      expect((err as HighwayError).code).to.equal('policy_denied');
    });

    it('cron add: a name taken by a different definition is refused; the same one is fine', async () => {
      const name = `taken-${randomUUID().slice(0, 8)}`;
      const def = validateSchedule({ name, schedule: '0 0 1 1 *', params: { image: TEST_IMAGE } }, defaultPolicy);
      expect((await putSchedule(h.db.pool, who, def, 'add')).change).to.equal('created');
      expect((await putSchedule(h.db.pool, who, def, 'add')).change).to.equal('unchanged');
      const other = validateSchedule({ name, schedule: '0 0 2 1 *', params: { image: TEST_IMAGE } }, defaultPolicy);
      const err = await putSchedule(h.db.pool, who, other, 'add').catch((e: unknown) => e);
      expect((err as ValidationError).field).to.equal('name');
      expect((await getSchedule(h.db.pool, tenant, name)).expression).to.equal('0 0 1 1 *');
      // tools.cron.durable_cron updates it instead.
      expect((await create(name, { schedule: '0 0 2 1 *', params: { image: TEST_IMAGE } })).change).to.equal('updated');
      expect((await getSchedule(h.db.pool, tenant, name)).expression).to.equal('0 0 2 1 *');
      await remove(name);
    });

    it('an invalid tenant is refused by every entry point (the tool, putSchedule, the other operations); nothing stored', async () => {
      const name = `tn-${randomUUID().slice(0, 8)}`;
      const def = validateSchedule({ name, schedule: '0 0 1 1 *', params: { image: TEST_IMAGE } }, defaultPolicy);
      for (const bad of ['', ' ', 'a\nb', 'x'.repeat(129), 'ten ant', 'tenant/../a']) {
        const viaTool = await create(name, { schedule: '0 0 1 1 *' }, bad).catch((e: unknown) => e);
        expect(viaTool, JSON.stringify(bad)).to.be.instanceOf(ValidationError);
        expect((viaTool as ValidationError).field).to.equal('ctx.tenant_id');
        const viaLibrary = await putSchedule(h.db.pool, { tenant_id: bad, actor: 'test' }, def, 'add').catch((e: unknown) => e);
        expect(viaLibrary, JSON.stringify(bad)).to.be.instanceOf(ValidationError);
        expect((viaLibrary as ValidationError).field).to.equal('tenant_id');
        for (const op of [() => getSchedule(h.db.pool, bad, name), () => setPaused(h.db.pool, { tenant_id: bad }, name, true), () => triggerSchedule(h.db.pool, { tenant_id: bad }, name), () => deleteSchedule(h.db.pool, { tenant_id: bad }, name)]) {
          expect(((await op().catch((e: unknown) => e)) as ValidationError).field).to.equal('tenant_id');
        }
      }
      const n = await h.db.pool.query(`SELECT tenant_id FROM highway.docker_schedules WHERE name = $1`, [name]);
      expect(n.rows).to.deep.equal([]);
      // 128 characters of the grammar are fine.
      const long = 'x'.repeat(128);
      expect((await putSchedule(h.db.pool, { tenant_id: long, actor: 'test' }, def, 'add')).change).to.equal('created');
      await deleteSchedule(h.db.pool, { tenant_id: long }, name);
    });

    it("another tenant's schedule is not found", async () => {
      const name = `iso-${randomUUID().slice(0, 8)}`;
      await create(name, { schedule: '0 0 1 1 *' });
      for (const op of [() => getSchedule(h.db.pool, 'tenant-b', name), () => triggerSchedule(h.db.pool, { tenant_id: 'tenant-b' }, name), () => deleteSchedule(h.db.pool, { tenant_id: 'tenant-b' }, name)]) {
        const err = await op().catch((e: unknown) => e);
        expect((err as HighwayError).code).to.equal('not_found');
        expect((err as Error).message).to.equal(`schedule "${name}" not found`);
      }
      await remove(name);
    });
  });
});

describe('durable cron: the end of a tick run is the hint (no resync needed)', function () {
  this.timeout(90_000);
  let h: Harness;
  const who = { tenant_id: 'tenant-a', actor: 'test' };

  before(async () => {
    // A resync too rare to help: only the end of the first run can start the buffered tick in time.
    h = await Harness.start({ reconciler: { resyncIntervalMs: 120_000 } });
  });
  after(async () => {
    await h?.stop();
  });

  it('a tick buffered behind a run starts as soon as that run ends, with no fire time near', async () => {
    const name = `endhint-${randomUUID().slice(0, 8)}`;
    const s = await h.registry.call<DurableCronResult>(
      'tools.cron.durable_cron',
      { name, schedule: '0 0 1 1 *', overlap: 'buffer_one', params: { image: TEST_IMAGE, command: ['sleep', '2'] } },
      h.ctx({ tenant_id: who.tenant_id }),
    );
    const runs = async () =>
      (
        await h.db.pool.query<{ status: string; intent_status: string | null; started_at: Date | null; finished_at: Date | null }>(
          `SELECT t.status, c.status AS intent_status, c.started_at, c.finished_at
             FROM highway.docker_schedule_ticks t LEFT JOIN highway.docker_containers c ON c.id = t.intent_id
            WHERE t.schedule_id = $1 ORDER BY t.scheduled_time`,
          [s.schedule_id],
        )
      ).rows;
    const waitFor = (check: (rows: Awaited<ReturnType<typeof runs>>) => boolean, what: string) =>
      eventually(runs, { what, timeoutMs: 30_000, everyMs: 100, until: check });
    await triggerSchedule(h.db.pool, who, name);
    await waitFor((rows) => rows[0]?.intent_status === 'running', 'the first run');
    await triggerSchedule(h.db.pool, who, name);
    await waitFor((rows) => rows[1]?.status === 'buffered', 'the second tick buffered');
    await waitFor((rows) => rows.length === 2 && rows.every((r) => r.intent_status === 'exited'), 'both runs');
    const [first, second] = await runs();
    const lag = second!.started_at!.getTime() - first!.finished_at!.getTime();
    // Not before the first ended; the bound only catches a buffered tick left waiting (the benchmark times it).
    expect(lag, 'ms from the first run ending to the buffered one starting').to.be.within(0, 15_000);
    await deleteSchedule(h.db.pool, who, name, { cancel: true });
  });
});
