/**
 * Shared statistics and formatting for the benchmark scenarios. No I/O.
 */

/** Nearest-rank percentile (p in [0, 100]) of `values`; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return values.reduce((a, b) => a + b, 0) / values.length;
}

export interface LatencySummary {
  n: number;
  min_ms: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
}

export function summarizeLatencies(latenciesMs: readonly number[]): LatencySummary {
  return {
    n: latenciesMs.length,
    min_ms: round(Math.min(...latenciesMs)),
    p50_ms: round(percentile(latenciesMs, 50)),
    p95_ms: round(percentile(latenciesMs, 95)),
    p99_ms: round(percentile(latenciesMs, 99)),
    max_ms: round(Math.max(...latenciesMs)),
    mean_ms: round(mean(latenciesMs)),
  };
}

export function round(x: number, digits = 1): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Fixed-width text table; numbers are right-aligned, text left-aligned. */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = [headers.map(String), ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.every((r) => typeof r[i] === 'number'));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** A number for a table: one decimal below 100, none above; NaN as "-". */
export function fmt(x: number, digits?: number): string {
  if (!Number.isFinite(x)) return '-';
  if (digits === undefined && Number.isInteger(x)) return String(x);
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toFixed(d);
}

/** A monotonic clock in milliseconds (sub-millisecond precision). */
export const nowMs = (): number => performance.now();

/** performance.now()-based time of a wall-clock Date (same host), for lining up Docker timestamps. */
export const wallToMono = (epochMs: number): number => epochMs - performance.timeOrigin;

/** The targets table every scenario prints: wanted, measured, met. */
export function targetsTable(targets: ReadonlyArray<{ name: string; target: string; actual: string; met: boolean }>): string {
  return formatTable(
    ['target', 'wanted', 'measured', 'met'],
    targets.map((t) => [t.name, t.target, t.actual, t.actual === 'not measured' ? 'n/a' : t.met ? 'yes' : 'NO']),
  );
}
