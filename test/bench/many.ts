/**
 * Scenario "many" (issue 20): BENCH_MANY_N (default 500) detached `sleep 3600` containers on
 * one host.
 *   highway    one workflow run; every tools.docker.run {detach: true} called at once (the
 *              reconciler's own concurrency decides how many are worked on at a time), timed from
 *              the first call to the last one returning `running`. Then the reconciler (its own
 *              process, envelope.ts) idles with all of them running for BENCH_MANY_IDLE_S
 *              (default 30): its CPU (% of one core) and RSS from /proc. Then one workflow
 *              cancellation (UPDATE highway.workflow_runs SET status = 'cancelled'), timed until
 *              the daemon reports the last container destroyed.
 *   dockerode  BENCH_MANY_WORKERS (default 16, the reconciler's default concurrency) workers
 *              create + start the same containers (highway-docker's create body: init, so
 *              `sleep` ends on SIGTERM), timed until the last start returned; then stop
 *              (SIGTERM) + remove each, timed until the last removal returned.
 * Where the machine cannot hold N, the runs that failed are counted and the first errors shown
 * (the scenario goes on with those that run). Bounded by BENCH_MANY_TIMEOUT_S (default 600) per phase.
 * Targets: idle CPU < 2 % of a core, RSS < 300 MB, cancel-all <= 1.2x dockerode's stop+remove.
 */
import type Docker from 'dockerode';
import pg from 'pg';
import { toCreateOptions } from '../../src/params/container-config.js';
import { parseRunParams } from '../../src/params/schema.js';
import { removeByLabel } from '../support/docker-env.js';
import { TEST_IMAGE } from '../support/test-image.js';
import type { BenchContext, Scenario, ScenarioResult, TargetCheck } from './context.js';
import { intFromEnv, quietCancellations, scenarioLabels, sleep } from './cancellation.js';
import { ChildStack, pool, pct } from './envelope.js';
import { fmt, formatTable, nowMs, round, targetsTable } from './stats.js';

export const MANY_TARGETS = { idleCpuMaxShare: 0.02, rssMaxMb: 300, cancelRatioMax: 1.2 } as const;
const COMMAND = ['sleep', '3600'];

/** Counts `destroy` events of a label's containers (a stream filtered at the daemon). */
class DestroyCounter {
  readonly destroyed = new Set<string>();
  private stream: NodeJS.ReadableStream & { destroy?: () => void } | null = null;
  private waiters: Array<() => void> = [];

  static async start(docker: Docker, label: string): Promise<DestroyCounter> {
    const c = new DestroyCounter();
    const stream = (await docker.getEvents({ filters: { type: ['container'], event: ['destroy'], label: [label] } })) as unknown as NodeJS.ReadableStream & { destroy?: () => void };
    c.stream = stream;
    let buf = '';
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        try {
          const e = JSON.parse(line) as { Actor?: { ID?: string } };
          if (e.Actor?.ID) c.destroyed.add(e.Actor.ID);
        } catch {
          /* a bad line: the final count check catches a miss */
        }
      }
      for (const w of c.waiters.splice(0)) w();
    });
    stream.on('error', () => {});
    return c;
  }

  /** Resolves once every id in `ids` was destroyed (or rejects after timeoutMs). */
  async all(ids: readonly string[], timeoutMs: number): Promise<void> {
    const deadline = nowMs() + timeoutMs;
    while (!ids.every((id) => this.destroyed.has(id))) {
      const left = deadline - nowMs();
      if (left <= 0) throw new Error(`${ids.filter((id) => !this.destroyed.has(id)).length} of ${ids.length} containers not destroyed within ${timeoutMs / 1000} s`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  stop(): void {
    this.stream?.destroy?.();
  }
}

interface HighwayMany {
  requested: number;
  running: number;
  failed: number;
  error_samples: string[];
  start_all_ms: number;
  idle_s: number;
  idle_cpu_ms: number;
  idle_cpu_share: number;
  rss_mb: number;
  peak_rss_mb: number;
  cancel_all_ms: number;
}

interface DockerodeMany {
  requested: number;
  running: number;
  failed: number;
  error_samples: string[];
  start_all_ms: number;
  stop_remove_all_ms: number;
}

export const manyScenario: Scenario = {
  name: 'many',
  description: 'N detached sleep containers on one host: start all, idle reconciler CPU and RSS, cancel all (one workflow cancellation) vs dockerode',
  async run(baseCtx: BenchContext): Promise<ScenarioResult> {
    const ctx = quietCancellations(baseCtx);
    const log = (s: string) => console.error(s);
    const n = intFromEnv('BENCH_MANY_N', 500, 1);
    const idleS = intFromEnv('BENCH_MANY_IDLE_S', 30, 1);
    const workers = intFromEnv('BENCH_MANY_WORKERS', 16, 1);
    const timeoutMs = intFromEnv('BENCH_MANY_TIMEOUT_S', 600, 10) * 1000;

    // ---- highway-docker
    const { label: hwLabel, labels: hwLabels } = scenarioLabels(ctx, 'many-highway');
    const stack = await ChildStack.start(ctx);
    const db = new pg.Client({ connectionString: stack.db.url, application_name: 'highway-bench-many' });
    await db.connect();
    let hw: HighwayMany;
    const counter = await DestroyCounter.start(ctx.docker, hwLabel);
    try {
      const workflowRun = stack.activity().workflow_run_id;
      log(`many: highway-docker, ${n} detached containers at once`);
      const t0 = nowMs();
      const errors: string[] = [];
      const ids: string[] = [];
      let lastRunning = t0;
      await Promise.all(
        Array.from({ length: n }, async () => {
          try {
            const r = await stack.run({ command: COMMAND, detach: true, labels: hwLabels }, stack.activity({ workflow_run_id: workflowRun }));
            if (r.status !== 'running' || !r.container_id) throw new Error(`intent ${r.intent_id} is ${r.status}: ${r.error ?? '-'}`);
            ids.push(r.container_id);
            lastRunning = nowMs();
          } catch (err) {
            errors.push((err as Error).message);
          }
        }),
      );
      const startAllMs = lastRunning - t0;
      log(`many: highway-docker: ${ids.length} running after ${fmt(startAllMs / 1000)} s (${errors.length} failed); idling ${idleS} s`);
      await sleep(2_000); // the last starts' trailing work (audit rows, the pass after) is not idling
      const cpu0 = stack.cpuMs();
      const i0 = nowMs();
      await sleep(idleS * 1000);
      const idleCpu = stack.cpuMs() - cpu0;
      const idleWall = nowMs() - i0;
      const mem = stack.mem();
      log(`many: highway-docker: idle CPU ${pct(idleCpu / idleWall)} of a core, RSS ${fmt(mem.rss)} MB; cancelling the workflow run`);
      const c0 = nowMs();
      await db.query(`UPDATE highway.workflow_runs SET status = 'cancelled', updated_at = now() WHERE id = $1`, [workflowRun]);
      await counter.all(ids, timeoutMs);
      const cancelAllMs = nowMs() - c0;
      log(`many: highway-docker: all removed ${fmt(cancelAllMs / 1000)} s after the cancellation`);
      hw = {
        requested: n,
        running: ids.length,
        failed: errors.length,
        error_samples: [...new Set(errors)].slice(0, 5),
        start_all_ms: round(startAllMs),
        idle_s: round(idleWall / 1000),
        idle_cpu_ms: round(idleCpu),
        idle_cpu_share: round(idleCpu / idleWall, 4),
        rss_mb: round(mem.rss),
        peak_rss_mb: round(mem.peak),
        cancel_all_ms: round(cancelAllMs),
      };
    } finally {
      counter.stop();
      await db.end().catch(() => {});
      await stack.stop();
      await removeByLabel(ctx.docker, hwLabel).catch(() => 0);
    }

    // ---- dockerode, the same containers (highway-docker's create body)
    const { label: dLabel, labels: dLabels } = scenarioLabels(ctx, 'many-dockerode');
    const spec = parseRunParams({ image: TEST_IMAGE, command: COMMAND, labels: dLabels });
    const { name: _unused, ...options } = toCreateOptions(spec, { name: 'unused', labels: dLabels });
    let dd: DockerodeMany;
    try {
      log(`many: dockerode, ${n} containers, ${workers} workers`);
      const containers: Docker.Container[] = [];
      const t0 = nowMs();
      const startErrors = await pool(n, workers, async () => {
        const c = await ctx.docker.createContainer(options);
        containers.push(c);
        await c.start();
      }, ctx.signal);
      const startAllMs = nowMs() - t0;
      await sleep(2_000);
      const r0 = nowMs();
      const stopErrors = await pool(containers.length, workers, async (i) => {
        const c = containers[i]!;
        await c.stop({ t: 10 }).catch((err: { statusCode?: number }) => {
          if (err.statusCode !== 304) throw err; // 304: already stopped
        });
        await c.remove({ v: true });
      });
      const stopAllMs = nowMs() - r0;
      log(`many: dockerode: started in ${fmt(startAllMs / 1000)} s, stopped and removed in ${fmt(stopAllMs / 1000)} s`);
      dd = {
        requested: n,
        running: containers.length - startErrors.length,
        failed: startErrors.length + stopErrors.length,
        error_samples: [...new Set([...startErrors, ...stopErrors])].slice(0, 5),
        start_all_ms: round(startAllMs),
        stop_remove_all_ms: round(stopAllMs),
      };
    } finally {
      await removeByLabel(ctx.docker, dLabel).catch(() => 0);
    }

    const cancelRatio = hw.cancel_all_ms / dd.stop_remove_all_ms;
    const targets: TargetCheck[] = [
      { name: `idle reconciler CPU, ${hw.running} running`, target: `< ${pct(MANY_TARGETS.idleCpuMaxShare)} of a core`, actual: pct(hw.idle_cpu_share), met: hw.idle_cpu_share < MANY_TARGETS.idleCpuMaxShare },
      { name: `reconciler RSS, ${hw.running} running`, target: `< ${MANY_TARGETS.rssMaxMb} MB`, actual: `${fmt(hw.rss_mb)} MB (peak ${fmt(hw.peak_rss_mb)})`, met: hw.rss_mb < MANY_TARGETS.rssMaxMb },
      { name: 'cancel all (one workflow) / dockerode stop+remove all', target: `<= ${MANY_TARGETS.cancelRatioMax}x`, actual: `${cancelRatio.toFixed(2)}x`, met: cancelRatio <= MANY_TARGETS.cancelRatioMax },
    ];
    if (hw.failed + dd.failed > 0) {
      targets.push({ name: 'every container ran to its end', target: '0 failures', actual: `${hw.failed} highway, ${dd.failed} dockerode failed`, met: false });
    }
    const text = [
      `${n} detached \`sleep 3600\` containers; dockerode with ${workers} workers and highway-docker's create body`,
      formatTable(
        ['mode', 'running', 'failed', 'start all s', 'idle cpu (1 core)', 'rss MB', 'peak rss MB', 'cancel / stop+remove all s'],
        [
          ['highway', hw.running, hw.failed, round(hw.start_all_ms / 1000, 2), pct(hw.idle_cpu_share), hw.rss_mb, hw.peak_rss_mb, round(hw.cancel_all_ms / 1000, 2)],
          ['dockerode', dd.running, dd.failed, round(dd.start_all_ms / 1000, 2), '-', '-', '-', round(dd.stop_remove_all_ms / 1000, 2)],
        ],
      ),
      ...[...hw.error_samples, ...dd.error_samples].map((e) => `  error: ${e}`),
      `targets\n${targetsTable(targets)}`,
    ].join('\n');
    return { text, json: { n, idle_s: idleS, workers, targets: MANY_TARGETS, highway: hw, dockerode: dd }, targets };
  },
};
