/**
 * Scenario "orphan": how fast the container of a worker that died without a word is
 * cleaned up. Each trial, sequential: spawn `node bin/highway-docker.js run` (an activity
 * worker in a box, heartbeating at a third of HIGHWAY_WORKER_TIMEOUT_S) running `sleep 600`
 * against the bench database, with the in-process reconciler (same worker timeout) doing the
 * Docker work; once the container runs (and after a random pause within one heartbeat
 * interval, so the kill lands at every phase of the heartbeat), SIGKILL the worker; then wait
 * for the container's `destroy` event and the row's `removed_at`.
 *
 * Measured from the worker's heartbeat expiry: its last `heartbeat_at` in highway.workers
 * (PostgreSQL's clock) plus the worker timeout, to the container's die / destroy events
 * (the daemon's timeNano) and to `removed_at` (written by the reconciler from its own
 * clock). All three clocks are this host's wall clock here (embedded PostgreSQL, local
 * dockerd, in-process reconciler); with TEST_DATABASE_URL or DOCKER_HOST elsewhere they are
 * not, and these numbers carry the skew. For context, SIGKILL -> destroy is measured on this
 * process's monotonic clock (the destroy event as received here).
 *
 * Environment: BENCH_ORPHAN_TRIALS (default 10), BENCH_ORPHAN_WORKER_TIMEOUT_S (default 2).
 * The workers run the compiled CLI (dist/): `npm run bench` builds it first.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { removeByLabel } from '../support/docker-env.js';
import { ensureBuilt, spawnCli, type CliProcess } from '../support/processes.js';
import { TEST_IMAGE } from '../support/test-image.js';
import type { BenchContext, Scenario, ScenarioResult, TargetCheck } from './context.js';
import { HighwayStack } from './highway.js';
import { EventWatcher, TRIAL_TIMEOUT_MS, intFromEnv, quietCancellations, scenarioLabels, sleep, wallNowMs, wallSkewMs, waitIntent, within } from './cancellation.js';
import { fmt, formatTable, nowMs, round, summarizeLatencies, type LatencySummary, targetsTable } from './stats.js';

export const ORPHAN_TARGETS = {
  /** Heartbeat expiry -> container removed (destroy event), every trial. */
  maxMs: 1_000,
} as const;

const COMMAND = ['sleep', '600'];

interface OrphanTrial {
  trial: number;
  intent_id: string;
  container_id: string;
  worker_id: string;
  /** Pause between the container running and the SIGKILL (random within one heartbeat interval). */
  pause_ms: number;
  /** Last heartbeat (PostgreSQL clock) + worker timeout, minus the SIGKILL (this host's wall clock). */
  kill_to_expiry_ms: number;
  expiry_to_die_ms: number;
  expiry_to_destroy_ms: number;
  expiry_to_removed_at_ms: number;
  kill_to_destroy_local_ms: number;
  status: string;
  stop_reason: string | null;
}

interface Failure {
  trial: number;
  error: string;
}

interface RowState {
  id: string;
  status: string;
  stop_reason: string | null;
  container_id: string | null;
  worker_id: string | null;
  removed_ms: number | null;
  heartbeat_ms: number | null;
  worker_status: string | null;
}

const ROW_SQL = `
  SELECT c.id, c.status, c.stop_reason, c.container_id, c.worker_id,
         (extract(epoch FROM c.removed_at) * 1000)::float8 AS removed_ms,
         (extract(epoch FROM w.heartbeat_at) * 1000)::float8 AS heartbeat_ms,
         w.status AS worker_status
    FROM highway.docker_containers c
    LEFT JOIN highway.workers w ON w.id = c.worker_id
   WHERE c.activity_id = $1`;

/** Reject as soon as the worker exits (before it was meant to). */
function unlessExited<T>(p: Promise<T>, worker: CliProcess, what: string): Promise<T> {
  const exited = worker.exited.then((e) => {
    throw new Error(`the worker exited (code ${e.code}, signal ${e.signal}) before ${what}; stderr: ${worker.stderr.slice(-1000)}`);
  });
  exited.catch(() => {});
  return Promise.race([p, exited]);
}

export const orphanScenario: Scenario = {
  name: 'orphan',
  description: '`highway-docker run` worker SIGKILLed: its heartbeat expiry -> its container removed',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const log = (s: string) => console.error(s);
    const trials = intFromEnv('BENCH_ORPHAN_TRIALS', 10, 1);
    const timeoutS = intFromEnv('BENCH_ORPHAN_WORKER_TIMEOUT_S', 2, 1);
    const heartbeatMs = (timeoutS * 1000) / 3;
    const { label: scenarioLabel, labels } = scenarioLabels(ctx, 'orphan');

    try {
      ensureBuilt(); // no-op when dist/ is fresher than src/ (npm run bench builds first)
    } catch (err) {
      throw new Error(`building the CLI failed (the workers run dist/): ${(err as Error).message}`);
    }

    const skewStart = wallSkewMs();
    const stack = await HighwayStack.start(quietCancellations(ctx), { reconciler: { workerTimeoutMs: timeoutS * 1000 } });
    const watcher = await EventWatcher.start(ctx.docker, scenarioLabel);
    const db = new pg.Client({ connectionString: stack.db.url, application_name: 'highway-bench-orphan' });
    await db.connect();
    const workers = new Set<CliProcess>();

    const trial = async (t: number): Promise<OrphanTrial> => {
      const runId = randomUUID();
      const activityId = randomUUID();
      const worker = spawnCli(
        ['run', '--json', '--params', '-', '--tenant', 'bench', '--workflow-run', runId, '--activity', activityId, TEST_IMAGE, ...COMMAND],
        {
          databaseUrl: stack.db.url,
          reconcilerId: stack.reconcilerId,
          env: { HIGHWAY_WORKER_TIMEOUT_S: String(timeoutS), HIGHWAY_LOG_LEVEL: 'error' },
          stdin: JSON.stringify({ labels }),
        },
      );
      workers.add(worker);
      let containerId: string | null = null;
      try {
        const running = await unlessExited(
          waitIntent<RowState & Record<string, unknown>>(db, ROW_SQL, [activityId], (r) => r.status === 'running' && r.container_id !== null, TRIAL_TIMEOUT_MS, 'intent running'),
          worker,
          'its container ran',
        );
        containerId = running.container_id!;
        await watcher.wait(containerId, 'start', TRIAL_TIMEOUT_MS);
        const pause = 300 + Math.random() * heartbeatMs;
        await unlessExited(sleep(pause), worker, 'the SIGKILL');

        const die = watcher.wait(containerId, 'die', TRIAL_TIMEOUT_MS);
        const destroy = watcher.wait(containerId, 'destroy', TRIAL_TIMEOUT_MS);
        die.catch(() => {});
        destroy.catch(() => {});
        const tKill = nowMs();
        const tKillWall = wallNowMs();
        worker.signal('SIGKILL');
        const exit = await within(worker.exited, TRIAL_TIMEOUT_MS, 'worker exit after SIGKILL');
        if (exit.signal !== 'SIGKILL') throw new Error(`the worker ended with code ${exit.code}, signal ${exit.signal}, not by the SIGKILL`);

        const dieEv = await die;
        const destroyEv = await destroy;
        const row = await waitIntent<RowState & Record<string, unknown>>(
          db,
          ROW_SQL,
          [activityId],
          (r) => r.removed_ms !== null,
          Math.max(1, TRIAL_TIMEOUT_MS - (nowMs() - tKill)),
          'removed_at recorded',
        );
        if (row.heartbeat_ms === null) throw new Error(`worker ${row.worker_id} has no row in highway.workers`);
        if (row.status !== 'cancelled' || row.stop_reason !== 'worker_lost') {
          throw new Error(`intent ${row.id} ended ${row.status}/${row.stop_reason ?? '-'}, not cancelled/worker_lost`);
        }
        const expiry = row.heartbeat_ms + timeoutS * 1000;
        return {
          trial: t,
          intent_id: row.id,
          container_id: containerId,
          worker_id: row.worker_id ?? '',
          pause_ms: round(pause),
          kill_to_expiry_ms: expiry - tKillWall,
          expiry_to_die_ms: dieEv.daemonMs - expiry,
          expiry_to_destroy_ms: destroyEv.daemonMs - expiry,
          expiry_to_removed_at_ms: row.removed_ms! - expiry,
          kill_to_destroy_local_ms: destroyEv.receivedMono - tKill,
          status: row.status,
          stop_reason: row.stop_reason,
        };
      } catch (err) {
        await worker.kill();
        // Trials run one at a time: whatever of this scenario is left now is this trial's.
        await removeByLabel(ctx.docker, scenarioLabel).catch(() => {});
        throw err;
      } finally {
        workers.delete(worker);
        if (containerId) watcher.forget(containerId);
      }
    };

    const done: OrphanTrial[] = [];
    const failures: Failure[] = [];
    let skewEnd = skewStart;
    try {
      for (let t = 0; t < trials; t++) {
        ctx.checkAborted();
        try {
          const r = await trial(t);
          done.push(r);
          log(
            `  trial ${t + 1}/${trials}: expiry->destroy ${fmt(r.expiry_to_destroy_ms, 1)} ms, expiry->removed_at ${fmt(r.expiry_to_removed_at_ms, 1)} ms, ` +
              `SIGKILL->destroy ${fmt(r.kill_to_destroy_local_ms, 0)} ms`,
          );
        } catch (err) {
          failures.push({ trial: t, error: (err as Error).message });
          log(`  trial ${t + 1}/${trials} FAILED: ${(err as Error).message}`);
        }
      }
      skewEnd = wallSkewMs();
    } finally {
      for (const w of workers) await w.kill();
      watcher.stop();
      await db.end().catch(() => {});
      await removeByLabel(ctx.docker, scenarioLabel).catch((err: Error) => log(`  cleanup by ${scenarioLabel} failed: ${err.message}`));
      await stack.stop();
      await removeByLabel(ctx.docker, stack.label).catch(() => {});
    }

    const s = {
      die: summarizeLatencies(done.map((x) => x.expiry_to_die_ms)),
      destroy: summarizeLatencies(done.map((x) => x.expiry_to_destroy_ms)),
      removedAt: summarizeLatencies(done.map((x) => x.expiry_to_removed_at_ms)),
      killDestroy: summarizeLatencies(done.map((x) => x.kill_to_destroy_local_ms)),
      killExpiry: summarizeLatencies(done.map((x) => x.kill_to_expiry_ms)),
    };
    const row = (name: string, clock: string, l: LatencySummary) => [name, clock, l.n, l.min_ms, l.p50_ms, l.p95_ms, l.max_ms, l.mean_ms];
    const table = formatTable(
      ['measure', 'clocks', 'n', 'min ms', 'p50 ms', 'p95 ms', 'max ms', 'mean ms'],
      [
        row('heartbeat expiry -> die', 'postgres -> daemon', s.die),
        row('heartbeat expiry -> destroy (removed)', 'postgres -> daemon', s.destroy),
        row('heartbeat expiry -> removed_at', 'postgres -> reconciler', s.removedAt),
        row('SIGKILL -> heartbeat expiry', 'local -> postgres', s.killExpiry),
        row('SIGKILL -> destroy (removed)', 'local monotonic', s.killDestroy),
      ],
    );

    const targets: TargetCheck[] = [
      {
        name: 'worker heartbeat expiry -> container removed (destroy event), max',
        target: `<= ${ORPHAN_TARGETS.maxMs} ms`,
        actual: s.destroy.n ? `max ${fmt(s.destroy.max_ms, 1)} ms (p50 ${fmt(s.destroy.p50_ms, 1)}, n ${s.destroy.n})` : 'not measured',
        met: s.destroy.n > 0 && s.destroy.max_ms <= ORPHAN_TARGETS.maxMs,
      },
    ];
    if (failures.length > 0) {
      // The driver's exit code keys on this name.
      targets.push({ name: 'every container ran to its end', target: '0 failed trials', actual: `${failures.length} failed orphan trial(s)`, met: false });
    }

    const clockNote =
      'expiry = last workers.heartbeat_at (PostgreSQL clock) + worker timeout; die/destroy = the events\' timeNano (dockerd clock); ' +
      'removed_at = the reconciler\'s clock (ms); SIGKILL = this process: all the same host clock here (embedded PostgreSQL, local dockerd)';
    const lines = [
      `${trials} trials of \`highway-docker run ${TEST_IMAGE} ${COMMAND.join(' ')}\`, SIGKILLed 300 ms + random(0..${fmt(heartbeatMs, 0)} ms) after its container ran; ` +
        `worker timeout ${timeoutS} s (worker heartbeat every ${fmt(heartbeatMs, 0)} ms, reconciler workerTimeoutMs ${timeoutS * 1000})`,
      table,
      '',
      `clocks: ${clockNote}; wall-clock skew (Date.now - timeOrigin+now) ${fmt(skewStart, 1)} ms at start, ${fmt(skewEnd, 1)} ms at end`,
    ];
    if (failures.length) lines.push('', `FAILED trials (${failures.length}):`, ...failures.map((f) => `  trial ${f.trial + 1}: ${f.error}`));
    lines.push(
      '',
      'targets\n' +
        targetsTable(targets),
    );

    const r2 = (x: number) => round(x, 2);
    return {
      text: lines.join('\n'),
      json: {
        trials,
        worker_timeout_s: timeoutS,
        heartbeat_interval_ms: round(heartbeatMs),
        command: COMMAND,
        image: TEST_IMAGE,
        clock_note: clockNote,
        wall_clock_skew_ms: { at_start: r2(skewStart), at_end: r2(skewEnd) },
        expiry_to_die: s.die,
        expiry_to_destroy: s.destroy,
        expiry_to_removed_at: s.removedAt,
        kill_to_expiry: s.killExpiry,
        kill_to_destroy_local: s.killDestroy,
        failures,
        per_trial: done.map((x) => ({
          ...x,
          kill_to_expiry_ms: r2(x.kill_to_expiry_ms),
          expiry_to_die_ms: r2(x.expiry_to_die_ms),
          expiry_to_destroy_ms: r2(x.expiry_to_destroy_ms),
          expiry_to_removed_at_ms: r2(x.expiry_to_removed_at_ms),
          kill_to_destroy_local_ms: r2(x.kill_to_destroy_local_ms),
        })),
        targets: ORPHAN_TARGETS,
      },
      targets,
    };
  },
};
