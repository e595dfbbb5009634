/**
 * decide(): the reconciler's brain, a pure function from what is (the intent row, its
 * surroundings, the container as Docker reports it, the time) to what to do next.
 * No I/O here: every branch is unit-tested without Docker or Postgres.
 *
 * Level-triggered: decide never asks why it was called. Called again after any action,
 * or after a crash at any point, it looks at the same world and picks up from there.
 */
import { constants as osConstants } from 'node:os';
import { START_CLAIM_MS, isTerminal, lifecycleOf, type Lifecycle, type IntentRow, type IntentStatus, type StopReason } from '../../model.js';
import type { IntentSurroundings } from './queries/load-reconcile-state.js';
import type { ContainerState } from '../../docker/client.js';

export type Action =
  /** Make sure the image is there, by the intent's pull policy (records `pulling` while it pulls). */
  | { type: 'ensure_image' }
  /** Create the container `highway-<id>` (adopting one that already has the name), record `created`. */
  | { type: 'create' }
  /** Start it, record `running` with its deadline. */
  | { type: 'start' }
  /** Record what Docker says of a running container (after adoption, or a restart of the reconciler). */
  | { type: 'record_running' }
  /** Record `stopping` (and the reason), then send the stop signal. */
  | { type: 'signal'; signal: string; reason: StopReason | null }
  /** The grace period is over: SIGKILL. */
  | { type: 'kill' }
  /** Read exit code, OOM flag and output, and end the intent with `status`. */
  | { type: 'collect'; status: IntentStatus; reason: StopReason | null }
  /** End an intent that has no container to collect from. */
  | { type: 'finish'; status: IntentStatus; reason: StopReason | null; error: string | null }
  /** Remove the container (force) and record `removed_at`. */
  | { type: 'remove' }
  /** The container is already gone: record `removed_at`. */
  | { type: 'mark_removed' };

export interface Decision {
  actions: Action[];
  /** Look again after this long (a deadline, a heartbeat expiry, the end of a grace period). */
  requeueAfterMs?: number;
}

export interface Observation {
  intent: IntentRow;
  around: IntentSurroundings;
  container: ContainerState | null;
  now: Date;
  workerTimeoutMs: number;
  /** The container's daemon refused new connections when its death was seen: it is shutting down. */
  daemonLeaving?: boolean;
}

/** Why the intent should stop now, if it should: a timeout or a cancellation with its reason. */
export type StopWanted = { status: 'timeout'; reason: null } | { status: 'cancelled'; reason: StopReason };

const LIVE_CONTAINER = new Set<ContainerState['status']>(['running', 'restarting', 'paused', 'removing']);

/** When the activity's heartbeat expires, if it has a heartbeat timeout. */
export function activityExpiry(o: Observation): Date | null {
  const a = o.around;
  if (!a.activity_exists || !a.activity_heartbeat_timeout_s) return null;
  const last = a.activity_heartbeat_at ?? a.activity_created_at ?? o.intent.created_at;
  return new Date(last.getTime() + a.activity_heartbeat_timeout_s * 1000);
}

/** When the worker that owns the intent is presumed dead, if it is registered. */
export function workerExpiry(o: Observation): Date | null {
  const a = o.around;
  if (!o.intent.worker_id || !a.worker_exists || !a.worker_heartbeat_at) return null;
  return new Date(a.worker_heartbeat_at.getTime() + o.workerTimeoutMs);
}

export function stopWanted(o: Observation): StopWanted | null {
  const { intent, around, now } = o;
  if (intent.desired_state === 'stopped') return { status: 'cancelled', reason: intent.stop_reason ?? 'requested' };
  if (around.run_status === 'cancelled') return { status: 'cancelled', reason: 'workflow_cancelled' };
  if (!around.activity_exists) return { status: 'cancelled', reason: 'activity_gone' };
  if (around.activity_status === 'timed_out') return { status: 'cancelled', reason: 'activity_timeout' };
  const aExp = activityExpiry(o);
  if (aExp && now >= aExp) return { status: 'cancelled', reason: 'activity_timeout' };
  if (around.worker_exists && around.worker_status === 'dead') return { status: 'cancelled', reason: 'worker_lost' };
  const wExp = workerExpiry(o);
  if (wExp && now >= wExp) return { status: 'cancelled', reason: 'worker_lost' };
  if (intent.deadline_at && now >= intent.deadline_at) return { status: 'timeout', reason: null };
  return null;
}

/** The earliest moment at which stopWanted could change by the clock alone. */
export function nextExpiryMs(o: Observation): number | undefined {
  const times = [o.intent.deadline_at, activityExpiry(o), workerExpiry(o)]
    .filter((d): d is Date => d !== null)
    .map((d) => d.getTime() - o.now.getTime());
  if (times.length === 0) return undefined;
  return Math.max(0, Math.min(...times));
}

/**
 * Until when an intent may keep trying to get its container running through failures that
 * look transient (the daemon answering 5xx, or not answering): its `placement_timeout` (the
 * wait for a host, when set) plus its own `timeout`, from its creation. Past it, the next
 * failure ends the intent `failed` with that error; a retried failure never keeps it
 * `pending` for ever.
 */
export function startBoundAt(intent: IntentRow): Date {
  const placement = intent.spec['placement_timeout'];
  const placementMs = typeof placement === 'number' && Number.isFinite(placement) && placement > 0 ? placement * 1000 : 0;
  return new Date(intent.created_at.getTime() + Math.min(placementMs + lifecycleOf(intent.spec).timeoutMs, MAX_START_BOUND_MS));
}
/** However the row came to be: a start is never retried for more than this (the longest run timeout, 7 days, and a day of placement). */
const MAX_START_BOUND_MS = 8 * 24 * 3600 * 1000;

/** Is the intent still on its way to a running container (nothing ran yet)? */
export const notYetRunning = (intent: IntentRow): boolean => intent.status === 'pending' || intent.status === 'pulling' || intent.status === 'created';

/** Has Docker's restart policy still a restart to make for this exited container? */
function willRestart(o: Observation, c: ContainerState): boolean {
  const policy = o.intent.spec['restart_policy'] as { name?: string; maximum_retry_count?: number } | undefined;
  const name = policy?.name ?? c.restartPolicy;
  if (name === 'always' || name === 'unless-stopped') return true;
  if (name === 'on-failure') {
    const max = policy?.maximum_retry_count ?? 0;
    return c.exitCode !== 0 && (max === 0 || c.restartCount < max);
  }
  return false;
}

export function decide(o: Observation): Decision {
  const { intent, container: c, now } = o;
  const life = lifecycleOf(intent.spec);

  // Removed: only a stray container of ours (a create that raced) can be left to clean.
  if (intent.removed_at) return { actions: c ? [{ type: 'remove' }] : [] };

  // Ended: the output is recorded; the container goes unless it is kept.
  if (isTerminal(intent.status)) {
    if (!c) return { actions: [{ type: 'mark_removed' }] };
    if (LIVE_CONTAINER.has(c.status)) return { actions: [{ type: 'remove' }] };
    // A removal request (tools.docker.remove) beats auto_remove false and gc_protected_until.
    if (intent.remove_requested_at) return { actions: [{ type: 'remove' }] };
    const protectedFor = intent.gc_protected_until ? intent.gc_protected_until.getTime() - now.getTime() : 0;
    if (protectedFor > 0) return { actions: [], requeueAfterMs: protectedFor };
    if (!life.autoRemove) return { actions: [] }; // kept on purpose; the GC's max age still applies
    return { actions: [{ type: 'remove' }] };
  }

  const stop = stopWanted(o);

  if (!c) {
    if (intent.status === 'pending' || intent.status === 'pulling') {
      if (stop) return { actions: [{ type: 'finish', status: stop.status, reason: stop.reason, error: null }] };
      return { actions: [{ type: 'ensure_image' }, { type: 'create' }, { type: 'start' }] };
    }
    // It was created once and is gone now: removed behind our back, or its daemon lost it.
    return {
      actions: [{ type: 'finish', status: 'lost', reason: null, error: 'container disappeared before its result was collected' }],
    };
  }

  switch (c.status) {
    case 'created': {
      if (stop) return { actions: [{ type: 'finish', status: stop.status, reason: stop.reason, error: null }, { type: 'remove' }] };
      // A start claimed by another process (or a pass that died) within the claim window: its
      // start may still reach Docker. Wait it out rather than risk a second start.
      const claimedFor = intent.start_attempted_at ? intent.start_attempted_at.getTime() + START_CLAIM_MS - now.getTime() : 0;
      if (claimedFor > 0) return { actions: [], requeueAfterMs: claimedFor };
      return { actions: [{ type: 'start' }] };
    }

    case 'exited':
    case 'dead': {
      if (intent.status !== 'stopping' && !stop && c.status === 'exited' && willRestart(o, c)) {
        return { actions: [], requeueAfterMs: 1_000 }; // Docker will start it again
      }
      // An exit we asked for is a timeout or a cancellation; any other exit is the container's own result.
      if (intent.status === 'stopping') {
        const ended: StopWanted = intent.stop_reason
          ? { status: 'cancelled', reason: intent.stop_reason }
          : { status: 'timeout', reason: null };
        return { actions: [{ type: 'collect', status: ended.status, reason: ended.reason }, ...removal(life)] };
      }
      if (killedByDaemon(o, c, life)) {
        return { actions: [{ type: 'collect', status: 'lost', reason: 'daemon_restart' }, ...removal(life)] };
      }
      const failed = c.oomKilled || c.exitCode !== 0 || c.status === 'dead';
      return { actions: [{ type: 'collect', status: failed ? 'failed' : 'exited', reason: null }, ...removal(life)] };
    }

    default: {
      // running, restarting, paused, removing
      if (stop) {
        if (intent.status !== 'stopping') {
          return { actions: [{ type: 'signal', signal: life.stopSignal ?? c.stopSignal ?? 'SIGTERM', reason: stop.reason }], requeueAfterMs: life.stopGraceMs };
        }
        const graceEnds = (intent.stop_requested_at ?? intent.updated_at).getTime() + life.stopGraceMs;
        if (now.getTime() >= graceEnds) return { actions: [{ type: 'kill' }], requeueAfterMs: 1_000 };
        return { actions: [], requeueAfterMs: graceEnds - now.getTime() };
      }
      const recorded = intent.status === 'running' && intent.container_id === c.id && intent.deadline_at !== null;
      const requeueAfterMs = nextExpiryMs(o);
      return { actions: recorded ? [] : [{ type: 'record_running' }], ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}) };
    }
  }
}

/** How much earlier than the moment the daemon was seen going away its kill may be dated (clocks, event latency). */
export const DAEMON_GONE_SLACK_MS = 5_000;

/**
 * Did a running intent's container end by a signal a daemon sends when it stops its containers:
 * its stop signal (SIGTERM by default: exit 143 with init) or SIGKILL after the grace (137)?
 * Not an OOM kill, and not while we were stopping it ourselves (`stopping`).
 */
export function diedBySignal(intent: IntentRow, c: ContainerState, life: Lifecycle): boolean {
  if (intent.status !== 'running' || c.oomKilled || c.status !== 'exited' || c.exitCode === null) return false;
  // 255: what a restarted dockerd records for a container whose end it did not see (its task
  // gone with the crashed daemon); the program's own exit code is lost with it.
  if (c.exitCode === DAEMON_LOST_EXIT_CODE) return true;
  const name = (life.stopSignal ?? c.stopSignal ?? 'SIGTERM').toUpperCase();
  const stopSignal = (osConstants.signals as Record<string, number | undefined>)[name.startsWith('SIG') ? name : `SIG${name}`];
  return c.exitCode === 128 + 9 || c.exitCode === 128 + 15 || (stopSignal !== undefined && c.exitCode === 128 + stopSignal);
}

/** The exit code dockerd gives a container after a crash of its own when it could not learn the real one. */
export const DAEMON_LOST_EXIT_CODE = 255;

/**
 * The container as inspected, with the exit code its `die` event reported when the daemon has
 * since replaced it with 255 (the daemon crashed after the exit and before anything read it):
 * the program's real exit, not the daemon's restart.
 */
export function withDiedExitCode(c: ContainerState, died: { containerId: string; exitCode: number } | undefined): ContainerState {
  if (!died || c.status !== 'exited' || c.exitCode !== DAEMON_LOST_EXIT_CODE || died.containerId !== c.id || died.exitCode === DAEMON_LOST_EXIT_CODE) return c;
  return { ...c, exitCode: died.exitCode };
}

/**
 * Did the container's own daemon kill it as it shut down (a daemon restart, a stop of the
 * Docker service), rather than the program failing? It died by such a signal (diedBySignal),
 * and either
 *  - its daemon refused new connections when its death was seen (`daemonLeaving`: dockerd
 *    closes its socket first, then stops its containers, whose `die` events still arrive on
 *    the open events stream), or
 *  - it finished after its daemon was seen going away (`output_interrupted_at`, less a slack):
 *    it was still running when the daemon left, and the daemon killed it on the way out or,
 *    after a crash, when it started again (without live-restore dockerd kills what it finds
 *    running).
 * A program that exits 137 or 143 of its own while its daemon is going away reads as killed by it.
 * So does an exit code of 255 in an outage, unless the container's `die` event said otherwise
 * (withDiedExitCode): dockerd records 255 for a container whose end it lost in its own crash.
 */
export function killedByDaemon(o: Observation, c: ContainerState, life: Lifecycle): boolean {
  if (!diedBySignal(o.intent, c, life)) return false;
  if (o.daemonLeaving) return true;
  const away = o.intent.output_interrupted_at;
  if (!away) return false;
  return !c.finishedAt || c.finishedAt.getTime() >= away.getTime() - DAEMON_GONE_SLACK_MS;
}

/** Remove right after collecting, unless the container is kept (auto_remove false, or protected for a while: the next pass waits). */
function removal(life: Lifecycle): Action[] {
  return life.autoRemove && life.gcProtectMs === null ? [{ type: 'remove' }] : [];
}
