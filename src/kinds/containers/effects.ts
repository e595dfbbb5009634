/**
 * The effects of decide()'s actions: thin, each one Docker call and/or one row update,
 * each safe to repeat after a crash (names make create idempotent, updates are guarded).
 */
import type { Logger } from 'pino';
import type { Pool } from '../../db/pool.js';
import { claimStart, patchIntent, patchLiveIntent, releaseStart } from '../../db/queries/update-intent.js';
import { appendAuditOnce, REMOVAL_OPERATIONS, type AuditEntry } from '../../db/queries/audit.js';
import { dockerMessage, type ContainerClient, type ContainerState } from '../../docker/client.js';
import { HighwayError, TerminalError, endingErrorCode, errorMessage } from '../../errors.js';
import { LABELS, containerName, lifecycleOf, type IntentRow } from '../../model.js';
import { toCreateOptions } from '../../params/container-config.js';
import { checkContainerReferences } from '../../params/references.js';
import { readStoredSpec } from '../../params/versions.js';
import { checkPolicy, type Policy } from '../../params/policy.js';
import type { Action } from './decide.js';
import { secretValuesOf, type SecretResolver } from '../../secrets.js';
import { resolveRegistryAuth } from '../../docker/registry-auth.js';
import { intentEventFields } from '../../observability/events.js';
import type { Metrics } from '../../observability/metrics.js';
import { fileSecrets, readResult, writeFiles } from './steps.js';
import { collectServices, ensureServices, removeServices, serviceSecretValues, servicesOf } from './services.js';


export interface EffectContext {
  pool: Pool;
  docker: ContainerClient;
  logger: Logger;
  reconcilerId: string;
  /** This database's identity: every container made carries it (`highway.cluster_id`). */
  clusterId: string;
  resolveSecret: SecretResolver;
  /** Checked again at create time: a row written past the tool (straight into the table) meets the same policy. */
  policy: Policy;
  metrics?: Metrics;
}

/** The row and container as the actions of one reconcile change them. */
interface Working {
  intent: IntentRow;
  /** The container as last inspected, when known. */
  container: ContainerState | null;
  /** The id of a container this pass created (not inspected: it is fresh). */
  createdId: string | null;
  /** The create's audit entry, written with the start's row update when a start follows. */
  createAudit: Omit<AuditEntry, 'tenant_id' | 'intent_id' | 'actor'> | null;
  /** The output, when the pass read it ahead. */
  ahead: OutputAhead | null;
}

/** A container's output, read ahead (its die event seen) while the pass still inspects it. */
export interface OutputAhead {
  containerId: string;
  read: Promise<Awaited<ReturnType<typeof readOutput>> | { failed: unknown }>;
}

/** Start reading a container's output now, for a collect this pass may decide on (never rejects). */
export function readOutputAhead(ctx: EffectContext, intent: IntentRow, containerId: string): OutputAhead {
  const read = readOutput(ctx, intent, containerId, lifecycleOf(intent.spec).maxOutputBytes).catch((failed: unknown) => ({ failed }));
  return { containerId, read };
}

/** Perform the actions in order; returns the intent as they left it. */
export async function executeActions(
  ctx: EffectContext,
  intent: IntentRow,
  container: ContainerState | null,
  actions: Action[],
  ahead: OutputAhead | null = null,
): Promise<IntentRow> {
  const w: Working = { intent, container, createdId: null, createAudit: null, ahead };
  await recordUnrecorded(ctx, w);
  if (actions.length === 0) return w.intent;
  for (const [i, action] of actions.entries()) {
    const ended = await run(ctx, w, action, actions[i + 1]);
    if (ended === 'stop') break;
  }
  return w.intent;
}

type Step = 'next' | 'stop';

/**
 * The container Docker has that the row does not know of: a crash between Docker's create (or
 * start) and the row write that records it. Found by its name (the intent's), it is recorded now,
 * the container id on the row and the audit rows its create and start did not get
 * (`detail.recorded_late`), whatever the decision of this pass.
 */
async function recordUnrecorded(ctx: EffectContext, w: Working): Promise<void> {
  const c = w.container;
  if (!c || w.intent.removed_at) return;
  const unknownId = w.intent.container_id === null;
  const unknownStart = c.startedAt !== null && w.intent.started_at === null;
  if (!unknownId && !unknownStart) return;
  // The audit rows first, each once (a pass that lost a claim may have written the create row
  // already): a crash before the row write below leaves the row unknowing, and the next pass here.
  const entry = { tenant_id: w.intent.tenant_id, actor: ctx.reconcilerId, intent_id: w.intent.id, outcome: 'ok' as const };
  await appendAuditOnce(ctx.pool, [
    ...(unknownId ? [{ ...entry, operation: 'container.create', detail: { container_id: c.id, image: w.intent.image, recorded_late: true } }] : []),
    ...(unknownStart ? [{ ...entry, operation: 'container.start', detail: { container_id: c.id, started_at: c.startedAt!.toISOString(), recorded_late: true } }] : []),
  ]);
  const row = await patchIntent(ctx.pool, w.intent.id, { container_id: c.id, short_id: c.id.slice(0, 12), ...(unknownStart ? { started_at: c.startedAt! } : {}) });
  if (!row) return;
  w.intent = row;
  ctx.logger.warn(
    { ...intentEventFields(row), event: 'container.recorded_late', container_id: c.id, state: c.status, create: unknownId, start: unknownStart },
    'recorded a container the row did not know of (a crash between Docker and the row write)',
  );
}

/** What every effect works with: the context, the working row and container, and helpers. */
interface StepContext {
  ctx: EffectContext;
  w: Working;
  log: Logger;
  life: ReturnType<typeof lifecycleOf>;
  next: Action | undefined;
  /** Apply a patch to a live intent (with its audit entry); 'stop' when someone else ended it meanwhile. */
  patchLive(patch: Parameters<typeof patchLiveIntent>[2], audit?: StepAudit | StepAudit[]): Promise<Step>;
}

type StepAudit = Omit<AuditEntry, 'tenant_id' | 'intent_id' | 'actor'>;

/** One action: the effect of its type (one function per action type, below). */
function run(ctx: EffectContext, w: Working, action: Action, next: Action | undefined): Promise<Step> {
  const s: StepContext = {
    ctx,
    w,
    next,
    log: ctx.logger.child(intentEventFields(w.intent)),
    life: lifecycleOf(w.intent.spec),
    async patchLive(patch, audit) {
      const entries = audit === undefined ? undefined : (Array.isArray(audit) ? audit : [audit]).map((a) => ({ ...a, actor: ctx.reconcilerId }));
      const row = await patchLiveIntent(ctx.pool, w.intent.id, patch, entries);
      if (!row) return 'stop';
      if (patch.status && patch.status !== w.intent.status) ctx.metrics?.transition(patch.status, row.stop_reason);
      w.intent = row;
      return 'next';
    },
  };
  return (EFFECTS[action.type] as (s: StepContext, a: Action) => Promise<Step>)(s, action);
}

const EFFECTS: { [T in Action['type']]: (s: StepContext, action: Extract<Action, { type: T }>) => Promise<Step> } = {
  ensure_image: ensureImage,
  create,
  start,
  record_running: recordRunning,
  signal,
  kill,
  collect,
  finish,
  remove,
  mark_removed: markRemoved,
};

/** Make sure the image is there, by the pull policy (records `pulling` while it pulls). */
async function ensureImage(s: StepContext, _action: Extract<Action, { type: 'ensure_image' }>): Promise<Step> {
  const { ctx, w, log, life, patchLive } = s;
  const image = w.intent.image;
  if (life.pullPolicy === 'never') {
    if (!(await ctx.docker.imageExists(image))) {
      throw new TerminalError('image_not_present', `image: "${image}" is not present and pull_policy is "never"`);
    }
    return 'next';
  }
  if (life.pullPolicy === 'if_not_present' && (await ctx.docker.imageExists(image))) return 'next';
  if ((await patchLive({ status: 'pulling' })) === 'stop') return 'stop';
  // Another intent's pull of this image may have finished while we recorded ours.
  if (life.pullPolicy === 'if_not_present' && (await ctx.docker.imageExists(image))) return 'next';
  log.info({ event: 'image.pull_started', image, status: 'pulling' }, `pulling ${image}`);
  const registryAuth = w.intent.spec['registry_auth'] as { secret: string } | null | undefined;
  await ctx.docker.pull(image, await resolveRegistryAuth(registryAuth, image, ctx.resolveSecret, w.intent));
  return 'next';
}

/** Create `highway-<id>` (adopting a container that already has the name: a create of ours that succeeded before a crash). */
async function create(s: StepContext, _action: Extract<Action, { type: 'create' }>): Promise<Step> {
  const { ctx, w, log, patchLive, next } = s;
  const spec = revalidate(w.intent.spec, ctx.policy);
  await checkContainerReferences(spec, w.intent.tenant_id, async (ref) => (await ctx.docker.inspect(ref))?.labels ?? null);
  const secrets = await resolveSecrets(ctx, w.intent);
  const labels = highwayLabels(w.intent, ctx.reconcilerId, ctx.clusterId);
  // Services first: the job joins the first one's network namespace, once all are ready.
  const podId = spec.services.length > 0
    ? await ensureServices({ docker: ctx.docker, resolveSecret: ctx.resolveSecret, sharedVolumes: ctx.policy.shared_volumes, logger: log }, w.intent, spec, labels)
    : null;
  const options = toCreateOptions(spec, {
    name: containerName(w.intent.id),
    labels,
    secrets,
    tenantId: w.intent.tenant_id,
    sharedVolumes: ctx.policy.shared_volumes,
  });
  if (podId) options.HostConfig = { ...options.HostConfig, NetworkMode: `container:${podId}` };
  const result = await ctx.docker.create(options).catch((err: unknown) => {
    throw explainCreateFailure(err, spec);
  });
  let id: string;
  if ('conflict' in result) {
    // The name is taken: a create of ours that succeeded before a crash. Adopt it, as it is.
    const existing = await ctx.docker.inspect(containerName(w.intent.id));
    if (!existing) throw new HighwayError('create_failed', 'name conflict, but no container by that name');
    w.container = existing;
    id = existing.id;
    log.info({ event: 'container.adopted', container_id: id, state: existing.status }, 'adopted existing container');
  } else {
    w.createdId = id = result.id;
    log.info({ event: 'container.created', container_id: id, status: 'created' }, 'container created');
  }
  const audit: Omit<AuditEntry, 'tenant_id' | 'intent_id' | 'actor'> = { operation: 'container.create', outcome: 'ok', detail: { container_id: id, image: w.intent.image } };
  // Starting right away: one row update for both. A crash in between loses nothing: the
  // container's name is the intent's, so the next pass finds and adopts it.
  if (next?.type === 'start') {
    w.createAudit = audit;
    return 'next';
  }
  return patchLive({ container_id: id, short_id: id.slice(0, 12), status: 'created' }, audit);
}

/**
 * Docker's refusal, said in the caller's terms where the caller could not have known: a
 * cpu_limit above what this host has (the caller does not know the host) names the parameter.
 */
function explainCreateFailure(err: unknown, spec: ReturnType<typeof readStoredSpec>): unknown {
  if (!(err instanceof TerminalError) || spec.cpu_limit === null || !/Range of CPUs is from/.test(err.message)) return err;
  return new TerminalError(err.code, `cpu_limit: ${spec.cpu_limit} CPUs is more than this Docker host has (${err.message}); ask for fewer, or set placement to a larger host`, {
    cause: err,
  });
}

/** Start it, at most once ever (the claim in the row), and record `running` with its deadline. */
async function start(s: StepContext, _action: Extract<Action, { type: 'start' }>): Promise<Step> {
  const { ctx, w, log, life, patchLive } = s;
  // An adopted container that already ran is not started again: the next pass records or collects it.
  if (w.container && w.container.status !== 'created') {
    return w.container.status === 'running' ? patchLive(runningPatch(w.intent, w.container)) : 'next';
  }
  const id = w.createdId ?? w.container?.id ?? w.intent.container_id;
  if (!id) throw new HighwayError('internal', 'start without a container');
  // At most once, ever: claim the start in the row first. Another process (a second
  // reconciler with this id, a pass that raced this one) that claimed it wins; this one
  // leaves the container alone, and the next pass records what that start did.
  if (!(await claimStart(ctx.pool, w.intent.id, ctx.reconcilerId))) {
    log.warn({ event: 'container.start_claimed_elsewhere', container_id: id }, 'another process is starting this container; not starting it again');
    // This pass created it, and its create row waited for the start's row update: written now,
    // as whoever removes the container later (the winner, the GC) may not know this pass made it.
    if (w.createdId && w.createAudit) {
      await appendAuditOnce(ctx.pool, [{ ...w.createAudit, tenant_id: w.intent.tenant_id, actor: ctx.reconcilerId, intent_id: w.intent.id, detail: { container_id: w.createdId, image: w.intent.image } }]);
    }
    return 'stop';
  }
  // A container this pass did not create may have been started already by a start Docker never
  // recorded: the daemon ran it and died before it saved the container as started (soak finding
  // 12). It is `created` again, but its log holds what it printed. Not started a second time.
  if (!w.createdId && (await ranUnrecorded(s, id))) return 'next';
  let files: { count: number; bytes: number } | null = null;
  try {
    // `files` go in after the claim and before the start: the same bytes on every try, so a
    // pass that writes them again after a crash (the claim expired, the start never ran) converges.
    if (hasFiles(w.intent.spec)) {
      const spec = revalidate(w.intent.spec, ctx.policy);
      const bytes = await writeFiles(ctx.docker, spec, id, await fileSecrets(w.intent.spec, ctx.resolveSecret, w.intent));
      files = { count: Object.keys(spec.files).length, bytes };
      log.info({ event: 'container.files_written', container_id: id, files: files.count, bytes }, `wrote ${files.count} files into the container`);
    }
    await ctx.docker.start(id);
  } catch (err) {
    // Docker refused or did not answer: if the container is still `created`, it never ran.
    const now = await ctx.docker.inspect(id).catch(() => undefined);
    if (now?.status === 'created') await releaseStart(ctx.pool, w.intent.id).catch(() => {});
    // The container exists: its id stays on the row (and in the result), whatever the start
    // did, so a failed start shows which container (kept when auto_remove is false) it was.
    if (w.intent.container_id !== id) {
      await patchLive({ container_id: id, short_id: id.slice(0, 12), status: 'created' }, w.createAudit ?? undefined).catch((e: unknown) =>
        log.warn({ event: 'intent.record_error', container_id: id, err: errorMessage(e) }, 'could not record the container of a failed start'),
      );
    }
    throw err;
  }
  // Not inspected here: right after start, an inspect waits on the daemon for as long as a
  // short container takes to exit. Its start time is the one Docker reports, read at collect.
  const startedAt = new Date();
  const step = await patchLive(
    {
      container_id: id,
      short_id: id.slice(0, 12),
      status: 'running',
      started_at: startedAt,
      deadline_at: new Date(startedAt.getTime() + life.timeoutMs),
    },
    [...(w.createAudit ? [w.createAudit] : []), { operation: 'container.start', outcome: 'ok', detail: { container_id: id, ...(files ? { files: files.count, files_bytes: files.bytes } : {}) } }],
  );
  log.info({ event: 'container.started', container_id: id, status: 'running' }, 'container started');
  return step;
}

/**
 * Before starting a `created` container again (a retry after a start whose answer was lost):
 * did an earlier start run it? Docker's log of the container, or its start time, says so. If
 * it did, the intent ends `lost` (`daemon_restart`) with what the container printed, its output
 * marked incomplete and no exit code (unknown): at most one start, ever. A program that printed
 * nothing before its daemon died cannot be told from one that never ran.
 */
async function ranUnrecorded(s: StepContext, id: string): Promise<boolean> {
  const { ctx, w, log, life, patchLive } = s;
  const c = w.container?.id === id ? w.container : await ctx.docker.inspect(id);
  if (!c || c.status !== 'created') return false;
  const { output, unreadable } = await readOutput(ctx, w.intent, id, life.maxOutputBytes);
  if (c.startedAt === null && !output.stdout.length && !output.stderr.length) return false;
  const error =
    'an earlier start reached its Docker daemon as the daemon went away: the container ran, but Docker never recorded it ' +
    '(its output is in its log) and its exit is unknown; not started again. Running it again may succeed';
  const warning = 'the container ran unrecorded by its Docker daemon: its output may be incomplete';
  const code = endingErrorCode({ status: 'lost', stop_reason: 'daemon_restart', error });
  const step = await patchLive({
    status: 'lost',
    stop_reason: 'daemon_restart',
    exit_code: null,
    stdout: output.stdout,
    stderr: output.stderr,
    logs_truncated: true,
    warnings: [...w.intent.warnings, warning],
    finished_at: new Date(),
    error: unreadable ? `${error}; output unavailable: ${unreadable}` : error,
    error_code: code,
  });
  if (step === 'stop') return true;
  log.error({ event: 'intent.lost', container_id: id, status: 'lost', stop_reason: 'daemon_restart', code }, error);
  return true;
}

/** Record what Docker says of a running container (after adoption, or a restart of the reconciler). */
async function recordRunning(s: StepContext, _action: Extract<Action, { type: 'record_running' }>): Promise<Step> {
  const { w, log, patchLive } = s;
  if (!w.container) return 'next';
  const step = await patchLive(runningPatch(w.intent, w.container));
  log.info({ event: 'container.attached', container_id: w.container.id, status: 'running' }, 'tracking running container');
  return step;
}

/** Record `stopping` (and why), then send the stop signal. */
async function signal(s: StepContext, action: Extract<Action, { type: 'signal' }>): Promise<Step> {
  const { ctx, w, log, patchLive } = s;
  const id = w.container!.id;
  const step = await patchLive(
    {
      status: 'stopping',
      stop_requested_at: new Date(),
      ...(action.reason ? { desired_state: 'stopped', stop_reason: action.reason } : {}),
    },
    { operation: 'container.stop', outcome: 'ok', detail: { container_id: id, reason: action.reason ?? 'timeout', signal: action.signal } },
  );
  if (step === 'stop') return step;
  await ctx.docker.kill(id, action.signal);
  log.info(
    { event: 'container.stopping', container_id: id, status: 'stopping', stop_reason: action.reason, signal: action.signal },
    action.reason ? `stopping: ${action.reason}` : 'stopping: timeout',
  );
  return 'next';
}

/** The grace period is over: SIGKILL. */
async function kill(s: StepContext, _action: Extract<Action, { type: 'kill' }>): Promise<Step> {
  const { ctx, w, log } = s;
  const id = w.container!.id;
  await ctx.docker.kill(id, 'SIGKILL');
  log.warn({ event: 'container.killed', container_id: id, status: 'stopping' }, 'grace period over: SIGKILL');
  return 'next';
}

/** Read exit code, OOM flag and output (secrets masked, incompleteness said), and end the intent. */
async function collect(s: StepContext, action: Extract<Action, { type: 'collect' }>): Promise<Step> {
  const { ctx, w, log, life, patchLive } = s;
  const c = w.container!;
  const ahead = w.ahead?.containerId === c.id ? await w.ahead.read : null;
  if (ahead && 'failed' in ahead) throw ahead.failed;
  // The result file is read while the output is (both before the removal, both in this row update).
  const reading = readResult(ctx.docker, w.intent.spec, c.id, await secretsToMask(ctx, w.intent), ctx.policy.max_result_bytes);
  reading.catch(() => {}); // awaited below; not unhandled while the output is read
  // Secrets are masked as the output streams, before it is cut to max_output_bytes.
  const { output, unreadable } = ahead ?? (await readOutput(ctx, w.intent, c.id, life.maxOutputBytes));
  const result = await reading;
  // The services stop with the job; their output is kept with its own.
  const services = servicesOf(w.intent.spec).length > 0
    ? await collectServices(ctx.docker, w.intent, [...(await secretsToMask(ctx, w.intent)), ...(await serviceSecretValues(ctx, w.intent))])
    : null;
  const finishedAt = c.finishedAt ?? new Date();
  const startedAt = c.startedAt ?? w.intent.started_at;
  const duration = startedAt ? Math.max(0, finishedAt.getTime() - startedAt.getTime()) : null;
  const error =
    action.status === 'timeout'
      ? `ran past its timeout of ${life.timeoutMs / 1000} s`
      : action.reason === 'daemon_restart'
        ? `killed by its Docker daemon shutting down or restarting (exit code ${c.exitCode}), not by its own failure; running it again may succeed`
      : c.oomKilled
        ? 'container was killed: out of memory (OOM)'
        : action.status === 'failed'
          ? `exited with code ${c.exitCode}${c.error ? `: ${c.error}` : ''}`
          : null;
  const fullError = unreadable ? [error, `output unavailable: ${unreadable}`].filter(Boolean).join('; ') : error;
  const code = endingErrorCode({ status: action.status, stop_reason: action.reason, oom_killed: c.oomKilled, error: fullError, outputUnavailable: Boolean(unreadable) });
  // Truthful output: say when what was read may not be all the container wrote.
  const incomplete = unreadable
    ? `output could not be read: ${unreadable}`
    : w.intent.output_interrupted_at
      ? `the Docker daemon went away while the container ran (seen at ${w.intent.output_interrupted_at.toISOString()}): output written meanwhile may be missing`
      : null;
  const step = await patchLive({
    status: action.status,
    stop_reason: action.reason,
    exit_code: c.exitCode,
    oom_killed: c.oomKilled,
    stdout: output.stdout,
    stderr: output.stderr,
    logs_truncated: output.truncated || incomplete !== null,
    ...(incomplete ? { warnings: [...w.intent.warnings, incomplete] } : {}),
    started_at: startedAt,
    finished_at: finishedAt,
    duration_ms: duration,
    error: fullError,
    error_code: fullError === null ? null : code,
    ...(life.gcProtectMs ? { gc_protected_until: new Date(Date.now() + life.gcProtectMs) } : {}),
    ...(result ?? {}),
    ...(services ? { services } : {}),
  });
  if (step === 'stop') return step;
  if (services) await removeServicesLogged(ctx, w.intent, log);
  const fields = {
    event: 'container.exited',
    container_id: c.id,
    status: action.status,
    exit_code: c.exitCode,
    oom_killed: c.oomKilled,
    duration_ms: duration,
    stop_reason: action.reason,
    logs_truncated: output.truncated || incomplete !== null,
    ...(result ? { result_error: result.result_error?.code ?? null } : {}),
  };
  // A result is info; a stop we were asked for too; a timeout is a warning; a failure an error.
  const level = action.status === 'failed' ? 'error' : action.status === 'timeout' || action.status === 'lost' ? 'warn' : 'info';
  log[level]({ ...fields, error: fullError, code: fullError === null ? null : code }, action.status === 'exited' ? 'container exited' : `container ${action.status}: ${fullError ?? action.reason}`);
  if (incomplete) log.warn({ event: 'container.output_incomplete', container_id: c.id, why: incomplete }, incomplete);
  return 'next';
}

/** End an intent that has no container to collect from. */
async function finish(s: StepContext, action: Extract<Action, { type: 'finish' }>): Promise<Step> {
  const { w, log, patchLive } = s;
  const step = await patchLive({
    status: action.status,
    stop_reason: action.reason,
    error: action.error,
    error_code: endingErrorCode({ status: action.status, stop_reason: action.reason, error: action.error }),
    finished_at: new Date(),
    // Nothing to remove unless a container exists; a following `remove` action records removal.
    ...(w.container || w.createdId ? {} : { removed_at: new Date() }),
  });
  if (step === 'stop') return step;
  await removeServicesLogged(s.ctx, w.intent, log);
  const fields = { event: `intent.${action.status}`, status: action.status, stop_reason: action.reason, error: action.error, code: endingErrorCode({ status: action.status, stop_reason: action.reason, error: action.error }) };
  if (action.status === 'lost') log.error(fields, action.error ?? 'lost');
  else log.info(fields, `intent ${action.status}${action.reason ? `: ${action.reason}` : ''}`);
  return 'next';
}

/** Remove the container (force) and record `removed_at`. */
async function remove(s: StepContext, _action: Extract<Action, { type: 'remove' }>): Promise<Step> {
  const { ctx, w, log } = s;
  const id = w.container?.id ?? w.createdId ?? w.intent.container_id;
  if (id) await ctx.docker.remove(id);
  await removeServices(ctx.docker, w.intent, log);
  // Logged before the row says so: recording removal wakes the caller, and the event log
  // must not trail what a caller already saw.
  log.info({ event: 'container.removed', container_id: id, status: w.intent.status }, 'container removed');
  const row = await patchIntent(
    ctx.pool,
    w.intent.id,
    { removed_at: new Date() },
    { actor: ctx.reconcilerId, operation: 'container.remove', outcome: 'ok', detail: { container_id: id } },
  );
  if (row) w.intent = row;
  return 'next';
}

/**
 * The container is already gone: record `removed_at`. A remove whose row write failed (the
 * database away right after Docker's remove) left no `container.remove` audit row: it is
 * written now (`detail.recorded_late`), once: not when a removal of that container is already
 * in the trail (ours, or the GC's).
 */
async function markRemoved(s: StepContext, _action: Extract<Action, { type: 'mark_removed' }>): Promise<Step> {
  const { ctx, w } = s;
  await removeServices(ctx.docker, w.intent, s.log);
  const id = w.intent.container_id;
  if (id) {
    await appendAuditOnce(ctx.pool, [
      {
        tenant_id: w.intent.tenant_id,
        actor: ctx.reconcilerId,
        intent_id: w.intent.id,
        operation: 'container.remove',
        outcome: 'ok',
        detail: { container_id: id, recorded_late: true },
        unless: REMOVAL_OPERATIONS,
      },
    ]);
  }
  const row = await patchIntent(ctx.pool, w.intent.id, { removed_at: new Date() });
  if (row) w.intent = row;
  return 'next';
}

function runningPatch(intent: IntentRow, c: ContainerState) {
  const startedAt = c.startedAt ?? new Date();
  return {
    container_id: c.id,
    short_id: c.id.slice(0, 12),
    status: 'running' as const,
    started_at: startedAt,
    deadline_at: new Date(startedAt.getTime() + lifecycleOf(intent.spec).timeoutMs),
  };
}

export function highwayLabels(intent: IntentRow, reconcilerId: string, clusterId: string): Record<string, string> {
  return {
    [LABELS.managed]: 'true',
    [LABELS.intentId]: intent.id,
    [LABELS.tenantId]: intent.tenant_id,
    [LABELS.workflowRunId]: intent.workflow_run_id,
    [LABELS.activityId]: intent.activity_id,
    [LABELS.workerId]: intent.worker_id ?? '',
    [LABELS.reconcilerId]: reconcilerId,
    [LABELS.clusterId]: clusterId,
  };
}

/**
 * The container's output. The daemon unreachable: throw (the reconcile is retried, the
 * container stays until its output is read). The daemon answering that it cannot give the
 * logs (a logging driver it cannot read back): the intent still ends, with that said.
 */
async function readOutput(ctx: EffectContext, intent: IntentRow, id: string, maxBytes: number) {
  const secrets = await secretsToMask(ctx, intent);
  try {
    return { output: await ctx.docker.logsForRow(id, maxBytes, { secrets }), unreadable: null };
  } catch (err) {
    // A 500 the daemon kept giving through the client's retries is its answer about these logs
    // (as it was before 500s were retried); a daemon away or unavailable (503) is waited for.
    const cause = err instanceof HighwayError && err.code === 'docker_unavailable' ? err.cause : err;
    if (err instanceof HighwayError && err.code === 'docker_unavailable' && (cause as { statusCode?: number })?.statusCode !== 500) throw err;
    if ((cause as { statusCode?: number })?.statusCode === undefined) throw err;
    return { output: { stdout: '', stderr: '', truncated: false }, unreadable: dockerMessage(cause) };
  }
}

/**
 * The stored spec, read by the schema version it was accepted under, and policy-checked again
 * (the operator's policy of today applies); a failure is terminal for the intent.
 */
function revalidate(stored: Record<string, unknown>, policy: Policy) {
  try {
    const spec = readStoredSpec(stored);
    checkPolicy(spec, policy);
    return spec;
  } catch (err) {
    if (err instanceof HighwayError) throw new TerminalError(err.code, err.message, { cause: err });
    throw err;
  }
}

/** Secret references in the spec's environment, resolved just for the create call. */
async function resolveSecrets(ctx: EffectContext, intent: IntentRow): Promise<Record<string, string>> {
  const env = (intent.spec['environment'] ?? {}) as Record<string, unknown>;
  const secrets: Record<string, string> = {};
  for (const value of Object.values(env)) {
    if (value && typeof value === 'object' && typeof (value as { secret?: unknown }).secret === 'string') {
      const name = (value as { secret: string }).secret;
      secrets[name] = await ctx.resolveSecret(name, intent);
    }
  }
  return secrets;
}

/** Every secret value the container was given (environment and `files`): masked in what comes back. */
async function secretsToMask(ctx: EffectContext, intent: IntentRow): Promise<string[]> {
  const env = await secretValuesOf(intent.spec['environment'], ctx.resolveSecret, intent);
  if (!hasFiles(intent.spec)) return env;
  return [...env, ...Object.values(await fileSecrets(intent.spec, ctx.resolveSecret, intent))];
}

const hasFiles = (spec: Record<string, unknown>): boolean => {
  const files = spec['files'];
  return files !== null && typeof files === 'object' && Object.keys(files).length > 0;
};

/** Remove the run's services now; a failure is left to the next pass's removal and the GC. */
async function removeServicesLogged(ctx: EffectContext, intent: IntentRow, log: Logger): Promise<void> {
  await removeServices(ctx.docker, intent, log).catch((err: unknown) =>
    log.warn({ event: 'service.remove_error', err: errorMessage(err) }, 'could not remove the services yet; the next pass or the GC removes them'),
  );
}
