/**
 * Scenario "cancellation": how long from `UPDATE highway.workflow_runs SET status = 'cancelled'`
 * to the container's `die` event, for containers that exit on SIGTERM (`sleep 600` under
 * init, the default), against a baseline of direct dockerode `kill` (SIGTERM) -> `die` on a
 * container of the same shape (the create body highway-docker sends).
 *
 * Each trial, sequential: run a container (highway: tools.docker.run with a fresh workflow
 * run; baseline: create + start), wait until it runs (highway: the intent says `running`),
 * settle, then cancel (highway: the UPDATE; baseline: the kill) and wait for the daemon's
 * `die` event. The modes alternate trial by trial, the one going first alternating too.
 *
 * Clocks: t0 is taken locally (highway: right after the UPDATE's commit came back; baseline:
 * right before the kill request is sent), both as a monotonic time and as a wall-clock time
 * (performance.timeOrigin + performance.now()). An event is measured twice: by its `timeNano`
 * (the daemon's wall clock: comparable with t0 only because the daemon runs on this host)
 * and by the local monotonic time at which this process read it off the events stream
 * (which adds the stream's delivery delay, but needs no shared clock).
 *
 * highway-docker logs each cancelled container at error level; those expected lines are
 * dropped (quietCancellations), every other line passes at BENCH_LOG_LEVEL.
 *
 * Environment: BENCH_CANCEL_TRIALS (default 30), BENCH_CANCEL_SETTLE_MS (pause after the
 * container runs, before cancelling; default 250).
 */
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import pg from 'pg';
import { pino } from 'pino';
import { toCreateOptions } from '../../src/params/container-config.js';
import { parseRunParams } from '../../src/params/schema.js';
import type { DockerRunResult } from '../../src/tools/docker-run.js';
import { removeByLabel } from '../support/docker-env.js';
import { TEST_IMAGE } from '../support/test-image.js';
import { type BenchContext, type Scenario, type ScenarioResult, type TargetCheck } from './context.js';
import { HighwayStack } from './highway.js';
import { fmt, formatTable, median, nowMs, round, summarizeLatencies, type LatencySummary, targetsTable } from './stats.js';

export const CANCEL_TARGETS = {
  /** UPDATE workflow_runs -> die (daemon timeNano), p99. */
  p99MaxMs: 150,
} as const;

/** A trial that has not converged after this long is a failure, not a hang. */
export const TRIAL_TIMEOUT_MS = 30_000;

const COMMAND = ['sleep', '600'];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wall-clock milliseconds with sub-millisecond precision (monotonic since process start). */
export const wallNowMs = (): number => performance.timeOrigin + performance.now();

/** How far the monotonic-derived wall clock has drifted from Date.now() (ms; ~1 ms resolution). */
export function wallSkewMs(): number {
  return Date.now() - wallNowMs();
}

export function intFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min} (got "${raw}")`);
  return v;
}

/**
 * The context with a logger that drops the reconciler's `container.exited` lines of cancelled
 * intents: highway-docker logs every non-zero end at error level, and here every trial ends
 * cancelled on purpose (one JSON line per trial on stderr otherwise). Other lines pass as usual.
 */
export function quietCancellations(ctx: BenchContext): BenchContext {
  const logger = pino(
    {
      level: process.env['BENCH_LOG_LEVEL'] ?? 'error',
      hooks: {
        logMethod(args, method) {
          const fields = args[0] as unknown as Record<string, unknown> | undefined;
          if (fields && typeof fields === 'object' && fields['event'] === 'container.exited' && fields['status'] === 'cancelled') return;
          method.apply(this, args);
        },
      },
    },
    pino.destination({ fd: 2, sync: true }),
  );
  return Object.create(ctx, { logger: { value: logger } }) as BenchContext;
}

/** Key of the label that marks one scenario's containers (its value: `<run id>-<scenario>`). */
export const BENCH_SCENARIO_LABEL_KEY = 'highway-bench.scenario';

/**
 * The labels of one scenario's containers (the run's label and the scenario's), and the
 * scenario's label filter, registered with the driver's sweep at the end of the run.
 */
export function scenarioLabels(ctx: BenchContext, scenario: string): { label: string; labels: Record<string, string> } {
  const value = `${ctx.runId}-${scenario}`;
  const label = `${BENCH_SCENARIO_LABEL_KEY}=${value}`;
  ctx.sweep(label);
  return { label, labels: { ...ctx.labels, [BENCH_SCENARIO_LABEL_KEY]: value } };
}

/** A container event as this benchmark saw it. */
export interface SeenEvent {
  action: string;
  id: string;
  /** The daemon's timestamp, in epoch milliseconds (from timeNano, microsecond precision). */
  daemonMs: number;
  /** performance.now() when this process parsed the event off the stream. */
  receivedMono: number;
  exitCode?: number;
}

/**
 * This benchmark's own subscription to the daemon's container events, filtered by a label:
 * independent of highway-docker's (the thing under test). Events are kept per container,
 * so a waiter also finds an event that arrived before it asked.
 */
export class EventWatcher {
  private readonly byId = new Map<string, SeenEvent[]>();
  private readonly watchers = new Set<() => void>();
  private closed: Error | null = null;
  private partial = '';

  private constructor(private readonly stream: NodeJS.ReadableStream & { destroy?: () => void }) {
    stream.on('data', (chunk: Buffer) => this.feed(chunk.toString()));
    const end = (why: string) => {
      this.closed ??= new Error(`Docker events stream ${why}`);
      this.notify();
    };
    stream.on('error', (err: Error) => end(`failed: ${err.message}`));
    stream.on('end', () => end('ended'));
    stream.on('close', () => end('closed'));
  }

  static async start(docker: Docker, label: string): Promise<EventWatcher> {
    const stream = (await docker.getEvents({ filters: { type: ['container'], label: [label] } } as never)) as unknown as NodeJS.ReadableStream;
    return new EventWatcher(stream);
  }

  private feed(text: string): void {
    const receivedMono = nowMs();
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      let raw: { Type?: string; Action?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> }; time?: number; timeNano?: number | string };
      try {
        raw = JSON.parse(line);
      } catch {
        continue;
      }
      const id = raw.Actor?.ID ?? raw.id;
      if (raw.Type !== 'container' || !id || !raw.Action) continue;
      // timeNano is a JSON number beyond 2^53: precise to a few hundred nanoseconds, plenty here.
      const nano = raw.timeNano !== undefined ? Number(raw.timeNano) : (raw.time ?? 0) * 1e9;
      const exit = raw.Actor?.Attributes?.['exitCode'];
      const ev: SeenEvent = { action: raw.Action, id, daemonMs: nano / 1e6, receivedMono, ...(exit !== undefined ? { exitCode: Number(exit) } : {}) };
      const list = this.byId.get(id) ?? [];
      list.push(ev);
      this.byId.set(id, list);
    }
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.watchers]) w();
  }

  /** The first `action` event of container `id` (also one already seen); rejects after `timeoutMs`. */
  wait(id: string, action: string, timeoutMs: number): Promise<SeenEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.byId.get(id)?.find((e) => e.action === action);
        if (found) {
          done();
          resolve(found);
        } else if (this.closed) {
          done();
          reject(this.closed);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${action} event for container ${id.slice(0, 12)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.watchers.delete(check);
      };
      this.watchers.add(check);
      check();
    });
  }

  /** Forget a container's events (after its trial). */
  forget(id: string): void {
    this.byId.delete(id);
  }

  stop(): void {
    this.closed ??= new Error('Docker events stream stopped');
    this.stream.destroy?.();
    this.notify();
  }
}

/** Reject after `ms` with `what`, unless `p` settles first. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Poll the intent of an activity until `pred` holds; rejects after `timeoutMs`. */
export async function waitIntent<R extends Record<string, unknown>>(
  client: pg.Client,
  sql: string,
  args: unknown[],
  pred: (row: R) => boolean,
  timeoutMs: number,
  what: string,
): Promise<R> {
  const deadline = nowMs() + timeoutMs;
  let last: R | undefined;
  for (;;) {
    const res = await client.query<R>(sql, args);
    last = res.rows[0];
    if (last && pred(last)) return last;
    if (nowMs() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last ?? null)})`);
    await sleep(20);
  }
}

interface HighwayTrial {
  trial: number;
  intent_id: string;
  container_id: string;
  /** UPDATE committed -> die: by the daemon's timeNano, and by the local receive time. */
  die_ms: number;
  die_local_ms: number;
  result_ms: number;
  destroy_ms: number;
  destroy_local_ms: number;
  exit_code: number | null;
}

interface BaselineTrial {
  trial: number;
  container_id: string;
  die_ms: number;
  die_local_ms: number;
  exit_code: number | null;
}

interface Failure {
  trial: number;
  mode: string;
  error: string;
}

export interface CancellationResult {
  trials: number;
  warmup: number;
  settle_ms: number;
  command: string[];
  image: string;
  clock_note: string;
  wall_clock_skew_ms: { at_start: number; at_end: number };
  highway: {
    update_to_die: LatencySummary;
    update_to_die_local: LatencySummary;
    update_to_result: LatencySummary;
    update_to_destroy: LatencySummary;
    update_to_destroy_local: LatencySummary;
  };
  dockerode: { kill_to_die: LatencySummary; kill_to_die_local: LatencySummary };
  comparison: {
    p50_ratio: number;
    p99_ratio: number;
    p50_overhead_ms: number;
    p99_overhead_ms: number;
    paired_median_overhead_ms: number;
  };
  failures: Failure[];
  per_trial: { highway: HighwayTrial[]; dockerode: BaselineTrial[] };
  targets: typeof CANCEL_TARGETS;
}

export const cancellationScenario: Scenario = {
  name: 'cancellation',
  description: "UPDATE workflow_runs SET status='cancelled' -> the container's die event (sleep 600, init), vs dockerode kill SIGTERM -> die",
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const log = (s: string) => console.error(s);
    const trials = intFromEnv('BENCH_CANCEL_TRIALS', 30, 1);
    const settleMs = intFromEnv('BENCH_CANCEL_SETTLE_MS', 250, 0);
    const warmup = Math.min(ctx.settings.warmup, 2);
    // A label of this scenario alone (AND the run's label): cleanup by it at the end, pass or fail.
    const { label: scenarioLabel, labels } = scenarioLabels(ctx, 'cancellation');

    const skewStart = wallSkewMs();
    const stack = await HighwayStack.start(quietCancellations(ctx));
    const watcher = await EventWatcher.start(ctx.docker, scenarioLabel);
    const db = new pg.Client({ connectionString: stack.db.url, application_name: 'highway-bench-cancellation' });
    await db.connect();

    // The baseline's containers: the create body highway-docker's reconciler sends for the same parameters.
    const spec = parseRunParams({ image: TEST_IMAGE, command: COMMAND, labels });
    const { name: _unused, ...baselineOptions } = toCreateOptions(spec, { name: 'unused', labels });

    const hw: HighwayTrial[] = [];
    const base: BaselineTrial[] = [];
    const failures: Failure[] = [];

    const highwayTrial = async (trial: number): Promise<HighwayTrial> => {
      const activity = stack.activity();
      const aborter = new AbortController();
      let containerId: string | null = null;
      const call = stack.run({ command: COMMAND, labels }, { ...activity, signal: aborter.signal });
      call.catch(() => {}); // awaited below; a failure before then must not be unhandled
      try {
        const row = await waitIntent<{ status: string; container_id: string | null; id: string }>(
          db,
          'SELECT id, status, container_id FROM highway.docker_containers WHERE activity_id = $1',
          [activity.activity_id],
          (r) => r.status === 'running' && r.container_id !== null,
          TRIAL_TIMEOUT_MS,
          'intent running',
        );
        containerId = row.container_id!;
        await watcher.wait(containerId, 'start', TRIAL_TIMEOUT_MS);
        await sleep(settleMs);

        await db.query(`UPDATE highway.workflow_runs SET status = 'cancelled', updated_at = now() WHERE id = $1`, [activity.workflow_run_id]);
        const t0 = nowMs();
        const t0Wall = wallNowMs();

        let resultAt = 0;
        const result = call.then((r: DockerRunResult) => {
          resultAt = nowMs();
          return r;
        });
        result.catch(() => {});
        const die = await watcher.wait(containerId, 'die', TRIAL_TIMEOUT_MS);
        const destroy = await watcher.wait(containerId, 'destroy', Math.max(1, TRIAL_TIMEOUT_MS - (nowMs() - t0)));
        const r = await within(result, Math.max(1, TRIAL_TIMEOUT_MS - (nowMs() - t0)), 'cancelled result');
        if (r.status !== 'cancelled' || r.stop_reason !== 'workflow_cancelled') {
          throw new Error(`intent ${r.intent_id} ended ${r.status}/${r.stop_reason ?? '-'} (exit ${r.exit_code}), not cancelled/workflow_cancelled`);
        }
        return {
          trial,
          intent_id: row.id,
          container_id: containerId,
          die_ms: die.daemonMs - t0Wall,
          die_local_ms: die.receivedMono - t0,
          result_ms: resultAt - t0,
          destroy_ms: destroy.daemonMs - t0Wall,
          destroy_local_ms: destroy.receivedMono - t0,
          exit_code: r.exit_code,
        };
      } catch (err) {
        aborter.abort(err);
        if (containerId) await ctx.docker.getContainer(containerId).remove({ force: true, v: true }).catch(() => {});
        throw err;
      } finally {
        if (containerId) watcher.forget(containerId);
      }
    };

    const baselineTrial = async (trial: number): Promise<BaselineTrial> => {
      const container = await ctx.docker.createContainer({ ...baselineOptions, name: `bench-cancel-${randomUUID()}` });
      try {
        await container.start();
        await watcher.wait(container.id, 'start', TRIAL_TIMEOUT_MS);
        await sleep(settleMs);
        const t0 = nowMs();
        const t0Wall = wallNowMs();
        await within(container.kill({ signal: 'SIGTERM' }) as Promise<unknown>, TRIAL_TIMEOUT_MS, 'kill');
        const die = await watcher.wait(container.id, 'die', Math.max(1, TRIAL_TIMEOUT_MS - (nowMs() - t0)));
        return { trial, container_id: container.id, die_ms: die.daemonMs - t0Wall, die_local_ms: die.receivedMono - t0, exit_code: die.exitCode ?? null };
      } finally {
        await container.remove({ force: true, v: true }).catch(() => {});
        watcher.forget(container.id);
      }
    };

    const modes = [
      { name: 'highway', run: async (t: number, keep: boolean) => { const r = await highwayTrial(t); if (keep) hw.push(r); return r.die_ms; } },
      { name: 'dockerode', run: async (t: number, keep: boolean) => { const r = await baselineTrial(t); if (keep) base.push(r); return r.die_ms; } },
    ];

    let skewEnd = skewStart;
    try {
      if (warmup > 0) log(`  warm-up: ${warmup} trial(s) per mode`);
      for (let w = 0; w < warmup; w++) {
        for (const m of modes) {
          ctx.checkAborted();
          await m.run(-1 - w, false).catch((err: Error) => log(`  warm-up ${m.name} failed: ${err.message}`));
        }
      }
      const progressEvery = Math.max(1, Math.round(trials / 5));
      for (let t = 0; t < trials; t++) {
        const order = t % 2 === 0 ? modes : [...modes].reverse();
        for (const m of order) {
          ctx.checkAborted();
          try {
            await m.run(t, true);
          } catch (err) {
            failures.push({ trial: t, mode: m.name, error: (err as Error).message });
            log(`  trial ${t + 1} ${m.name} FAILED: ${(err as Error).message}`);
          }
        }
        if ((t + 1) % progressEvery === 0 || t === trials - 1) {
          log(
            `  trial ${t + 1}/${trials}: UPDATE->die p50 ${fmt(median(hw.map((x) => x.die_ms)))} ms, ` +
              `kill->die p50 ${fmt(median(base.map((x) => x.die_ms)))} ms, failures ${failures.length}`,
          );
        }
      }
      skewEnd = wallSkewMs();
    } finally {
      watcher.stop();
      await db.end().catch(() => {});
      await removeByLabel(ctx.docker, scenarioLabel).catch((err: Error) => log(`  cleanup by ${scenarioLabel} failed: ${err.message}`));
      await stack.stop();
      await removeByLabel(ctx.docker, stack.label).catch(() => {});
    }

    const s = {
      die: summarizeLatencies(hw.map((x) => x.die_ms)),
      dieLocal: summarizeLatencies(hw.map((x) => x.die_local_ms)),
      result: summarizeLatencies(hw.map((x) => x.result_ms)),
      destroy: summarizeLatencies(hw.map((x) => x.destroy_ms)),
      destroyLocal: summarizeLatencies(hw.map((x) => x.destroy_local_ms)),
      baseDie: summarizeLatencies(base.map((x) => x.die_ms)),
      baseDieLocal: summarizeLatencies(base.map((x) => x.die_local_ms)),
    };
    const paired = hw
      .map((h) => {
        const b = base.find((x) => x.trial === h.trial);
        return b ? h.die_ms - b.die_ms : null;
      })
      .filter((x): x is number => x !== null);
    const comparison = {
      p50_ratio: round(s.die.p50_ms / s.baseDie.p50_ms, 2),
      p99_ratio: round(s.die.p99_ms / s.baseDie.p99_ms, 2),
      p50_overhead_ms: round(s.die.p50_ms - s.baseDie.p50_ms),
      p99_overhead_ms: round(s.die.p99_ms - s.baseDie.p99_ms),
      paired_median_overhead_ms: round(median(paired)),
    };

    const clockNote =
      "'daemon' = the event's timeNano (dockerd's wall clock) minus t0 taken on this host's wall clock: valid because dockerd runs on this host; " +
      "'local' = performance.now() when this process read the event off its own events subscription, minus t0 (monotonic, includes stream delivery)";
    const row = (name: string, clock: string, l: LatencySummary) => [name, clock, l.n, l.min_ms, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms, l.mean_ms];
    const latencyTable = formatTable(
      ['measure', 'clock', 'n', 'min ms', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'mean ms'],
      [
        row('highway: UPDATE -> die', 'daemon', s.die),
        row('highway: UPDATE -> die', 'local', s.dieLocal),
        row('highway: UPDATE -> destroy (removed)', 'daemon', s.destroy),
        row('highway: UPDATE -> destroy (removed)', 'local', s.destroyLocal),
        row('highway: UPDATE -> caller has result', 'local', s.result),
        row('dockerode: kill SIGTERM -> die', 'daemon', s.baseDie),
        row('dockerode: kill SIGTERM -> die', 'local', s.baseDieLocal),
      ],
    );
    const cmpTable = formatTable(
      ['ratio (die, daemon clock)', 'p50 ratio', 'p99 ratio', 'p50 overhead', 'p99 overhead', 'paired median overhead'],
      [[
        'highway / dockerode',
        `${comparison.p50_ratio.toFixed(2)}x`,
        `${comparison.p99_ratio.toFixed(2)}x`,
        `${fmt(comparison.p50_overhead_ms, 1)} ms`,
        `${fmt(comparison.p99_overhead_ms, 1)} ms`,
        `${fmt(comparison.paired_median_overhead_ms, 1)} ms`,
      ]],
    );

    const targets: TargetCheck[] = [
      {
        name: 'UPDATE workflow_runs -> die (daemon timeNano), p99',
        target: `<= ${CANCEL_TARGETS.p99MaxMs} ms`,
        actual: s.die.n ? `${fmt(s.die.p99_ms, 1)} ms (p50 ${fmt(s.die.p50_ms, 1)}, n ${s.die.n}; local receive p99 ${fmt(s.dieLocal.p99_ms, 1)})` : 'not measured',
        met: s.die.n > 0 && s.die.p99_ms <= CANCEL_TARGETS.p99MaxMs,
      },
    ];
    if (failures.length > 0) {
      // The driver's exit code keys on this name.
      targets.push({ name: 'every container ran to its end', target: '0 failed trials', actual: `${failures.length} failed cancellation trial(s)`, met: false });
    }

    const lines = [
      `${trials} trials per mode (${COMMAND.join(' ')}, init true), interleaved, the first mode alternating; settle ${settleMs} ms after the container runs; warm-up ${warmup} per mode`,
      `t0: highway = right after the UPDATE's commit returned; dockerode = right before the kill request. p99 is nearest-rank: rank ${Math.ceil(0.99 * trials)} of ${trials}.`,
      latencyTable,
      '',
      cmpTable,
      '',
      `clocks: ${clockNote}; wall-clock skew (Date.now - timeOrigin+now) ${fmt(skewStart, 1)} ms at start, ${fmt(skewEnd, 1)} ms at end`,
    ];
    if (failures.length) lines.push('', `FAILED trials (${failures.length}):`, ...failures.map((f) => `  trial ${f.trial + 1} ${f.mode}: ${f.error}`));
    lines.push(
      '',
      'targets\n' +
        targetsTable(targets),
    );

    const json: CancellationResult = {
      trials,
      warmup,
      settle_ms: settleMs,
      command: COMMAND,
      image: TEST_IMAGE,
      clock_note: clockNote,
      wall_clock_skew_ms: { at_start: round(skewStart, 2), at_end: round(skewEnd, 2) },
      highway: {
        update_to_die: s.die,
        update_to_die_local: s.dieLocal,
        update_to_result: s.result,
        update_to_destroy: s.destroy,
        update_to_destroy_local: s.destroyLocal,
      },
      dockerode: { kill_to_die: s.baseDie, kill_to_die_local: s.baseDieLocal },
      comparison,
      failures,
      per_trial: {
        highway: hw.map((x) => ({ ...x, die_ms: round(x.die_ms, 2), die_local_ms: round(x.die_local_ms, 2), result_ms: round(x.result_ms, 2), destroy_ms: round(x.destroy_ms, 2), destroy_local_ms: round(x.destroy_local_ms, 2) })),
        dockerode: base.map((x) => ({ ...x, die_ms: round(x.die_ms, 2), die_local_ms: round(x.die_local_ms, 2) })),
      },
      targets: CANCEL_TARGETS,
    };
    return { text: lines.join('\n'), json, targets };
  },
};
