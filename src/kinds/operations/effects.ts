/**
 * The effects of operations on a running container, performed on its host: an exec (with its
 * timeout enforced inside the container), a logs read, an inspect (secrets redacted).
 * Each returns the outcome to record; none touches the row itself.
 */
import type { Logger } from 'pino';
import type Docker from 'dockerode';
import type { ContainerClient, LogLine } from '../../docker/client.js';
import type { OperationOutcome, OperationRow } from '../../db/queries/operations.js';
import { HighwayError, errorMessage } from '../../errors.js';
import type { IntentRow } from '../../model.js';
import { parseExecParams } from '../../params/exec.js';
import { logsParams, parseParams } from '../../params/operations.js';
import { checkExecPolicy, type Policy } from '../../params/policy.js';
import { maskSecrets, secretValuesOf, type SecretResolver } from '../../secrets.js';

export interface OperationContext {
  docker: ContainerClient;
  logger: Logger;
  resolveSecret: SecretResolver;
  policy: Policy;
  /** Aborted when the reconciler shuts down: an exec still running is left to the next start (which ends it). */
  shutdown: AbortSignal;
}

/** Thrown by an exec given up at shutdown: nothing is recorded; the next start finds it `running` and ends it. */
export class ExecLeftAtShutdown extends Error {}

/** Every process of an exec carries this in its environment (inherited by its children): how it is found to be killed. */
export const EXEC_MARKER = 'HIGHWAY_EXEC_ID';

/** The outcome of a failure: its code and message (a HighwayError's, else a generic one). */
export function failure(err: unknown, fallbackCode = 'exec_failed'): OperationOutcome {
  const code = err instanceof HighwayError ? err.code : fallbackCode;
  return { status: 'failed', error: errorMessage(err), error_code: code };
}

/** The container of an intent, checked to be running. */
async function runningContainer(ctx: OperationContext, intent: IntentRow): Promise<string> {
  const id = intent.container_id;
  const state = id ? await ctx.docker.inspect(id) : null;
  if (!id || !state) throw new HighwayError('not_running', `container of intent ${intent.id} does not exist any more (status ${intent.status})`);
  if (state.status !== 'running') throw new HighwayError('not_running', `container ${id.slice(0, 12)} is not running (it is ${state.status})`);
  return id;
}

// ------------------------------------------------------------------------------------ exec

export async function performExec(ctx: OperationContext, op: OperationRow, intent: IntentRow): Promise<OperationOutcome> {
  const spec = parseExecParams(op.params);
  checkExecPolicy(spec, ctx.policy); // again on the host: a row written past the tool meets the same policy
  const containerId = await runningContainer(ctx, intent);
  const env: string[] = [];
  // Every secret the container or this exec was given is masked in what the exec prints.
  const secrets = await secretValuesOf(intent.spec['environment'], ctx.resolveSecret, intent);
  for (const [name, value] of Object.entries(spec.environment)) {
    const resolved = typeof value === 'string' ? value : await ctx.resolveSecret(value.secret, intent);
    if (typeof value !== 'string') secrets.push(resolved);
    env.push(`${name}=${resolved}`);
  }
  const mask = (o: { stdout: string; stderr: string }) => ({ stdout: maskSecrets(o.stdout, secrets), stderr: maskSecrets(o.stderr, secrets) });
  env.push(`${EXEC_MARKER}=${op.id}`);
  const log = ctx.logger.child({ operation_id: op.id, intent_id: intent.id, tenant_id: intent.tenant_id, container_id: containerId });
  const started = performance.now();
  const { execId, done } = await ctx.docker.execStart(containerId, {
    cmd: spec.command,
    user: spec.user,
    workingDir: spec.working_dir,
    env,
    privileged: spec.privileged,
    maxBytes: spec.max_output_bytes,
  });
  log.info({ event: 'exec.started', exec_id: execId }, 'exec started');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), spec.timeout * 1000)));
  let onShutdown: () => void = () => {};
  const shutdown = new Promise<'shutdown'>((resolve) => {
    onShutdown = () => resolve('shutdown');
    if (ctx.shutdown.aborted) onShutdown();
    else ctx.shutdown.addEventListener('abort', onShutdown, { once: true });
  });
  const first = await Promise.race([done, timedOut, shutdown]).finally(() => {
    clearTimeout(timer);
    ctx.shutdown.removeEventListener('abort', onShutdown);
  });
  if (first === 'shutdown') {
    log.warn({ event: 'exec.left_at_shutdown', exec_id: execId }, 'reconciler shutting down: exec left running; the next start ends it and records it failed');
    throw new ExecLeftAtShutdown(`exec ${op.id} left at shutdown`);
  }
  if (first === 'timeout') {
    await killExecProcesses(ctx, containerId, op.id, log);
    const output = await Promise.race([done, new Promise<null>((r) => setTimeout(() => r(null), 5_000))]).catch(() => null);
    const duration = Math.round(performance.now() - started);
    log.warn({ event: 'exec.timeout', exec_id: execId, duration_ms: duration }, `exec ran past its timeout of ${spec.timeout} s: killed`);
    return {
      status: 'timeout',
      result: {
        status: 'timeout',
        exit_code: null,
        ...mask({ stdout: output?.stdout ?? '', stderr: output?.stderr ?? '' }),
        duration_ms: duration,
        logs_truncated: output?.truncated ?? false,
      },
      error: `exec ran past its timeout of ${spec.timeout} s; its processes were killed`,
      error_code: 'timeout',
    };
  }
  const duration = Math.round(performance.now() - started);
  const state = await ctx.docker.execInspect(execId);
  log.info({ event: 'exec.exited', exec_id: execId, exit_code: state?.exitCode ?? null, duration_ms: duration }, 'exec exited');
  return {
    status: 'done',
    result: {
      status: 'exited',
      exit_code: state?.exitCode ?? null,
      ...mask(first),
      duration_ms: duration,
      logs_truncated: first.truncated,
    },
  };
}

/**
 * Kill every process of an exec inside the container: those whose environment carries the
 * exec's marker (its command and everything it started). Done from a second exec, since the
 * PID Docker reports for an exec is the host's, not the container's. Repeated until none is left.
 */
export async function killExecProcesses(ctx: OperationContext, containerId: string, operationId: string, log: Logger): Promise<void> {
  const script =
    `n=0; for d in /proc/[0-9]*; do ` +
    `if tr '\\0' '\\n' < "$d/environ" 2>/dev/null | grep -qx '${EXEC_MARKER}=${operationId}'; then kill -KILL "\${d#/proc/}" 2>/dev/null && n=$((n+1)); fi; ` +
    `done; echo $n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const { done } = await ctx.docker.execStart(containerId, { cmd: ['sh', '-c', script], user: '0', workingDir: null, env: [], privileged: false, maxBytes: 4096 });
      const out = await done;
      const killed = Number(out.stdout.trim());
      log.info({ event: 'exec.killed', operation_id: operationId, processes: killed }, `killed ${killed} process(es) of the exec`);
      if (!(killed > 0)) return;
    } catch (err) {
      if (err instanceof HighwayError && (err.code === 'not_running' || err.code === 'not_found')) return; // the container is gone: so are its processes
      log.error({ event: 'exec.kill_failed', operation_id: operationId, err: errorMessage(err) }, 'could not kill the processes of the exec');
      throw new HighwayError('exec_failed', `could not end the exec's processes: ${errorMessage(err)}`, { cause: err });
    }
  }
}

// ------------------------------------------------------------------------------------ logs

export async function performLogs(ctx: OperationContext, op: OperationRow, intent: IntentRow): Promise<OperationOutcome> {
  const p = parseParams(logsParams, op.params);
  const id = intent.container_id;
  // Docker applies `tail` before the stream selection: with one stream, the tail is cut here.
  const both = p.stdout && p.stderr;
  const read = id ? await ctx.docker.logLines(id, { since: p.since, until: p.until, tail: both ? p.tail : 'all', stdout: p.stdout, stderr: p.stderr }) : null;
  if (!read) throw new HighwayError('not_running', `container of intent ${intent.id} does not exist any more`);
  const lines = both || p.tail === 'all' ? read : read.slice(Math.max(0, read.length - p.tail), p.tail === 0 ? 0 : undefined);
  const secrets = await secretValuesOf(intent.spec['environment'], ctx.resolveSecret, intent);
  const masked = secrets.length ? lines.map((l) => ({ ...l, text: maskSecrets(l.text, secrets) })) : lines;
  const { kept, truncated } = capLines(masked, p.max_bytes, p.timestamps);
  const state = await ctx.docker.inspect(id!);
  return { status: 'done', result: { lines: kept.map((l) => [l.stream, l.timestamp, l.text]), truncated, running: state?.status === 'running' } };
}

/** The newest lines within `maxBytes` (counting timestamps when they are shown). */
export function capLines(lines: LogLine[], maxBytes: number, timestamps: boolean): { kept: LogLine[]; truncated: boolean } {
  let bytes = 0;
  let i = lines.length;
  while (i > 0) {
    const l = lines[i - 1]!;
    const size = Buffer.byteLength(l.text) + (timestamps ? l.timestamp.length + 1 : 0);
    if (bytes + size > maxBytes) break;
    bytes += size;
    i--;
  }
  return { kept: lines.slice(i), truncated: i > 0 };
}

// ------------------------------------------------------------------------------------ inspect

export async function performInspect(ctx: OperationContext, _op: OperationRow, intent: IntentRow): Promise<OperationOutcome> {
  const info = intent.container_id ? await ctx.docker.inspectRaw(intent.container_id) : null;
  if (!info) throw new HighwayError('not_running', `container of intent ${intent.id} does not exist any more`);
  return { status: 'done', result: containerView(info, secretEnvNames(intent)) };
}

/** Names of the environment variables whose values came from secret references. */
export function secretEnvNames(intent: Pick<IntentRow, 'spec'>): Set<string> {
  const env = (intent.spec['environment'] ?? {}) as Record<string, unknown>;
  return new Set(Object.entries(env).filter(([, v]) => v !== null && typeof v === 'object').map(([k]) => k));
}

export const REDACTED = '<redacted>';

/** The live container as a caller may see it: state, health, limits, mounts, labels; secret values redacted. */
export function containerView(info: Docker.ContainerInspectInfo, secretNames: Set<string>): Record<string, unknown> {
  const s = info.State as Docker.ContainerInspectInfo['State'] & { Health?: { Status: string; FailingStreak: number; Log?: Array<{ ExitCode: number; Output: string; End: string }> } };
  const hc = info.HostConfig;
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image,
    created: info.Created,
    state: {
      status: s.Status,
      running: s.Running,
      paused: s.Paused,
      restarting: s.Restarting,
      oom_killed: s.OOMKilled,
      pid: s.Pid,
      exit_code: s.Running ? null : s.ExitCode,
      error: s.Error || null,
      started_at: s.StartedAt,
      finished_at: s.FinishedAt.startsWith('0001-') ? null : s.FinishedAt,
    },
    health: s.Health
      ? { status: s.Health.Status, failing_streak: s.Health.FailingStreak, log: (s.Health.Log ?? []).slice(-3).map((l) => ({ exit_code: l.ExitCode, output: l.Output, end: l.End })) }
      : null,
    limits: {
      memory_bytes: hc.Memory || null,
      memory_swap_bytes: hc.MemorySwap || null,
      nano_cpus: hc.NanoCpus || null,
      cpu_shares: hc.CpuShares || null,
      pids_limit: hc.PidsLimit || null,
      shm_size_bytes: (hc as { ShmSize?: number }).ShmSize || null,
      ulimits: hc.Ulimits ?? [],
    },
    security: { privileged: hc.Privileged, cap_add: hc.CapAdd ?? [], cap_drop: hc.CapDrop ?? [], read_only: hc.ReadonlyRootfs, security_opt: hc.SecurityOpt ?? [] },
    network_mode: hc.NetworkMode,
    mounts: (info.Mounts ?? []).map((m) => ({ type: m.Type, source: m.Source, destination: m.Destination, mode: m.Mode, rw: m.RW })),
    labels: info.Config.Labels ?? {},
    env: (info.Config.Env ?? []).map((entry) => {
      const name = entry.slice(0, Math.max(0, entry.indexOf('=')));
      return secretNames.has(name) ? `${name}=${REDACTED}` : entry;
    }),
    restart_count: info.RestartCount,
  };
}
