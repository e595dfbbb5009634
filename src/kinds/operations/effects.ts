/**
 * The effects of operations on a running container, performed on its host: an exec (with its
 * timeout enforced inside the container), a logs read, an inspect (secrets redacted).
 * Each returns the outcome to record; none touches the row itself.
 */
import type { Logger } from 'pino';
import type Docker from 'dockerode';
import type { CollectedOutput, ContainerClient } from '../../docker/client.js';
import type { OperationOutcome, OperationRow } from '../../db/queries/operations.js';
import { HighwayError, errorMessage } from '../../errors.js';
import type { IntentRow } from '../../model.js';
import { parseExecParams, type ExecSpec } from '../../params/exec.js';
import { readResult } from '../containers/steps.js';
import { ABANDONED_EXEC_ERROR } from './decide.js';
import { logsParams, parseParams } from '../../params/operations.js';
import { checkExecPolicy, checkLogsPolicy, type Policy } from '../../params/policy.js';
import { secretValuesOf, type SecretResolver } from '../../secrets.js';

export interface OperationContext {
  docker: ContainerClient;
  logger: Logger;
  resolveSecret: SecretResolver;
  policy: Policy;
  /** Aborted when the reconciler shuts down: an exec still running is left to the next start (which ends it). */
  shutdown: AbortSignal;
  /** Record what a running operation has done so far in its row (`progress`, read by its `recover` after a crash). */
  progress(operationId: string, progress: Record<string, unknown>): Promise<void>;
}

/**
 * Thrown by a step that is safe to repeat (reading the result file of an exec whose end is
 * recorded) when the daemon is unavailable: the queue retries it (`cause`), the row stays running.
 */
export class RepeatableStep extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message, { cause });
  }
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
  // Every secret the container or this exec was given is masked in what the exec prints (as it streams, before the cut).
  const secrets = await secretValuesOf(intent.spec['environment'], ctx.resolveSecret, intent);
  for (const [name, value] of Object.entries(spec.environment)) {
    const resolved = typeof value === 'string' ? value : await ctx.resolveSecret(value.secret, intent);
    if (typeof value !== 'string') secrets.push(resolved);
    env.push(`${name}=${resolved}`);
  }
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
    secrets,
  });
  log.info({ event: 'exec.started', exec_id: execId }, 'exec started');
  // With a result file to read afterwards: how it ended is learnt after a crash from its Docker exec.
  if (spec.result_path !== null) await ctx.progress(op.id, { exec_id: execId } satisfies ExecProgress);
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
    const kill = await killExecProcesses(ctx, containerId, op.id, spec.user, log, { execId, done });
    const duration = Math.round(performance.now() - started);
    log.warn(
      { event: 'exec.timeout', exec_id: execId, duration_ms: duration, killed: kill.killed, complete: kill.complete },
      `exec ran past its timeout of ${spec.timeout} s: ${kill.summary}`,
    );
    return collectExecResult(ctx, op, intent, spec, execId, {
      status: 'timeout',
      result: {
        status: 'timeout',
        exit_code: null,
        stdout: kill.output?.stdout ?? '',
        stderr: kill.output?.stderr ?? '',
        duration_ms: duration,
        logs_truncated: kill.output?.truncated ?? false,
        kill: { killed: kill.killed, complete: kill.complete, left: kill.left },
      },
      error: `exec ran past its timeout of ${spec.timeout} s; ${kill.summary}`,
      error_code: 'timeout',
    });
  }
  const duration = Math.round(performance.now() - started);
  const state = await ctx.docker.execInspect(execId);
  log.info({ event: 'exec.exited', exec_id: execId, exit_code: state?.exitCode ?? null, duration_ms: duration }, 'exec exited');
  const exitCode = state?.exitCode ?? null;
  return collectExecResult(ctx, op, intent, spec, execId, {
    status: 'done',
    result: {
      status: 'exited',
      exit_code: exitCode,
      stdout: first.stdout,
      stderr: first.stderr,
      duration_ms: duration,
      logs_truncated: first.truncated,
    },
    error_code: exitCode === 0 ? null : 'nonzero_exit',
  });
}

/** An exec's `progress` (migration 026): its Docker exec once started, then its outcome once ended (before its result file is read). */
export interface ExecProgress {
  exec_id: string;
  ended?: OperationOutcome;
}

/**
 * The exec ended (`ended`): with a `result_path`, record that first (a crash while the file is
 * read loses nothing: recoverExec reads it then), then read the file into the result as
 * `result` and `result_error`. Without one, `ended` as it is.
 */
export async function collectExecResult(
  ctx: OperationContext,
  op: OperationRow,
  intent: IntentRow,
  spec: ExecSpec,
  execId: string,
  ended: OperationOutcome,
  alreadyRecorded = false,
): Promise<OperationOutcome> {
  if (spec.result_path === null) return ended;
  if (!alreadyRecorded) await ctx.progress(op.id, { exec_id: execId, ended } satisfies ExecProgress);
  // The secrets of the container and of this exec are masked in the result, as in the output.
  const secrets = await secretValuesOf(intent.spec['environment'], ctx.resolveSecret, intent);
  for (const value of Object.values(spec.environment)) if (typeof value !== 'string') secrets.push(await ctx.resolveSecret(value.secret, intent));
  let read;
  try {
    read = await readResult(ctx.docker, spec, intent.container_id ?? '', secrets, ctx.policy.max_result_bytes);
  } catch (err) {
    if (err instanceof HighwayError && err.code === 'docker_unavailable') throw new RepeatableStep(err);
    throw err;
  }
  ctx.logger.info(
    { event: 'exec.result_read', operation_id: op.id, intent_id: intent.id, container_id: intent.container_id, result_error: read?.result_error?.code ?? null },
    read?.result_error ? `exec result not read: ${read.result_error.message}` : 'exec result read',
  );
  return { ...ended, result: { ...ended.result, result: read?.result ?? null, result_error: read?.result_error ?? null } };
}

/** What the reconciler that died had not recorded of an exec with a result file: collected now, when it ended; null when it did not (or it is unknown). */
export async function recoverExec(ctx: OperationContext, op: OperationRow, intent: IntentRow, spec: ExecSpec): Promise<OperationOutcome | null> {
  const progress = op.progress as ExecProgress | null;
  if (spec.result_path === null || !progress?.exec_id) return null;
  if (progress.ended) return collectExecResult(ctx, op, intent, spec, progress.exec_id, progress.ended, true);
  if (!intent.container_id) return null;
  // Docker's exec inspect cannot tell: once the exec's output lost its reader (the reconciler that
  // died), it reports the exec ended with exit code 126 while its processes run on. It ended when
  // none of its processes is left; any found is ended, and the exec recorded failed as one in flight.
  const kill = await killExecProcesses(ctx, intent.container_id, op.id, spec.user, ctx.logger, { execId: progress.exec_id }).catch(() => null);
  if (!kill?.complete) return null;
  if (kill.killed > 0) return { status: 'failed', error: ABANDONED_EXEC_ERROR, error_code: 'exec_failed' };
  ctx.logger.warn({ event: 'exec.ended_unseen', operation_id: op.id, intent_id: intent.id }, 'the exec ended while no reconciler ran; reading its result');
  const ended: OperationOutcome = {
    status: 'done',
    result: { status: 'exited', exit_code: null, stdout: '', stderr: '', duration_ms: null, logs_truncated: false },
    error: 'the reconciler stopped while this exec ran and it ended meanwhile: its result file was read, its exit code and output are unknown',
    error_code: 'output_unavailable',
  };
  return collectExecResult(ctx, op, intent, spec, progress.exec_id, ended);
}

/** What ending an exec's processes achieved: the result says exactly this, never more. */
export interface ExecKillReport {
  /** Processes killed (SIGKILL delivered). */
  killed: number;
  /** Everything found was killed, its main process is gone and nothing holds its output open. */
  complete: boolean;
  /** Processes found that could not be killed ("pid (uid N): why"), and other signs something is left. */
  left: string[];
  /** One sentence for the error and the log. */
  summary: string;
  /** The exec's output, when it ended after the kill. */
  output: CollectedOutput | null;
}

/**
 * The kill script, run inside the container (the PID Docker reports for an exec is the host's,
 * not the container's). An exec's processes are: those whose environment carries its marker
 * (readable by their own user), every process in their sessions (Docker starts each exec as a
 * session leader, and children stay in it even when they clear their environment or lose their
 * parent), and every descendant of those by PPid. Sessions and PIDs found earlier come in as $S
 * and $P. Prints `s SID` per session found, `k PID UID` per process killed and `f PID UID` per
 * process it could not kill, then `end`. PID 1, session 1 (the container's own processes) and the
 * script's own session are never touched. With $L set it only lists the processes of the other
 * sessions (`q PID SID EUID ARGS`), for findExecSession.
 */
const KILL_SCRIPT = `
me=$$; S=" $S "; P=" $P "
info() { read -r l < /proc/$1/stat 2>/dev/null || return 1; r=\${l##*) }; set -- $r; st=$1; pp=$2; sid=$4; }
if [ -n "$L" ]; then
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}; [ "$p" = "$me" ] || [ "$p" = 1 ] && continue
    info "$p" || continue
    [ "$sid" = "$me" ] || [ "$sid" = 1 ] || [ "$st" = Z ] && continue
    e=; while read -r k r e2 _; do [ "$k" = Uid: ] && e=$e2 && break; done < $d/status
    echo "q $p $sid $e $(tr '\\0' ' ' < $d/cmdline 2>/dev/null)"
  done
  echo end; exit 0
fi
for d in /proc/[0-9]*; do
  p=\${d#/proc/}; [ "$p" = "$me" ] || [ "$p" = 1 ] && continue
  if tr '\\0' '\\n' < "$d/environ" 2>/dev/null | grep -qx "$M"; then
    info "$p" || continue
    [ "$sid" = "$me" ] || [ "$sid" = 1 ] || case "$S" in *" $sid "*) ;; *) S="$S$sid ";; esac
    case "$P" in *" $p "*) ;; *) P="$P$p ";; esac
  fi
done
n=1
while [ $n -gt 0 ]; do
  n=0
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}; [ "$p" = "$me" ] || [ "$p" = 1 ] && continue
    case "$P" in *" $p "*) continue;; esac
    info "$p" || continue
    [ "$sid" = "$me" ] || [ "$sid" = 1 ] && continue
    case "$S$P" in *" $sid "*|*" $pp "*) P="$P$p "; n=1;; esac
  done
done
for s in $S; do echo "s $s"; done
for p in $P; do
  info "$p" || continue
  [ "$st" = Z ] && continue
  u=; while read -r k v _; do [ "$k" = Uid: ] && u=$v && break; done < /proc/$p/status
  if kill -KILL "$p" 2>/dev/null; then echo "k $p $u"; else echo "f $p $u"; fi
done
echo end
`;

/**
 * End every process of an exec inside the container, whatever user it runs as and whatever it
 * does to its environment: the kill script runs as the exec's own user (which may read its
 * processes' environments and signal them even in a container without CAP_KILL), then as the
 * user of each process that user could not kill, until a pass finds nothing alive. Then the
 * exec's main process (exec inspect) and its output stream (held open by any process that
 * inherited it) tell whether anything is left. Never claims more than it saw.
 */
export async function killExecProcesses(
  ctx: OperationContext,
  containerId: string,
  operationId: string,
  user: string | null,
  log: Logger,
  exec?: { execId: string; done?: Promise<CollectedOutput> },
): Promise<ExecKillReport> {
  const sids = new Set<string>();
  const pids = new Set<string>();
  const killed = new Set<string>();
  const failed = new Map<string, string>(); // pid -> uid, not killed by the users tried so far
  const triedAs = new Set<string>();
  const left: string[] = [];
  if (exec) {
    // The exec's session as its host sees it (exec inspect's PID is the host's, and it leads the
    // session), matched to the container's view: this finds processes that carry no marker.
    const sid = await findExecSession(ctx, containerId, exec.execId, user, log).catch((err: unknown) => {
      log.warn({ event: 'exec.session_unknown', operation_id: operationId, err: errorMessage(err) }, 'could not match the exec to its session');
      return null;
    });
    if (sid) sids.add(sid);
  }
  let users: Array<string | null> = [user];
  for (let pass = 0; pass < 6 && users.length > 0; pass++) {
    const next = new Set<string>();
    let alive = 0;
    for (const as of users) {
      triedAs.add(as ?? '');
      let out: string;
      try {
        const env = [`M=${EXEC_MARKER}=${operationId}`, `S=${[...sids].join(' ')}`, `P=${[...pids].join(' ')}`];
        const { done } = await ctx.docker.execStart(containerId, { cmd: ['sh', '-c', KILL_SCRIPT], user: as, workingDir: '/', env, privileged: false, maxBytes: 1 << 20 });
        const r = await done;
        out = r.stdout;
        if (!/^end$/m.test(out)) throw new Error(`the kill script did not run: ${(r.stderr || r.stdout).trim().slice(0, 200) || 'no output'}`);
      } catch (err) {
        if (err instanceof HighwayError && (err.code === 'not_running' || err.code === 'not_found')) {
          // The container is gone: so are its processes.
          return { killed: killed.size, complete: true, left: [], summary: `the container stopped, and its processes with it`, output: await settled(exec) };
        }
        log.error({ event: 'exec.kill_failed', operation_id: operationId, user: as, err: errorMessage(err) }, 'could not kill the processes of the exec');
        left.push(`the kill as user ${as ?? '(default)'} failed: ${errorMessage(err)}`);
        continue;
      }
      for (const line of out.split('\n')) {
        const [tag, id, uid = ''] = line.split(' ');
        if (!id) continue;
        if (tag === 's') sids.add(id);
        else if (tag === 'k') {
          pids.add(id);
          killed.add(id);
          failed.delete(id);
          alive++;
        } else if (tag === 'f') {
          pids.add(id);
          alive++;
          if (!killed.has(id)) failed.set(id, uid);
          if (uid && !triedAs.has(uid)) next.add(uid);
        }
      }
    }
    log.info({ event: 'exec.killed', operation_id: operationId, processes: killed.size, pass }, `killed ${killed.size} process(es) of the exec`);
    // Another pass: as the users of the processes not killed yet, or to catch what was started meanwhile.
    users = next.size ? [...next] : alive > 0 ? [user] : [];
  }
  if (users.length > 0) left.push('its processes were still being found after the last pass (they may keep starting new ones)');
  for (const [pid, uid] of failed) left.push(`process ${pid} (uid ${uid || '?'}) could not be killed`);
  let output: CollectedOutput | null = null;
  if (exec) {
    const state = await ctx.docker.execInspect(exec.execId).catch(() => null);
    if (state?.running) left.push(`its main process still runs`);
    if (exec.done) {
      output = await settled(exec);
      if (!output) left.push('its output stream is still held open, so a process of it may still run (one that left its session and cleared its environment)');
    }
  }
  const complete = left.length === 0;
  const what = `killed ${killed.size} process(es) of it`;
  const summary = complete ? `${what}; none is left` : `${what}; NOT all could be ended: ${left.join('; ')}`;
  return { killed: killed.size, complete, left, summary, output };
}

/** Whitespace collapsed, as `docker top` prints a command line. */
const argsKey = (uid: string, args: string) => `${uid} ${args.trim().split(/\s+/).join(' ').slice(0, 200)}`;

/**
 * The exec's session in the container (its container-side session id), or null: Docker reports
 * the exec's host PID, which leads its session (runc starts each exec with setsid), so `docker
 * top` lists the session's processes as the host sees them (uid, command line); the container
 * session holding the same processes is the exec's. Only a unique best match counts.
 */
async function findExecSession(ctx: OperationContext, containerId: string, execId: string, user: string | null, log: Logger): Promise<string | null> {
  const hostPid = (await ctx.docker.execInspect(execId))?.pid;
  if (!hostPid) return null;
  const top = await ctx.docker.top(containerId, '-o pid,sid,uid,args');
  if (!top) return null;
  const col = (name: string) => top.titles.findIndex((t) => t.toUpperCase() === name);
  const [sidCol, uidCol, argsCol] = [col('SID'), col('UID'), col('COMMAND')];
  if (sidCol < 0 || uidCol < 0 || argsCol < 0) return null;
  const wanted = top.processes.filter((p) => p[sidCol] === String(hostPid)).map((p) => argsKey(p[uidCol]!, p[argsCol]!));
  if (wanted.length === 0) return null;
  const { done } = await ctx.docker.execStart(containerId, { cmd: ['sh', '-c', KILL_SCRIPT], user, workingDir: '/', env: ['L=1'], privileged: false, maxBytes: 1 << 20 });
  const out = (await done).stdout;
  const sessions = new Map<string, string[]>();
  for (const line of out.split('\n')) {
    const m = /^q (\d+) (\d+) (\d*) ?(.*)$/.exec(line);
    if (!m) continue;
    sessions.set(m[2]!, [...(sessions.get(m[2]!) ?? []), argsKey(m[3]!, m[4]!)]);
  }
  let best: string | null = null;
  let bestScore = 0;
  let tie = false;
  for (const [sid, members] of sessions) {
    const pool = [...members];
    let score = 0;
    for (const w of wanted) {
      const i = pool.indexOf(w);
      if (i >= 0) {
        score++;
        pool.splice(i, 1);
      }
    }
    if (score > bestScore) [best, bestScore, tie] = [sid, score, false];
    else if (score === bestScore && score > 0) tie = true;
  }
  if (tie) {
    log.warn({ event: 'exec.session_ambiguous', exec_id: execId }, 'several sessions in the container look like the exec; only its marked processes are killed');
    return null;
  }
  return best;
}

/**
 * The Docker exec of an operation whose exec id was not kept (its reconciler died while it ran):
 * the container's running execs (inspect's ExecIDs) with the operation's command and user. Only
 * a unique match counts (two identical execs cannot be told apart).
 */
export async function findRunningExec(ctx: OperationContext, containerId: string, spec: { command: string[]; user: string | null }): Promise<string | null> {
  const info = await ctx.docker.inspectRaw(containerId);
  const ids = (info as { ExecIDs?: string[] | null } | null)?.ExecIDs ?? [];
  const matches: string[] = [];
  for (const id of ids) {
    const state = await ctx.docker.execInspect(id).catch(() => null);
    if (state?.running && state.user === (spec.user ?? '') && JSON.stringify(state.command) === JSON.stringify(spec.command)) matches.push(id);
  }
  return matches.length === 1 ? matches[0]! : null;
}

/** The exec's output once its stream ends (shortly after its processes are killed), or null. */
async function settled(exec: { done?: Promise<CollectedOutput> } | undefined): Promise<CollectedOutput | null> {
  if (!exec?.done) return null;
  return Promise.race([exec.done, new Promise<null>((r) => setTimeout(() => r(null), 5_000))]).catch(() => null);
}

// ------------------------------------------------------------------------------------ logs

export async function performLogs(ctx: OperationContext, op: OperationRow, intent: IntentRow): Promise<OperationOutcome> {
  const p = parseParams(logsParams, op.params);
  checkLogsPolicy(p, ctx.policy);
  const id = intent.container_id;
  // Masked line by line before the caps apply; streamed, so the host holds the window, not the log.
  const secrets = await secretValuesOf(intent.spec['environment'], ctx.resolveSecret, intent);
  const read = id
    ? await ctx.docker.logLines(id, {
        since: p.since,
        until: p.until,
        tail: p.tail,
        stdout: p.stdout,
        stderr: p.stderr,
        maxBytes: p.max_bytes,
        keep: p.keep,
        countTimestamps: p.timestamps,
        secrets,
      })
    : null;
  if (!read) throw new HighwayError('not_running', `container of intent ${intent.id} does not exist any more`);
  const state = await ctx.docker.inspect(id!);
  return { status: 'done', result: { lines: read.lines.map((l) => [l.stream, l.timestamp, l.text]), truncated: read.truncated, running: state?.status === 'running' } };
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
