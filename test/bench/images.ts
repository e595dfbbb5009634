/**
 * Scenario "images": latency of tools.docker.images (a read of highway.docker_images, kept by
 * each host's `images` kind; no Docker call) against direct dockerode listImages (GET
 * /images/json), BENCH_IMAGES_N calls each (default 200), interleaved one by one, the mode
 * going first alternating. Before measuring, the reconciler's inventory is awaited (the
 * table holds this host's images), so both modes list the same images.
 *
 * Target (issue 7): tools.docker.images p99 <= 20 ms.
 */
import type { DockerImagesResult } from '../../src/tools/docker-images.js';
import type { BenchContext, Scenario, ScenarioResult, TargetCheck } from './context.js';
import { intFromEnv, sleep, within } from './cancellation.js';
import { HighwayStack } from './highway.js';
import type { CpuSample } from './cpu.js';
import { interleaved, type Failure, type Mode } from './interleave.js';
import { fmt, formatTable, nowMs, round, summarizeLatencies, type LatencySummary, targetsTable } from './stats.js';

export const IMAGES_TARGETS = {
  /** tools.docker.images, p99. */
  p99MaxMs: 20,
} as const;

const CALL_TIMEOUT_MS = 30_000;

export const imagesScenario: Scenario = {
  name: 'images',
  description: 'tools.docker.images (a table read) vs dockerode listImages',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const log = (s: string) => console.error(s);
    const n = intFromEnv('BENCH_IMAGES_N', 200, 1);
    const warmup = Math.min(ctx.settings.warmup, 5);
    const stack = await HighwayStack.start(ctx);
    const hw: number[] = [];
    const base: number[] = [];
    const failures: Failure[] = [];
    const counts = { highway: 0, dockerode: 0 };
    const cpu: Record<string, CpuSample> = {};
    try {
      const activity = stack.activity();
      const host = stack.reconcilerId;
      const highwayImages = async (): Promise<number> => {
        const t0 = nowMs();
        const r = await stack.registry.call<DockerImagesResult>('tools.docker.images', {}, activity);
        const dt = nowMs() - t0;
        counts.highway = r.hosts.find((h) => h.host === host)?.images.length ?? 0;
        return dt;
      };
      const dockerodeImages = async (): Promise<number> => {
        const t0 = nowMs();
        const r = await ctx.docker.listImages();
        const dt = nowMs() - t0;
        counts.dockerode = r.length;
        return dt;
      };

      // The inventory is written by the host's images kind shortly after it starts.
      const expected = (await ctx.docker.listImages()).length;
      const deadline = nowMs() + 30_000;
      for (;;) {
        const res = await stack.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM highway.docker_images WHERE reconciler_id = $1', [host]);
        const have = Number(res.rows[0]!.n);
        if (have > 0 && have >= expected) break;
        if (nowMs() > deadline) {
          log(`  the inventory holds ${have} of ${expected} images after 30 s; measuring anyway`);
          break;
        }
        await sleep(100);
      }

      const modes: Mode[] = [
        { name: 'highway', run: highwayImages, keep: hw },
        { name: 'dockerode', run: dockerodeImages, keep: base },
      ];
      for (let w = 0; w < warmup; w++) for (const m of modes) await within(m.run(), CALL_TIMEOUT_MS, `warm-up ${m.name}`);
      const measured = await interleaved(ctx, modes, { n, timeoutMs: CALL_TIMEOUT_MS, what: 'call', progressParts: 4, log });
      failures.push(...measured.failures);
      Object.assign(cpu, measured.cpuPerCall);
    } finally {
      await stack.stop();
    }

    const s = { highway: summarizeLatencies(hw), dockerode: summarizeLatencies(base) };
    const comparison = {
      p50_ratio: round(s.highway.p50_ms / s.dockerode.p50_ms, 2),
      p99_ratio: round(s.highway.p99_ms / s.dockerode.p99_ms, 2),
      p50_difference_ms: round(s.highway.p50_ms - s.dockerode.p50_ms),
    };
    const row = (name: string, images: number, l: LatencySummary, c: CpuSample) => [
      name,
      images,
      l.n,
      l.min_ms,
      l.p50_ms,
      l.p95_ms,
      l.p99_ms,
      l.max_ms,
      l.mean_ms,
      c.node,
      c.postgres,
      c.docker,
    ];
    const targets: TargetCheck[] = [
      {
        name: 'tools.docker.images p99',
        target: `<= ${IMAGES_TARGETS.p99MaxMs} ms`,
        actual: s.highway.n ? `${fmt(s.highway.p99_ms, 1)} ms (p50 ${fmt(s.highway.p50_ms, 1)}, n ${s.highway.n})` : 'not measured',
        met: s.highway.n > 0 && s.highway.p99_ms <= IMAGES_TARGETS.p99MaxMs,
      },
    ];
    if (failures.length > 0) {
      targets.push({ name: 'every container ran to its end', target: '0 failed calls', actual: `${failures.length} failed call(s)`, met: false });
    }
    const lines = [
      `${n} calls per mode, interleaved, the first mode alternating; warm-up ${warmup} per mode. p99 is nearest-rank: rank ${Math.ceil(0.99 * n)} of ${n}.`,
      formatTable(
        ['mode', 'images', 'n', 'min ms', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'mean ms', 'cpu ms/call: node', 'postgres', 'dockerd+containerd'],
        [
          row('highway: tools.docker.images', counts.highway, s.highway, cpu['highway']!),
          row('dockerode: listImages', counts.dockerode, s.dockerode, cpu['dockerode']!),
        ],
      ),
      '',
      formatTable(
        ['ratio', 'p50 ratio', 'p99 ratio', 'p50 difference'],
        [['highway / dockerode', `${fmt(comparison.p50_ratio, 2)}x`, `${fmt(comparison.p99_ratio, 2)}x`, `${fmt(comparison.p50_difference_ms, 1)} ms`]],
      ),
    ];
    if (failures.length) lines.push('', `FAILED calls (${failures.length}):`, ...failures.slice(0, 10).map((f) => `  call ${f.index + 1} ${f.mode}: ${f.error}`));
    lines.push(
      '',
      'targets\n' +
        targetsTable(targets),
    );
    return {
      text: lines.join('\n'),
      json: { n, warmup, images: counts, latency: s, comparison, cpu_ms_per_call: cpu, failures, targets: IMAGES_TARGETS },
      targets,
    };
  },
};
