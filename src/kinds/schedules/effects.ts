/**
 * The schedules kind's effects: one scheduler pass over a schedule, in one transaction.
 * Each tick row is written with its run intent (highway.create_intent, same transaction), and
 * the intent's ids derive from (schedule, scheduled time): a scheduler that dies anywhere, or
 * two racing, never make a second container for one tick.
 */
import type { Metrics } from '../../observability/metrics.js';
import type { Logger } from 'pino';
import type { Pool, PoolClient } from '../../db/pool.js';
import { insertIntent } from '../../db/queries/insert-intent.js';
import { requestStop } from '../../db/queries/request-stop.js';
import { appendAudit } from '../../db/queries/audit.js';
import { PolicyError, ValidationError } from '../../errors.js';
import { parseRunParams } from '../../params/schema.js';
import { upgradedSpec } from '../../params/versions.js';
import { checkPolicy, resourceWarnings, type Policy } from '../../params/policy.js';
import { dueTimes, jitterMs, nextFireTime, planPass, tickUuid, type TickAction } from './decide.js';
import type { ScheduleRow, TickSource } from './model.js';
import { lockSchedule } from './queries/lock-schedule.js';
import { openTicks, recordOutcomes } from './queries/open-ticks.js';
import { advanceSchedule, pauseOnFailure, pruneTicks, writeMissed, writeTick } from './queries/write-tick.js';

export interface PassDeps {
  pool: Pool;
  logger: Logger;
  policy: Policy;
  actor: string;
  /** Tick lateness, for highway_docker_cron_tick_lateness_seconds. */
  metrics?: Metrics;
}

/** What a pass did, for the event log (written after commit). */
interface Outcome {
  started: Array<{ time: Date; intent_id: string; lateness_ms: number; source: TickSource | 'buffered' }>;
  skipped: Array<{ time: Date; reason: string; lateness_ms: number }>;
  failed: Array<{ time: Date; reason: string }>;
  missed: Date[];
  missedNew: number;
  due: number;
  cancelled: string[];
  paused: string | null;
}

/** What a pass returns: when the schedule next fires (ms from now), and the runs of its ticks still going. */
export interface PassResult {
  requeueAfterMs?: number;
  /** Intent ids of this schedule's started ticks whose run has not ended (as of the pass). */
  liveIntents: string[];
}

/** One pass; returns when the schedule next fires (ms from now), if it does, and its live tick runs. */
export async function schedulerPass(deps: PassDeps, id: string): Promise<PassResult> {
  const client = await deps.pool.connect();
  let schedule: ScheduleRow;
  let now: Date;
  let nextFire: Date | null = null;
  let running: string[] = [];
  const out: Outcome = { started: [], skipped: [], failed: [], missed: [], missedNew: 0, due: 0, cancelled: [], paused: null };
  try {
    await client.query('BEGIN');
    const locked = await lockSchedule(client, id);
    if (!locked) {
      await client.query('COMMIT');
      return { liveIntents: [] };
    }
    ({ schedule, now } = locked);

    // Runs that ended: their outcome, and pause-on-failure.
    const ended = await recordOutcomes(client, id);
    const failure = ended.find((e) => e.outcome !== 'exited');
    let paused = schedule.paused;
    if (failure && schedule.pause_on_failure && !paused) {
      out.paused = `paused on failure: the run of ${failure.scheduled_time.toISOString()} ended ${failure.outcome} (intent ${failure.intent_id})`;
      await pauseOnFailure(client, id, out.paused);
      paused = true;
    }

    const open = await openTicks(client, id, schedule.overlap);
    running = open.running;
    const due = paused ? [] : dueTimes(schedule, schedule.last_tick_at, now);
    out.due = due.length;
    // A fire time a backfill asked for already is decided once, as the request.
    const requested = new Set(open.pending.map((p) => p.time.getTime()));
    const actions = planPass({
      now,
      paused,
      overlap: schedule.overlap,
      catchupWindowMs: schedule.catchup_window_s * 1000,
      running: open.running.length,
      buffered: open.buffered,
      pending: open.pending,
      due: due.filter((t) => !requested.has(t.getTime())),
    });
    const sources = new Map(open.pending.map((p) => [p.time.getTime(), p.source as TickSource]));
    await apply(client, deps, schedule, now, actions, open.running, sources, out);

    const decidedUntil = due.length ? due[due.length - 1]! : null;
    // The first fire time after the decided ones (it may be past already while its jitter runs).
    nextFire = nextFireTime(schedule, decidedUntil ?? schedule.last_tick_at);
    await advanceSchedule(client, id, decidedUntil ?? schedule.last_tick_at, paused ? null : nextFire, decidedUntil ? schedule.last_tick_at : null);
    if (ended.length || actions.length) await pruneTicks(client, id, schedule.keep_succeeded, schedule.keep_failed);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  report(deps.logger, schedule, now, out);
  for (const t of out.started) deps.metrics?.cronTickLateness.observe(t.lateness_ms / 1000);
  const liveIntents = [...running, ...out.started.map((t) => t.intent_id)];
  if (schedule.paused || out.paused || !nextFire) return { liveIntents };
  const fireAt = nextFire.getTime() + jitterMs(schedule.id, nextFire, schedule.jitter_s);
  return { requeueAfterMs: Math.max(0, fireAt - now.getTime()), liveIntents };
}

async function apply(
  tx: PoolClient,
  deps: PassDeps,
  schedule: ScheduleRow,
  now: Date,
  actions: TickAction[],
  running: string[],
  sources: Map<number, TickSource>,
  out: Outcome,
): Promise<void> {
  const lateness = (t: Date) => Math.max(0, now.getTime() - t.getTime());
  const missed = actions.flatMap((a) => (a.type === 'missed' ? [a.time] : []));
  out.missed = missed;
  out.missedNew = await writeMissed(tx, schedule.id, missed, now);
  for (const a of actions) {
    switch (a.type) {
      case 'missed':
        break;
      case 'cancel_running':
        for (const intentId of running) out.cancelled.push(...(await requestStop(tx, { column: 'id', value: intentId }, 'requested')));
        break;
      case 'skip':
        if (await writeTick(tx, { schedule_id: schedule.id, time: a.time, status: 'skipped', was: a.was, reason: a.reason, lateness_ms: lateness(a.time) })) {
          out.skipped.push({ time: a.time, reason: a.reason, lateness_ms: lateness(a.time) });
        }
        break;
      case 'buffer':
        await writeTick(tx, { schedule_id: schedule.id, time: a.time, status: 'buffered', was: a.was, overlap: a.overlap, reason: null });
        break;
      case 'start':
        await startTick(tx, deps, schedule, a.time, a.was, lateness(a.time), a.was === 'pending' ? (sources.get(a.time.getTime()) ?? 'trigger') : a.was === 'new' ? 'schedule' : 'buffered', out);
        break;
    }
  }
}

/** Write the tick as started and its run intent, together; or as failed when its parameters no longer pass. */
async function startTick(
  tx: PoolClient,
  deps: PassDeps,
  schedule: ScheduleRow,
  time: Date,
  was: 'new' | 'pending' | 'buffered',
  latenessMs: number,
  source: TickSource | 'buffered',
  out: Outcome,
): Promise<void> {
  let spec;
  try {
    // Validated and policy-checked again at each tick: the policy may have changed since.
    // Stored with its parameter schema version (none: version 1), upgraded before it is read.
    spec = parseRunParams(upgradedSpec(schedule.params));
    checkPolicy(spec, deps.policy);
  } catch (err) {
    if (!(err instanceof ValidationError || err instanceof PolicyError)) throw err;
    const reason = `${err instanceof PolicyError ? 'denied' : 'invalid parameters'}: ${err.message}`;
    if (await writeTick(tx, { schedule_id: schedule.id, time, status: 'failed', was, reason, lateness_ms: latenessMs })) {
      out.failed.push({ time, reason });
      await appendAudit(tx, { tenant_id: schedule.tenant_id, actor: deps.actor, operation: 'cron.tick', outcome: 'denied', detail: { schedule: schedule.name, scheduled_time: time.toISOString(), error: err.message } });
    }
    return;
  }
  const scheduled = time.toISOString();
  spec = { ...spec, environment: { ...spec.environment, HIGHWAY_SCHEDULED_TIME: scheduled, HIGHWAY_SCHEDULE: schedule.name } };
  const intentId = tickUuid(schedule.id, time, 'intent');
  const written = await writeTick(tx, {
    schedule_id: schedule.id,
    time,
    status: 'started',
    was,
    intent_id: intentId,
    lateness_ms: latenessMs,
    ...(was === 'new' ? { source: 'schedule' as const } : {}),
  });
  if (!written) return; // another scheduler decided this tick first
  await insertIntent(tx, {
    id: intentId,
    activity_id: tickUuid(schedule.id, time, 'activity'),
    workflow_run_id: tickUuid(schedule.id, time, 'workflow_run'),
    tenant_id: schedule.tenant_id,
    worker_id: null,
    image: spec.image,
    spec,
    labels: spec.labels ?? {},
    warnings: resourceWarnings(spec),
  });
  out.started.push({ time, intent_id: intentId, lateness_ms: latenessMs, source });
}

function report(logger: Logger, s: ScheduleRow, now: Date, out: Outcome): void {
  const log = logger.child({ schedule: s.name, schedule_id: s.id, tenant_id: s.tenant_id });
  for (const t of out.started) {
    log.info({ event: 'cron.tick', scheduled_time: t.time.toISOString(), intent_id: t.intent_id, lateness_ms: t.lateness_ms, source: t.source }, `tick ${t.time.toISOString()} started`);
  }
  for (const t of out.skipped) {
    log.info({ event: 'cron.skipped', scheduled_time: t.time.toISOString(), reason: t.reason, lateness_ms: t.lateness_ms }, `tick ${t.time.toISOString()} skipped: ${t.reason}`);
  }
  for (const t of out.failed) {
    log.error({ event: 'cron.tick_failed', scheduled_time: t.time.toISOString(), reason: t.reason }, `tick ${t.time.toISOString()} not started: ${t.reason}`);
  }
  if (out.missedNew > 0) {
    const first = out.missed[0]!;
    const last = out.missed[out.missed.length - 1]!;
    log.warn(
      { event: 'cron.missed', count: out.missedNew, first: first.toISOString(), last: last.toISOString(), lateness_ms: now.getTime() - first.getTime(), catchup_window_s: s.catchup_window_s },
      `${out.missedNew} tick(s) older than the catch-up window recorded as missed`,
    );
  }
  // Several fire times due in one pass: the scheduler was behind (down, or the database was).
  if (out.due > 1) {
    const ran = out.started.filter((t) => t.source === 'schedule');
    log.info(
      { event: 'cron.caught_up', due: out.due, started: ran.length, missed: out.missedNew, lateness_ms: ran[0]?.lateness_ms ?? null },
      `caught up ${out.due} tick(s)`,
    );
  }
  if (out.cancelled.length) log.info({ event: 'cron.cancelled_other', intent_ids: out.cancelled }, 'overlap cancel_other: stopping the running tick');
  if (out.paused) log.warn({ event: 'cron.paused', note: out.paused }, out.paused);
}
