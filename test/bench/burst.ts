/**
 * Scenario "burst" (issue 8): BENCH_BURST_N (default 200) containers of `sh -c 'sleep 1'`,
 * per mode, one mode after the other:
 *   highway    every intent at once through tools.docker.run (the reconciler's own
 *              concurrency decides how many are worked on at a time)
 *   dockerode  8 workers (BENCH_BURST_WORKERS), each: create, start, wait, logs, remove
 * Measured per container: its exit (Docker's FinishedAt; for highway as the reconciler
 * recorded it in finished_at, for dockerode from an inspect made beside the logs read) ->
 * the caller has its result (highway: tools.docker.run returned; dockerode: that worker has
 * read the output), p50/p99. Also the peak number of exited-but-not-removed containers (the
 * daemon's list of this mode's containers with status exited, sampled every 100 ms), the
 * total wall time, and CPU per container of this process (the highway-docker reconciler and
 * tools run in it) and of PostgreSQL.
 *
 * Clocks: FinishedAt is the daemon's wall clock, the result time this host's (performance
 * .timeOrigin + now): comparable only because the daemon runs on this host.
 */
import type Docker from 'dockerode';
import type { DockerRunResult } from '../../src/tools/docker-run.js';
import { removeByLabel } from '../support/docker-env.js';
import { TEST_IMAGE } from '../support/test-image.js';
import type { BenchContext, Scenario, ScenarioResult, TargetCheck } from './context.js';
import { intFromEnv, scenarioLabels, sleep, wallNowMs } from './cancellation.js';
import { HighwayStack } from './highway.js';
import { CpuMeter, type CpuSample } from './cpu.js';
import { fmt, formatTable, round, summarizeLatencies, type LatencySummary } from './stats.js';
import { randomUUID } from 'node:crypto';

const COMMAND = ['sh', '-c', 'sleep 1'];
const SAMPLE_EVERY_MS = 100;
/** A container that has not been run to its end after this long is a failure, not a hang. */
const CONTAINER_TIMEOUT_MS = 300_000;

/** Docker's RFC 3339 time (nanoseconds) in epoch milliseconds, keeping the sub-millisecond part. */
export function dockerTimeMs(s: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return Date.parse(s);
  return Date.parse(`${m[1]}${m[3]}`) + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

/** Samples, every 100 ms, how many of a label's containers exist with status exited; keeps the peak. */
class ExitedSampler {
  peak = 0;
  samples = 0;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly docker: Docker,
    private readonly label: string,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const t = performance.now();
      try {
        const list = await this.docker.listContainers({ all: true, filters: { label: [this.label], status: ['exited'] } });
        this.peak = Math.max(this.peak, list.length);
        this.samples++;
      } catch {
        // a failed sample is skipped
      }
      await sleep(Math.max(0, SAMPLE_EVERY_MS - (performance.now() - t)));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

interface ModeOutcome {
  mode: string;
  n: number;
  ok: number;
  failures: string[];
  wall_ms: number;
  exit_to_result: LatencySummary;
  peak_exited_not_removed: number;
  samples: number;
  cpu_ms_per_container: CpuSample;
}

function perContainer(cpu: CpuSample, n: number): CpuSample {
  const k = Math.max(1, n);
  return { node: round(cpu.node / k), postgres: round(cpu.postgres / k), docker: round(cpu.docker / k), machine: round(cpu.machine / k) };
}

async function highwayBurst(ctx: BenchContext, stack: HighwayStack, n: number, labels: Record<string, string>, label: string): Promise<ModeOutcome> {
  const sampler = new ExitedSampler(ctx.docker, label);
  const cpu0 = ctx.cpu.sample();
  const t0 = performance.now();
  const results: Array<{ intent: string; at: number }> = [];
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: n }, async () => {
      try {
        const r: DockerRunResult = await stack.run({ command: COMMAND, labels }, stack.activity({ signal: AbortSignal.timeout(CONTAINER_TIMEOUT_MS) }));
        const at = wallNowMs();
        if (r.status !== 'exited' || r.exit_code !== 0) throw new Error(`intent ${r.intent_id} ended ${r.status} (exit ${r.exit_code}): ${r.error ?? ''}`);
        results.push({ intent: r.intent_id, at });
      } catch (err) {
        failures.push((err as Error).message);
      }
    }),
  );
  const wall = performance.now() - t0;
  const cpu = CpuMeter.diff(cpu0, ctx.cpu.sample());
  await sampler.stop();
  const rows = await stack.db.pool.query<{ id: string; finished_at: Date | null }>(
    'SELECT id, finished_at FROM highway.docker_containers WHERE id = ANY($1::uuid[])',
    [results.map((r) => r.intent)],
  );
  const finished = new Map(rows.rows.map((r) => [r.id, r.finished_at]));
  const latencies = results.flatMap((r) => {
    const f = finished.get(r.intent);
    return f ? [r.at - f.getTime()] : [];
  });
  return {
    mode: 'highway',
    n,
    ok: results.length,
    failures,
    wall_ms: round(wall),
    exit_to_result: summarizeLatencies(latencies),
    peak_exited_not_removed: sampler.peak,
    samples: sampler.samples,
    cpu_ms_per_container: perContainer(cpu, results.length),
  };
}

async function dockerodeBurst(ctx: BenchContext, n: number, workers: number, labels: Record<string, string>, label: string): Promise<ModeOutcome> {
  const docker = ctx.docker;
  const options: Docker.ContainerCreateOptions = { Image: TEST_IMAGE, Cmd: COMMAND, Labels: labels, HostConfig: { NetworkMode: 'none' } };
  const sampler = new ExitedSampler(docker, label);
  const cpu0 = ctx.cpu.sample();
  const t0 = performance.now();
  const latencies: number[] = [];
  const failures: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, n) }, async () => {
      while (next < n && !ctx.signal.aborted) {
        next++;
        try {
          const container = await docker.createContainer({ ...options, name: `bench-burst-${randomUUID()}` });
          try {
            await container.start();
            const waited = (await container.wait()) as { StatusCode: number };
            // The exit time from an inspect made beside the logs read (not on the worker's path).
            let at = 0;
            const [, info] = await Promise.all([
              container.logs({ stdout: true, stderr: true, follow: false }).then(() => (at = wallNowMs())),
              container.inspect(),
            ]);
            if (waited.StatusCode !== 0) throw new Error(`container exited ${waited.StatusCode}`);
            latencies.push(at - dockerTimeMs(info.State.FinishedAt));
          } finally {
            await container.remove({ force: true, v: true });
          }
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    }),
  );
  const wall = performance.now() - t0;
  const cpu = CpuMeter.diff(cpu0, ctx.cpu.sample());
  await sampler.stop();
  return {
    mode: `dockerode (${workers} workers)`,
    n,
    ok: latencies.length,
    failures,
    wall_ms: round(wall),
    exit_to_result: summarizeLatencies(latencies),
    peak_exited_not_removed: sampler.peak,
    samples: sampler.samples,
    cpu_ms_per_container: perContainer(cpu, latencies.length),
  };
}

export const burstScenario: Scenario = {
  name: 'burst',
  description: "a burst of sh -c 'sleep 1' containers: every intent at once through highway-docker vs 8 dockerode workers",
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const log = (s: string) => console.error(s);
    const n = intFromEnv('BENCH_BURST_N', 200, 1);
    const workers = intFromEnv('BENCH_BURST_WORKERS', 8, 1);
    const hwLabels = scenarioLabels(ctx, 'burst-highway');
    const baseLabels = scenarioLabels(ctx, 'burst-dockerode');
    const stack = await HighwayStack.start(ctx);
    const outcomes: ModeOutcome[] = [];
    try {
      // Warm-up: one container per mode (image and code paths hot).
      await stack.run({ command: ['sh', '-c', 'exit 0'], labels: hwLabels.labels });
      log(`  highway: ${n} intents at once`);
      outcomes.push(await highwayBurst(ctx, stack, n, hwLabels.labels, hwLabels.label));
      log(`  highway: done in ${fmt(outcomes[0]!.wall_ms / 1000, 1)} s; ${outcomes[0]!.failures.length} failure(s)`);
      await sleep(1000);
      ctx.checkAborted();
      log(`  dockerode: ${n} containers with ${workers} workers`);
      outcomes.push(await dockerodeBurst(ctx, n, workers, baseLabels.labels, baseLabels.label));
      log(`  dockerode: done in ${fmt(outcomes[1]!.wall_ms / 1000, 1)} s; ${outcomes[1]!.failures.length} failure(s)`);
    } finally {
      for (const l of [hwLabels.label, baseLabels.label]) {
        await removeByLabel(ctx.docker, l).catch((err: Error) => log(`  cleanup by ${l} failed: ${err.message}`));
      }
      await stack.stop();
      await removeByLabel(ctx.docker, stack.label).catch(() => {});
    }

    const [hw, base] = outcomes as [ModeOutcome, ModeOutcome];
    const comparison = {
      wall_ratio: round(hw.wall_ms / base.wall_ms, 3),
      p50_exit_to_result_difference_ms: round(hw.exit_to_result.p50_ms - base.exit_to_result.p50_ms),
      p99_exit_to_result_difference_ms: round(hw.exit_to_result.p99_ms - base.exit_to_result.p99_ms),
    };
    const failures = outcomes.reduce((a, o) => a + o.failures.length, 0);
    const targets: TargetCheck[] = [];
    if (failures > 0) targets.push({ name: 'every container ran to its end', target: '0 failures', actual: `${failures} failure(s)`, met: false });
    const lines = [
      `${n} containers of \`${COMMAND.join(' ')}\` per mode; highway: every tools.docker.run at once; dockerode: ${workers} workers (create, start, wait, logs, remove)`,
      'exit -> result: Docker FinishedAt (daemon clock) -> the caller has the result / the worker has the output (this host\'s clock); highway\'s result waits for the auto-remove too',
      formatTable(
        ['mode', 'ok', 'failed', 'wall s', 'exit->result p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'peak exited-not-removed', 'cpu ms/ctr: node', 'postgres', 'dockerd+containerd'],
        outcomes.map((o) => [
          o.mode,
          o.ok,
          o.failures.length,
          round(o.wall_ms / 1000, 2),
          o.exit_to_result.p50_ms,
          o.exit_to_result.p95_ms,
          o.exit_to_result.p99_ms,
          o.exit_to_result.max_ms,
          o.peak_exited_not_removed,
          o.cpu_ms_per_container.node,
          o.cpu_ms_per_container.postgres,
          o.cpu_ms_per_container.docker,
        ]),
      ),
      '',
      formatTable(
        ['ratio', 'wall time ratio', 'p50 exit->result difference', 'p99 exit->result difference'],
        [['highway / dockerode', `${fmt(comparison.wall_ratio, 3)}`, `${fmt(comparison.p50_exit_to_result_difference_ms, 1)} ms`, `${fmt(comparison.p99_exit_to_result_difference_ms, 1)} ms`]],
      ),
    ];
    for (const o of outcomes) {
      if (o.failures.length) lines.push('', `FAILED (${o.mode}, ${o.failures.length}):`, ...[...new Set(o.failures)].slice(0, 5).map((f) => `  ${f}`));
    }
    return {
      text: lines.join('\n'),
      json: {
        n,
        workers,
        command: COMMAND,
        image: TEST_IMAGE,
        sample_every_ms: SAMPLE_EVERY_MS,
        modes: outcomes.map((o) => ({ ...o, failures: o.failures.length, failure_samples: [...new Set(o.failures)].slice(0, 5) })),
        comparison,
      },
      targets,
    };
  },
};
