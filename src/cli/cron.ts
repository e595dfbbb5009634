/**
 * `highway-docker cron ...`: durable cron schedules (the CLI of tools.cron.durable_cron).
 *   cron add NAME --schedule EXPR [--timezone TZ] [--overlap P] [--catchup-window S] [--params FILE|-] IMAGE [CMD...]
 *   cron ls | show NAME | runs NAME | pause NAME | resume NAME | trigger NAME | backfill NAME | rm NAME
 * All with --tenant T and --json.
 */
import { cliActor } from './actor.js';
import { Option, type Command } from 'commander';
import { createPool, type Pool } from '../db/pool.js';
import { ValidationError } from '../errors.js';
import type { OverlapPolicy } from '../kinds/schedules/decide.js';
import type { ScheduleRow } from '../kinds/schedules/model.js';
import type { ScheduleApi, ScheduleInput } from '../engine/schedules.js';
import { settingsFromEnv } from '../config.js';
import { resolveDatabaseUrl } from './database.js';
import { readParams } from './params-file.js';
import { assertTenantId } from '../params/tenant.js';

// The schedule API is loaded when a cron command runs (croner, zod and the parameter schema stay out of other commands' startup).
const OVERLAP_POLICIES = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'allow_all'] as const satisfies readonly OverlapPolicy[];

interface Common {
  tenant: string;
  json?: boolean;
}

const out = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};

async function scheduleView(s: ScheduleRow) {
  const { nextFireTime } = await import('../kinds/schedules/decide.js');
  return {
    id: s.id,
    name: s.name,
    tenant_id: s.tenant_id,
    schedule: s.expression,
    timezone: s.timezone,
    overlap: s.overlap,
    catchup_window_s: s.catchup_window_s,
    jitter_s: s.jitter_s,
    start_at: s.start_at?.toISOString() ?? null,
    end_at: s.end_at?.toISOString() ?? null,
    paused: s.paused,
    pause_note: s.pause_note,
    pause_on_failure: s.pause_on_failure,
    keep_succeeded: s.keep_succeeded,
    keep_failed: s.keep_failed,
    next_fire_at: s.paused ? null : (nextFireTime(s, new Date())?.toISOString() ?? null),
    last_tick_at: s.last_tick_at.toISOString(),
    params: s.params,
    created_at: s.created_at.toISOString(),
    updated_at: s.updated_at.toISOString(),
  };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((l) => l[i]!.length)));
  const fmt = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n') + '\n';
}

/** `--tenant`: the tenant grammar, checked before anything is read or stored. */
const tenantArg = (v: string): string => {
  assertTenantId(v, '--tenant');
  return v;
};

const int = (field: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ValidationError([{ field, message: `"${v}" is not a whole number` }]);
  return n;
};

/** Adds `cron` and its subcommands to the program. */
export function registerCronCommands(program: Command): void {
  const withPool = async <T>(fn: (pool: Pool) => Promise<T>): Promise<T> => {
    const url = await resolveDatabaseUrl(program.opts<{ databaseUrl?: string }>().databaseUrl);
    const pool = createPool(url, { max: 2, applicationName: 'highway-docker-cli' });
    try {
      return await fn(pool);
    } finally {
      await pool.end();
    }
  };
  const cron = program.command('cron').description('durable cron: containers on a schedule, every tick exactly once');
  const common = (c: Command) => c.option('--tenant <tenant>', 'tenant id (1 to 128 of A-Z a-z 0-9 . _ -)', tenantArg, 'default').option('--json', 'JSON output');
  /**
   * The schedule API (src/engine/schedules.ts) on a pool of this command: every change goes
   * through the audit wrapper, with this user as the actor.
   */
  const api = <T>(fn: (schedules: ScheduleApi, pool: Pool) => Promise<T>): Promise<T> =>
    withPool(async (pool) => {
      const { createScheduleApi } = await import('../engine/schedules.js');
      const { loadPolicy } = await import('../params/policy.js');
      return fn(createScheduleApi({ pool, actor: cliActor(), policy: loadPolicy(settingsFromEnv().policyFile) }), pool);
    });

  common(
    cron
      .command('add')
      .description('create a schedule (the same definition again is fine; a different one under the name is an error)')
      .argument('<name>', 'schedule name (unique per tenant)')
      .argument('[image]', 'image to run (or give it in --params)')
      .argument('[command...]', 'the container command: every word after IMAGE')
      .requiredOption('--schedule <expr>', 'cron expression: 5 fields, 6 with seconds first, or @hourly, @daily...')
      .option('--timezone <tz>', 'IANA time zone', 'UTC')
      .addOption(new Option('--overlap <policy>', 'when a tick comes while the previous run is running').choices(OVERLAP_POLICIES).default('skip'))
      .option('--catchup-window <seconds>', 'missed ticks younger than this still run (default 60)', int('--catchup-window'))
      .option('--jitter <seconds>', 'delay each tick by up to this (deterministic per tick)', int('--jitter'))
      .option('--start-at <iso>', 'first possible fire time')
      .option('--end-at <iso>', 'no fire time from then on')
      .option('--pause-on-failure', 'pause the schedule when a run fails')
      .option('--keep-succeeded <n>', 'tick history: succeeded runs kept (default 100)', int('--keep-succeeded'))
      .option('--keep-failed <n>', 'tick history: failed, skipped and missed ticks kept (default 100)', int('--keep-failed'))
      .option('--params <file>', 'tools.docker.run parameters as JSON (a file, or - for standard input)')
      // Words after IMAGE belong to the container, dashes included (use -- before them to be sure).
      .allowUnknownOption(),
  ).action(async (name: string, image: string | undefined, command: string[], o: Common & Record<string, unknown>) => {
    const { loadPolicy } = await import('../params/policy.js');
    const params = await readParams(o['params'] as string | undefined, loadPolicy(settingsFromEnv().policyFile).max_params_bytes);
    if (image !== undefined) params['image'] = image;
    if (command.length) params['command'] = command;
    const input = {
      name,
      schedule: o['schedule'],
      timezone: o['timezone'],
      overlap: o['overlap'],
      catchup_window: o['catchupWindow'],
      jitter: o['jitter'],
      start_at: o['startAt'],
      end_at: o['endAt'],
      pause_on_failure: o['pauseOnFailure'] === true,
      keep_succeeded: o['keepSucceeded'],
      keep_failed: o['keepFailed'],
      params,
    };
    const { schedule, change: made } = await api((s) => s.create(input as ScheduleInput, { tenant: o.tenant, mode: 'add' }));
    const view = await scheduleView(schedule);
    out(o.json ? JSON.stringify({ ...view, change: made }) : `${made} ${schedule.name}: ${schedule.expression} (${schedule.timezone}), next ${view.next_fire_at ?? '-'}`);
  });

  common(cron.command('ls').description('list schedules')).action(async (o: Common) => {
    const rows = await api((s) => s.list({ tenant: o.tenant }));
    const views = await Promise.all(rows.map(scheduleView));
    if (o.json) return out(JSON.stringify(views, null, 2));
    out(table(['NAME', 'SCHEDULE', 'TIMEZONE', 'OVERLAP', 'STATE', 'NEXT'], views.map((v) => [v.name, v.schedule, v.timezone, v.overlap, v.paused ? 'paused' : 'active', v.next_fire_at ?? '-'])));
  });

  common(cron.command('show').description('a schedule and its latest ticks').argument('<name>')).action(async (name: string, o: Common) => {
    const { schedule: s, recent: runs } = await api((api) => api.show(name, { tenant: o.tenant, recent: 10 }));
    const view = { ...(await scheduleView(s)), recent: runs };
    if (o.json) return out(JSON.stringify(view, null, 2));
    const lines = Object.entries(view)
      .filter(([k]) => k !== 'recent' && k !== 'params')
      .map(([k, v]) => `${k}: ${v ?? '-'}`);
    lines.push(`params: ${JSON.stringify(s.params)}`, 'recent ticks:', ...runs.map((r) => `  ${r.scheduled_time}  ${r.status}${r.reason ? ` (${r.reason})` : ''}`));
    out(lines.join('\n'));
  });

  common(cron.command('runs').description('the ticks of a schedule, oldest first').argument('<name>').option('--limit <n>', 'newest N ticks', int('--limit'), 1000)).action(
    async (name: string, o: Common & { limit: number }) => {
      const runs = await api((s) => s.runs(name, { tenant: o.tenant, limit: o.limit }));
      if (o.json) return out(JSON.stringify(runs.map((r) => ({ scheduled_time: r.scheduled_time, status: r.status, intent_id: r.intent_id, source: r.source, reason: r.reason, lateness_ms: r.lateness_ms, exit_code: r.exit_code, result: r.result, result_error: r.result_error, ...(r.result_omitted ? { result_omitted: true } : {}) })), null, 2));
      out(table(['SCHEDULED', 'STATUS', 'SOURCE', 'INTENT', 'LATENESS', 'REASON'], runs.map((r) => [r.scheduled_time, r.status, r.source, r.intent_id ?? '-', r.lateness_ms === null ? '-' : `${r.lateness_ms}ms`, r.reason ?? ''])));
    },
  );

  for (const paused of [true, false]) {
    common(cron.command(paused ? 'pause' : 'resume').description(paused ? 'pause a schedule (nothing starts until resumed; waiting ticks wait)' : 'resume a schedule (from now on; the paused time is not caught up; waiting ticks are decided)').argument('<name>').option('--note <text>', 'why')).action(
      async (name: string, o: Common & { note?: string }) => {
        const { schedule: s, waiting } = await api((api) => (paused ? api.pause : api.resume)(name, { tenant: o.tenant, ...(o.note !== undefined ? { note: o.note } : {}) }));
        const note = !waiting ? '' : paused ? ` (${waiting} waiting tick(s) wait for the resume)` : ` (${waiting} waiting tick(s) are decided now)`;
        out(o.json ? JSON.stringify({ ...(await scheduleView(s)), waiting }) : `${paused ? 'paused' : 'resumed'} ${s.name}${note}`);
      },
    );
  }

  common(cron.command('trigger').description('run a tick now (on a paused schedule: when it is resumed)').argument('<name>').addOption(new Option('--overlap <policy>', 'overlap policy for this tick (default: the schedule\'s)').choices(OVERLAP_POLICIES))).action(
    async (name: string, o: Common & { overlap?: OverlapPolicy }) => {
      const { scheduled_time: at, paused } = await api((s) => s.trigger(name, { tenant: o.tenant, ...(o.overlap ? { overlap: o.overlap } : {}) }));
      // Nothing starts while a schedule is paused: the tick waits (pending) for the resume.
      const note = paused ? ` (${name} is paused: the tick starts when it is resumed)` : '';
      out(o.json ? JSON.stringify({ name, scheduled_time: at.toISOString(), paused }) : `triggered ${name} at ${at.toISOString()}${note}`);
    },
  );

  common(
    cron
      .command('backfill')
      .description('run every past fire time in [from, to) that never ran (--to is clipped to now)')
      .argument('<name>')
      .requiredOption('--from <iso>', 'start (inclusive)')
      .requiredOption('--to <iso>', 'end (exclusive)')
      .addOption(new Option('--overlap <policy>', 'overlap policy of the backfilled ticks').choices(OVERLAP_POLICIES).default('buffer_all')),
  ).action(async (name: string, o: Common & { from: string; to: string; overlap: OverlapPolicy }) => {
    const from = new Date(o.from);
    const to = new Date(o.to);
    if (Number.isNaN(from.getTime())) throw new ValidationError([{ field: '--from', message: `"${o.from}" is not an ISO 8601 date-time` }]);
    if (Number.isNaN(to.getTime())) throw new ValidationError([{ field: '--to', message: `"${o.to}" is not an ISO 8601 date-time` }]);
    const r = await api((s) => s.backfill(name, { tenant: o.tenant, from, to, overlap: o.overlap }));
    if (o.json) return out(JSON.stringify({ name, ...r }));
    const notes = [
      r.clipped ? `--to clipped to now (${r.to}): a backfill runs past fire times only` : null,
      r.already ? `${r.already} fire time(s) of the range left alone: they ran or were decided already` : null,
    ].filter(Boolean);
    out(`backfill of ${name}: ${r.ticks} tick(s) requested in [${r.from}, ${r.to})${notes.length ? `; ${notes.join('; ')}` : ''}`);
  });

  common(cron.command('rm').description('delete a schedule and its tick history').argument('<name>').option('--cancel', 'also stop its running tick')).action(
    async (name: string, o: Common & { cancel?: boolean }) => {
      const { cancelled } = await api((s) => s.remove(name, { tenant: o.tenant, cancel: o.cancel === true }));
      out(o.json ? JSON.stringify({ name, deleted: true, cancelled }) : `deleted ${name}${cancelled.length ? `; stopping ${cancelled.length} run(s)` : ''}`);
    },
  );
}
