import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { createPool, type Pool } from '../db/pool.js';
import { registerWorker, heartbeatWorker, setWorkerStatus } from '../db/queries/workers.js';
import { ValidationError, errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Settings } from '../config.js';
import { loadPolicy } from '../params/policy.js';
import { ToolRegistry } from '../tools/registry.js';
import { registerDockerTools } from '../tools/docker-tools.js';
import type { DockerRunResult } from '../tools/docker-run.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { onShutdown } from './signals.js';

export interface RunOptions {
  databaseUrl: string;
  json?: boolean;
  params?: string;
  tenant: string;
  workflowRun?: string;
  activity?: string;
  timeout?: string;
  pull?: string;
  env: string[];
}

async function readParams(source: string | undefined): Promise<Record<string, unknown>> {
  if (!source) return {};
  const text = source === '-' ? await readStdin() : await readFile(source, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ValidationError([{ field: '--params', message: `is not valid JSON: ${errorMessage(err)}` }]);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ValidationError([{ field: '--params', message: 'must be a JSON object of tool parameters' }]);
  }
  return parsed as Record<string, unknown>;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Flags over --params: the image and command words, --timeout, --pull, -e. */
export async function buildParams(image: string | undefined, command: string[], opts: RunOptions): Promise<Record<string, unknown>> {
  const params = await readParams(opts.params);
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
    const env: Record<string, unknown> = { ...((params['environment'] as Record<string, unknown>) ?? {}) };
    for (const pair of opts.env) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new ValidationError([{ field: '-e', message: `"${pair}" is not KEY=VALUE` }]);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    params['environment'] = env;
  }
  return params;
}

/**
 * `highway-docker run`: an activity worker in a box. Registers a worker and heartbeats,
 * writes the intent through tools.docker.run, prints the output, exits with the container's
 * exit code. SIGINT/SIGTERM is a worker shutdown: its container is stopped and removed.
 */
export async function run(image: string | undefined, command: string[], opts: RunOptions, settings: Settings, logger: Logger): Promise<number> {
  const params = await buildParams(image, command, opts);
  const pool = createPool(opts.databaseUrl, { max: 3, applicationName: 'highway-docker-run' });
  const registry = new ToolRegistry();
  const tools = registerDockerTools(registry, { databaseUrl: opts.databaseUrl, pool, logger, policy: loadPolicy(settings.policyFile) });
  const workerId = `cli-${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const ctx = {
    tenant_id: opts.tenant,
    workflow_run_id: opts.workflowRun ?? randomUUID(),
    activity_id: opts.activity ?? randomUUID(),
    worker_id: workerId,
  };
  await registerWorker(pool, workerId);
  const heartbeat = setInterval(
    () => void heartbeatWorker(pool, workerId).catch((err) => logger.warn({ event: 'worker.heartbeat_error', err: errorMessage(err) })),
    (settings.workerTimeoutS * 1000) / 3,
  );
  onShutdown(logger, () => {
    void tools.shutdownWorker(workerId).catch((err) => logger.error({ event: 'worker.shutdown_error', err: errorMessage(err) }));
  });

  const hint = setTimeout(() => void hintIfUnclaimed(pool, ctx.activity_id), UNCLAIMED_HINT_MS);
  try {
    const result = await registry.call<DockerRunResult>('tools.docker.run', params, ctx);
    print(result, opts.json === true);
    return exitCodeFor(result);
  } catch (err) {
    if (opts.json) process.stdout.write(JSON.stringify({ error: errorMessage(err), code: (err as { code?: string }).code ?? 'internal', field: (err as { field?: string }).field }) + '\n');
    else process.stderr.write(`highway-docker: ${errorMessage(err)}\n`);
    return EXIT.tool;
  } finally {
    clearTimeout(hint);
    clearInterval(heartbeat);
    await setWorkerStatus(pool, workerId, 'stopped').catch(() => {});
    await tools.close();
    await pool.end();
  }
}

const UNCLAIMED_HINT_MS = 5_000;

/** Waiting on an intent that no reconciler has claimed usually means none is running: say so. */
async function hintIfUnclaimed(pool: Pool, activityId: string): Promise<void> {
  const res = await pool
    .query<{ status: string; reconciler_id: string | null }>(`SELECT status, reconciler_id FROM highway.docker_containers WHERE activity_id = $1`, [activityId])
    .catch(() => null);
  const row = res?.rows[0];
  if (row && row.status === 'pending' && row.reconciler_id === null) {
    process.stderr.write('highway-docker: still waiting: no reconciler has picked this up; is `highway-docker up` running against this database?\n');
  }
}

function print(result: DockerRunResult, json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  for (const warning of result.warnings) process.stderr.write(`highway-docker: warning: ${warning}\n`);
  if (result.logs_truncated) process.stderr.write('highway-docker: output was truncated (max_output_bytes)\n');
  if (result.status !== 'exited') {
    const why = result.error ?? result.stop_reason ?? result.status;
    process.stderr.write(`highway-docker: ${result.status}: ${why}\n`);
  }
}
