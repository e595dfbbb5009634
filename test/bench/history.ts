/**
 * Scenario "history": what months of history cost the queries a host and its operators run.
 *
 * Two databases on a PostgreSQL server of the scenario's own (durability on, as a product
 * database runs), both migrated, filled by set-based SQL (generate_series) into the real tables:
 *   - full:  BENCH_HISTORY_INTENTS ended intents (default 1,000,000) over the last 40 days (a
 *            quarter past the default 30-day retention), across 20 tenants, 10 per workflow run
 *            (workflow_runs rows), on 4 hosts, every 10th the run of one of 100 cron schedules
 *            (a tick row each: 1,000 ticks per schedule at the default size); and
 *            BENCH_HISTORY_AUDIT audit rows (default 1,000,000) over the same days, through the
 *            real partitioned table (a monthly partition for each past month, as migration 012
 *            made them, so rows land in their month, not the default partition);
 *   - small: what the measured listings show and nothing more: 1,000 ended intents, all ticks of
 *            one schedule, 1,000 audit rows. `ps --all` and `cron runs` return the same number
 *            of rows from both (200 and 1,000), so the difference is the history around them.
 * Then, interleaved (small, full, small, full...), on each:
 *   - claim: an intent written (highway.create_intent), then the containers kind's claim
 *     (claimIntents, on a warm connection like a host's); the intent then ends and is removed;
 *   - ps: the library call (src/cli/ps.ts) live and --all, and the `highway-docker ps` process;
 *   - cron runs: scheduleRuns (1,000 ticks with their intents), and the `cron runs` process;
 *   - start-up: `highway-docker up` spawned -> its `up.ready` line (retention set far out, so
 *     each start sees the same rows; retention is measured on its own);
 *   - retention: the leader's hourly sweep (deleteEndedIntents, 100 batches of 500, as
 *     cluster-duties.ts runs it), once with nothing past retention (its idle cost) and once for
 *     real (30 days: rows and seconds per run, per batch).
 *
 * Targets (issue 20): each query within 2x of the small database; start-up under 2 s.
 * Both databases and the server are removed at the end.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { insertIntent } from '../../src/db/queries/insert-intent.js';
import { patchIntent, patchLiveIntent } from '../../src/db/queries/update-intent.js';
import { deleteEndedIntents } from '../../src/db/queries/retention.js';
import { claimIntents, type HostOffer } from '../../src/kinds/containers/queries/claim-intents.js';
import { scheduleRuns } from '../../src/kinds/schedules/operations.js';
import { ps } from '../../src/cli/ps.js';
import { startOwnPostgres, type OwnPostgres } from '../support/postgres.js';
import { ensureBuilt, runCli, spawnCli } from '../support/processes.js';
import type { BenchContext, Scenario, ScenarioResult, TargetCheck } from './context.js';
import { intFromEnv } from './cancellation.js';
import { recreateDatabase } from './coordination.js';
import { formatTable, nowMs, percentile, round } from './stats.js';

export const HISTORY_TARGETS = { ratio: 2, startupMs: 2000 } as const;
const DAYS = 40;
const TENANTS = 20;
const HOSTS = 4;
const MEASURED_SCHEDULE = 'hist-cron-0';
const MEASURED_TENANT = 'tenant-0';

interface Shape {
  intents: number;
  audit: number;
  schedules: number;
  /** Every `cronEvery`-th intent is a cron tick's run. */
  cronEvery: number;
}

/** Fill a migrated database with `shape` of ended history; returns the seconds each part took. */
export async function fill(url: string, shape: Shape): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: url, application_name: 'bench-history-fill' });
  await c.connect();
  const took: Record<string, number> = {};
  const step = async (name: string, sql: string, values: unknown[] = []) => {
    const t0 = nowMs();
    await c.query(sql, values);
    took[name] = round((nowMs() - t0) / 1000, 1);
  };
  try {
    // Months as the product makes them (UTC).
    await c.query(`SET timezone = 'UTC'`);
    await step(
      'workflow_runs',
      `INSERT INTO highway.workflow_runs (id, tenant_id, status, created_at, updated_at)
       SELECT md5('run' || r)::uuid, 'tenant-' || (r % ${TENANTS}), 'completed', t, t
         FROM generate_series(0, ($1::int - 1) / 10) r,
              LATERAL (SELECT now() - make_interval(secs => ${DAYS} * 86400.0 * ($1::int - r * 10) / $1::int) AS t) x`,
      [shape.intents],
    );
    // Intent i: created (DAYS * (n - i) / n) days ago, ran 1-2 s, removed at once; ids derived
    // from i so the ticks and audit rows can point at them.
    await step(
      'intents',
      `INSERT INTO highway.docker_containers
         (id, container_id, short_id, activity_id, workflow_run_id, tenant_id, worker_id, reconciler_id, image, spec,
          status, error, exit_code, oom_killed, stdout, stderr, duration_ms, labels, created_at, started_at, finished_at, removed_at, updated_at)
       SELECT md5('intent' || i)::uuid, cid, left(cid, 12), md5('act' || i)::uuid, md5('run' || (i / 10))::uuid,
              'tenant-' || ((i / 10) % ${TENANTS}), 'worker-' || (i % 7), 'hist-host-' || (i % ${HOSTS}), 'busybox:latest',
              jsonb_build_object('image', 'busybox:latest', 'command', jsonb_build_array('sh', '-c', 'echo ' || i), 'labels', '{}'::jsonb),
              st, CASE WHEN st = 'failed' THEN 'image pull failed' END, CASE WHEN st = 'exited' THEN i % 3 ELSE NULL END,
              false, 'line ' || i || E'\\n', '', 1500, '{}'::jsonb,
              t, t + interval '100 ms', t + interval '1600 ms', t + interval '1800 ms', t + interval '1800 ms'
         FROM generate_series(0, $1::int - 1) i,
              LATERAL (SELECT now() - make_interval(secs => ${DAYS} * 86400.0 * ($1::int - i) / $1::int) AS t,
                              md5('c' || i) || md5('d' || i) AS cid,
                              CASE WHEN i % 100 < 90 THEN 'exited' WHEN i % 100 < 95 THEN 'failed' WHEN i % 100 < 98 THEN 'cancelled' ELSE 'timeout' END AS st) x`,
      [shape.intents],
    );
    await step(
      'schedules',
      // keep_succeeded 1000: an operator's setting that keeps each schedule's 1,000 ticks (the default prunes to 100).
      `INSERT INTO highway.docker_schedules (id, tenant_id, name, expression, params, paused, pause_note, keep_succeeded, keep_failed, last_tick_at)
       SELECT md5('sched' || s)::uuid, 'tenant-' || (s % ${TENANTS}), 'hist-cron-' || s, '0 0 1 1 *',
              jsonb_build_object('image', 'busybox:latest', 'command', jsonb_build_array('true')), true, 'bench history', 1000, 1000, now()
         FROM generate_series(0, $1::int - 1) s`,
      [shape.schedules],
    );
    await step(
      'ticks',
      `INSERT INTO highway.docker_schedule_ticks (schedule_id, scheduled_time, source, status, overlap, intent_id, outcome, lateness_ms, created_at, updated_at)
       SELECT md5('sched' || ((i / $2::int) % $3::int))::uuid, date_trunc('second', t) + make_interval(secs => (i / $2::int) % $3::int * 0.001),
              'schedule', 'started', 'skip', md5('intent' || i)::uuid, 'exited', 5, t, t
         FROM generate_series(0, $1::int - 1, $2::int) i,
              LATERAL (SELECT now() - make_interval(secs => ${DAYS} * 86400.0 * ($1::int - i) / $1::int) AS t) x`,
      [shape.intents, shape.cronEvery, shape.schedules],
    );
    // A partition per past month, as migration 012 made them for the rows it found.
    await step(
      'audit_partitions',
      `DO $$
       DECLARE m timestamptz; name text;
       BEGIN
         FOR m IN SELECT generate_series(date_trunc('month', now() - interval '${DAYS} days'), date_trunc('month', now()) - interval '1 month', interval '1 month') LOOP
           name := format('docker_audit_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
           IF to_regclass('highway.' || name) IS NULL THEN
             EXECUTE format('CREATE TABLE highway.%I PARTITION OF highway.docker_audit FOR VALUES FROM (%L) TO (%L)', name, m, m + interval '1 month');
             EXECUTE format('CREATE TRIGGER docker_audit_no_truncate BEFORE TRUNCATE ON highway.%I FOR EACH STATEMENT EXECUTE FUNCTION highway.docker_audit_append_only()', name);
           END IF;
         END LOOP;
       END $$`,
    );
    await step(
      'audit',
      `INSERT INTO highway.docker_audit (at, tenant_id, actor, intent_id, operation, outcome, detail)
       SELECT now() - make_interval(secs => ${DAYS} * 86400.0 * ($1::int - a) / $1::int),
              'tenant-' || ((k / 10) % ${TENANTS}), 'hist-host-' || (k % ${HOSTS}), md5('intent' || k)::uuid,
              (ARRAY['tools.docker.run', 'container.create', 'container.remove'])[a % 3 + 1], 'ok',
              jsonb_build_object('container_id', md5('c' || k) || md5('d' || k))
         FROM generate_series(0, $1::int - 1) a,
              LATERAL (SELECT (a::bigint * $2::int / $1::int)::int AS k) x`,
      [shape.audit, shape.intents],
    );
    // A database months old has been vacuumed and analysed by autovacuum.
    await step('vacuum_analyze', 'VACUUM ANALYZE');
    const counts = await c.query<{ intents: number; audit: number; in_default: number; ticks: number }>(
      `SELECT (SELECT count(*)::int FROM highway.docker_containers) AS intents, (SELECT count(*)::int FROM highway.docker_audit) AS audit,
              (SELECT count(*)::int FROM highway.docker_audit_default) AS in_default, (SELECT count(*)::int FROM highway.docker_schedule_ticks) AS ticks`,
    );
    const r = counts.rows[0]!;
    if (r.intents !== shape.intents || r.audit !== shape.audit) throw new Error(`history fill: ${r.intents} intents, ${r.audit} audit rows (wanted ${shape.intents}, ${shape.audit})`);
    if (r.in_default !== 0) throw new Error(`history fill: ${r.in_default} audit rows in the default partition`);
    took['ticks_rows'] = r.ticks;
    return took;
  } finally {
    await c.end();
  }
}

interface Db {
  label: 'small' | 'full';
  url: string;
  pool: Pool;
  claimer: pg.Client;
}

async function makeDb(server: OwnPostgres, label: Db['label'], shape: Shape): Promise<Db & { fill: Record<string, number> }> {
  const name = `hist_${label}`;
  const url = await recreateDatabase(server, name);
  const pool = createPool(url, { max: 4, applicationName: `bench-history-${label}` });
  await migrate(pool);
  console.error(`history: filling ${label}: ${shape.intents} intents, ${shape.audit} audit rows`);
  const took = await fill(url, shape);
  console.error(`history: ${label} filled (${JSON.stringify(took)})`);
  const claimer = new pg.Client({ connectionString: url, application_name: `bench-history-claimer-${label}` });
  await claimer.connect();
  return { label, url, pool, claimer, fill: took };
}

const OFFER: HostOffer = { id: 'hist-host-0', labels: {}, capacity: 8 };

/** Write one intent, claim it as a host does, then end and remove it. Returns [write ms, claim ms]. */
async function claimTrial(db: Db): Promise<[number, number]> {
  const id = randomUUID();
  const t0 = nowMs();
  await insertIntent(db.pool, {
    id,
    activity_id: randomUUID(),
    workflow_run_id: randomUUID(),
    tenant_id: MEASURED_TENANT,
    worker_id: null,
    image: 'busybox:latest',
    spec: { image: 'busybox:latest', command: ['true'], labels: {} },
    labels: {},
    warnings: [],
  });
  const t1 = nowMs();
  const ids = await claimIntents(db.claimer, OFFER, 32);
  const t2 = nowMs();
  if (!ids.includes(id)) throw new Error(`history ${db.label}: the claim did not take the intent just written (took ${ids.length})`);
  for (const x of ids) {
    await patchLiveIntent(db.pool, x, { container_id: x.replace(/-/g, '').padEnd(64, '0'), short_id: x.slice(0, 12), status: 'exited', exit_code: 0, finished_at: new Date(), duration_ms: 1 });
    await patchIntent(db.pool, x, { removed_at: new Date() });
  }
  return [t1 - t0, t2 - t1];
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = nowMs();
  await fn();
  return nowMs() - t0;
}

async function cliTime(db: Db, args: string[]): Promise<number> {
  const t0 = nowMs();
  const r = await runCli(args, { DATABASE_URL: db.url, HIGHWAY_LOG_LEVEL: 'error' });
  const ms = nowMs() - t0;
  if (r.code !== 0) throw new Error(`highway-docker ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-500)}`);
  return ms;
}

const startupParts: Record<'small' | 'full', number[]> = { small: [], full: [] };

async function startupTime(ctx: BenchContext, db: Db): Promise<number> {
  const reconcilerId = OFFER.id;
  ctx.sweep(`highway.reconciler_id=${reconcilerId}`);
  const t0 = nowMs();
  const p = spawnCli(['up'], {
    databaseUrl: db.url,
    reconcilerId,
    env: { HIGHWAY_LOG_LEVEL: 'info', HIGHWAY_RETENTION_DAYS: '36500' },
  });
  try {
    await p.waitForEvent('up.ready', undefined, 60_000);
    const total = nowMs() - t0;
    // Its first line (the HTTP server up: Node and the modules loaded, nothing read yet) -> ready: the part history could move.
    const first = p.lines.find((l) => l['event'] === 'http.listening');
    const ready = p.lines.find((l) => l['event'] === 'up.ready');
    if (first && ready) startupParts[db.label].push(Date.parse(String(ready['time'])) - Date.parse(String(first['time'])));
    return total;
  } finally {
    p.signal('SIGTERM');
    await p.waitExit(20_000).catch(() => p.kill());
  }
}

/** The leader's hourly sweep, batch by batch (the same statement deleteEndedIntents runs 100 times). */
async function retentionRun(db: Db, olderThanDays: number): Promise<{ rows: number; ms: number; batch_p50_ms: number; batch_max_ms: number; batches: number }> {
  const batchMs: number[] = [];
  let rows = 0;
  const t0 = nowMs();
  for (let b = 0; b < 100; b++) {
    const b0 = nowMs();
    const n = await deleteEndedIntents(db.pool, { olderThanDays, maxBatches: 1 });
    batchMs.push(nowMs() - b0);
    rows += n;
    if (n < 500) break;
  }
  return { rows, ms: round(nowMs() - t0, 1), batch_p50_ms: round(percentile(batchMs, 50), 2), batch_max_ms: round(Math.max(...batchMs), 2), batches: batchMs.length };
}

/** EXPLAIN ANALYZE of the measured statements on `db`, each summarised as its plan's node types and the execution time. */
async function explainAll(db: Db): Promise<Record<string, string>> {
  const scheduleId = (await db.pool.query<{ id: string }>(`SELECT id FROM highway.docker_schedules WHERE tenant_id = $1 AND name = $2`, [MEASURED_TENANT, MEASURED_SCHEDULE])).rows[0]!.id;
  const statements: Record<string, string> = {
    claim: `WITH room AS (SELECT LEAST(32, 8 - (SELECT count(*)::int FROM highway.docker_containers WHERE reconciler_id = 'hist-host-0' AND removed_at IS NULL
                AND status IN ('pending', 'pulling', 'created', 'running', 'stopping'))) AS n),
             picked AS (SELECT c.id FROM highway.docker_containers c WHERE c.reconciler_id IS NULL AND c.removed_at IS NULL AND c.status = 'pending'
                AND (c.spec->'placement'->>'host' IS NULL OR c.spec->'placement'->>'host' = 'hist-host-0')
                AND (c.spec->'placement'->'labels' IS NULL OR '{}'::jsonb @> (c.spec->'placement'->'labels'))
                ORDER BY c.created_at LIMIT GREATEST(0, (SELECT n FROM room)) FOR UPDATE SKIP LOCKED)
             UPDATE highway.docker_containers c SET reconciler_id = 'hist-host-0', pending_reason = NULL, updated_at = now() FROM picked WHERE c.id = picked.id RETURNING c.id`,
    ps: `SELECT id FROM highway.docker_containers WHERE removed_at IS NULL ORDER BY created_at DESC LIMIT 200`,
    'ps --all': `SELECT id FROM highway.docker_containers ORDER BY created_at DESC LIMIT 200`,
    'cron runs': `WITH t AS MATERIALIZED (SELECT * FROM highway.docker_schedule_ticks WHERE schedule_id = '${scheduleId}' ORDER BY scheduled_time DESC LIMIT 1000)
                  SELECT t.*, c.status, c.exit_code, c.result_error FROM t LEFT JOIN highway.docker_containers c ON c.id = t.intent_id ORDER BY t.scheduled_time DESC`,
    retention: `DELETE FROM highway.docker_containers WHERE id IN (SELECT id FROM highway.docker_containers WHERE removed_at < now() - interval '30 days'
                  AND status IN ('exited', 'failed', 'timeout', 'cancelled', 'lost') AND (gc_protected_until IS NULL OR gc_protected_until < now())
                  ORDER BY removed_at LIMIT 500 FOR UPDATE SKIP LOCKED)`,
  };
  const out: Record<string, string> = {};
  const c = await db.pool.connect();
  try {
    for (const [name, sql] of Object.entries(statements)) {
      await c.query('BEGIN');
      try {
        const r = await c.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode; 'Execution Time': number }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`);
        const plan = r.rows[0]!['QUERY PLAN'][0]!;
        out[name] = `${round(plan['Execution Time'], 2)} ms: ${nodes(plan.Plan).join(' > ')}`;
      } finally {
        await c.query('ROLLBACK');
      }
    }
  } finally {
    c.release();
  }
  return out;
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function nodes(p: PlanNode): string[] {
  const self = `${p['Node Type']}${p['Index Name'] ? ` (${p['Index Name']})` : p['Relation Name'] ? ` (${p['Relation Name']})` : ''}`;
  return [self, ...(p.Plans ?? []).flatMap(nodes)];
}

interface Series {
  name: string;
  small: number[];
  full: number[];
}

function summary(s: Series) {
  const p50s = percentile(s.small, 50);
  const p50f = percentile(s.full, 50);
  return {
    name: s.name,
    n: s.full.length,
    small_p50_ms: round(p50s, 2),
    small_p99_ms: round(percentile(s.small, 99), 2),
    full_p50_ms: round(p50f, 2),
    full_p99_ms: round(percentile(s.full, 99), 2),
    ratio_p50: round(p50f / p50s, 2),
  };
}

export const historyScenario: Scenario = {
  name: 'history',
  description: 'long history: 1,000,000 ended intents and 1,000,000 audit rows against a small database: claim, ps, cron runs, start-up, retention',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const intents = intFromEnv('BENCH_HISTORY_INTENTS', 1_000_000, 1000);
    const auditRows = intFromEnv('BENCH_HISTORY_AUDIT', 1_000_000, 1000);
    const trials = intFromEnv('BENCH_HISTORY_TRIALS', 50, 1);
    const cliTrials = intFromEnv('BENCH_HISTORY_CLI_TRIALS', 5, 1);
    const startups = intFromEnv('BENCH_HISTORY_STARTUPS', 3, 0);
    ensureBuilt();
    const server = await startOwnPostgres({ flags: ['-c', 'fsync=on', '-c', 'synchronous_commit=on', '-c', 'full_page_writes=on', '-c', 'max_connections=100'] });
    ctx.onCleanup('history PostgreSQL', () => server.stop());
    const dbs: Db[] = [];
    try {
      const small = await makeDb(server, 'small', { intents: 1000, audit: 1000, schedules: 1, cronEvery: 1 });
      dbs.push(small);
      const schedules = 100;
      const full = await makeDb(server, 'full', { intents, audit: auditRows, schedules, cronEvery: Math.max(1, Math.floor(intents / (schedules * 1000))) });
      dbs.push(full);
      const both = [small, full] as const;

      const series: Series[] = [];
      const measure = async (name: string, n: number, fn: (db: Db) => Promise<number>) => {
        const s: Series = { name, small: [], full: [] };
        for (const db of both) await fn(db); // warm: caches, prepared statements, the first process
        for (let i = 0; i < n; i++) {
          ctx.checkAborted();
          for (const db of both) s[db.label].push(await fn(db));
        }
        series.push(s);
        console.error(`history: ${name}: ${JSON.stringify(summary(s))}`);
        return s;
      };
      const writeMs: Record<'small' | 'full', number[]> = { small: [], full: [] };
      await claimIntents(small.claimer, OFFER, 0);
      await claimIntents(full.claimer, OFFER, 0);
      await measure('claim (the claim statement, warm connection)', trials, async (db) => {
        const [w, c] = await claimTrial(db);
        writeMs[db.label].push(w);
        return c;
      });
      series.push({ name: 'intent written (create_intent)', ...writeMs });
      await measure('ps (library: live intents)', trials, (db) => timed(() => ps(db.pool, {})));
      await measure('ps --all (library: newest 200)', trials, (db) => timed(() => ps(db.pool, { all: true })));
      await measure('cron runs (library: 1,000 ticks)', trials, (db) => timed(() => scheduleRuns(db.pool, MEASURED_TENANT, MEASURED_SCHEDULE)));
      await measure('`highway-docker ps` (process)', cliTrials, (db) => cliTime(db, ['ps']));
      await measure('`highway-docker ps --all` (process)', cliTrials, (db) => cliTime(db, ['ps', '--all']));
      await measure('`highway-docker cron runs` (process)', cliTrials, (db) => cliTime(db, ['cron', 'runs', MEASURED_SCHEDULE, '--tenant', MEASURED_TENANT]));
      await measure('`highway-docker --version` (process floor: no database)', cliTrials, (db) => cliTime(db, ['--version']));
      const startup = startups > 0 ? await measure('`up` start-up (spawn -> up.ready)', startups, (db) => startupTime(ctx, db)) : null;
      if (startup) series.push({ name: '`up` start-up after its modules loaded (first log line -> up.ready)', small: startupParts.small.slice(1), full: startupParts.full.slice(1) });

      const plans = await explainAll(full);
      // Retention: its idle cost (nothing past 100 years), then a real run (30 days) on each.
      const retention = {
        idle: { small: await retentionRun(small, 36500), full: await retentionRun(full, 36500) },
        real: { small: await retentionRun(small, 30), full: await retentionRun(full, 30) },
      };
      console.error(`history: retention ${JSON.stringify(retention)}`);

      const rows = series.map(summary);
      const targets: TargetCheck[] = rows
        .filter((r) => !r.name.startsWith('`up` start-up (spawn'))
        .map((r) => ({ name: `history: ${r.name}, p50 full / small`, target: `<= ${HISTORY_TARGETS.ratio}x`, actual: `${r.ratio_p50}x (${r.full_p50_ms} vs ${r.small_p50_ms} ms)`, met: r.ratio_p50 <= HISTORY_TARGETS.ratio }));
      if (startup) {
        const worst = Math.max(...startup.full);
        targets.push({ name: 'history: `up` start-up on the full database, max', target: `< ${HISTORY_TARGETS.startupMs} ms`, actual: `${round(worst, 0)} ms`, met: worst < HISTORY_TARGETS.startupMs });
      }
      const idleRatio = retention.idle.full.ms / Math.max(retention.idle.small.ms, 0.001);
      targets.push({ name: 'history: retention sweep with nothing to delete, full / small', target: `<= ${HISTORY_TARGETS.ratio}x`, actual: `${round(idleRatio, 2)}x (${retention.idle.full.ms} vs ${retention.idle.small.ms} ms)`, met: idleRatio <= HISTORY_TARGETS.ratio });

      const r = retention.real.full;
      const text = [
        `full: ${intents} ended intents over ${DAYS} days (${TENANTS} tenants, ${schedules} cron schedules, ${full.fill['ticks_rows']} ticks), ${auditRows} audit rows; small: 1000 intents, 1 schedule (1000 ticks), 1000 audit rows; PostgreSQL durability on`,
        `fill, seconds: ${JSON.stringify(full.fill)}`,
        formatTable(
          ['measurement', 'n', 'small p50 ms', 'small p99 ms', 'full p50 ms', 'full p99 ms', 'full / small (p50)'],
          rows.map((x) => [x.name, x.n, x.small_p50_ms, x.small_p99_ms, x.full_p50_ms, x.full_p99_ms, x.ratio_p50]),
        ),
        '',
        'retention (the leader\'s hourly sweep: up to 100 statements of 500 rows):',
        formatTable(
          ['run', 'database', 'rows', 'statements', 'ms', 'statement p50 ms', 'statement max ms'],
          [
            ['nothing past retention', 'small', retention.idle.small.rows, retention.idle.small.batches, retention.idle.small.ms, retention.idle.small.batch_p50_ms, retention.idle.small.batch_max_ms],
            ['nothing past retention', 'full', retention.idle.full.rows, retention.idle.full.batches, retention.idle.full.ms, retention.idle.full.batch_p50_ms, retention.idle.full.batch_max_ms],
            ['30 days', 'small', retention.real.small.rows, retention.real.small.batches, retention.real.small.ms, retention.real.small.batch_p50_ms, retention.real.small.batch_max_ms],
            ['30 days', 'full', r.rows, r.batches, r.ms, r.batch_p50_ms, r.batch_max_ms],
          ],
        ),
        `retention's cost per hour at this history: ${round(r.ms / 1000, 2)} s of one connection for ${r.rows} rows (${r.rows ? round((r.ms / r.rows) * 1000, 1) : 0} ms per 1000 rows); at ${round(intents / DAYS / 24, 0)} ended intents an hour it keeps up with up to 50,000 an hour`,
        '',
        'plans on the full database (EXPLAIN ANALYZE; the claim and the retention statement rolled back):',
        ...Object.entries(plans).map(([k, v]) => `  ${k}: ${v}`),
        '',
        ...targets.map((t) => `${t.met ? 'MET ' : 'MISS'}  ${t.name}: ${t.actual} (target ${t.target})`),
      ].join('\n');
      return { text, json: { intents, audit: auditRows, fill_seconds: full.fill, measurements: rows, retention, plans }, targets };
    } finally {
      for (const db of dbs) {
        await db.claimer.end().catch(() => {});
        await db.pool.end().catch(() => {});
      }
      // The server (and with it both databases and its data directory) goes at the driver's cleanup.
    }
  },
};
