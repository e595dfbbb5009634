/**
 * Scenario "throughput": N containers of `sh -c 'exit 0'` per mode, at each concurrency,
 * end to end (for highway: tools.docker.run called to its returned result).
 *
 * Fairness: after a short warm-up of every mode, each mode's N containers are split into
 * rounds; in round r the modes run one after the other in an order rotated by r, so slow
 * drift of the machine (other work on it, on the same Docker daemon) hits every mode alike.
 * At concurrency 1 a round is one container per mode (the modes alternate container by
 * container); at higher concurrency a round is a batch of N/modes containers per mode (a
 * Latin square: each mode runs once in each position), run as a closed loop of
 * `concurrency` workers. Throughput is a mode's containers over the sum of its batches'
 * wall times; latency is per container. Next to the pooled numbers, the comparison gives the
 * median over rounds of the paired (same-round) ratio and difference: drift cancels there.
 */
import os from 'node:os';
import { CpuMeter, type CpuSample } from './cpu.js';
import { formatTable, fmt, mean, median, nowMs, round, summarizeLatencies, type LatencySummary, targetsTable } from './stats.js';
import type { BenchContext, Scenario, ScenarioResult, TargetCheck } from './context.js';
import { createRunner, type ModeRunner } from './modes.js';

/**
 * The targets of the issue (20: on equal work). The baseline is `dockerode-hwcfg` (dockerode
 * with highway-docker's create body: init, capabilities dropped, no-new-privileges) when it is
 * among the modes, else plain dockerode (which does less work: the targets are then stricter).
 */
export const TARGETS = {
  /** highway/baseline throughput ratio at concurrency 8. */
  throughputRatioMin: 0.95,
  throughputConcurrency: 8,
  /** p50 latency overhead of highway over the baseline at concurrency 1. */
  p50OverheadMaxMs: 10,
  latencyConcurrency: 1,
  /** This process's plus PostgreSQL's CPU per container, highway minus the baseline (ms), at each level. */
  ownCpuOverheadMaxMs: 5,
} as const;

/** Pause between batches, so one mode's trailing work (highway's last reconcile pass) does not land on the next. */
const settleMs = (concurrency: number): number => (concurrency === 1 ? 100 : 300);

interface BatchResult {
  wallMs: number;
  cpu: CpuSample;
  latencies: number[];
  phases: Array<Record<string, number>>;
  errors: string[];
}

async function runBatch(ctx: BenchContext, runner: ModeRunner, count: number, concurrency: number): Promise<BatchResult> {
  const latencies: number[] = [];
  const phases: Array<Record<string, number>> = [];
  const errors: string[] = [];
  let next = 0;
  const cpu0 = ctx.cpu.sample();
  const started = nowMs();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count && !ctx.signal.aborted) {
        next++;
        const t0 = nowMs();
        try {
          const p = await runner.runOne();
          latencies.push(nowMs() - t0);
          if (p) phases.push(p);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    }),
  );
  const wallMs = nowMs() - started;
  return { wallMs, cpu: CpuMeter.diff(cpu0, ctx.cpu.sample()), latencies, phases, errors };
}

/** Split n into k parts as evenly as possible (larger first). */
function split(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0)).filter((x) => x > 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Batch {
  round: number;
  position: number;
  n: number;
  wall_ms: number;
  p50_ms: number;
}

export interface ModeResult {
  mode: string;
  n: number;
  errors: number;
  error_samples: string[];
  wall_ms: number;
  containers_per_s: number;
  latency: LatencySummary;
  /** CPU per container by component (ms); docker and machine are shared with whatever else runs. */
  cpu_ms_per_container: CpuSample;
  /** Per-phase p50/mean (ms), for the modes that time their phases. */
  phases?: Record<string, { p50: number; mean: number }>;
  /** Per round: position in the order, wall time, p50 (for drift inspection and paired comparisons). */
  batches: Batch[];
  report?: unknown;
}

export interface Comparison {
  /** Pooled: containers/s of a over containers/s of base. */
  throughput_ratio: number;
  p50_overhead_ms: number;
  p50_ratio: number;
  p95_overhead_ms: number;
  /** Median over rounds of the same-round throughput ratio and p50 difference (drift cancels). */
  paired_throughput_ratio: number;
  paired_p50_overhead_ms: number;
}

export interface LevelResult {
  concurrency: number;
  rounds: number;
  order_first_rounds: string[][];
  modes: Record<string, ModeResult>;
  highway_vs_dockerode: Comparison | null;
  highway_vs_hwcfg: Comparison | null;
  cli_vs_dockerode: Comparison | null;
}

function compare(a: ModeResult | undefined, base: ModeResult | undefined): Comparison | null {
  if (!a || !base || a.latency.n === 0 || base.latency.n === 0) return null;
  const ratios: number[] = [];
  const diffs: number[] = [];
  for (const ba of a.batches) {
    const bb = base.batches.find((b) => b.round === ba.round);
    if (!bb || ba.n === 0 || bb.n === 0) continue;
    ratios.push(ba.n / ba.wall_ms / (bb.n / bb.wall_ms));
    diffs.push(ba.p50_ms - bb.p50_ms);
  }
  return {
    throughput_ratio: round(a.containers_per_s / base.containers_per_s, 3),
    p50_overhead_ms: round(a.latency.p50_ms - base.latency.p50_ms),
    p50_ratio: round(a.latency.p50_ms / base.latency.p50_ms, 3),
    p95_overhead_ms: round(a.latency.p95_ms - base.latency.p95_ms),
    paired_throughput_ratio: round(median(ratios), 3),
    paired_p50_overhead_ms: round(median(diffs)),
  };
}

async function runLevel(
  ctx: BenchContext,
  runners: ModeRunner[],
  concurrency: number,
  log: (s: string) => void,
): Promise<{ level: LevelResult; reports: string[] }> {
  const { n, warmup } = ctx.settings;
  const m = runners.length;
  const sizes = split(n, Math.min(n, ctx.settings.rounds ?? (concurrency === 1 ? n : m)));
  const settle = settleMs(concurrency);

  if (warmup > 0) {
    log(`  concurrency ${concurrency}: warm-up (${warmup} per mode)`);
    for (const r of runners) {
      ctx.checkAborted();
      const w = await runBatch(ctx, r, warmup, Math.min(concurrency, warmup));
      if (w.errors.length) throw new Error(`warm-up of ${r.name} failed: ${w.errors[0]}`);
      await r.takeReport?.(); // forget the warm-up's traces
      await sleep(settle);
    }
  }

  const batches = new Map<string, Array<BatchResult & { round: number; position: number }>>(runners.map((r) => [r.name, []]));
  const order: string[][] = [];
  const progressEvery = Math.max(1, Math.round(sizes.length / 10));
  for (let round = 0; round < sizes.length; round++) {
    const rotated = runners.map((_, i) => runners[(i + round) % m]!);
    order.push(rotated.map((r) => r.name));
    for (const [position, r] of rotated.entries()) {
      ctx.checkAborted();
      const b = await runBatch(ctx, r, sizes[round]!, concurrency);
      batches.get(r.name)!.push({ ...b, round, position });
      for (const e of b.errors) log(`  ${r.name} FAILED: ${e}`);
      await sleep(settle);
    }
    if ((round + 1) % progressEvery === 0 || round === sizes.length - 1) {
      const line = runners
        .map((r) => {
          const bs = batches.get(r.name)!;
          return `${r.name} p50 ${fmt(median(bs.flatMap((b) => b.latencies)))} ms`;
        })
        .join(', ');
      log(`  concurrency ${concurrency}: round ${round + 1}/${sizes.length}: ${line}`);
    }
  }

  const modes: Record<string, ModeResult> = {};
  const reports: string[] = [];
  for (const r of runners) {
    const bs = batches.get(r.name)!;
    const latencies = bs.flatMap((b) => b.latencies);
    const errors = bs.flatMap((b) => b.errors);
    const wall = bs.reduce((a, b) => a + b.wallMs, 0);
    const phases = bs.flatMap((b) => b.phases);
    const perContainer = (key: keyof CpuSample) => round(bs.reduce((a, b) => a + b.cpu[key], 0) / Math.max(1, latencies.length));
    const result: ModeResult = {
      mode: r.name,
      n: latencies.length,
      errors: errors.length,
      error_samples: [...new Set(errors)].slice(0, 5),
      wall_ms: round(wall),
      containers_per_s: round(latencies.length / (wall / 1000), 3),
      latency: summarizeLatencies(latencies),
      cpu_ms_per_container: { node: perContainer('node'), postgres: perContainer('postgres'), docker: perContainer('docker'), machine: perContainer('machine') },
      batches: bs.map((b) => ({ round: b.round, position: b.position, n: b.latencies.length, wall_ms: round(b.wallMs), p50_ms: round(median(b.latencies)) })),
    };
    if (phases.length) {
      result.phases = Object.fromEntries(
        Object.keys(phases[0]!).map((k) => {
          const v = phases.map((p) => p[k]!);
          return [k, { p50: round(median(v)), mean: round(mean(v)) }];
        }),
      );
    }
    const report = await r.takeReport?.();
    if (report) {
      result.report = report.json;
      reports.push(`[${r.name}, concurrency ${concurrency}]\n${report.text}`);
    }
    modes[r.name] = result;
  }
  return {
    level: {
      concurrency,
      rounds: sizes.length,
      order_first_rounds: order.slice(0, m),
      modes,
      highway_vs_dockerode: compare(modes['highway'], modes['dockerode']),
      highway_vs_hwcfg: compare(modes['highway'], modes['dockerode-hwcfg']),
      cli_vs_dockerode: compare(modes['cli'], modes['dockerode']),
    },
    reports,
  };
}

const signed = (x: number, unit = ''): string => `${x >= 0 ? '+' : ''}${fmt(x, 1)}${unit}`;

function levelTable(level: LevelResult, n: number): string {
  const perRound = level.rounds === n ? 'one container per mode per round' : `batches of ~${Math.round(n / level.rounds)} per mode`;
  const rows = Object.values(level.modes).map((m) => [
    m.mode,
    m.n,
    m.errors,
    m.latency.p50_ms,
    m.latency.p95_ms,
    m.latency.max_ms,
    round(m.containers_per_s, 2),
    m.cpu_ms_per_container.node,
    m.cpu_ms_per_container.postgres,
    m.cpu_ms_per_container.docker,
    m.cpu_ms_per_container.machine,
    `${Math.round(busyShare(m) * 100)}%`,
  ]);
  const lines = [
    `concurrency ${level.concurrency}: ${n} containers per mode; ${level.rounds} rounds (${perRound}), order rotating: ${level.order_first_rounds.map((o) => o.join('>')).join(', ')}, ...`,
    formatTable(
      ['mode', 'ok', 'failed', 'p50 ms', 'p95 ms', 'max ms', 'containers/s', 'cpu ms/ctr: node', 'postgres', 'dockerd+containerd', 'machine', 'machine busy'],
      rows,
    ),
  ];
  const cpu = cpuAccount(level);
  if (cpu) lines.push(cpu);
  const cmp = (name: string, c: Comparison | null) =>
    c
      ? [
          name,
          `${c.throughput_ratio.toFixed(3)}`,
          signed(c.p50_overhead_ms, ' ms'),
          `${c.p50_ratio.toFixed(3)}x`,
          signed(c.p95_overhead_ms, ' ms'),
          `${c.paired_throughput_ratio.toFixed(3)}`,
          signed(c.paired_p50_overhead_ms, ' ms'),
        ]
      : null;
  const comparisons = [
    cmp('highway / dockerode', level.highway_vs_dockerode),
    cmp('highway / dockerode-hwcfg', level.highway_vs_hwcfg),
    cmp('cli / dockerode', level.cli_vs_dockerode),
  ].filter(
    (r): r is string[] => r !== null,
  );
  if (comparisons.length) {
    lines.push(
      '',
      formatTable(
        ['ratio', 'throughput ratio', 'p50 overhead', 'p50 ratio', 'p95 overhead', 'paired: throughput ratio', 'paired: p50 overhead'],
        comparisons,
      ),
    );
  }
  return lines.join('\n');
}

/** The share of the machine's cores a mode kept busy (1 = CPU-bound: throughput then follows CPU per container). */
function busyShare(m: ModeResult): number {
  return (m.containers_per_s * m.cpu_ms_per_container.machine) / (1000 * os.availableParallelism());
}

/**
 * Where highway-docker's extra CPU per container lands. When the machine is saturated in both
 * modes, the throughput ratio is the ratio of machine CPU per container: highway-docker's own
 * part (node + PostgreSQL beyond dockerode's) is what it controls; the daemons and the rest of
 * the machine run the same command in both modes (highway-docker's secure create body, e.g.
 * `init`, costs a little more: compare dockerode-hwcfg), the rest of their difference is drift.
 * A PostgreSQL elsewhere (TEST_DATABASE_URL) is not counted: the account is then node only.
 */
function cpuAccount(level: LevelResult): string | null {
  const h = level.modes['highway'];
  const d = level.modes['dockerode'];
  if (!h || !d || h.n === 0 || d.n === 0) return null;
  const [hc, dc] = [h.cpu_ms_per_container, d.cpu_ms_per_container];
  const pgKnown = Number.isFinite(hc.postgres) && Number.isFinite(dc.postgres);
  const own = hc.node - dc.node + (pgKnown ? hc.postgres - dc.postgres : 0);
  const rest = hc.machine - dc.machine - own;
  const fromOwn = dc.machine / (dc.machine + own);
  return (
    `machine busy ${Math.round(busyShare(h) * 100)}% (highway) / ${Math.round(busyShare(d) * 100)}% (dockerode) of ${os.availableParallelism()} cores. ` +
    `Per container, highway-docker's own CPU (${pgKnown ? 'node + PostgreSQL' : 'node; PostgreSQL not on this machine'}) beyond dockerode's: ${signed(own, ' ms')}; ` +
    `the daemons and the rest of the machine: ${signed(rest, ' ms')} (the same command in both modes: the secure create body and drift). ` +
    `Throughput ratio from highway-docker's own CPU alone: ${fromOwn.toFixed(3)}.`
  );
}

function phaseTable(levels: LevelResult[]): string | null {
  const rows: Array<Array<string | number>> = [];
  for (const level of levels) {
    for (const m of Object.values(level.modes)) {
      if (!m.phases) continue;
      rows.push([`${m.mode} @${level.concurrency}`, ...Object.values(m.phases).map((p) => p.p50)]);
    }
  }
  if (rows.length === 0) return null;
  return `phases of the dockerode modes (p50 ms)\n${formatTable(['mode @concurrency', 'create', 'start', 'wait', 'logs', 'remove'], rows)}`;
}

/** The baseline the targets compare with: dockerode-hwcfg when it ran, else plain dockerode. */
function baselineOf(level: LevelResult): { name: string; cmp: Comparison | null } {
  return level.modes['dockerode-hwcfg'] ? { name: 'dockerode-hwcfg', cmp: level.highway_vs_hwcfg } : { name: 'dockerode', cmp: level.highway_vs_dockerode };
}

/** This process's plus PostgreSQL's CPU per container (ms): highway's minus the baseline's, or null. */
export function ownCpuOverhead(level: LevelResult): { highway: number; base: number; overhead: number; baseName: string } | null {
  const baseName = baselineOf(level).name;
  const h = level.modes['highway'];
  const b = level.modes[baseName];
  if (!h || !b || h.n === 0 || b.n === 0) return null;
  const own = (m: ModeResult) => m.cpu_ms_per_container.node + (Number.isFinite(m.cpu_ms_per_container.postgres) ? m.cpu_ms_per_container.postgres : 0);
  return { highway: round(own(h), 2), base: round(own(b), 2), overhead: round(own(h) - own(b), 2), baseName };
}

function checkTargets(levels: LevelResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const thrLevel = levels.find((l) => l.concurrency === TARGETS.throughputConcurrency);
  const thr = thrLevel ? baselineOf(thrLevel) : null;
  checks.push({
    name: `throughput ratio highway/${thr?.name ?? 'baseline'} at concurrency ${TARGETS.throughputConcurrency}`,
    target: `>= ${TARGETS.throughputRatioMin}`,
    actual: thr?.cmp ? `${thr.cmp.throughput_ratio.toFixed(3)} (paired ${thr.cmp.paired_throughput_ratio.toFixed(3)})` : 'not measured',
    met: thr?.cmp ? thr.cmp.throughput_ratio >= TARGETS.throughputRatioMin : false,
  });
  const latLevel = levels.find((l) => l.concurrency === TARGETS.latencyConcurrency);
  const lat = latLevel ? baselineOf(latLevel) : null;
  checks.push({
    name: `p50 latency overhead highway - ${lat?.name ?? 'baseline'} at concurrency ${TARGETS.latencyConcurrency}`,
    target: `<= ${TARGETS.p50OverheadMaxMs} ms`,
    actual: lat?.cmp ? `${signed(lat.cmp.p50_overhead_ms, ' ms')} (paired ${signed(lat.cmp.paired_p50_overhead_ms, ' ms')})` : 'not measured',
    met: lat?.cmp ? lat.cmp.p50_overhead_ms <= TARGETS.p50OverheadMaxMs : false,
  });
  for (const level of levels) {
    const o = ownCpuOverhead(level);
    checks.push({
      name: `node + PostgreSQL CPU per container, highway - ${o?.baseName ?? 'baseline'} at concurrency ${level.concurrency}`,
      target: `<= ${TARGETS.ownCpuOverheadMaxMs} ms`,
      actual: o ? `${signed(o.overhead, ' ms')} (${fmt(o.highway)} vs ${fmt(o.base)} ms)` : 'not measured',
      met: o ? o.overhead <= TARGETS.ownCpuOverheadMaxMs : false,
    });
  }
  return checks;
}

export const throughputScenario: Scenario = {
  name: 'throughput',
  description: "containers of sh -c 'exit 0' end to end: highway-docker vs direct dockerode vs docker run",
  async run(ctx): Promise<ScenarioResult> {
    const log = (s: string) => console.error(s);
    const runners: ModeRunner[] = [];
    for (const name of ctx.settings.modes) runners.push(await createRunner(name, ctx));

    const levels: LevelResult[] = [];
    const reports: string[] = [];
    for (const c of ctx.settings.concurrency) {
      const { level, reports: r } = await runLevel(ctx, runners, c, log);
      levels.push(level);
      reports.push(...r);
    }

    const targets = checkTargets(levels);
    const text = [
      ...levels.map((l) => levelTable(l, ctx.settings.n)),
      phaseTable(levels),
      'targets (pooled numbers decide; "paired" is the same-round median, for judging noise)\n' +
        targetsTable(targets),
      ...reports,
    ]
      .filter((s): s is string => s !== null)
      .join('\n\n');
    const failures = levels.flatMap((l) => Object.values(l.modes)).reduce((a, m) => a + m.errors, 0);
    if (failures > 0) targets.push({ name: 'every container ran to its end', target: '0 failures', actual: `${failures} failures`, met: false });
    return {
      text,
      json: { command: 'sh -c "exit 0"', image: 'highway-test/busybox:latest', n: ctx.settings.n, targets: TARGETS, levels },
      targets,
    };
  },
};
