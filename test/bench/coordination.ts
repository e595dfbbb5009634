/**
 * Scenario "coordination": the cost of many hosts sharing one PostgreSQL, on the real queries.
 *
 * 1. Scale, without Docker: simulated hosts (async loops in this process, each on its own
 *    PostgreSQL connection) run the containers kind's real claim (claimIntents: placement,
 *    capacity, FOR UPDATE SKIP LOCKED, oldest first) and its real finish (patchLiveIntent to
 *    `exited` with the output, then patchIntent `removed_at` with its audit entry: what
 *    effects.ts does on collect and remove) against a backlog of intents written by
 *    highway.create_intent (insertIntent). At 1, 4, 16 and 64 hosts (BENCH_COORD_HOSTS), each
 *    with capacity BENCH_COORD_CAPACITY (default 8) and the kind's claim batch (32), on a fresh
 *    database per level: intents per second claimed and finished, claim latency p50/p99.
 *    BENCH_COORD_FULL=1 adds what a real pass also writes per intent: the reconcile read
 *    (loadReconcileState) before the start and before the collect, the start claim
 *    (claimStart) and the `running` patch with the create's audit entry.
 * 2. Idle cost, with the real `highway-docker up` (it needs a Docker daemon; it has nothing to
 *    do): one `up` alone (it leads the cluster), then two more beside it (followers), on an
 *    otherwise idle database, for BENCH_COORD_IDLE_S seconds each (default 30: a heartbeat
 *    every 10 s and a resync every 30 s at the default settings). Statements are counted by
 *    PostgreSQL itself (pg_stat_statements, every connection of the database: pool, LISTEN,
 *    leader elections), so nothing the process does is missed; the table lists the top ones.
 *
 * Its own PostgreSQL server (with pg_stat_statements), durable as a product database runs
 * (fsync, synchronous_commit, full_page_writes on; BENCH_COORD_DURABLE=0 turns them off like
 * the test server). With them on, every transaction that NOTIFYs holds PostgreSQL's
 * commit-time notify lock (Lock:object) through its WAL flush, so notifying commits of all
 * hosts run one after another: the NOTIFYs per intent set the ceiling. Each level therefore
 * runs twice by default (BENCH_COORD_NOTIFY=now,before): with the intent trigger as the
 * migrations leave it, and with the trigger before migration 028 (migration 013's, one NOTIFY
 * more per intent: at the end as well as at the removal). A listener on both channels counts
 * the NOTIFYs per intent; the finishing sessions' share of Lock:object is sampled.
 *
 * Targets (the issue's): >= 1000 intents/s at 16 hosts; claim p99 <= 20 ms at 16 hosts; an
 * idle host <= 1 query per second.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { insertIntent } from '../../src/db/queries/insert-intent.js';
import { patchIntent, patchLiveIntent, claimStart } from '../../src/db/queries/update-intent.js';
import { claimIntents, type HostOffer } from '../../src/kinds/containers/queries/claim-intents.js';
import { loadReconcileState } from '../../src/kinds/containers/queries/load-reconcile-state.js';
import { parseRunParams } from '../../src/params/schema.js';
import { startOwnPostgres, type OwnPostgres } from '../support/postgres.js';
import { TEST_IMAGE } from '../support/test-image.js';
import { spawnCli, type CliProcess } from '../support/processes.js';
import type { BenchContext, Scenario, ScenarioResult, TargetCheck } from './context.js';
import { intFromEnv, sleep } from './cancellation.js';
import { formatTable, nowMs, percentile, round } from './stats.js';

export const COORDINATION_TARGETS = { intentsPerSecondAt16: 1000, claimP99MsAt16: 20, idleQueriesPerSecond: 1 } as const;
/** The containers kind's claim batch (kind.ts CLAIM_BATCH). */
const CLAIM_BATCH = 32;

/**
 * The intent trigger: as the migrations leave it, or as before migration 028 (migration 013's
 * function re-applied). `async-remove` (an experiment, not what the product does): as migrated,
 * with the removal's transaction (the one NOTIFY of the finish) committed with
 * synchronous_commit off, so it holds the notify lock without waiting for its WAL flush.
 */
type NotifyVariant = 'now' | 'before' | 'async-remove';
const VARIANT_NAMES: Record<NotifyVariant, string> = { now: 'as migrated', before: 'before 028', 'async-remove': 'removal async (experiment)' };

interface LevelResult {
  hosts: number;
  variant: NotifyVariant;
  /** NOTIFYs a listener received per intent (write, claim, finish), by channel. */
  notifies_per_intent: number;
  notifies_by_channel: Record<string, number>;
  /** Of the finishing statements' samples (exited + removed patches), the share waiting on Lock:object. */
  finish_lock_object_pct: number;
  intents: number;
  insert_per_s: number;
  seconds: number;
  claimed_per_s: number;
  finished_per_s: number;
  claims: number;
  claim_p50_ms: number;
  claim_p99_ms: number;
  claim_max_ms: number;
  /** Each host's first claim on its fresh connection (catalog caches, planning), not in the above. */
  cold_claim_p50_ms: number;
  cold_claim_max_ms: number;
  finish_p50_ms: number;
  finish_p99_ms: number;
  max_live_per_host: number;
  /** The claim statement's own execution time in PostgreSQL (pg_stat_statements): what is not queueing. */
  claim_server_mean_ms: number;
  claim_server_max_ms: number;
  /** Where the hosts' sessions were, sampled every ~5 ms. */
  session_states: string[];
}

/** An empty database `name` on the bench's own server (dropped first if a run left one); returns its URL. */
export async function recreateDatabase(server: OwnPostgres, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(server.adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function freshDb(server: OwnPostgres, name: string): Promise<string> {
  const url = await recreateDatabase(server, name);
  const pool = createPool(url, { max: 1 });
  try {
    await migrate(pool);
    await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  } finally {
    await pool.end();
  }
  return url;
}

/** Write `n` intents the way the run tool does (highway.create_intent), 8 at a time; returns intents/s. */
async function writeIntents(url: string, n: number, labels: Record<string, string>): Promise<number> {
  const pool = createPool(url, { max: 8, applicationName: 'bench-coordination-writer' });
  try {
    let next = 0;
    const t0 = nowMs();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < n) {
          next++;
          await insertIntent(pool, {
            id: randomUUID(),
            activity_id: randomUUID(),
            workflow_run_id: randomUUID(),
            tenant_id: 'bench',
            worker_id: null,
            image: 'busybox:latest',
            spec: { image: 'busybox:latest', command: ['sh', '-c', 'exit 0'], labels },
            labels,
            warnings: [],
          });
        }
      }),
    );
    return n / ((nowMs() - t0) / 1000);
  } finally {
    await pool.end();
  }
}

/** One level: `hosts` simulated hosts drain a backlog of `intents`. */
async function runLevel(server: OwnPostgres, ctx: BenchContext, hosts: number, intents: number, capacity: number, full: boolean, variant: NotifyVariant): Promise<LevelResult> {
  const url = await freshDb(server, `coord_${hosts}_${variant.replace(/-/g, "_")}`);
  if (variant === 'before') {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(await readFile(new URL('../../migrations/013_notify_running_for_detach.sql', import.meta.url), 'utf8'));
    } finally {
      await c.end();
    }
  }
  // Counts every NOTIFY of the level, as a host's LISTEN connection receives them.
  const listener = new pg.Client({ connectionString: url, application_name: 'bench-notify-counter' });
  await listener.connect();
  const byChannel: Record<string, number> = {};
  listener.on('notification', (m) => (byChannel[m.channel] = (byChannel[m.channel] ?? 0) + 1));
  await listener.query('LISTEN highway_docker_intent; LISTEN highway_docker_done');
  const insertPerS = await writeIntents(url, intents, ctx.labels);
  const clients = await Promise.all(
    Array.from({ length: hosts }, async (_, i) => {
      const c = new pg.Client({ connectionString: url, application_name: `bench-host-${i}` });
      c.on('error', () => {});
      await c.connect();
      return c;
    }),
  );
  const claimMs: number[] = [];
  const finishMs: number[] = [];
  // What the hosts' sessions wait on while they work (pg_stat_activity, sampled): a CPU (no wait
  // event), a lock, the client (reading the next statement), or commit I/O.
  const waits = new Map<string, number>();
  let sampling = true;
  const sampler = new pg.Client({ connectionString: url, application_name: 'bench-wait-sampler' });
  await sampler.connect();
  const sampled = (async () => {
    while (sampling) {
      const r = await sampler.query<{ w: string; n: number }>(
        `SELECT CASE WHEN state <> 'active' THEN 'idle (client)'
                    ELSE (CASE WHEN query LIKE 'WITH room%' THEN 'claim ' WHEN query LIKE 'WITH updated%' THEN 'finish ' ELSE 'other ' END)
                         || COALESCE(wait_event_type || ':' || wait_event, 'running (CPU)') END AS w, count(*)::int AS n
           FROM pg_stat_activity WHERE application_name LIKE 'bench-host-%' GROUP BY 1`,
      );
      for (const row of r.rows) waits.set(row.w, (waits.get(row.w) ?? 0) + row.n);
      await sleep(5);
    }
  })();
  let claimed = 0;
  let finished = 0;
  let maxLive = 0;
  // A live host's pooled connection has claimed before: each host's first claim (limit 0: it
  // takes nothing) loads the backend's catalog caches and plans the statement. It costs 19-43 ms
  // at 16 hosts; reported on its own, not mixed into the steady state.
  const coldClaimMs = await Promise.all(
    clients.map(async (client, i) => {
      const c0 = nowMs();
      await claimIntents(client, { id: `sim-${i}`, labels: { zone: String(i % 4) }, capacity }, 0);
      return nowMs() - c0;
    }),
  );
  await sampler.query('SELECT pg_stat_statements_reset()');
  const t0 = nowMs();
  try {
    await Promise.all(
      clients.map(async (client, i) => {
        const offer: HostOffer = { id: `sim-${i}`, labels: { zone: String(i % 4) }, capacity };
        for (;;) {
          ctx.checkAborted();
          const c0 = nowMs();
          const ids = await claimIntents(client, offer, CLAIM_BATCH);
          claimMs.push(nowMs() - c0);
          if (ids.length === 0) {
            if (claimed >= intents) return;
            await sleep(5); // others hold the rest this instant (SKIP LOCKED): look again
            continue;
          }
          claimed += ids.length;
          maxLive = Math.max(maxLive, ids.length);
          for (const id of ids) {
            const f0 = nowMs();
            if (full) {
              await loadReconcileState(client, id);
              await claimStart(client, id);
              const startedAt = new Date();
              await patchLiveIntent(
                client,
                id,
                { container_id: id.replace(/-/g, '').padEnd(64, '0'), short_id: id.slice(0, 12), status: 'running', started_at: startedAt, deadline_at: new Date(startedAt.getTime() + 3_600_000) },
                { actor: offer.id, operation: 'container.create', outcome: 'ok', detail: { container_id: id } },
              );
              await loadReconcileState(client, id);
            }
            const end = new Date();
            await patchLiveIntent(client, id, {
              // A collected intent always has its container (the full lifecycle recorded it at `running`).
              ...(full ? {} : { container_id: id.replace(/-/g, '').padEnd(64, '0'), short_id: id.slice(0, 12) }),
              status: 'exited',
              exit_code: 0,
              oom_killed: false,
              stdout: 'ok\n',
              stderr: '',
              logs_truncated: false,
              finished_at: end,
              duration_ms: 1,
              error: null,
            });
            if (variant === 'async-remove') {
              await client.query('BEGIN');
              await client.query('SET LOCAL synchronous_commit = off');
              await patchIntent(client, id, { removed_at: new Date() }, { actor: offer.id, operation: 'container.remove', outcome: 'ok', detail: { container_id: null } });
              await client.query('COMMIT');
            } else {
              await patchIntent(client, id, { removed_at: new Date() }, { actor: offer.id, operation: 'container.remove', outcome: 'ok', detail: { container_id: null } });
            }
            finishMs.push(nowMs() - f0);
            finished++;
          }
        }
      }),
    );
  } finally {
    sampling = false;
    await sampled.catch(() => {});
    await sampler.end().catch(() => {});
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
  const seconds = (nowMs() - t0) / 1000;
  await sleep(200); // the last notifications in flight
  await listener.end().catch(() => {});
  const notifies = Object.values(byChannel).reduce((a, b) => a + b, 0);
  const finishSamples = [...waits].filter(([w]) => w.startsWith('finish ')).reduce((a, [, n]) => a + n, 0);
  const finishLock = waits.get('finish Lock:object') ?? 0;
  const totalWaits = [...waits.values()].reduce((a, b) => a + b, 0) || 1;
  const waitShares = [...waits].sort((a, b) => b[1] - a[1]).map(([w, n]) => `${w} ${Math.round((100 * n) / totalWaits)}%`);
  let serverMean = NaN;
  let serverMax = NaN;
  const check = new pg.Client({ connectionString: url });
  await check.connect();
  try {
    const left = await check.query<{ n: number }>(`SELECT count(*)::int AS n FROM highway.docker_containers WHERE removed_at IS NULL OR status <> 'exited'`);
    if (left.rows[0]!.n !== 0) throw new Error(`${left.rows[0]!.n} intents not finished at ${hosts} hosts`);
    const stat = await check.query<{ mean: number; max: number }>(
      `SELECT sum(s.total_exec_time) / sum(s.calls) AS mean, max(s.max_exec_time) AS max
         FROM pg_stat_statements s WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND s.query LIKE 'WITH room AS%'`,
    );
    serverMean = Number(stat.rows[0]?.mean ?? NaN);
    serverMax = Number(stat.rows[0]?.max ?? NaN);
  } finally {
    await check.end();
  }
  if (claimed !== intents || finished !== intents) throw new Error(`claimed ${claimed}, finished ${finished} of ${intents}: each intent must be claimed exactly once`);
  return {
    hosts,
    variant,
    notifies_per_intent: round(notifies / intents, 2),
    notifies_by_channel: byChannel,
    finish_lock_object_pct: finishSamples ? round((100 * finishLock) / finishSamples, 0) : 0,
    intents,
    insert_per_s: round(insertPerS, 0),
    seconds: round(seconds, 2),
    claimed_per_s: round(claimed / seconds, 0),
    finished_per_s: round(finished / seconds, 0),
    claims: claimMs.length,
    claim_p50_ms: round(percentile(claimMs, 50), 2),
    claim_p99_ms: round(percentile(claimMs, 99), 2),
    claim_max_ms: round(Math.max(...claimMs), 2),
    cold_claim_p50_ms: round(percentile(coldClaimMs, 50), 2),
    cold_claim_max_ms: round(Math.max(...coldClaimMs), 2),
    finish_p50_ms: round(percentile(finishMs, 50), 2),
    finish_p99_ms: round(percentile(finishMs, 99), 2),
    max_live_per_host: maxLive,
    claim_server_mean_ms: round(serverMean, 2),
    claim_server_max_ms: round(serverMax, 2),
    session_states: waitShares,
  };
}

interface IdleResult {
  hosts: number;
  seconds: number;
  statements: number;
  per_second: number;
  top: Array<{ query: string; calls: number; per_second: number }>;
}

async function statements(admin: pg.Client, db: string) {
  const res = await admin.query<{ query: string; calls: string }>(
    `SELECT regexp_replace(s.query, '\\s+', ' ', 'g') AS query, sum(s.calls)::bigint AS calls
       FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      WHERE d.datname = $1 GROUP BY 1`,
    [db],
  );
  return new Map(res.rows.map((r) => [r.query, Number(r.calls)]));
}

/** Count every statement of the database for `seconds` while `ups` sit idle. */
async function measureIdle(admin: pg.Client, db: string, hosts: number, seconds: number): Promise<IdleResult> {
  const before = await statements(admin, db);
  const t0 = nowMs();
  await sleep(seconds * 1000);
  const after = await statements(admin, db);
  const elapsed = (nowMs() - t0) / 1000;
  const delta = [...after].map(([query, calls]) => ({ query, calls: calls - (before.get(query) ?? 0) })).filter((d) => d.calls > 0);
  const total = delta.reduce((a, d) => a + d.calls, 0);
  return {
    hosts,
    seconds: round(elapsed, 1),
    statements: total,
    per_second: round(total / elapsed, 2),
    top: delta
      .sort((a, b) => b.calls - a.calls)
      .slice(0, 12)
      .map((d) => ({ query: d.query.slice(0, 90), calls: d.calls, per_second: round(d.calls / elapsed, 2) })),
  };
}

async function idleCost(server: OwnPostgres, ctx: BenchContext, seconds: number): Promise<{ leader: IdleResult; three: IdleResult; followerPerS: number }> {
  const url = await freshDb(server, 'coord_idle');
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  const ups: CliProcess[] = [];
  const start = async (i: number) => {
    const p = spawnCli(['up'], {
      databaseUrl: url,
      reconcilerId: `bench-idle-${ctx.runId}-${i}`,
      env: { HIGHWAY_LOG_LEVEL: 'info', HIGHWAY_HTTP_ADDR: '127.0.0.1:0' },
    });
    ups.push(p);
    ctx.sweep(`highway.reconciler_id=bench-idle-${ctx.runId}-${i}`);
    await p.waitForEvent('up.ready', undefined, 60_000);
  };
  try {
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await start(0);
    await sleep(2_000); // past the start-up (registration, first resync, first GC sweep)
    console.error(`coordination: idle, 1 host (the leader), ${seconds} s`);
    const leader = await measureIdle(admin, 'coord_idle', 1, seconds);
    await start(1);
    await start(2);
    await sleep(2_000);
    console.error(`coordination: idle, 3 hosts (1 leader, 2 followers), ${seconds} s`);
    const three = await measureIdle(admin, 'coord_idle', 3, seconds);
    return { leader, three, followerPerS: round((three.per_second - leader.per_second) / 2, 2) };
  } finally {
    for (const p of ups) p.signal('SIGTERM');
    await Promise.all(ups.map((p) => p.waitExit(20_000).catch(() => p.kill())));
    await admin.end();
  }
}

/**
 * Failover time: two real `up` processes (survivor, victim; HIGHWAY_HOST_TIMEOUT_S=3) on this
 * machine's Docker daemon. Per trial: the victim is up and beating; it is SIGKILLed; at that
 * instant it holds an intent it claimed and had not started (written claimed by it in the same
 * transaction as the intent, so no other host can claim it first: a real claim is followed by
 * its start within milliseconds, so this state is otherwise too brief to hit on purpose).
 * Measured: SIGKILL -> the intent's container started on the survivor (its started_at).
 */
async function failoverTimes(server: OwnPostgres, ctx: BenchContext, trials: number, timeoutS: number): Promise<number[]> {
  const url = await freshDb(server, 'coord_failover');
  const pool = createPool(url, { max: 2, applicationName: 'bench-coordination-failover' });
  const ids = { survivor: `bench-fo-s-${ctx.runId}`, victim: `bench-fo-v-${ctx.runId}` };
  for (const id of Object.values(ids)) ctx.sweep(`highway.reconciler_id=${id}`);
  const env = { HIGHWAY_LOG_LEVEL: 'info', HIGHWAY_HTTP_ADDR: '127.0.0.1:0', HIGHWAY_HOST_TIMEOUT_S: String(timeoutS), HIGHWAY_GC_INTERVAL_S: '3600' };
  const procs: CliProcess[] = [];
  const up = async (id: string) => {
    const p = spawnCli(['up'], { databaseUrl: url, reconcilerId: id, env });
    procs.push(p);
    await p.waitForEvent('up.ready', undefined, 60_000);
    return p;
  };
  const spec = parseRunParams({ image: TEST_IMAGE, command: ['true'], labels: ctx.labels });
  const times: number[] = [];
  try {
    await up(ids.survivor);
    for (let i = 0; i < trials; i++) {
      ctx.checkAborted();
      const victim = await up(ids.victim);
      await sleep(500);
      const killedAt = Date.now();
      victim.signal('SIGKILL');
      const client = await pool.connect();
      const id = randomUUID();
      try {
        await client.query('BEGIN');
        await insertIntent(client, { id, activity_id: randomUUID(), workflow_run_id: randomUUID(), tenant_id: 'bench', worker_id: null, image: spec.image, spec, labels: spec.labels ?? {}, warnings: [] });
        await client.query('UPDATE highway.docker_containers SET reconciler_id = $2 WHERE id = $1', [id, ids.victim]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await victim.exited;
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = (await pool.query<{ reconciler_id: string | null; started_at: Date | null }>('SELECT reconciler_id, started_at FROM highway.docker_containers WHERE id = $1', [id])).rows[0];
        if (r?.started_at && r.reconciler_id === ids.survivor) {
          times.push(r.started_at.getTime() - killedAt);
          break;
        }
        if (Date.now() > deadline) throw new Error(`failover trial ${i}: the released intent did not start on the survivor within 60 s`);
        await sleep(50);
      }
      // Its container removed before the next trial (or the end): the run leaves nothing behind.
      while (Date.now() < deadline) {
        const r = await pool.query('SELECT 1 FROM highway.docker_containers WHERE id = $1 AND removed_at IS NOT NULL', [id]);
        if (r.rowCount) break;
        await sleep(50);
      }
      console.error(`coordination: failover trial ${i + 1}/${trials}: ${times.at(-1)} ms`);
    }
    return times;
  } finally {
    for (const p of procs) p.signal('SIGTERM');
    await Promise.all(procs.map((p) => p.waitExit(20_000).catch(() => p.kill())));
    await pool.end();
  }
}

export const coordinationScenario: Scenario = {
  name: 'coordination',
  description: 'many hosts on one PostgreSQL: claim + finish throughput and claim latency at 1/4/16/64 simulated hosts (no Docker); idle statements per host (real `up`)',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const levels = (process.env['BENCH_COORD_HOSTS'] ?? '1,4,16,64').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
    const intents = intFromEnv('BENCH_COORD_INTENTS', 4000, 1);
    const capacity = intFromEnv('BENCH_COORD_CAPACITY', 8, 1);
    const idleS = intFromEnv('BENCH_COORD_IDLE_S', 30, 0);
    const full = ['1', 'true', 'yes'].includes((process.env['BENCH_COORD_FULL'] ?? '').toLowerCase());
    const durable = !['0', 'false', 'no', 'off'].includes((process.env['BENCH_COORD_DURABLE'] ?? '1').toLowerCase());
    const variants = (process.env['BENCH_COORD_NOTIFY'] ?? 'now,before').split(',').map((s) => s.trim()).filter(Boolean) as NotifyVariant[];
    for (const v of variants) if (!(v in VARIANT_NAMES)) throw new Error(`BENCH_COORD_NOTIFY: "${v}" is not one of ${Object.keys(VARIANT_NAMES).join(', ')}`);
    const flags = ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'max_connections=200'];
    if (durable) flags.push('-c', 'fsync=on', '-c', 'synchronous_commit=on', '-c', 'full_page_writes=on');
    const server = await startOwnPostgres({ flags });
    ctx.onCleanup('coordination PostgreSQL', () => server.stop());

    const results: LevelResult[] = [];
    for (const hosts of levels) {
      for (const variant of variants) {
        console.error(`coordination: ${hosts} host(s), ${intents} intents, capacity ${capacity}${full ? ', full lifecycle' : ''}, intent trigger ${VARIANT_NAMES[variant]}`);
        const r = await runLevel(server, ctx, hosts, intents, capacity, full, variant);
        console.error(`coordination: ${hosts} host(s) ${variant}: ${r.finished_per_s}/s, claim p99 ${r.claim_p99_ms} ms, ${r.notifies_per_intent} NOTIFYs per intent, finish on Lock:object ${r.finish_lock_object_pct}%`);
        results.push(r);
      }
    }
    const idle = idleS > 0 ? await idleCost(server, ctx, idleS) : null;
    const failoverTrials = intFromEnv('BENCH_COORD_FAILOVER', 10, 0);
    const failoverTimeoutS = 3;
    const failover = failoverTrials > 0 ? await failoverTimes(server, ctx, failoverTrials, failoverTimeoutS) : [];

    const at16 = results.find((r) => r.hosts === 16 && r.variant === variants[0]);
    const targets: TargetCheck[] = [];
    if (at16) {
      targets.push(
        { name: 'intents claimed and finished per second at 16 hosts', target: `>= ${COORDINATION_TARGETS.intentsPerSecondAt16}`, actual: String(at16.finished_per_s), met: at16.finished_per_s >= COORDINATION_TARGETS.intentsPerSecondAt16 },
        { name: 'claim latency p99 at 16 hosts', target: `<= ${COORDINATION_TARGETS.claimP99MsAt16} ms`, actual: `${at16.claim_p99_ms} ms`, met: at16.claim_p99_ms <= COORDINATION_TARGETS.claimP99MsAt16 },
      );
    }
    if (failover.length) {
      const max = Math.max(...failover);
      targets.push({ name: 'failover: SIGKILL -> claimed intent started elsewhere, max', target: `<= ${(failoverTimeoutS + 2) * 1000} ms (host timeout + 2 s)`, actual: `${max} ms`, met: max <= (failoverTimeoutS + 2) * 1000 });
    }
    if (idle) {
      targets.push(
        { name: 'idle statements per second, a follower host', target: `<= ${COORDINATION_TARGETS.idleQueriesPerSecond}`, actual: String(idle.followerPerS), met: idle.followerPerS <= COORDINATION_TARGETS.idleQueriesPerSecond },
        { name: 'idle statements per second, the leader host', target: `<= ${COORDINATION_TARGETS.idleQueriesPerSecond}`, actual: String(idle.leader.per_second), met: idle.leader.per_second <= COORDINATION_TARGETS.idleQueriesPerSecond },
      );
    }

    const text = [
      `claim latency as a host sees it (round trip) on a warm connection (a host's first claim, on a fresh connection, in its own column), beside the claim statement's own execution in PostgreSQL (pg_stat_statements); the rest is waiting for a CPU (${os.cpus().length} here, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at the end)`,
      `claim + finish${full ? ' (full lifecycle: + 2 reads, start claim, running patch)' : ' (end + remove)'}, ${intents} intents per level, capacity ${capacity} per host, claim batch ${CLAIM_BATCH}; PostgreSQL durability ${durable ? 'on' : 'off (fsync, synchronous_commit off)'}`,
      formatTable(
        ['hosts', 'trigger', 'NOTIFY/intent', 'finish on Lock:object', 'written/s', 'claimed/s', 'finished/s', 'claims', 'claim p50 ms', 'claim p99 ms', 'claim max ms', 'first claim p50 / max ms', 'in PG mean ms', 'in PG max ms', 'finish p50 ms', 'finish p99 ms', 'seconds'],
        results.map((r) => [r.hosts, VARIANT_NAMES[r.variant], r.notifies_per_intent, `${r.finish_lock_object_pct}%`, r.insert_per_s, r.claimed_per_s, r.finished_per_s, r.claims, r.claim_p50_ms, r.claim_p99_ms, r.claim_max_ms, `${r.cold_claim_p50_ms} / ${r.cold_claim_max_ms}`, r.claim_server_mean_ms, r.claim_server_max_ms, r.finish_p50_ms, r.finish_p99_ms, r.seconds]),
      ),
      '',
      'where the hosts\' PostgreSQL sessions were while they worked (pg_stat_activity, sampled):',
      ...results.map((r) => `  ${r.hosts} host(s), trigger ${VARIANT_NAMES[r.variant]}: ${r.session_states.join(', ')}`),
      ...(idle
        ? [
            '',
            `idle \`up\` processes, statements counted by pg_stat_statements (every connection), ${idleS} s each:`,
            formatTable(
              ['hosts', 'seconds', 'statements', 'per second', 'per host per second'],
              [
                [1, idle.leader.seconds, idle.leader.statements, idle.leader.per_second, idle.leader.per_second],
                [3, idle.three.seconds, idle.three.statements, idle.three.per_second, round(idle.three.per_second / 3, 2)],
              ],
            ),
            `leader host: ${idle.leader.per_second}/s; each follower: ${idle.followerPerS}/s`,
            '',
            'statements of the 3 idle hosts, by calls:',
            formatTable(['calls', 'per second', 'statement'], idle.three.top.map((t) => [t.calls, t.per_second, t.query])),
          ]
        : []),
      ...(failover.length
        ? [
            '',
            `failover (HIGHWAY_HOST_TIMEOUT_S=${failoverTimeoutS}): SIGKILL of a host -> its claimed, unstarted intent started on the other, ${failover.length} trials:`,
            formatTable(['trials', 'p50 ms', 'max ms', 'min ms'], [[failover.length, percentile(failover, 50), Math.max(...failover), Math.min(...failover)]]),
          ]
        : []),
      '',
      ...targets.map((t) => `${t.met ? 'MET ' : 'MISS'}  ${t.name}: ${t.actual} (target ${t.target})`),
    ].join('\n');
    return { text, json: { capacity, intents, full, durable, levels: results, idle, failover_ms: failover }, targets };
  },
};
