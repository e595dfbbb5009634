/**
 * The benchmark driver behind `npm run bench`: runs the chosen scenarios in one process,
 * prints their tables, writes bench-results.json, and removes everything it created (by
 * label) at the end, pass or fail, also on Ctrl-C.
 *
 * Environment:
 *   BENCH_SCENARIOS    comma-separated scenario names (default: throughput,cancellation,orphan,cron,exec,images,burst;
 *                      exec, images and burst together take about 2 minutes: BENCH_SCENARIOS=exec,images,burst runs them alone)
 *   BENCH_N            containers per mode and concurrency (default 100)
 *   BENCH_MODES        highway,dockerode,cli (default); also dockerode-hwcfg
 *   BENCH_CONCURRENCY  concurrency levels (default 1,8)
 *   BENCH_ROUNDS       rounds per level, the modes' order rotating each round (default: N at
 *                      concurrency 1, i.e. the modes alternate container by container; else the number of modes)
 *   BENCH_WARMUP       warm-up containers per mode and level (default 3)
 *   BENCH_TRACE=1      trace highway-docker's critical path per intent and print a breakdown
 *   BENCH_OUT          JSON output path (default bench-results.json)
 *   BENCH_LOG_LEVEL    highway-docker's log level, to stderr (default error)
 *   BENCH_CANCEL_TRIALS  cancellation: trials per mode (default 30); BENCH_CANCEL_SETTLE_MS (default 250)
 *   BENCH_CRON_TICKS     cron: ticks of a one-second schedule (default 100); BENCH_CRON_BASELINE dockerode runs (default 20)
 *   BENCH_ORPHAN_TRIALS  orphan: SIGKILLed workers (default 10); BENCH_ORPHAN_WORKER_TIMEOUT_S (default 2)
 *   BENCH_EXEC_N         exec: execs of `true` per mode in one running container (default 100)
 *   BENCH_IMAGES_N       images: tools.docker.images and listImages calls per mode (default 200)
 *   BENCH_BURST_N        burst: sh -c 'sleep 1' containers per mode (default 200); BENCH_BURST_WORKERS dockerode workers (default 8)
 *   BENCH_SCENARIOS=coordination  (not in the default list: ~2 minutes) many hosts on one PostgreSQL, no Docker for
 *                      the scale part: BENCH_COORD_HOSTS (default 1,4,16,64), BENCH_COORD_INTENTS per level (default 4000),
 *                      BENCH_COORD_CAPACITY per host (default 8), BENCH_COORD_FULL=1 (the whole row lifecycle),
 *                      BENCH_COORD_IDLE_S (default 30; 0 skips the idle `up` measurement), BENCH_COORD_DURABLE=0 (fsync and
 *                      synchronous_commit off; on by default), BENCH_COORD_NOTIFY (default now,before: each level also with
 *                      the intent trigger before migration 028, one NOTIFY more per intent; `now` alone skips that;
 *                      `async-remove` adds an experiment: the removal committed with synchronous_commit off)
 *   BENCH_SCENARIOS=history  (not in the default list: minutes) 1,000,000 ended intents and audit rows against a small
 *                      database: BENCH_HISTORY_INTENTS, BENCH_HISTORY_AUDIT (default 1000000 each), BENCH_HISTORY_TRIALS
 *                      (default 50), BENCH_HISTORY_CLI_TRIALS (default 5), BENCH_HISTORY_STARTUPS (default 3)
 *   BENCH_SCENARIOS=many,noisy,bigoutput,throughput  the scale envelope (issue 20; not in the default list, ~30 minutes;
 *                      with BENCH_MODES=highway,dockerode-hwcfg,dockerode): see many.ts, noisy.ts, bigoutput.ts and
 *                      docs/benchmarks.md ("Scale envelope") for their sizes (BENCH_MANY_*, BENCH_NOISY_*, BENCH_BIG_*)
 *   TEST_DATABASE_URL  use this PostgreSQL instead of an embedded one; DOCKER_HOST as usual
 *
 * Adding a scenario: a module exporting a `Scenario` (see context.ts), listed in SCENARIOS.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';
import { connectDocker } from '../support/docker-env.js';
import { stopPostgresServer } from '../support/postgres.js';
import { ensureTestImage } from '../support/test-image.js';
import { BenchContext, settingsFromEnv, type Scenario, type TargetCheck } from './context.js';
import { throughputScenario } from './throughput.js';
import { cancellationScenario } from './cancellation.js';
import { orphanScenario } from './orphan.js';
import { cronScenario } from './cron.js';
import { execScenario } from './exec.js';
import { imagesScenario } from './images.js';
import { burstScenario } from './burst.js';
import { coordinationScenario } from './coordination.js';
import { historyScenario } from './history.js';
import { manyScenario } from './many.js';
import { noisyScenario } from './noisy.js';
import { bigOutputScenario } from './bigoutput.js';

const SCENARIOS: Record<string, Scenario> = {
  [throughputScenario.name]: throughputScenario,
  [cancellationScenario.name]: cancellationScenario,
  [orphanScenario.name]: orphanScenario,
  [cronScenario.name]: cronScenario,
  [execScenario.name]: execScenario,
  [imagesScenario.name]: imagesScenario,
  [burstScenario.name]: burstScenario,
  // Not in the default list: it takes ~2 minutes (run it with BENCH_SCENARIOS=coordination).
  [coordinationScenario.name]: coordinationScenario,
  // Not in the default list: filling 1,000,000 intents and audit rows takes minutes (BENCH_SCENARIOS=history).
  [historyScenario.name]: historyScenario,
  // The scale envelope (issue 20), not in the default list: BENCH_SCENARIOS=many,noisy,bigoutput,throughput.
  [manyScenario.name]: manyScenario,
  [noisyScenario.name]: noisyScenario,
  [bigOutputScenario.name]: bigOutputScenario,
};

async function dockerVersion(): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('docker', ['version', '--format', '{{.Server.Version}} (API {{.Server.APIVersion}})']);
    return stdout.trim();
  } catch {
    return 'unknown';
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

async function main(): Promise<number> {
  const settings = settingsFromEnv();
  const names = (process.env['BENCH_SCENARIOS'] ?? 'throughput,cancellation,orphan,cron,exec,images,burst')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const scenarios = names.map((n) => {
    const s = SCENARIOS[n];
    if (!s) throw new Error(`unknown scenario "${n}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
    return s;
  });

  const docker = await connectDocker();
  await ensureTestImage(docker);
  const ctx = new BenchContext(docker, settings);
  const startedAt = new Date();
  const loadAtStart = os.loadavg();
  console.error(`machine: ${os.cpus().length} CPUs, load average ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}`);
  console.error(`bench run ${ctx.runId}: scenarios ${names.join(', ')}; N=${settings.n}, modes ${settings.modes.join(',')}, concurrency ${settings.concurrency.join(',')}`);

  // First signal: start no new containers, let the ones in flight finish, clean up as usual.
  // Second signal: clean up now and exit.
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (!interrupted) {
      interrupted = true;
      console.error(`\n${sig}: finishing the containers in flight, then cleaning up (again to force)...`);
      ctx.abort(`interrupted by ${sig}`);
      return;
    }
    console.error(`\n${sig}: cleaning up now...`);
    void ctx
      .cleanup()
      .then(() => stopPostgresServer())
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results: Record<string, unknown> = {};
  const targets: Array<TargetCheck & { scenario: string }> = [];
  let failed = false;
  try {
    for (const s of scenarios) {
      console.error(`\n== ${s.name}: ${s.description}`);
      try {
        const r = await s.run(ctx);
        results[s.name] = r.json;
        targets.push(...r.targets.map((t) => ({ ...t, scenario: s.name })));
        console.log(`\n== ${s.name}\n\n${r.text}\n`);
      } catch (err) {
        failed = true;
        results[s.name] = { error: (err as Error).stack ?? String(err) };
        console.error(`scenario ${s.name} failed: ${(err as Error).stack ?? err}`);
      }
    }
  } finally {
    const leftovers = await ctx.cleanup();
    await stopPostgresServer().catch((err) => console.error(`stopping PostgreSQL failed: ${(err as Error).message}`));
    const remaining = await ctx.remaining();
    console.error(`cleanup: removed ${leftovers} leftover container(s); ${remaining} remain labelled for this run`);
    if (!interrupted) {
      const out = {
        run_id: ctx.runId,
        started_at: startedAt.toISOString(),
        finished_at: new Date().toISOString(),
        machine: {
          cpus: os.cpus().length,
          cpu_model: os.cpus()[0]?.model ?? 'unknown',
          node: process.version,
          docker: await dockerVersion(),
          // Other work on the machine (and on the same Docker daemon) skews every mode; the rotation spreads it evenly.
          load_average_1_5_15: { at_start: loadAtStart.map(round2), at_end: os.loadavg().map(round2) },
        },
        settings,
        targets,
        scenarios: results,
        cleanup: { removed_leftovers: leftovers, remaining },
      };
      await writeFile(settings.out, `${JSON.stringify(out, null, 2)}\n`);
      console.error(`results written to ${settings.out}`);
    }
  }

  // Missed performance targets are findings, not crashes: exit 0 unless something failed to run.
  if (interrupted) return 130;
  return failed || targets.some((t) => t.name === 'every container ran to its end') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
