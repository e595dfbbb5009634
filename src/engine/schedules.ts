/**
 * Schedule management for engines (and the CLI's `cron`): list, show, runs, create, pause,
 * resume, trigger, backfill, remove. Every call names its tenant (another tenant's schedule is
 * "not found"); every change goes through the audit wrapper (src/tools/audited.ts): a success
 * is the audit row the change writes itself, a refusal or a failure is an audit row too.
 */
import type { Pool } from '../db/pool.js';
import { audited } from '../tools/audited.js';
import { assertTenantId } from '../params/tenant.js';
import { defaultPolicy, type Policy } from '../params/policy.js';
import type { OverlapPolicy } from '../kinds/schedules/decide.js';
import type { ScheduleRow } from '../kinds/schedules/model.js';
import * as ops from '../kinds/schedules/operations.js';

export type { ScheduleRow } from '../kinds/schedules/model.js';
export type { TickView, BackfillResult, ScheduleInput } from '../kinds/schedules/operations.js';
export type { OverlapPolicy } from '../kinds/schedules/decide.js';

/** Who calls: the tenant whose schedules these are. */
export interface TenantOption {
  tenant: string;
}

export interface ScheduleApiOptions {
  pool: Pool;
  /** Recorded as the audit row's actor (default `engine`). */
  actor?: string;
  /** The operator policy a new schedule's run parameters are checked against (default: the built-in policy). */
  policy?: Policy;
}

export interface ScheduleApi {
  /** The tenant's schedules, by name. */
  list(opts: TenantOption): Promise<ScheduleRow[]>;
  /** One schedule and its latest ticks (newest `recent`, default 10). */
  show(name: string, opts: TenantOption & { recent?: number }): Promise<{ schedule: ScheduleRow; recent: ops.TickView[] }>;
  /** The ticks of a schedule, oldest first (the newest `limit`, default 1000). */
  runs(name: string, opts: TenantOption & { limit?: number }): Promise<ops.TickView[]>;
  /**
   * Create a schedule (tools.cron.durable_cron's input). `mode: 'add'` (default): the same definition under the
   * name again is fine, a different one an error; `'upsert'`: a different one updates it.
   */
  create(input: ops.ScheduleInput, opts: TenantOption & { mode?: 'add' | 'upsert' }): Promise<{ schedule: ScheduleRow; change: 'created' | 'updated' | 'unchanged' }>;
  /** Pause: nothing starts until resumed; `waiting` ticks (buffered, requested) wait for the resume. */
  pause(name: string, opts: TenantOption & { note?: string }): Promise<{ schedule: ScheduleRow; waiting: number }>;
  /** Resume from now on (the paused time is not caught up); `waiting` ticks are decided now. */
  resume(name: string, opts: TenantOption & { note?: string }): Promise<{ schedule: ScheduleRow; waiting: number }>;
  /** Run a tick now (on a paused schedule: when it is resumed). */
  trigger(name: string, opts: TenantOption & { overlap?: OverlapPolicy }): Promise<{ scheduled_time: Date; paused: boolean }>;
  /** Every past fire time in [from, to) that never ran becomes a tick (`to` is clipped to now). */
  backfill(name: string, opts: TenantOption & { from: Date; to: Date; overlap?: OverlapPolicy }): Promise<ops.BackfillResult>;
  /** Delete a schedule and its tick history; with `cancel`, also stop its running tick (the intent ids). */
  remove(name: string, opts: TenantOption & { cancel?: boolean }): Promise<{ cancelled: string[] }>;
}

export function createScheduleApi(options: ScheduleApiOptions): ScheduleApi {
  const { pool } = options;
  const actor = options.actor ?? 'engine';
  const policy = options.policy ?? defaultPolicy;
  const who = (o: TenantOption) => ({ tenant_id: o.tenant, actor });
  const tenantOf = (o: TenantOption) => {
    assertTenantId(o?.tenant, 'tenant');
    return o.tenant;
  };
  /** A change through the audit wrapper: the operation writes its own `ok` row (`wrote`); a failure is recorded here. */
  const change = <T>(o: TenantOption, operation: string, fn: () => Promise<T>, wrote: (r: T) => boolean = () => true): Promise<T> =>
    audited({ pool }, operation, { tenant_id: o?.tenant, worker_id: actor }, async (call) => {
      tenantOf(o);
      const r = await fn();
      if (wrote(r)) call.recorded();
      return r;
    }, { checkCaller: () => {} });
  // Waiting ticks (buffered, requested): counted in the statement that pauses or resumes, before
  // the reconciler can decide them.
  const setPaused = (name: string, o: TenantOption & { note?: string }, paused: boolean) =>
    change(o, paused ? 'cron.pause' : 'cron.resume', async () => {
      const { waiting, ...schedule } = await ops.setPaused(pool, who(o), name, paused, o.note ?? null);
      return { schedule: schedule as ScheduleRow, waiting };
    });
  return {
    list: async (o) => ops.listSchedules(pool, tenantOf(o)),
    async show(name, o) {
      const schedule = await ops.getSchedule(pool, tenantOf(o), name);
      return { schedule, recent: await ops.scheduleRuns(pool, o.tenant, name, o.recent ?? 10) };
    },
    runs: async (name, o) => ops.scheduleRuns(pool, tenantOf(o), name, o.limit ?? 1000),
    create: (input, o) =>
      change(o, 'cron.create', async () => ops.putSchedule(pool, who(o), ops.validateSchedule(input, policy), o.mode ?? 'add'), (r) => r.change !== 'unchanged'),
    pause: (name, o) => setPaused(name, o, true),
    resume: (name, o) => setPaused(name, o, false),
    async trigger(name, o) {
      const scheduled_time = await change(o, 'cron.trigger', () => ops.triggerSchedule(pool, who(o), name, o.overlap));
      return { scheduled_time, paused: (await ops.getSchedule(pool, o.tenant, name)).paused };
    },
    backfill: (name, o) => change(o, 'cron.backfill', () => ops.backfillSchedule(pool, who(o), name, o.from, o.to, o.overlap ?? 'buffer_all')),
    remove: (name, o) => change(o, 'cron.delete', () => ops.deleteSchedule(pool, who(o), name, { cancel: o.cancel === true })),
  };
}
