/**
 * Scenario "exec": the round trip of tools.docker.exec against direct dockerode, on the same
 * running container, in one run.
 *
 * One long-running container (`sleep 600`) is started through highway-docker
 * (tools.docker.run with detach: true). Then BENCH_EXEC_N (default 100) execs of `true` per
 * mode, interleaved one by one (the mode going first alternating):
 *   highway    tools.docker.exec {target: intent id, command: [true]}: an operation row the
 *              container's host performs, its completion awaited by NOTIFY; called to its result
 *   dockerode  container.exec + exec.start (hijack), the stream read to its end, exec.inspect
 *              for the exit code: what a caller of the floor does to get output and exit code
 * Each exec must exit 0. Warm-up: BENCH_WARMUP (at most 5) per mode, not counted.
 *
 * Target (issue 7): p50 overhead of highway over dockerode <= 15 ms.
 */
import type { ExecResult } from '../../src/tools/docker-ops.js';
import type { DockerRunResult } from '../../src/tools/docker-run.js';
import { removeByLabel } from '../support/docker-env.js';
import type { BenchContext, Scenario, ScenarioResult, TargetCheck } from './context.js';
import { intFromEnv, scenarioLabels, within } from './cancellation.js';
import { HighwayStack } from './highway.js';
import type { CpuSample } from './cpu.js';
import { interleaved, type Failure, type Mode } from './interleave.js';
import { fmt, formatTable, nowMs, round, summarizeLatencies, type LatencySummary, targetsTable } from './stats.js';

export const EXEC_TARGETS = {
  /** p50 of tools.docker.exec minus p50 of dockerode exec (create, start, read, inspect). */
  p50OverheadMaxMs: 15,
} as const;

const EXEC_TIMEOUT_MS = 30_000;
const COMMAND = ['true'];

export const execScenario: Scenario = {
  name: 'exec',
  description: 'exec of `true` in one running container: tools.docker.exec vs dockerode exec create+start(hijack)+inspect',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const log = (s: string) => console.error(s);
    const n = intFromEnv('BENCH_EXEC_N', 100, 1);
    const warmup = Math.min(ctx.settings.warmup, 5);
    const { label: scenarioLabel, labels } = scenarioLabels(ctx, 'exec');

    const stack = await HighwayStack.start(ctx);
    const hw: number[] = [];
    const base: number[] = [];
    const failures: Failure[] = [];
    const cpu: Record<string, CpuSample> = {};
    let target: DockerRunResult | null = null;
    try {
      target = await stack.run({ command: ['sleep', '600'], detach: true, labels });
      if (target.status !== 'running' || !target.container_id) {
        throw new Error(`the long-running container did not run: intent ${target.intent_id} is ${target.status} (${target.error ?? '-'})`);
      }
      const containerId = target.container_id;
      const intentId = target.intent_id;
      const container = ctx.docker.getContainer(containerId);
      const caller = stack.activity();

      const highwayExec = async (): Promise<number> => {
        const t0 = nowMs();
        const r = await stack.registry.call<ExecResult>('tools.docker.exec', { target: intentId, command: COMMAND }, caller);
        const dt = nowMs() - t0;
        if (r.status !== 'exited' || r.exit_code !== 0) throw new Error(`exec ${r.operation_id} ended ${r.status} (exit ${r.exit_code}): ${r.error ?? ''}`);
        return dt;
      };
      const dockerodeExec = async (): Promise<number> => {
        const t0 = nowMs();
        const exec = await container.exec({ Cmd: COMMAND, AttachStdin: false, AttachStdout: true, AttachStderr: true, Tty: false });
        const stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream;
        await new Promise<void>((resolve, reject) => {
          stream.on('data', () => {}); // read it (a caller keeps the output)
          stream.on('end', resolve);
          stream.on('close', resolve);
          stream.on('error', reject);
        });
        const info = await exec.inspect();
        const dt = nowMs() - t0;
        if (info.Running || info.ExitCode !== 0) throw new Error(`dockerode exec ${exec.id.slice(0, 12)}: running ${info.Running}, exit ${info.ExitCode}`);
        return dt;
      };
      const modes: Mode[] = [
        { name: 'highway', run: highwayExec, keep: hw },
        { name: 'dockerode', run: dockerodeExec, keep: base },
      ];

      if (warmup > 0) log(`  warm-up: ${warmup} exec(s) per mode`);
      for (let w = 0; w < warmup; w++) {
        for (const m of modes) {
          ctx.checkAborted();
          await within(m.run(), EXEC_TIMEOUT_MS, `warm-up ${m.name} exec`).catch((err: Error) => log(`  warm-up ${m.name} failed: ${err.message}`));
        }
      }
      const measured = await interleaved(ctx, modes, { n, timeoutMs: EXEC_TIMEOUT_MS, what: 'exec', progressParts: 5, log });
      failures.push(...measured.failures);
      Object.assign(cpu, measured.cpuPerCall);
    } finally {
      if (target?.intent_id) {
        await stack.registry
          .call('tools.docker.remove', { target: target.intent_id, force: true, wait_timeout: 30 }, stack.activity())
          .catch((err: Error) => log(`  removing the exec target failed: ${err.message}`));
      }
      await removeByLabel(ctx.docker, scenarioLabel).catch((err: Error) => log(`  cleanup by ${scenarioLabel} failed: ${err.message}`));
      await stack.stop();
      await removeByLabel(ctx.docker, stack.label).catch(() => {});
    }

    const s = { highway: summarizeLatencies(hw), dockerode: summarizeLatencies(base) };
    const comparison = {
      p50_overhead_ms: round(s.highway.p50_ms - s.dockerode.p50_ms),
      p99_overhead_ms: round(s.highway.p99_ms - s.dockerode.p99_ms),
      p50_ratio: round(s.highway.p50_ms / s.dockerode.p50_ms, 2),
    };
    const row = (name: string, l: LatencySummary, c: CpuSample | undefined) => [
      name,
      l.n,
      l.min_ms,
      l.p50_ms,
      l.p95_ms,
      l.p99_ms,
      l.max_ms,
      l.mean_ms,
      c?.node ?? Number.NaN,
      c?.postgres ?? Number.NaN,
      c?.docker ?? Number.NaN,
    ];
    const targets: TargetCheck[] = [
      {
        name: 'exec p50 overhead highway - dockerode',
        target: `<= ${EXEC_TARGETS.p50OverheadMaxMs} ms`,
        actual: s.highway.n && s.dockerode.n ? `${fmt(comparison.p50_overhead_ms, 1)} ms (p99 overhead ${fmt(comparison.p99_overhead_ms, 1)} ms)` : 'not measured',
        met: s.highway.n > 0 && s.dockerode.n > 0 && comparison.p50_overhead_ms <= EXEC_TARGETS.p50OverheadMaxMs,
      },
    ];
    if (failures.length > 0) {
      targets.push({ name: 'every container ran to its end', target: '0 failed execs', actual: `${failures.length} failed exec(s)`, met: false });
    }
    const lines = [
      `${n} execs of \`${COMMAND.join(' ')}\` per mode in one running container (sleep 600, started by tools.docker.run detach), interleaved, the first mode alternating; warm-up ${warmup} per mode`,
      formatTable(
        ['mode', 'n', 'min ms', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'mean ms', 'cpu ms/exec: node', 'postgres', 'dockerd+containerd'],
        [row('highway: tools.docker.exec', s.highway, cpu['highway']), row('dockerode: exec create+start+inspect', s.dockerode, cpu['dockerode'])],
      ),
      '',
      formatTable(
        ['ratio', 'p50 overhead', 'p99 overhead', 'p50 ratio'],
        [['highway / dockerode', `${fmt(comparison.p50_overhead_ms, 1)} ms`, `${fmt(comparison.p99_overhead_ms, 1)} ms`, `${fmt(comparison.p50_ratio, 2)}x`]],
      ),
    ];
    if (failures.length) lines.push('', `FAILED execs (${failures.length}):`, ...failures.slice(0, 10).map((f) => `  exec ${f.index + 1} ${f.mode}: ${f.error}`));
    lines.push(
      '',
      'targets\n' +
        targetsTable(targets),
    );
    return {
      text: lines.join('\n'),
      json: { n, warmup, command: COMMAND, latency: s, comparison, cpu_ms_per_exec: cpu, failures, targets: EXEC_TARGETS },
      targets,
    };
  },
};
