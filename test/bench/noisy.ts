/**
 * Scenario "noisy" (issue 20): a daemon shared with other software. A churn loop creates,
 * starts and removes BENCH_NOISY_CHURN (default 2000) containers that are not ours (no
 * highway.* labels; only the bench's run label, for the cleanup) with BENCH_NOISY_CHURN_WORKERS
 * (default 2) workers, while highway-docker runs BENCH_NOISY_N (default 100) containers of
 * `sh -c 'exit 0'`; the same number run on the quiet daemon in the same run. Direct dockerode
 * (highway-docker's create body) runs beside it, container by container, quiet and noisy
 * alike: its slowdown is the daemon's contention, which no events filter can remove.
 *
 * BENCH_NOISY_ROUNDS (default 2) rounds of [noisy phase, quiet phase], each with N/rounds of
 * ours per mode (alternating highway, dockerode at concurrency 1) and churn/rounds of theirs;
 * in a noisy phase ours are paced over the churn (a container of ours waits while the churn is
 * behind its share), so every one of ours runs among the others' events.
 *
 * Measured: p50 latency per mode and phase, and the reconciler's CPU (its own process, from
 * /proc) per highway container in each phase: in a noisy phase it includes whatever the
 * others' events cost it, also while it idles between ours. So that idling costs both phases
 * alike, the quiet phase comes second and is paced to the noisy one's wall time (container i
 * of ours starts no earlier than i/N of that time into the phase).
 * Also, first: the reconciler idle (none of ours) for BENCH_NOISY_IDLE_S (default 15; 0 skips)
 * on the quiet daemon and beside the churn: the others' events' own cost, without our work.
 * Targets: added latency < 5 % (highway's noisy/quiet p50 ratio over dockerode's: the part of
 * the slowdown that is highway-docker's), added reconciler CPU per container < 5 %.
 */
import type Docker from 'dockerode';
import { toCreateOptions } from '../../src/params/container-config.js';
import { parseRunParams } from '../../src/params/schema.js';
import { removeByLabel } from '../support/docker-env.js';
import { TEST_IMAGE } from '../support/test-image.js';
import type { BenchContext, Scenario, ScenarioResult, TargetCheck } from './context.js';
import { intFromEnv, scenarioLabels, sleep } from './cancellation.js';
import { ChildStack, pool, pct } from './envelope.js';
import { fmt, formatTable, median, nowMs, round, targetsTable } from './stats.js';

export const NOISY_TARGETS = { addedLatencyMax: 0.05, addedCpuMax: 0.05 } as const;
const COMMAND = ['sh', '-c', 'exit 0'];

interface Phase {
  latencies: { highway: number[]; dockerode: number[] };
  reconcilerCpuMs: number;
  wallMs: number;
  churned: number;
}

const emptyPhase = (): Phase => ({ latencies: { highway: [], dockerode: [] }, reconcilerCpuMs: 0, wallMs: 0, churned: 0 });

export const noisyScenario: Scenario = {
  name: 'noisy',
  description: "a noisy daemon: others' containers churned beside highway-docker's runs, against a quiet daemon, dockerode alongside",
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const log = (s: string) => console.error(s);
    const n = intFromEnv('BENCH_NOISY_N', 100, 2);
    const churnTotal = intFromEnv('BENCH_NOISY_CHURN', 2000, 1);
    const churnWorkers = intFromEnv('BENCH_NOISY_CHURN_WORKERS', 2, 1);
    const rounds = Math.min(intFromEnv('BENCH_NOISY_ROUNDS', 2, 1), n);
    const timeoutMs = intFromEnv('BENCH_NOISY_TIMEOUT_S', 900, 10) * 1000;
    const idleS = intFromEnv('BENCH_NOISY_IDLE_S', 15, 0);

    const { label: ourLabel, labels: ourLabels } = scenarioLabels(ctx, 'noisy');
    const { label: theirLabel, labels: theirLabels } = scenarioLabels(ctx, 'noisy-others');
    const stack = await ChildStack.start(ctx);
    const spec = parseRunParams({ image: TEST_IMAGE, command: COMMAND, labels: ourLabels });
    const { name: _unused, ...dOptions } = toCreateOptions(spec, { name: 'unused', labels: ourLabels });
    // Others' containers: a plain create body, no highway.* labels.
    const theirOptions: Docker.ContainerCreateOptions = { Image: TEST_IMAGE, Cmd: ['true'], Labels: theirLabels, HostConfig: { NetworkMode: 'none' } };

    const runHighway = async (): Promise<number> => {
      const t0 = nowMs();
      const r = await stack.run({ command: COMMAND, labels: ourLabels });
      if (r.status !== 'exited' || r.exit_code !== 0) throw new Error(`highway run ${r.intent_id} ended ${r.status} (exit ${r.exit_code}): ${r.error ?? ''}`);
      return nowMs() - t0;
    };
    const runDockerode = async (): Promise<number> => {
      const t0 = nowMs();
      const c = await ctx.docker.createContainer(dOptions);
      try {
        await c.start();
        const w = (await c.wait()) as { StatusCode: number };
        await c.logs({ stdout: true, stderr: true, follow: false });
        if (w.StatusCode !== 0) throw new Error(`dockerode container exited ${w.StatusCode}`);
      } finally {
        await c.remove({ force: true, v: true });
      }
      return nowMs() - t0;
    };

    const quiet = emptyPhase();
    const noisy = emptyPhase();
    const errors: string[] = [];
    const started = nowMs();
    const idle = { quiet: Number.NaN, noisy: Number.NaN, churned: 0 };
    try {
      // The reconciler idle (none of ours running) on the quiet daemon, then beside the churn:
      // what the others' events alone cost it, apart from the contention for the machine.
      if (idleS > 0) {
        await sleep(2_000);
        let cpu0 = stack.cpuMs();
        let t0 = nowMs();
        await sleep(idleS * 1000);
        idle.quiet = (stack.cpuMs() - cpu0) / (nowMs() - t0);
        const stop = new AbortController();
        const churn = pool(1_000_000, churnWorkers, async () => {
          const c = await ctx.docker.createContainer(theirOptions);
          try {
            await c.start();
          } finally {
            await c.remove({ force: true, v: true });
            idle.churned++;
          }
        }, AbortSignal.any([ctx.signal, stop.signal]));
        cpu0 = stack.cpuMs();
        t0 = nowMs();
        await sleep(idleS * 1000);
        idle.noisy = (stack.cpuMs() - cpu0) / (nowMs() - t0);
        stop.abort();
        await churn;
        log(`noisy: reconciler idle: ${pct(idle.quiet)} of a core on the quiet daemon, ${pct(idle.noisy)} beside the churn (${idle.churned} of theirs)`);
      }
      // Warm-up: the first runs pay for cold caches.
      for (let i = 0; i < Math.min(3, ctx.settings.warmup); i++) {
        await runHighway();
        await runDockerode();
      }
      for (let round_ = 0; round_ < rounds; round_++) {
        const ours = Math.floor(n / rounds) + (round_ < n % rounds ? 1 : 0);
        const theirs = Math.floor(churnTotal / rounds) + (round_ < churnTotal % rounds ? 1 : 0);
        let noisyWallMs = 0;
        for (const [phase, churn] of [[noisy, theirs], [quiet, 0]] as const) {
          ctx.checkAborted();
          if (nowMs() - started > timeoutMs) throw new Error(`noisy: not done within ${timeoutMs / 1000} s`);
          let churned = 0;
          let churning = churn > 0;
          const churnLoop = churn > 0
            ? pool(churn, churnWorkers, async () => {
                const c = await ctx.docker.createContainer(theirOptions);
                try {
                  await c.start();
                } finally {
                  await c.remove({ force: true, v: true });
                  churned++;
                }
              }, ctx.signal).then((errs) => {
                churning = false;
                errors.push(...errs.map((e) => `churn: ${e}`));
              })
            : Promise.resolve();
          const cpu0 = stack.cpuMs();
          const t0 = nowMs();
          for (let i = 0; i < ours; i++) {
            // Paced: container i of ours waits until the churn has done its share of the phase.
            while (churning && churned < (churn * i) / ours) await sleep(20);
            // Quiet: paced to the noisy phase's wall time.
            if (churn === 0) await sleep(t0 + (noisyWallMs * i) / ours - nowMs());
            const order = (i + round_) % 2 === 0 ? (['highway', 'dockerode'] as const) : (['dockerode', 'highway'] as const);
            for (const mode of order) {
              try {
                phase.latencies[mode].push(mode === 'highway' ? await runHighway() : await runDockerode());
              } catch (err) {
                errors.push(`${mode}: ${(err as Error).message}`);
              }
            }
          }
          await churnLoop;
          phase.reconcilerCpuMs += stack.cpuMs() - cpu0;
          phase.wallMs += nowMs() - t0;
          if (churn > 0) noisyWallMs = nowMs() - t0;
          phase.churned += churned;
          log(
            `noisy: round ${round_ + 1}/${rounds} ${churn > 0 ? `noisy (${churned} of theirs churned)` : 'quiet'}: ` +
              `highway p50 ${fmt(median(phase.latencies.highway))} ms, dockerode p50 ${fmt(median(phase.latencies.dockerode))} ms`,
          );
          await sleep(500);
        }
      }
    } finally {
      await stack.stop();
      await removeByLabel(ctx.docker, ourLabel).catch(() => 0);
      await removeByLabel(ctx.docker, theirLabel).catch(() => 0);
    }

    const p50 = (p: Phase, m: 'highway' | 'dockerode') => median(p.latencies[m]);
    const cpuPer = (p: Phase) => p.reconcilerCpuMs / Math.max(1, p.latencies.highway.length);
    const hwSlow = p50(noisy, 'highway') / p50(quiet, 'highway');
    const dSlow = p50(noisy, 'dockerode') / p50(quiet, 'dockerode');
    const addedLatency = hwSlow / dSlow - 1;
    const addedCpu = cpuPer(noisy) / cpuPer(quiet) - 1;
    const churnRate = noisy.churned / (noisy.wallMs / 1000);
    const targets: TargetCheck[] = [
      {
        name: 'added latency on a noisy daemon (highway noisy/quiet p50 over dockerode\'s)',
        target: `< ${pct(NOISY_TARGETS.addedLatencyMax)}`,
        actual: `${pct(addedLatency)} (highway ${hwSlow.toFixed(3)}x, dockerode ${dSlow.toFixed(3)}x)`,
        met: addedLatency < NOISY_TARGETS.addedLatencyMax,
      },
      {
        name: 'added reconciler CPU per container on a noisy daemon',
        target: `< ${pct(NOISY_TARGETS.addedCpuMax)}`,
        actual: `${pct(addedCpu)} (${fmt(cpuPer(noisy))} vs ${fmt(cpuPer(quiet))} ms)`,
        met: addedCpu < NOISY_TARGETS.addedCpuMax,
      },
    ];
    if (errors.length) targets.push({ name: 'every container ran to its end', target: '0 failures', actual: `${errors.length} failures`, met: false });
    const row = (name: string, p: Phase) => [
      name,
      p.latencies.highway.length,
      round(p50(p, 'highway')),
      p.latencies.dockerode.length,
      round(p50(p, 'dockerode')),
      round(cpuPer(p), 2),
      p.churned,
      round(p.churned / (p.wallMs / 1000), 1),
    ];
    const text = [
      `${n} of ours per mode (sh -c 'exit 0', concurrency 1, highway and dockerode alternating) on a quiet daemon and beside ${noisy.churned} of theirs churned (${churnWorkers} workers, ${fmt(churnRate)}/s), ${rounds} round(s)`,
      ...(idleS > 0
        ? [`reconciler idle (none of ours running, ${idleS} s each): ${pct(idle.quiet)} of a core on the quiet daemon, ${pct(idle.noisy)} beside the churn (${idle.churned} of theirs)`]
        : []),
      formatTable(['daemon', 'highway n', 'highway p50 ms', 'dockerode n', 'dockerode p50 ms', 'reconciler cpu ms/ctr', 'theirs churned', 'theirs/s'], [row('quiet', quiet), row('noisy', noisy)]),
      ...[...new Set(errors)].slice(0, 5).map((e) => `  error: ${e}`),
      `targets\n${targetsTable(targets)}`,
    ].join('\n');
    const summary = (p: Phase) => ({
      highway_n: p.latencies.highway.length,
      highway_p50_ms: round(p50(p, 'highway')),
      dockerode_n: p.latencies.dockerode.length,
      dockerode_p50_ms: round(p50(p, 'dockerode')),
      reconciler_cpu_ms_per_container: round(cpuPer(p), 3),
      reconciler_cpu_ms: round(p.reconcilerCpuMs),
      wall_ms: round(p.wallMs),
      churned: p.churned,
    });
    return {
      text,
      json: {
        n,
        churn: churnTotal,
        churn_workers: churnWorkers,
        rounds,
        targets: NOISY_TARGETS,
        quiet: summary(quiet),
        noisy: summary(noisy),
        reconciler_idle_share: { quiet: round(idle.quiet, 4), noisy: round(idle.noisy, 4), churned: idle.churned },
        added_latency: round(addedLatency, 4),
        added_cpu: round(addedCpu, 4),
        errors: errors.length,
        error_samples: [...new Set(errors)].slice(0, 5),
      },
      targets,
    };
  },
};
