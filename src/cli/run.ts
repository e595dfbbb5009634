import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { createPool, type Pool } from '../db/pool.js';
import { registerWorker, heartbeatWorker, setWorkerStatus } from '../db/queries/workers.js';
import { requestStop } from '../db/queries/request-stop.js';
import { CALLER_DB_RETRY_MS, withPgRetry } from '../db/retry.js';
import { HighwayError, ValidationError, errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Settings } from '../config.js';
import { formatBytes } from '../params/bounds.js';
import { stat } from 'node:fs/promises';
import { loadPolicy } from '../params/policy.js';
import { ToolRegistry } from '../tools/registry.js';
import { registerDockerTools } from '../tools/docker-tools.js';
import type { DockerRunResult } from '../tools/docker-run.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { reportError } from './output.js';
import { onShutdown } from './signals.js';
import { envPair } from '../params/keys.js';
import { UUID } from '../ids.js';
import { readFileUpTo, readParams } from './params-file.js';

export interface RunOptions {
  /** The database, or how to find it (resolved after the input is checked: bad input never waits on a database). */
  databaseUrl: string | (() => Promise<string>);
  json?: boolean;
  params?: string;
  tenant: string;
  workflowRun?: string;
  activity?: string;
  timeout?: string;
  pull?: string;
  env: string[];
  /** `--file IN_PATH=LOCAL_FILE` (repeatable): `files` entries, base64 with the local file's mode. */
  file?: string[];
  /** `--result PATH`: `result_path`; stdout then carries the result as JSON. */
  result?: string;
}

/**
 * `--file IN_PATH=LOCAL_FILE` entries over the `files` of --params: each read whole (up to
 * max_files_bytes, all together), sent base64 with the local file's permission bits.
 */
async function readFiles(pairs: readonly string[], maxBytes: number): Promise<Record<string, unknown>> {
  const files: Record<string, unknown> = {};
  let total = 0;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1) throw new ValidationError([{ field: '--file', message: `${JSON.stringify(pair.slice(0, 200))} is not IN_PATH=LOCAL_FILE` }]);
    const inPath = pair.slice(0, eq);
    const local = pair.slice(eq + 1);
    let bytes: Buffer;
    let mode: number;
    try {
      mode = (await stat(local)).mode & 0o7777;
      bytes = await readFileUpTo(local, maxBytes - total + 1);
    } catch (err) {
      throw new ValidationError([{ field: '--file', message: `${JSON.stringify(local.slice(0, 200))} cannot be read: ${errorMessage(err)}` }]);
    }
    total += bytes.length;
    if (total > maxBytes) {
      throw new ValidationError([{ field: '--file', message: `the files are more than ${formatBytes(maxBytes)} together, the limit (policy max_files_bytes)` }]);
    }
    files[inPath] = { content: bytes.toString('base64'), encoding: 'base64', mode };
  }
  return files;
}

/** Flags over --params: the image and command words, --timeout, --pull, -e, --file, --result. */
export async function buildParams(
  image: string | undefined,
  command: string[],
  opts: RunOptions,
  maxParamsBytes: number,
  maxFilesBytes: number = Number.MAX_SAFE_INTEGER,
): Promise<Record<string, unknown>> {
  const params = await readParams(opts.params, maxParamsBytes);
  if (opts.file?.length) {
    const given = params['files'];
    params['files'] = { ...(given && typeof given === 'object' && !Array.isArray(given) ? given : {}), ...(await readFiles(opts.file, maxFilesBytes)) };
  }
  if (opts.result !== undefined) params['result_path'] = opts.result;
  if (image !== undefined) params['image'] = image;
  if (command.length) params['command'] = command;
  if (opts.timeout !== undefined) {
    const t = Number(opts.timeout);
    params['timeout'] = Number.isFinite(t) ? t : opts.timeout; // the schema names the field if it is wrong
  }
  if (opts.pull !== undefined) params['pull_policy'] = opts.pull;
  if (params['detach'] === true) {
    // The worker is this process: once it exits, its heartbeat stops and the container is reaped as worker_lost.
    throw new ValidationError([{ field: 'detach', message: 'is not supported by `highway-docker run`: its worker ends when the command exits; use tools.docker.run from a long-lived worker' }]);
  }
  if (opts.env.length) {
    for (const pair of opts.env) {
      envPair(pair); // NAME=value, and the one rule for keys (no __proto__, constructor, prototype)
    }
    const given = params['environment'];
    if (Array.isArray(given)) {
      // docker-py's list form ["K=V"]: -e entries come after, so they win (the schema keeps the last of a name).
      params['environment'] = [...given, ...opts.env];
    } else {
      const env: Record<string, unknown> = { ...((given as Record<string, unknown>) ?? {}) };
      for (const pair of opts.env) {
        const [name, value] = envPair(pair);
        env[name] = value;
      }
      params['environment'] = env;
    }
  }
  return params;
}

/**
 * `highway-docker run`: an activity worker in a box. Registers a worker and heartbeats,
 * writes the intent through tools.docker.run, prints the output, exits with the container's
 * exit code. SIGINT/SIGTERM is a worker shutdown: its container is stopped and removed.
 */
export async function run(image: string | undefined, command: string[], opts: RunOptions, settings: Settings, logger: Logger): Promise<number> {
  const policy = loadPolicy(settings.policyFile);
  for (const [flag, value] of [['--workflow-run', opts.workflowRun], ['--activity', opts.activity]] as const) {
    if (value !== undefined && !UUID.test(value)) throw new ValidationError([{ field: flag, message: `${JSON.stringify(value.slice(0, 80))} is not a UUID` }]);
  }
  const params = await buildParams(image, command, opts, policy.max_params_bytes, policy.max_files_bytes);
  const databaseUrl = typeof opts.databaseUrl === 'string' ? opts.databaseUrl : await opts.databaseUrl();
  const pool = createPool(databaseUrl, { max: 3, applicationName: 'highway-docker-run' });
  const registry = new ToolRegistry();
  const tools = registerDockerTools(registry, { databaseUrl, pool, logger, policy });
  const workerId = `cli-${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  // A worker shutdown (SIGINT/SIGTERM) aborts the wait when no reconciler will answer it.
  const shutdown = new AbortController();
  // A database that is briefly unreachable (a restart) is waited out: each step is idempotent.
  const dbRetry = { logger, maxRetryTime: CALLER_DB_RETRY_MS, signal: shutdown.signal };
  const ctx = {
    tenant_id: opts.tenant,
    workflow_run_id: opts.workflowRun ?? (await withPgRetry('activity.read', () => runOfActivity(pool, opts.activity), dbRetry)) ?? randomUUID(),
    activity_id: opts.activity ?? randomUUID(),
    worker_id: workerId,
    signal: shutdown.signal,
  };
  let shutdownRequested = false;
  onShutdown(logger, () => {
    shutdownRequested = true;
    void stopOnShutdown(pool, workerId, ctx.activity_id, shutdown, logger);
  });
  await withPgRetry('worker.register', () => registerWorker(pool, workerId), dbRetry);
  const heartbeat = setInterval(
    () => void heartbeatWorker(pool, workerId).catch((err) => logger.warn({ event: 'worker.heartbeat_error', err: errorMessage(err) })),
    (settings.workerTimeoutS * 1000) / 3,
  );

  const hint = waitingHints(pool, ctx.activity_id, opts.json === true);
  try {
    if (shutdown.signal.aborted) throw shutdown.signal.reason;
    const result = await registry.call<DockerRunResult>('tools.docker.run', params, ctx);
    const withResult = opts.result !== undefined && opts.json !== true;
    print(result, opts.json === true, withResult);
    // A step that ran to exit 0 without the result it was asked for did not do its job.
    const code = exitCodeFor(result);
    return withResult && code === 0 && result.result_error ? EXIT.tool : code;
  } catch (err) {
    if (shutdown.signal.aborted) {
      const why = shutdown.signal.reason instanceof HighwayError ? shutdown.signal.reason : err;
      reportError(why, opts.json === true);
      return EXIT.cancelled;
    }
    reportError(err, opts.json === true);
    return EXIT.tool;
  } finally {
    clearInterval(hint);
    clearInterval(heartbeat);
    // A shutdown that came while the intent was being written: that intent is stopped too.
    if (shutdownRequested) await requestStop(pool, { column: 'worker_id', value: workerId }, 'worker_shutdown').catch(() => {});
    await setWorkerStatus(pool, workerId, 'stopped').catch(() => {});
    await tools.close();
    await pool.end();
  }
}

/**
 * `--activity` alone names an activity that may exist already (a re-run re-attaches): its run
 * is the activity's. The tenant is still checked against that run when the intent is written.
 */
async function runOfActivity(pool: Pool, activityId: string | undefined): Promise<string | null> {
  if (activityId === undefined) return null;
  const res = await pool.query<{ workflow_run_id: string }>('SELECT workflow_run_id FROM highway.activities WHERE id = $1', [activityId]);
  return res.rows[0]?.workflow_run_id ?? null;
}

/** How long a shutdown waits for a reconciler that claimed the container to stop and remove it. */
const SHUTDOWN_WAIT_MS = 30_000;

/**
 * The worker shutdown: ask for this worker's containers to be stopped (stop_reason
 * worker_shutdown). When a reconciler has the intent, it stops and removes the container and
 * the run's wait ends with that result (output up to the stop included). When none has
 * picked it up (none running), waiting would hang: stop waiting now; whichever reconciler
 * comes later finds the intent stopped and never starts it.
 */
async function stopOnShutdown(pool: Pool, workerId: string, activityId: string, shutdown: AbortController, logger: Logger): Promise<void> {
  try {
    await requestStop(pool, { column: 'worker_id', value: workerId }, 'worker_shutdown');
    const res = await pool.query<{ status: string; reconciler_id: string | null }>(
      `SELECT status, reconciler_id FROM highway.docker_containers WHERE activity_id = $1`,
      [activityId],
    );
    const row = res.rows[0];
    if (!row || row.reconciler_id === null) {
      shutdown.abort(new HighwayError('shutdown', 'cancelled (worker_shutdown): stopped before any reconciler picked the container up; it will not run'));
      return;
    }
    setTimeout(() => shutdown.abort(new HighwayError('shutdown', `cancelled (worker_shutdown): the reconciler did not stop the container within ${SHUTDOWN_WAIT_MS / 1000} s; it stays asked to stop`)), SHUTDOWN_WAIT_MS).unref();
  } catch (err) {
    logger.error({ event: 'worker.shutdown_error', err: errorMessage(err) }, 'worker shutdown failed');
    shutdown.abort(new HighwayError('shutdown', `worker shutdown: could not record the stop: ${errorMessage(err)}`, { cause: err }));
  }
}

const UNCLAIMED_HINT_MS = 5_000;

/**
 * While no reconciler has claimed the intent, say why it waits, every time that changes
 * (checked every 5 s): the reason the cluster leader recorded (`pending_reason`: no live host
 * matches the placement, every matching host is full, ...), or, with no reason recorded (no
 * leader, so no `up` is running), that no reconciler picked it up. With --json, one JSON
 * line on stderr (`{"event": "run.waiting", ...}`), as everything else there.
 */
function waitingHints(pool: Pool, activityId: string, json: boolean): NodeJS.Timeout {
  let said: string | null = null;
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    void pool
      .query<{ id: string; status: string; reconciler_id: string | null; pending_reason: string | null }>(
        `SELECT id, status, reconciler_id, pending_reason FROM highway.docker_containers WHERE activity_id = $1`,
        [activityId],
      )
      .then((res) => {
        const row = res.rows[0];
        // Once it got past pending/pulling it never waits for a host again: stop looking.
        if (row && row.status !== 'pending' && row.status !== 'pulling') clearInterval(timer);
        if (!row || row.status !== 'pending' || row.reconciler_id !== null) return;
        const message = row.pending_reason ?? 'no reconciler has picked this up; is `highway-docker up` running against this database?';
        if (message === said) return;
        said = message;
        if (json) {
          process.stderr.write(`${JSON.stringify({ event: 'run.waiting', intent_id: row.id, pending_reason: row.pending_reason, message: `still waiting: ${message}` })}\n`);
        } else {
          process.stderr.write(`highway-docker: still waiting: ${message}\n`);
        }
      })
      .catch(() => {}) // a database that is away: the wait itself reports what matters
      .finally(() => (checking = false));
  }, UNCLAIMED_HINT_MS);
  timer.unref();
  return timer;
}

/** With `--result`, stdout is the result as JSON and the container's output goes to stderr. */
function print(result: DockerRunResult, json: boolean, withResult = false): void {
  if (json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  if (withResult) {
    process.stderr.write(result.stdout);
    process.stdout.write(JSON.stringify(result.result ?? null) + '\n');
    if (result.result_error) process.stderr.write(`highway-docker: result: ${result.result_error.code}: ${result.result_error.message}\n`);
  } else {
    process.stdout.write(result.stdout);
  }
  process.stderr.write(result.stderr);
  for (const warning of result.warnings) process.stderr.write(`highway-docker: warning: ${warning}\n`);
  if (result.logs_truncated) process.stderr.write('highway-docker: output was truncated (max_output_bytes)\n');
  if (result.status !== 'exited') {
    const why = result.error ?? result.stop_reason ?? result.status;
    process.stderr.write(`highway-docker: ${result.status}: ${why}\n`);
  }
}
