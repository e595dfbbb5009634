/**
 * What every benchmark scenario gets from the driver (run.ts): a run id, the label that
 * marks everything this run creates, a Docker client, a quiet logger, settings from the
 * environment, and a place to register cleanups that run at the end, pass or fail.
 */
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import { pino, type Logger } from 'pino';
import { removeByLabel } from '../support/docker-env.js';
import { CpuMeter } from './cpu.js';

/** Label key every container of a benchmark run carries (`<key>=<run id>`). Not `highway.`: that prefix is reserved. */
export const BENCH_LABEL_KEY = 'highway-bench.run_id';

export interface BenchSettings {
  /** Containers per mode and concurrency (BENCH_N, default 100). */
  n: number;
  /** Modes to run (BENCH_MODES, comma-separated; default highway,dockerode,cli). */
  modes: string[];
  /** Concurrency levels (BENCH_CONCURRENCY, comma-separated; default 1,8). */
  concurrency: number[];
  /**
   * Rounds each mode's containers are split into, rotating the order of modes (BENCH_ROUNDS;
   * default: N at concurrency 1, i.e. one container per mode per round, else the number of modes).
   */
  rounds: number | null;
  /** Warm-up containers per mode before measuring (BENCH_WARMUP, default 3). */
  warmup: number;
  /** Record a per-phase trace of highway-docker (BENCH_TRACE=1). */
  trace: boolean;
  /** Where the JSON results go (BENCH_OUT, default ./bench-results.json). */
  out: string;
}

function intFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min} (got "${raw}")`);
  return v;
}

function listFromEnv(name: string, fallback: string[]): string[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function settingsFromEnv(): BenchSettings {
  const concurrency = listFromEnv('BENCH_CONCURRENCY', ['1', '8']).map((s) => {
    const c = Number(s);
    if (!Number.isInteger(c) || c < 1) throw new Error(`BENCH_CONCURRENCY: "${s}" is not a positive integer`);
    return c;
  });
  const rounds = process.env['BENCH_ROUNDS'] ? intFromEnv('BENCH_ROUNDS', 1, 1) : null;
  return {
    n: intFromEnv('BENCH_N', 100, 1),
    modes: listFromEnv('BENCH_MODES', ['highway', 'dockerode', 'cli']),
    concurrency,
    rounds,
    warmup: intFromEnv('BENCH_WARMUP', 3, 0),
    trace: ['1', 'true', 'yes'].includes((process.env['BENCH_TRACE'] ?? '').toLowerCase()),
    out: process.env['BENCH_OUT'] ?? 'bench-results.json',
  };
}

export type Cleanup = () => Promise<unknown>;

export class BenchContext {
  readonly runId = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
  /** `key=value` label filter that matches everything this run created. */
  readonly label = `${BENCH_LABEL_KEY}=${this.runId}`;
  readonly labels: Record<string, string> = { [BENCH_LABEL_KEY]: this.runId };
  readonly logger: Logger;
  readonly cpu = new CpuMeter();
  private readonly aborter = new AbortController();
  /** Aborted on Ctrl-C / SIGTERM: scenarios start no new containers and wind down. */
  readonly signal: AbortSignal = this.aborter.signal;
  private readonly cleanups: Array<{ what: string; fn: Cleanup }> = [];
  /** Extra label filters to sweep at the end (e.g. a reconciler's own label). */
  private readonly sweepLabels = new Set<string>([this.label]);

  constructor(
    readonly docker: Docker,
    readonly settings: BenchSettings,
  ) {
    // highway-docker logs a warning per run without resource limits; at 'error' the log costs nothing.
    this.logger = pino({ level: process.env['BENCH_LOG_LEVEL'] ?? 'error' }, pino.destination({ fd: 2, sync: true }));
  }

  abort(reason: string): void {
    this.aborter.abort(new Error(reason));
  }

  /** Throw if the run was interrupted. */
  checkAborted(): void {
    if (this.signal.aborted) throw this.signal.reason instanceof Error ? this.signal.reason : new Error('interrupted');
  }

  /** Run `fn` at the end (last registered runs first). */
  onCleanup(what: string, fn: Cleanup): void {
    this.cleanups.push({ what, fn });
  }

  /** Also remove containers matching `label` at the end. */
  sweep(label: string): void {
    this.sweepLabels.add(label);
  }

  /** How many containers of this run still exist (after cleanup: should be 0). */
  async remaining(): Promise<number> {
    let n = 0;
    for (const label of this.sweepLabels) n += (await this.docker.listContainers({ all: true, filters: { label: [label] } })).length;
    return n;
  }

  /** Run the cleanups, then force-remove every container of this run. Returns how many containers were left over. */
  async cleanup(): Promise<number> {
    for (const { what, fn } of this.cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup (${what}) failed: ${(err as Error).message}`);
      }
    }
    let removed = 0;
    for (const label of this.sweepLabels) {
      try {
        removed += await removeByLabel(this.docker, label);
      } catch (err) {
        console.error(`removing containers labelled ${label} failed: ${(err as Error).message}`);
      }
    }
    return removed;
  }
}

/** A benchmark scenario: a module that measures one thing and reports it. */
export interface Scenario {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<ScenarioResult>;
}

export interface ScenarioResult {
  /** Human-readable report (tables), printed by the driver. */
  text: string;
  /** Machine-readable results, written to the JSON file under the scenario's name. */
  json: unknown;
  /** Targets checked, for the driver's summary and exit code. */
  targets: TargetCheck[];
}

export interface TargetCheck {
  name: string;
  target: string;
  actual: string;
  met: boolean;
}
