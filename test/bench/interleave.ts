/**
 * Measuring modes side by side: `n` rounds, each mode once per round, the first mode
 * alternating, CPU sampled around every call and averaged per call. Each mode's call returns
 * its own latency (ms), kept in `keep`; a failed call is recorded, not fatal.
 */
import type { BenchContext } from './context.js';
import { within } from './cancellation.js';
import { CpuMeter, type CpuSample } from './cpu.js';
import { fmt, median, round } from './stats.js';

export interface Mode {
  name: string;
  run: () => Promise<number>;
  keep: number[];
}

export interface Failure {
  index: number;
  mode: string;
  error: string;
}

export async function interleaved(
  ctx: BenchContext,
  modes: Mode[],
  options: { n: number; timeoutMs: number; what: string; progressParts: number; log: (line: string) => void },
): Promise<{ failures: Failure[]; cpuPerCall: Record<string, CpuSample> }> {
  const { n, timeoutMs, what, log } = options;
  const failures: Failure[] = [];
  const cpuSum: Record<string, CpuSample> = Object.fromEntries(modes.map((m) => [m.name, { node: 0, postgres: 0, docker: 0, machine: 0 }]));
  const progressEvery = Math.max(1, Math.round(n / options.progressParts));
  for (let i = 0; i < n; i++) {
    const order = i % 2 === 0 ? modes : [...modes].reverse();
    for (const m of order) {
      ctx.checkAborted();
      const c0 = ctx.cpu.sample();
      try {
        m.keep.push(await within(m.run(), timeoutMs, `${m.name} ${what}`));
      } catch (err) {
        failures.push({ index: i, mode: m.name, error: (err as Error).message });
        log(`  ${what} ${i + 1} ${m.name} FAILED: ${(err as Error).message}`);
      }
      const d = CpuMeter.diff(c0, ctx.cpu.sample());
      const s = cpuSum[m.name]!;
      for (const k of ['node', 'postgres', 'docker', 'machine'] as const) s[k] += d[k];
    }
    if ((i + 1) % progressEvery === 0 || i === n - 1) {
      log(`  ${what} ${i + 1}/${n}: ${modes.map((m) => `${m.name} p50 ${fmt(median(m.keep))} ms`).join(', ')}, failures ${failures.length}`);
    }
  }
  const cpuPerCall = Object.fromEntries(
    modes.map((m) => {
      const s = cpuSum[m.name]!;
      const k = Math.max(1, m.keep.length);
      return [m.name, { node: round(s.node / k, 2), postgres: round(s.postgres / k, 2), docker: round(s.docker / k, 2), machine: round(s.machine / k, 2) }];
    }),
  );
  return { failures, cpuPerCall };
}
