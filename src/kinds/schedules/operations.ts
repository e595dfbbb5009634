/**
 * Operations on schedules (the library tool and the CLI share them): create (or create or
 * update, idempotent by name), update, pause/resume, trigger, backfill, delete, and reads.
 * Every input is validated before anything is stored; another tenant's schedule is "not found".
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { inTransaction, type Pool, type Queryable } from '../../db/pool.js';
import { requestStop } from '../../db/queries/request-stop.js';
import { appendAudit } from '../../db/queries/audit.js';
import { HighwayError, ValidationError } from '../../errors.js';
import { formatPath, parseRunParams, type RunSpec } from '../../params/schema.js';
import { checkPolicy, type Policy } from '../../params/policy.js';
import { assertTenantId } from '../../params/tenant.js';
import { dateProblem } from '../../params/bounds.js';
import { versioned } from '../../params/versions.js';
import { OVERLAP_POLICIES, compile, fireTimesBetween, neverFires, type OverlapPolicy } from './decide.js';
import type { ScheduleDefinition, ScheduleRow, TickRow } from './model.js';
import { lockSchedule } from './queries/lock-schedule.js';
import { refuseForbiddenKeys } from '../../params/keys.js';
import { validationErrorOf } from '../../params/issues.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const instant = z
  .union([z.string(), z.date()])
  .transform((v, ctx) => {
    const d = v instanceof Date ? v : new Date(v);
    if (dateProblem(d) !== null) {
      ctx.addIssue({ code: 'custom', message: `must be an ISO 8601 date-time, e.g. "2026-12-01T00:00:00Z"${Number.isNaN(d.getTime()) ? '' : ` (${dateProblem(d)})`}` });
      return z.NEVER;
    }
    return d;
  });
// The bound first: 1e30 is "at most ...", not "whole seconds" (zod's int check also refuses unsafe integers).
const seconds = (max: number) => z.number({ error: 'must be a number of seconds' }).min(0, 'must be 0 or more').max(max, `must be at most ${max}`).int('must be whole seconds');

/** What tools.cron.durable_cron and `cron add` take. */
export const scheduleInputSchema = z.strictObject({
  name: z.string({ error: 'is required: a string' }).regex(NAME, 'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit'),
  schedule: z.string({ error: 'is required: a cron expression' }).min(1, 'is required: a cron expression'),
  timezone: z.string().nullish().transform((v) => v ?? 'UTC'),
  start_at: instant.nullish().transform((v) => v ?? null),
  end_at: instant.nullish().transform((v) => v ?? null),
  jitter: seconds(86_400).nullish().transform((v) => v ?? 0),
  overlap: z.enum(OVERLAP_POLICIES, { error: `must be one of ${OVERLAP_POLICIES.join(', ')}` }).nullish().transform((v): OverlapPolicy => v ?? 'skip'),
  // At least a second: a tick on time is a few milliseconds late already.
  catchup_window: seconds(366 * 86_400).min(1, 'must be at least 1 second').nullish().transform((v) => v ?? 60),
  pause_on_failure: z.boolean().nullish().transform((v) => v ?? false),
  keep_succeeded: z.number().int().min(0).max(100_000).nullish().transform((v) => v ?? 100),
  keep_failed: z.number().int().min(0).max(100_000).nullish().transform((v) => v ?? 100),
  paused: z.boolean().nullish().transform((v) => v ?? false),
  note: z.string().max(1000).nullish().transform((v) => v ?? null),
  params: z.unknown(),
});
export type ScheduleInput = z.input<typeof scheduleInputSchema>;

/** Validate everything (expression, time zone, that it fires, the run parameters and the policy); throws naming the field. */
export function validateSchedule(input: unknown, policy: Policy, now = new Date()): ScheduleDefinition {
  refuseForbiddenKeys(input); // before the schema, which would drop `__proto__` silently
  const parsed = scheduleInputSchema.safeParse(input);
  if (!parsed.success) {
    throw validationErrorOf(parsed.error, { unknownKey: 'is not a schedule field', root: '(schedule)' });
  }
  const p = parsed.data;
  compile(p.schedule, p.timezone);
  if (p.start_at && p.end_at && p.end_at <= p.start_at) throw new ValidationError([{ field: 'end_at', message: 'must be after start_at' }]);
  const timing = { expression: p.schedule, timezone: p.timezone, start_at: p.start_at, end_at: p.end_at };
  if (neverFires(timing, now)) {
    throw new ValidationError([{ field: 'schedule', message: `"${p.schedule}" never fires${p.end_at || p.start_at ? ' between start_at and end_at' : ''} (in ${p.timezone})` }]);
  }
  let params: RunSpec;
  try {
    params = parseRunParams(p.params);
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(err.issues.map((i) => ({ field: `params.${i.field}`.replace('params.(params)', 'params'), message: i.message })));
    throw err;
  }
  checkPolicy(params, policy);
  return {
    name: p.name,
    expression: p.schedule,
    timezone: p.timezone,
    start_at: p.start_at,
    end_at: p.end_at,
    jitter_s: p.jitter,
    overlap: p.overlap,
    catchup_window_s: p.catchup_window,
    pause_on_failure: p.pause_on_failure,
    keep_succeeded: p.keep_succeeded,
    keep_failed: p.keep_failed,
    paused: p.paused,
    pause_note: p.note,
    params: versioned(params),
  };
}

const DEFINITION = ['expression', 'timezone', 'start_at', 'end_at', 'jitter_s', 'overlap', 'catchup_window_s', 'pause_on_failure', 'keep_succeeded', 'keep_failed', 'params'] as const;

function sameDefinition(row: ScheduleRow, def: ScheduleDefinition): boolean {
  const norm = (v: unknown) => JSON.stringify(v instanceof Date ? v.toISOString() : sortKeys(v));
  return DEFINITION.every((k) => norm(row[k]) === norm(def[k]));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object' && !(v instanceof Date)) return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sortKeys(x)]));
  return v;
}

const defValues = (d: ScheduleDefinition) => [
  d.expression, d.timezone, d.start_at, d.end_at, d.jitter_s, d.overlap, d.catchup_window_s, d.pause_on_failure, d.keep_succeeded, d.keep_failed, JSON.stringify(d.params),
];

export interface Actor {
  tenant_id: string;
  actor?: string | null;
}

/**
 * The tenant grammar, checked by every operation (the library tool, the CLI and direct
 * library calls all come through here): nothing is read or stored under an invalid tenant.
 */
function tenantOf(who: Actor | string): string {
  const tenant = typeof who === 'string' ? who : who?.tenant_id;
  assertTenantId(tenant, 'tenant_id');
  return tenant;
}

/**
 * Create a schedule. `mode: 'add'` (the CLI's `cron add`): a name taken by the same
 * definition is fine (nothing changes), by a different one an error. `mode: 'upsert'`
 * (tools.cron.durable_cron): a different definition updates it, from the next tick on.
 */
export async function putSchedule(pool: Pool, who: Actor, def: ScheduleDefinition, mode: 'add' | 'upsert'): Promise<{ schedule: ScheduleRow; change: 'created' | 'updated' | 'unchanged' }> {
  tenantOf(who);
  const inserted = await pool.query<ScheduleRow>(
    `INSERT INTO highway.docker_schedules (id, tenant_id, name, expression, timezone, start_at, end_at, jitter_s, overlap, catchup_window_s,
                                           pause_on_failure, keep_succeeded, keep_failed, params, paused, pause_note)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     ON CONFLICT (tenant_id, name) DO NOTHING
     RETURNING *`,
    [randomUUID(), who.tenant_id, def.name, ...defValues(def), def.paused, def.pause_note],
  );
  if (inserted.rows[0]) {
    await audit(pool, who, 'cron.create', { name: def.name, expression: def.expression });
    return { schedule: inserted.rows[0], change: 'created' };
  }
  const existing = await getSchedule(pool, who.tenant_id, def.name);
  if (sameDefinition(existing, def)) return { schedule: existing, change: 'unchanged' };
  if (mode === 'add') {
    throw new ValidationError([{ field: 'name', message: `schedule "${def.name}" already exists with a different definition; remove it first (cron rm) or update it` }]);
  }
  return { schedule: await updateSchedule(pool, who, def), change: 'updated' };
}

/** Replace a schedule's definition; it takes effect from the next tick (nothing between its last tick and now is caught up). */
export async function updateSchedule(pool: Pool, who: Actor, def: ScheduleDefinition): Promise<ScheduleRow> {
  tenantOf(who);
  const res = await pool.query<ScheduleRow>(
    `UPDATE highway.docker_schedules
        SET expression = $3, timezone = $4, start_at = $5, end_at = $6, jitter_s = $7, overlap = $8, catchup_window_s = $9,
            pause_on_failure = $10, keep_succeeded = $11, keep_failed = $12, params = $13,
            last_tick_at = GREATEST(last_tick_at, now()), updated_at = now()
      WHERE tenant_id = $1 AND name = $2
      RETURNING *`,
    [who.tenant_id, def.name, ...defValues(def)],
  );
  if (!res.rows[0]) throw notFound(def.name);
  await audit(pool, who, 'cron.update', { name: def.name, expression: def.expression });
  return res.rows[0];
}

const notFound = (name: string) => new HighwayError('not_found', `schedule "${name}" not found`);

export async function getSchedule(q: Queryable, tenantId: string, name: string): Promise<ScheduleRow> {
  tenantOf(tenantId);
  const res = await q.query<ScheduleRow>(`SELECT * FROM highway.docker_schedules WHERE tenant_id = $1 AND name = $2`, [tenantId, name]);
  if (!res.rows[0]) throw notFound(name);
  return res.rows[0];
}

export async function listSchedules(q: Queryable, tenantId: string): Promise<ScheduleRow[]> {
  tenantOf(tenantId);
  const res = await q.query<ScheduleRow>(`SELECT * FROM highway.docker_schedules WHERE tenant_id = $1 ORDER BY name`, [tenantId]);
  return res.rows;
}

/** Pause (no fire times are taken while paused) or resume (from now on: the paused time is not caught up). */
export async function setPaused(pool: Pool, who: Actor, name: string, paused: boolean, note: string | null = null): Promise<ScheduleRow & { waiting: number }> {
  tenantOf(who);
  // `waiting`: its buffered and requested ticks as of this change (they wait while paused, and are
  // decided once resumed), counted in the same statement, before a scheduler can act on the resume.
  const res = await pool.query<ScheduleRow & { waiting: number }>(
    `UPDATE highway.docker_schedules s
        SET paused = $3, pause_note = $4, updated_at = now(),
            last_tick_at = CASE WHEN $3 THEN last_tick_at ELSE GREATEST(last_tick_at, now()) END
      WHERE tenant_id = $1 AND name = $2
      RETURNING s.*, (SELECT count(*)::int FROM highway.docker_schedule_ticks t
                       WHERE t.schedule_id = s.id AND t.status IN ('buffered', 'pending')) AS waiting`,
    [who.tenant_id, name, paused, note],
  );
  if (!res.rows[0]) throw notFound(name);
  await audit(pool, who, paused ? 'cron.pause' : 'cron.resume', { name, note });
  return res.rows[0];
}

/** Run a tick now (a pending tick at the database's now, under the schedule's policy or `overlap`). */
export async function triggerSchedule(pool: Pool, who: Actor, name: string, overlap?: OverlapPolicy): Promise<Date> {
  const s = await getSchedule(pool, who.tenant_id, name);
  const res = await pool.query<{ scheduled_time: Date }>(
    `INSERT INTO highway.docker_schedule_ticks (schedule_id, scheduled_time, status, source, overlap)
     VALUES ($1, date_trunc('milliseconds', clock_timestamp()), 'pending', 'trigger', $2)
     RETURNING scheduled_time`,
    [s.id, overlap ?? null],
  );
  await audit(pool, who, 'cron.trigger', { name });
  return res.rows[0]!.scheduled_time;
}

/** What a backfill did. */
export interface BackfillResult {
  /** Fire times written as pending ticks (they run under `overlap`). */
  ticks: number;
  /** Fire times of the range left alone: they have a tick, or the schedule decided them already (their row may be pruned). */
  already: number;
  /** The range taken, [from, to): `to` is clipped to the database's now. */
  from: string;
  to: string;
  /** `to` was later than now and was clipped to it: a backfill never runs a fire time before its time. */
  clipped: boolean;
}

/**
 * Backfill: every fire time in [from, to) that the schedule never decided becomes a pending
 * tick under `overlap` (default buffer_all). Only the past: `to` is clipped to the database's
 * now (said in the result), a range wholly in the future is refused. A fire time that has a tick,
 * or that the scheduler or an earlier backfill decided (also when retention pruned its row since),
 * is not run again.
 */
export async function backfillSchedule(pool: Pool, who: Actor, name: string, from: Date, to: Date, overlap: OverlapPolicy = 'buffer_all'): Promise<BackfillResult> {
  if (!(to > from)) throw new ValidationError([{ field: 'to', message: 'must be after from' }]);
  return inTransaction(pool, async (client) => {
    const s = await getSchedule(client, tenantOf(who), name);
    // The row locked (a scheduler pass adds to `decided` under the same lock), with the database's clock.
    const locked = await lockSchedule(client, s.id);
    if (!locked) throw notFound(name);
    const { now } = locked;
    if (from.getTime() >= now.getTime()) {
      throw new ValidationError([{ field: 'from', message: `${from.toISOString()} is not in the past (now is ${now.toISOString()}); a backfill runs past fire times only` }]);
    }
    const clipped = to.getTime() > now.getTime();
    const until = clipped ? now : to;
    const times = fireTimesBetween(s, new Date(from.getTime() - 1), new Date(until.getTime() - 1));
    const res = await client.query(
      `INSERT INTO highway.docker_schedule_ticks (schedule_id, scheduled_time, status, source, overlap)
       SELECT s.id, t, 'pending', 'backfill', $3
         FROM highway.docker_schedules s, unnest($2::timestamptz[]) AS t
        WHERE s.id = $1 AND NOT (s.decided @> t)
       ON CONFLICT (schedule_id, scheduled_time) DO NOTHING`,
      [s.id, times, overlap],
    );
    const ticks = res.rowCount ?? 0;
    await client.query(
      `UPDATE highway.docker_schedules SET decided = decided + tstzmultirange(tstzrange($2, $3, '[)')) WHERE id = $1`,
      [s.id, from, until],
    );
    const result: BackfillResult = { ticks, already: times.length - ticks, from: from.toISOString(), to: until.toISOString(), clipped };
    await audit(client, who, 'cron.backfill', { name, from: result.from, to: result.to, asked_to: to.toISOString(), clipped, ticks, already: result.already });
    return result;
  });
}

/** Delete a schedule and its tick history (the audit keeps all); with `cancel`, its running tick is stopped too. */
export async function deleteSchedule(pool: Pool, who: Actor, name: string, opts: { cancel?: boolean } = {}): Promise<{ cancelled: string[] }> {
  return inTransaction(pool, async (client) => {
    const s = await getSchedule(client, who.tenant_id, name);
    const cancelled: string[] = [];
    if (opts.cancel) {
      const running = await client.query<{ intent_id: string }>(
        `SELECT intent_id FROM highway.docker_schedule_ticks WHERE schedule_id = $1 AND status = 'started' AND outcome IS NULL`,
        [s.id],
      );
      for (const r of running.rows) cancelled.push(...(await requestStop(client, { column: 'id', value: r.intent_id }, 'requested')));
    }
    await client.query(`DELETE FROM highway.docker_schedules WHERE id = $1`, [s.id]);
    await audit(client, who, 'cron.delete', { name, cancelled });
    return { cancelled };
  });
}

/** One tick as `cron runs` shows it: the run's status, or the tick's own (skipped, missed, buffered...). */
export interface TickView {
  scheduled_time: string;
  status: string;
  intent_id: string | null;
  source: TickRow['source'];
  reason: string | null;
  lateness_ms: number | null;
  exit_code: number | null;
  /** The run's `result_path` result (docs/steps.md); null when none, or when over RUN_RESULT_SHOWN_BYTES (`result_omitted`). */
  result: unknown;
  result_error: { code: string; message: string } | null;
  result_omitted?: true;
}

/** A result larger than this (as JSON text) is left out of a runs listing (read it with the intent). */
const RUN_RESULT_SHOWN_BYTES = 64 * 1024;

export async function scheduleRuns(q: Queryable, tenantId: string, name: string, limit = 1000): Promise<TickView[]> {
  const s = await getSchedule(q, tenantId, name);
  const res = await q.query<TickRow & { intent_status: string | null; exit_code: number | null; result: unknown; result_error: TickView['result_error']; result_omitted: boolean }>(
    // The schedule's newest ticks first (its (schedule_id, scheduled_time) index), then their runs: as
    // one join over a long history (100,000 ticks of 100 schedules) PostgreSQL chose a parallel scan
    // of every tick, 2-4x slower than this on a busy machine (bench scenario `history`).
    `WITH t AS MATERIALIZED (
       SELECT * FROM highway.docker_schedule_ticks WHERE schedule_id = $1 ORDER BY scheduled_time DESC LIMIT $2)
     SELECT t.*, c.status AS intent_status, c.exit_code, c.result_error,
            CASE WHEN octet_length(c.result::text) <= $3 THEN c.result END AS result,
            COALESCE(octet_length(c.result::text) > $3, false) AS result_omitted
       FROM t LEFT JOIN highway.docker_containers c ON c.id = t.intent_id
      ORDER BY t.scheduled_time DESC`,
    [s.id, limit, RUN_RESULT_SHOWN_BYTES],
  );
  return res.rows.reverse().map((r) => ({
    scheduled_time: r.scheduled_time.toISOString(),
    status: r.status === 'started' ? (r.intent_status ?? r.outcome ?? 'started') : r.status,
    intent_id: r.intent_id,
    source: r.source,
    reason: r.reason,
    lateness_ms: r.lateness_ms,
    exit_code: r.exit_code,
    result: r.result ?? null,
    result_error: r.result_error ?? null,
    ...(r.result_omitted ? { result_omitted: true as const } : {}),
  }));
}

async function audit(q: Queryable, who: Actor, operation: string, detail: Record<string, unknown>): Promise<void> {
  await appendAudit(q, { tenant_id: who.tenant_id, actor: who.actor ?? null, operation, outcome: 'ok', detail });
}
