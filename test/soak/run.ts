/**
 * `npm run soak`: a seeded, randomized run of highway-docker with real parts (two hosts on two
 * Docker daemons, PostgreSQL, the tools and `run` workers), a nemesis injecting faults, and one
 * checker after quiescence. Reads SOAK_SEED (default: random), SOAK_SECONDS (default 60),
 * SOAK_REPORT (default soak-report.json), SOAK_FAULTS (`all`, `none`, or a comma list of kinds),
 * SOAK_CONCURRENCY (callers at once, default 8), SOAK_SCHEDULES (cron schedules, 0-5, default 5).
 * Exits 1 when a promise was broken; `SOAK_SEED=<seed> npm run soak` replays the same schedule.
 */
import { writeFileSync } from 'node:fs';
import { isTerminal, type IntentRow } from '../../src/model.js';
import { check, type CheckInput } from './checker.js';
import { FAULT_KINDS, Nemesis } from './nemesis.js';
import { Rng } from './rng.js';
import { Workload } from './workload.js';
import { World, WORKER_TIMEOUT_S } from './world.js';

const seed = Number(process.env['SOAK_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const seconds = Number(process.env['SOAK_SECONDS'] ?? 60);
const reportPath = process.env['SOAK_REPORT'] || 'soak-report.json';
const CALLER_BOUND_MS = 240_000;
const LIVENESS_BOUND_MS = Number(process.env['SOAK_LIVENESS_MS'] ?? 150_000);
const t0 = Date.now();
const log = (msg: string) => process.stderr.write(`[soak +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`SOAK_SEED: "${process.env['SOAK_SEED']}" is not a non-negative integer`);
  if (!Number.isFinite(seconds) || seconds < 5) throw new Error(`SOAK_SECONDS: "${process.env['SOAK_SECONDS']}" must be a number of seconds, at least 5`);
  log(`seed ${seed}, ${seconds} s; replay with SOAK_SEED=${seed} SOAK_SECONDS=${seconds} npm run soak`);
  // Independent streams: the workload's draws do not shift when the fault schedule changes, and back.
  const world = new World(new Rng(seed ^ 0x5eed));
  const onSignal = () => {
    log('interrupted: cleaning up');
    void world.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await world.start(log);
    const workload = new Workload(world, new Rng(seed), log);
    const nemesis = new Nemesis(world, workload, new Rng(seed * 7 + 1), log);
    await workload.startSchedules();
    const start = Date.now();
    const until = start + seconds * 1000;
    log(`hosts up (${world.hosts.map((h) => `${h.id} timeout ${h.timeoutS}s`).join(', ')}); workload and nemesis for ${seconds} s`);
    const nemesisDone = nemesis.run(start + 3_000, until - 1_000);
    await workload.run(until);
    nemesis.stop();
    await nemesisDone;

    // Quiescence: every fault healed, schedules paused, every caller returned.
    await nemesis.heal();
    const healedAt = Date.now();
    await workload.pauseSchedules();
    const pausedAt = new Date();
    log(`workload stopped; ${workload.outstanding.length} callers still waiting`);
    await Promise.race([Promise.all(workload.callers.map((c) => c.done)), sleep(CALLER_BOUND_MS)]);
    for (const c of workload.outstanding) {
      const proc = c.proc ? { pid: c.proc.pid, alive: c.proc.alive, stdout: c.proc.stdout.slice(-1500), stderr: c.proc.stderr.slice(-3000) } : undefined;
      c.steps.push({ what: 'hang', got: { after_ms: CALLER_BOUND_MS, ...(proc ? { proc } : {}) }, at: new Date().toISOString() });
    }

    // Liveness: every intent settles (terminal, container removed) within the bound after the last fault.
    const tenants = world.tenants;
    const rowsNow = async () => (await world.pool.query<IntentRow>('SELECT * FROM highway.docker_containers WHERE tenant_id = ANY($1) ORDER BY created_at', [tenants])).rows;
    const leftoversNow = async () => {
      const out: CheckInput['leftovers'] = [];
      for (const [daemon, docker] of [['main', world.mainDocker], ['hw-soak', world.second.docker]] as const) {
        const cs = await docker.listContainers({ all: true, filters: { label: [world.clusterLabel] } }).catch(() => []);
        for (const x of cs) out.push({ daemon, name: x.Names[0]?.replace(/^\//, '') ?? x.Id, state: x.State, intent_id: x.Labels['highway.intent_id'] ?? null });
      }
      return out;
    };
    let notSettled: string[] = [];
    let leftovers: CheckInput['leftovers'] = [];
    let livenessMs: number | null = null;
    for (;;) {
      const rows = await rowsNow();
      notSettled = rows.filter((r) => !isTerminal(r.status) || (!r.removed_at && r.status !== 'lost' && !r.gc_protected_until)).map((r) => r.id);
      leftovers = await leftoversNow();
      if (notSettled.length === 0 && leftovers.length === 0) {
        livenessMs = Date.now() - healedAt;
        break;
      }
      if (Date.now() - healedAt > LIVENESS_BOUND_MS) break;
      await sleep(1_000);
    }
    log(`quiescent after ${livenessMs ?? '>' + LIVENESS_BOUND_MS} ms since the last fault healed`);
    await sleep(1_500); // the daemons' last events reach the recorders

    const bystanders: CheckInput['bystanders'] = await Promise.all(
      world.bystanders.map(async (b) => {
        // A loaded daemon may be slow to answer: a few tries; only a 404 says the bystander is gone.
        for (let attempt = 1; ; attempt++) {
          try {
            const info = await b.docker.getContainer(b.id).inspect();
            return { daemon: b.daemon, id: b.id, running: !!info.State.Running, exists: true };
          } catch (err) {
            if ((err as { statusCode?: number }).statusCode === 404) return { daemon: b.daemon, id: b.id, running: false, exists: false };
            if (attempt >= 5) return { daemon: b.daemon, id: b.id, running: false };
            await sleep(1_000);
          }
        }
      }),
    );
    for (const b of bystanders) {
      b.events = world.bystanderLogs.filter((l) => l.daemon === b.daemon).flatMap((l) => l.events).filter((e) => e.id === b.id).map((e) => ({ action: e.action, timeNano: e.timeNano }));
    }
    // The soak's own daemon faults, and a minute after each (the daemon restores its containers, and
    // its containerd may die and be restarted by it: seed 19 saw that 21 s after a restart).
    const daemonFaults = nemesis.faults
      .filter((f) => f.kind === 'daemon_kill_restart')
      .map((f) => ({ daemon: f.target, from: Date.parse(f.started_at) - 1_000, to: (f.healed_at ? Date.parse(f.healed_at) : Date.now()) + 60_000 }));
    const rows = await rowsNow();
    const audit = (await world.pool.query('SELECT * FROM highway.docker_audit WHERE intent_id = ANY($1::uuid[]) OR tenant_id = ANY($2) ORDER BY id', [rows.map((r) => r.id), tenants])).rows;
    const schedRows = (await world.pool.query<{ id: string; tenant_id: string; name: string; created_at: Date }>('SELECT id, tenant_id, name, created_at FROM highway.docker_schedules WHERE tenant_id = ANY($1)', [tenants])).rows;
    const ticks = (await world.pool.query(`SELECT t.*, s.tenant_id, s.name FROM highway.docker_schedule_ticks t JOIN highway.docker_schedules s ON s.id = t.schedule_id WHERE s.tenant_id = ANY($1) ORDER BY t.scheduled_time`, [tenants])).rows;
    const schedules = workload.schedules.map((s) => {
      const r = schedRows.find((x) => x.tenant_id === s.tenant && x.name === s.name)!;
      return { ...s, id: r.id, created_at: r.created_at, paused_at: pausedAt };
    });
    const events = world.eventLogs.flatMap((e) => e.events);
    const result = check({ rows, audit, ticks, schedules, events, callers: workload.callers, leftovers, bystanders, daemonFaults, notSettled, livenessMs, livenessBoundMs: LIVENESS_BOUND_MS, workerTimeoutS: WORKER_TIMEOUT_S });

    // The report.
    const faults: Record<string, number> = {};
    for (const k of FAULT_KINDS) if (nemesis.kinds.includes(k)) faults[k] = 0;
    for (const f of nemesis.faults) faults[f.kind] = (faults[f.kind] ?? 0) + 1;
    const intents: Record<string, number> = {};
    for (const r of rows) intents[r.status] = (intents[r.status] ?? 0) + 1;
    const hostLines: Array<Record<string, unknown>> = world.hosts.flatMap((h) => h.history.flatMap((p) => p.lines.map((l) => ({ host: h.id, ...l }))));
    const historyOf = (id: string) => ({
      intent_id: id,
      row: (() => {
        const r = rows.find((x) => x.id === id);
        if (!r) return null;
        const { spec: _spec, ...rest } = r;
        return { ...rest, command: (r.spec as { command?: unknown }).command };
      })(),
      caller: workload.callers.find((c) => c.intent_id === id) ? (({ done: _d, proc: _p, ...rest }) => rest)(workload.callers.find((c) => c.intent_id === id)!) : null,
      audit: audit.filter((a) => a.intent_id === id),
      docker_events: events.filter((e) => e.attributes['highway.intent_id'] === id).map((e) => ({ daemon: e.daemon, action: e.action, id: e.id.slice(0, 12), at: new Date(e.timeNano / 1e6).toISOString(), exitCode: e.attributes['exitCode'] })),
      log_lines: hostLines.filter((l) => l['intent_id'] === id).slice(0, 60),
    });
    const involved = [...new Set(result.violations.flatMap((v) => v.intents))].slice(0, 25);
    const report = {
      seed,
      seconds,
      faults,
      intents,
      checks: result.checks,
      violations: result.violations,
      callers: workload.callers.length,
      callers_by_op: workload.callers.reduce<Record<string, number>>((acc, c) => ((acc[c.op] = (acc[c.op] ?? 0) + 1), acc), {}),
      faults_skipped: nemesis.skipped,
      host_timeouts: { initial: world.initialTimeouts, final: Object.fromEntries(world.hosts.map((h) => [h.name, h.timeoutS])) },
      bystanders,
      liveness_ms: livenessMs,
      docker_event_reconnects: Object.fromEntries(world.eventLogs.map((e) => [e.daemon, e.reconnects])),
      fault_schedule: nemesis.faults,
      histories: involved.map(historyOf),
      callers_involved: workload.callers.filter((c) => result.violations.some((v) => v.caller === c.n)).map(({ done: _d, proc: _p, ...rest }) => rest),
      replay: `SOAK_SEED=${seed} SOAK_SECONDS=${seconds} npm run soak`,
    };
    writeFileSync(reportPath, JSON.stringify(report, null, 2));

    const table: string[] = [];
    table.push(`\nsoak: seed ${seed}, ${seconds} s, ${workload.callers.length} callers, ${rows.length} intents, liveness ${livenessMs ?? 'EXCEEDED'} ms`);
    table.push('faults injected'.padEnd(28) + 'count');
    for (const [k, v] of Object.entries(faults)) table.push(`  ${k.padEnd(26)}${v}`);
    for (const [k, v] of Object.entries(nemesis.skipped)) table.push(`  ${`(skipped) ${k}`.padEnd(26)}${v}`);
    table.push('intents by final status'.padEnd(28) + 'count');
    for (const [k, v] of Object.entries(intents)) table.push(`  ${k.padEnd(26)}${v}`);
    table.push('invariant'.padEnd(28) + 'checked'.padStart(8) + 'violated'.padStart(10));
    for (const [k, v] of Object.entries(result.checks)) table.push(`  ${k.padEnd(26)}${String(v.checked).padStart(8)}${String(v.violated).padStart(10)}`);
    process.stdout.write(table.join('\n') + '\n');
    if (result.violations.length) {
      process.stdout.write(`\n${result.violations.length} VIOLATIONS (seed ${seed}; replay: ${report.replay})\n`);
      for (const v of result.violations.slice(0, 30)) process.stdout.write(`  [${v.check}] ${v.message}\n`);
      process.stdout.write(`fault schedule:\n${nemesis.faults.map((f) => `  ${f.started_at} ${f.kind} ${f.target} ${JSON.stringify(f.detail)}`).join('\n')}\n`);
      for (const h of report.histories.slice(0, 5)) process.stdout.write(`history of ${h.intent_id}:\n${JSON.stringify(h, null, 1).slice(0, 6000)}\n`);
    }
    process.stdout.write(`report: ${reportPath}\n`);
    return result.violations.length ? 1 : 0;
  } finally {
    await world.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`soak failed to run (seed ${seed}): ${(err as Error).stack ?? err}\n`);
    process.exit(2);
  },
);
