/**
 * Scenario "bigoutput" (issue 20): runs and execs that write BENCH_BIG_SIZES_MB (default
 * 10,100,500) MB to stdout, with the default output cap (max_output_bytes: 1 MiB per stream)
 * and with BENCH_BIG_CAP_MB (default 64, the policy's ceiling).
 *
 * Each case gets a fresh reconciler in its own process (envelope.ts), so its peak RSS (VmHWM,
 * /proc) belongs to that case alone: the idle RSS is read once it runs (after a small warm-up
 * run of the same kind), the peak after the result came back. Time to result: the tool call,
 * from its start to its result (for a run: create, start, the write, the output read, remove;
 * for an exec: its run in a running `sleep` container).
 *   run   tools.docker.run {command: sh -c 'head -c BYTES /dev/zero | tr \0 x', max_output_bytes}
 *   exec  tools.docker.exec {target: a detached sleep's intent, the same command, max_output_bytes}
 * Checked: the result holds exactly min(BYTES, cap) bytes of stdout and says it was truncated
 * when BYTES > cap. Target: peak RSS <= 2x the cap + the idle RSS, whatever the container writes.
 */
import type { ExecResult } from '../../src/tools/docker-ops.js';
import type { DockerRunResult } from '../../src/tools/docker-run.js';
import { removeByLabel } from '../support/docker-env.js';
import type { BenchContext, Scenario, ScenarioResult, TargetCheck } from './context.js';
import { intFromEnv, scenarioLabels, sleep } from './cancellation.js';
import { ChildStack } from './envelope.js';
import { fmt, formatTable, nowMs, round, targetsTable } from './stats.js';

const MB = 1024 * 1024;
const DEFAULT_CAP = 1 * MB; // the schema's default max_output_bytes

interface Case {
  kind: 'run' | 'exec';
  size_mb: number;
  cap_mb: number;
  idle_rss_mb: number;
  peak_rss_mb: number;
  /** Peak over idle. */
  added_mb: number;
  bound_mb: number;
  result_ms: number;
  stdout_bytes: number;
  truncated: boolean;
  ok: boolean;
  error?: string;
}

const writer = (bytes: number): string[] => ['sh', '-c', `head -c ${bytes} /dev/zero | tr '\\0' x`];

export const bigOutputScenario: Scenario = {
  name: 'bigoutput',
  description: 'runs and execs writing 10/100/500 MB with the default and a 64 MB output cap: reconciler peak RSS and time to result',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const log = (s: string) => console.error(s);
    const sizes = (process.env['BENCH_BIG_SIZES_MB'] ?? '10,100,500').split(',').map((s) => {
      const v = Number(s.trim());
      if (!Number.isInteger(v) || v < 1) throw new Error(`BENCH_BIG_SIZES_MB: "${s}" is not a positive integer`);
      return v;
    });
    const bigCap = intFromEnv('BENCH_BIG_CAP_MB', 64, 1);
    const kinds = (process.env['BENCH_BIG_KINDS'] ?? 'run,exec').split(',').map((s) => s.trim()) as Array<'run' | 'exec'>;
    for (const k of kinds) if (k !== 'run' && k !== 'exec') throw new Error(`BENCH_BIG_KINDS: "${k}" is not run or exec`);
    const { label, labels } = scenarioLabels(ctx, 'bigoutput');
    const cases: Case[] = [];

    try {
      for (const kind of kinds) {
        for (const capBytes of [DEFAULT_CAP, bigCap * MB]) {
          for (const size of sizes) {
            ctx.checkAborted();
            const bytes = size * MB;
            const stack = await ChildStack.start(ctx);
            try {
              let target: string | null = null;
              if (kind === 'exec') {
                const r = await stack.run({ command: ['sleep', '3600'], detach: true, labels });
                if (r.status !== 'running') throw new Error(`the exec target did not run: ${r.status} ${r.error ?? ''}`);
                target = r.intent_id;
              }
              const once = async (n: number, cap: number): Promise<{ stdout: string; truncated: boolean; status: string; exit: number | null; error: string | null }> => {
                if (kind === 'run') {
                  const r = await stack.run({ command: writer(n), max_output_bytes: cap, labels });
                  return { stdout: r.stdout, truncated: r.logs_truncated, status: r.status, exit: r.exit_code, error: r.error };
                }
                const r = await stack.registry.call<ExecResult>('tools.docker.exec', { target, command: writer(n), max_output_bytes: cap, timeout: 600 }, stack.activity());
                return { stdout: r.stdout, truncated: r.logs_truncated, status: r.status, exit: r.exit_code, error: r.error };
              };
              await once(1024, capBytes); // warm-up: the code paths of this kind are loaded before the idle reading
              await sleep(1_000);
              const idle = stack.mem().rss;
              const t0 = nowMs();
              const r = await once(bytes, capBytes);
              const resultMs = nowMs() - t0;
              const peak = stack.mem().peak;
              const want = Math.min(bytes, capBytes);
              const ok = r.status === 'exited' && r.exit === 0 && r.stdout.length === want && r.truncated === bytes > capBytes;
              const c: Case = {
                kind,
                size_mb: size,
                cap_mb: round(capBytes / MB, 2),
                idle_rss_mb: round(idle),
                peak_rss_mb: round(peak),
                added_mb: round(peak - idle),
                bound_mb: round((2 * capBytes) / MB + idle),
                result_ms: round(resultMs),
                stdout_bytes: r.stdout.length,
                truncated: r.truncated,
                ok,
                ...(ok ? {} : { error: `${r.status} exit ${r.exit} stdout ${r.stdout.length} bytes (want ${want}) truncated ${r.truncated}: ${r.error ?? ''}` }),
              };
              cases.push(c);
              log(`bigoutput: ${kind} ${size} MB, cap ${fmt(c.cap_mb)} MB: peak RSS ${fmt(c.peak_rss_mb)} MB (idle ${fmt(c.idle_rss_mb)}), result in ${fmt(resultMs / 1000)} s${ok ? '' : `; FAILED: ${c.error}`}`);
            } finally {
              await stack.stop();
              await removeByLabel(ctx.docker, label).catch(() => 0);
            }
          }
        }
      }
    } finally {
      await removeByLabel(ctx.docker, label).catch(() => 0);
    }

    const targets: TargetCheck[] = cases.map((c) => ({
      name: `${c.kind} writing ${c.size_mb} MB, cap ${fmt(c.cap_mb)} MB: peak RSS`,
      target: `<= ${fmt(c.bound_mb)} MB (2x cap + idle)`,
      actual: `${fmt(c.peak_rss_mb)} MB`,
      met: c.peak_rss_mb <= c.bound_mb,
    }));
    const failed = cases.filter((c) => !c.ok);
    if (failed.length) targets.push({ name: 'every container ran to its end', target: '0 failures', actual: `${failed.length} failures`, met: false });
    const text = [
      "stdout of sh -c 'head -c BYTES /dev/zero | tr \\0 x'; a fresh reconciler process per case",
      formatTable(
        ['kind', 'writes MB', 'cap MB', 'idle rss MB', 'peak rss MB', 'peak - idle MB', 'time to result s', 'stdout kept', 'truncated', 'ok'],
        cases.map((c) => [c.kind, c.size_mb, c.cap_mb, c.idle_rss_mb, c.peak_rss_mb, c.added_mb, round(c.result_ms / 1000, 2), c.stdout_bytes, String(c.truncated), c.ok ? 'yes' : 'NO']),
      ),
      ...failed.map((c) => `  ${c.kind} ${c.size_mb} MB cap ${c.cap_mb}: ${c.error}`),
      `targets\n${targetsTable(targets)}`,
    ].join('\n');
    return { text, json: { sizes_mb: sizes, caps_mb: [DEFAULT_CAP / MB, bigCap], cases }, targets };
  },
};
