/**
 * tools.cron.durable_cron: create or update a schedule, idempotent by name (per tenant).
 * The reconciler's schedules kind runs it; this only validates and stores.
 */
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { audited } from './audited.js';
import { PolicyError, ValidationError } from '../errors.js';
import type { Policy } from '../params/policy.js';
import { nextFireTime } from '../kinds/schedules/decide.js';
import { putSchedule, validateSchedule } from '../kinds/schedules/operations.js';
import type { ActivityContext, ToolRegistry } from './registry.js';

export interface DurableCronResult {
  schedule_id: string;
  name: string;
  change: 'created' | 'updated' | 'unchanged';
  paused: boolean;
  /** The next fire time (ISO 8601), or null when paused. */
  next_fire_at: string | null;
}

export function registerCronTools(registry: ToolRegistry, deps: { pool: Pool; logger: Logger; policy: Policy }): void {
  registry.register('tools.cron.durable_cron', (params: unknown, ctx: ActivityContext): Promise<DurableCronResult> =>
    audited(deps, 'tools.cron.durable_cron', ctx, async (call) => {
      const tenant = ctx.tenant_id;
      let def;
      try {
        def = validateSchedule(params, deps.policy);
      } catch (err) {
        if (err instanceof ValidationError || err instanceof PolicyError) {
          deps.logger.warn({ event: 'cron.invalid', tenant_id: tenant, field: err.field, error: err.message }, err.message);
        }
        throw err;
      }
      call.note({ name: def.name });
      const { schedule, change } = await putSchedule(deps.pool, { tenant_id: tenant, actor: ctx.worker_id ?? null }, def, 'upsert');
      // A created or updated schedule has its own audit row (cron.create, cron.update).
      if (change !== 'unchanged') call.recorded();
      else call.note({ change });
      const next = schedule.paused ? null : nextFireTime(schedule, new Date());
      deps.logger.info({ event: `cron.${change}`, tenant_id: tenant, schedule: schedule.name, schedule_id: schedule.id }, `schedule ${schedule.name} ${change}`);
      return { schedule_id: schedule.id, name: schedule.name, change, paused: schedule.paused, next_fire_at: next?.toISOString() ?? null };
    }),
  );
}
