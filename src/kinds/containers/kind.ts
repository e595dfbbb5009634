/**
 * The containers kind: run intents (rows of highway.docker_containers) and their containers.
 * Keys are intent ids. Docker events carry the id in a label; engine notifications (run,
 * activity, worker) map to their live intents; deadlines come back as requeueAfter.
 */
import { EMPTY, Subject, catchError, from, mergeMap, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Pool } from '../../db/pool.js';
import { CHANNELS } from '../../db/listener.js';
import { listLiveIntentIds, liveIntentIdsFor, type Related } from '../../db/queries/live-intents.js';
import { patchLiveIntent } from '../../db/queries/update-intent.js';
import type { ContainerClient, ContainerState, ContainerSummary } from '../../docker/client.js';
import { HighwayError, TerminalError, errorMessage } from '../../errors.js';
import { daemonRefusesConnections, daemonUnreachable } from '../../docker/daemon-health.js';
import { setDaemonReachability } from '../../db/queries/hosts.js';
import { releaseUnstarted } from '../../db/queries/failover.js';
import { LABELS, containerName, isTerminal, lifecycleOf, type IntentRow } from '../../model.js';
import { defaultPolicy, type Policy } from '../../params/policy.js';
import { intentEventFields } from '../../observability/events.js';
import type { Metrics } from '../../observability/metrics.js';
import { envSecretResolver, type SecretResolver } from '../../secrets.js';
import { PERIODIC_RESYNC, type Kind, type Sources } from '../../runtime/controller.js';
import type { Enqueue, ReconcileResult } from '../../runtime/workqueue.js';
import { DAEMON_GONE_SLACK_MS, decide, diedBySignal, nextExpiryMs, notYetRunning, startBoundAt, withDiedExitCode, type Observation } from './decide.js';
import { executeActions, readOutputAhead, type EffectContext } from './effects.js';
import { loadLiveStates, loadReconcileState } from './queries/load-reconcile-state.js';
import { periodicKeys } from './periodic.js';
import { claimIntents, type HostOffer } from './queries/claim-intents.js';
import { UUID } from '../../ids.js';
import { withPgRetry } from '../../db/retry.js';
import { appendAuditOnce, REMOVAL_OPERATIONS } from '../../db/queries/audit.js';

export interface ContainersKindOptions {
  pool: Pool;
  docker: ContainerClient;
  logger: Logger;
  reconcilerId: string;
  /** This database's identity (`highway.cluster_id` on every container it makes). */
  clusterId: string;
  workerTimeoutMs?: number;
  concurrency?: number;
  /**
   * Intents being started (pull, create, start) at once, at most (default 6). The daemon
   * serializes much of a start: more starts in parallel add little throughput and slow what
   * else it does, exits included. Measured on 2 cores (a burst of 200 `sleep 1`; `exit 0` at 8
   * callers): 6 slots gave burst exit -> result p99 0.6 s and 0.93-0.96x dockerode's throughput;
   * 8 slots no more throughput (0.925-0.957x: the daemon's starts are the bottleneck) and a
   * slower burst p99 (1.2 s); 4 slots 0.875x.
   */
  startConcurrency?: number;
  resolveSecret?: SecretResolver;
  /** The operator policy, enforced again at create time (default: the built-in policy). */
  policy?: Policy;
  metrics?: Metrics;
  /** This host's labels (HIGHWAY_HOST_LABELS), matched against a run's `placement.labels`. */
  hostLabels?: Record<string, string>;
  /** Live intents this host takes at most (HIGHWAY_MAX_CONTAINERS); default no limit. */
  capacity?: number | null;
}

/** Intents claimed per statement. */
const CLAIM_BATCH = 32;
/** How long an exit seen while the events stream is lost waits for its reconnect before it is collected as possibly cut. */
const EVENTS_LOST_WAIT_MS = 30_000;

/** Pending (or pulling) with no container recorded and no start ever claimed. */
function neverCreated(intent: IntentRow): boolean {
  return (intent.status === 'pending' || intent.status === 'pulling') && intent.container_id === null && intent.start_attempted_at === null;
}


/**
 * Events that tell the reconciler something it did not cause itself. Create, start and kill
 * follow its own calls; reacting to them would only add a pass (and an inspect that, right
 * after a start, waits on the daemon until a short container has exited).
 */
const NEWS = ['die', 'destroy', 'oom', 'pause', 'unpause', 'restart', 'health_status'] as const;
const NEWS_SET = new Set<string>(NEWS);
const isNews = (action: string): boolean => NEWS_SET.has(action) || action.startsWith('health_status');

export class ContainersKind implements Kind {
  readonly name = 'containers';
  readonly channels = [CHANNELS.intent, CHANNELS.workflowRun, CHANNELS.activity, CHANNELS.worker];
  readonly dockerActions = NEWS;
  readonly concurrency: number;
  /** Slots for finishing work (exits, stops) only: starts are paced to the rest (`startConcurrency`). */
  readonly highReserve: number;
  private readonly workerTimeoutMs: number;
  /** Intents this reconciler saw through to removal lately: their destroy event is no news. */
  private readonly settled = new Map<string, number>();
  /** Intents whose container's die event came and no pass has looked since (intent id -> container id). */
  private readonly died = new Map<string, string>();
  /** The exit code each `die` event reported (intent id -> container, code), kept until the intent settles: a daemon that crashes before the exit is collected reports 255 after its restart. */
  private readonly diedWith = new Map<string, { containerId: string; exitCode: number }>();
  /** Containers of this host, `created` (never started), as its last list saw them (intent id -> container id). */
  private readonly unstarted = new Map<string, string>();
  private readonly claimed$ = new Subject<Enqueue<string>>();
  /** Set while this host cannot reach its Docker daemon: it claims nothing meanwhile. */
  private daemonDown: { since: Date; reason: string } | null = null;
  /** The latest outage of this host's daemon (`until` null while it lasts). */
  private outage: { since: Date; until: Date | null } | null = null;
  /**
   * Since when this host's Docker events stream is lost, until it is back (null while connected):
   * meanwhile nobody here can tell whether the daemon went away, so an exit in that time is not
   * collected (for a bounded while) until the reconnect says (soak finding 11).
   */
  private eventsLostSince: Date | null = null;
  private probing: Promise<void> | null = null;
  private lastRecheck = 0;
  private claiming: Promise<void> | null = null;
  private claimAgain = false;
  private readonly offer: HostOffer;
  /** What every pass's actions work with. */
  private readonly effects: EffectContext;

  constructor(private readonly options: ContainersKindOptions) {
    this.concurrency = options.concurrency ?? 16;
    this.highReserve = Math.max(0, this.concurrency - Math.min(this.concurrency, options.startConcurrency ?? 6));
    this.workerTimeoutMs = options.workerTimeoutMs ?? 30_000;
    this.offer = { id: options.reconcilerId, labels: options.hostLabels ?? {}, capacity: options.capacity ?? null };
    const { pool, docker, logger, reconcilerId, clusterId, metrics } = options;
    this.effects = {
      pool, docker, logger, reconcilerId, clusterId,
      resolveSecret: options.resolveSecret ?? envSecretResolver,
      policy: options.policy ?? defaultPolicy,
      ...(metrics ? { metrics } : {}),
    };
  }

  fields(id: string) {
    return { intent_id: id };
  }

  watch(sources: Sources): Observable<string | Enqueue<string>> {
    const related: Record<string, Related> = {
      [CHANNELS.workflowRun]: 'workflow_run_id',
      [CHANNELS.activity]: 'activity_id',
      [CHANNELS.worker]: 'worker_id',
    };
    const fromDocker$ = sources.docker$.pipe(
      mergeMap((signal): Array<Enqueue<string>> => {
        // The events stream lost (the daemon stopped, crashed, froze): is the daemon still there?
        if (signal.type === 'disconnected') {
          // Lost (not stalled: a daemon that froze loses no output, its log copier resumes with it).
          // Until the probe says the daemon answers, or the reconnect says whether it went away
          // (the manager records an outage before it forwards that), exits wait to be collected.
          const since = (this.eventsLostSince ??= new Date());
          void this.probeDaemon(signal.reason).then(() => {
            if (!this.daemonDown && this.eventsLostSince === since) this.eventsLostSince = null;
          }, () => {});
        } else if (signal.type === 'connected') {
          this.eventsLostSince = null;
          void this.daemonAnswers();
        }
        if (signal.type !== 'event' || signal.event.type !== 'container' || !isNews(signal.event.action)) return [];
        const id = signal.event.labels[LABELS.intentId];
        if (!id || !UUID.test(id) || (signal.event.action === 'destroy' && this.settled.has(id))) return [];
        if (signal.event.action === 'die') this.noteDied(id, signal.event.id, signal.event.exitCode);
        // An exit is finishing work: it goes ahead of starting new containers.
        return [{ key: id, priority: 'high' }];
      }),
    );
    const fromPostgres$ = sources.notifications$.pipe(
      mergeMap((signal): Observable<Enqueue<string>> | Array<Enqueue<string>> => {
        if (signal.type !== 'notification') return [];
        if (signal.channel === CHANNELS.intent) {
          // "<id>" for a new intent (new work), "<id> stop" for a stop asked for (finishing work).
          const [id, why] = signal.payload.split(' ');
          return id && UUID.test(id) ? [{ key: id, priority: why === 'stop' ? 'high' : 'normal' }] : [];
        }
        const column = related[signal.channel];
        if (!column) return EMPTY;
        // A run cancelled, an activity or a worker gone: its containers are to stop.
        return from(liveIntentIdsFor(this.options.pool, column, signal.payload)).pipe(
          mergeMap((ids) => ids.map((key): Enqueue<string> => ({ key, priority: 'high' }))),
          catchError((err) => {
            this.options.logger.warn({ event: 'reconciler.lookup_error', err: errorMessage(err) }, 'could not map notification');
            return EMPTY;
          }),
        );
      }),
    );
    return from([fromDocker$, fromPostgres$, this.claimed$]).pipe(mergeMap((s$: Observable<string | Enqueue<string>>) => s$));
  }

  /**
   * The safety net for lost hints. After a (re)connect, a stall or a regained lock: every live
   * intent of ours, plus every container labelled ours (this host's, this cluster's). The
   * periodic resync: only the keys where those disagree or a row is due (periodic.ts says what
   * it still heals). Another cluster's container on a shared daemon is not looked at; an
   * unlabelled one (made before the cluster label) costs a pass that finds no row if it is not ours.
   */
  async list(reason: string): Promise<string[]> {
    const { pool, docker, reconcilerId, clusterId } = this.options;
    if (this.daemonDown) await this.recheckDaemon();
    const listContainers = () => docker.list([`${LABELS.managed}=true`, `${LABELS.reconcilerId}=${reconcilerId}`]);
    if (reason === PERIODIC_RESYNC) {
      const [states, containers] = await Promise.all([loadLiveStates(pool, reconcilerId), listContainers()]);
      this.noteUnstarted(containers);
      return periodicKeys({ states, containers, reconcilerId, clusterId, workerTimeoutMs: this.workerTimeoutMs });
    }
    const [rows, containers] = await Promise.all([listLiveIntentIds(pool, reconcilerId), listContainers()]);
    return [...new Set([...rows, ...this.noteUnstarted(containers)])];
  }

  /** The intent ids of this host's containers of this cluster; remembers those never started (`unstarted`). */
  private noteUnstarted(containers: readonly ContainerSummary[]): string[] {
    this.unstarted.clear();
    const ids: string[] = [];
    for (const c of containers) {
      const id = c.labels[LABELS.intentId];
      const cluster = c.labels[LABELS.clusterId];
      if (!id || !UUID.test(id) || (cluster !== undefined && cluster !== this.options.clusterId)) continue;
      ids.push(id);
      if (c.state === 'created') this.unstarted.set(id, c.id);
    }
    return ids;
  }

  /**
   * One level-triggered pass over an intent: re-read the row and inspect the container,
   * decide, act. Returns when to look again.
   */
  async reconcile(id: string): Promise<ReconcileResult> {
    const { pool, docker, reconcilerId } = this.options;
    // A container of ours (its label says so) that has just died: inspect it while the row is
    // read, and read its output as soon as the row says how much, so the collect waits on
    // neither. Only for the first pass after its die event.
    const diedId = this.died.get(id);
    this.died.delete(id);
    const inspecting = diedId ? docker.inspect(containerName(id)).then((c) => ({ c }), (failed: unknown) => ({ failed })) : null;
    // A host without a capacity limit claims an intent it matches as it loads it (one statement).
    // A host that cannot reach its daemon claims nothing (another host takes the work).
    const state = await loadReconcileState(pool, id, this.offer.capacity === null && !this.daemonDown ? this.offer : undefined);
    if (!state || state.intent.removed_at) return {};
    if (state.intent.reconciler_id === null) {
      // Unclaimed: claim what this host may take, oldest first. This one, if among them, goes
      // on in this pass; the others come back as keys. (Not while the daemon is away: look
      // whether it is back, at most once a second, rather than wait for the events stream.)
      if (this.daemonDown) void this.recheckDaemon();
      if (state.intent.status !== 'pending' || !(await this.claim(id))) return {};
      state.intent.reconciler_id = reconcilerId;
    }
    // Another host's: never touched, not even inspected (a container that died on this host's
    // daemon, labelled this host's, may have been inspected above).
    if (state.intent.reconciler_id !== reconcilerId) {
      const stray = this.unstarted.get(id);
      if (stray && state.intent.container_id !== stray) await this.removeHandedBack(state.intent, stray);
      return {};
    }
    const passStarted = performance.now();
    try {
      return await this.reconcileClaimed(id, state, diedId, inspecting);
    } catch (err) {
      throw this.boundedFailure(state.intent, new Date(state.dbNow.getTime() + (performance.now() - passStarted)), err);
    }
  }

  /**
   * A failure that a retry may fix (the daemon failing or away) is retried by the work queue,
   * but not for ever: an intent still on its way to running that is past its start bound
   * (`placement_timeout` + `timeout` from its creation) ends `failed` with the last error.
   */
  private boundedFailure(intent: IntentRow, now: Date, err: unknown): unknown {
    if (err instanceof TerminalError || isTerminal(intent.status) || !notYetRunning(intent)) return err;
    const bound = startBoundAt(intent);
    if (now < bound) return err;
    const code = err instanceof HighwayError ? err.code : 'docker_unavailable';
    const seconds = Math.round((bound.getTime() - intent.created_at.getTime()) / 1000);
    const what = typeof intent.spec['placement_timeout'] === 'number' ? 'its placement_timeout + timeout' : 'its timeout';
    return new TerminalError(code, `could not be started within ${seconds} s (${what}); last error: ${errorMessage(err)}`, { cause: err });
  }

  private async reconcileClaimed(
    id: string,
    state: NonNullable<Awaited<ReturnType<typeof loadReconcileState>>>,
    diedId: string | undefined,
    inspecting: Promise<{ c: ContainerState | null } | { failed: unknown }> | null,
  ): Promise<ReconcileResult> {
    const { docker } = this.options;
    const observation: Omit<Observation, 'container'> = { ...state, now: state.dbNow, workerTimeoutMs: this.workerTimeoutMs };
    const ahead = diedId && !isTerminal(state.intent.status) ? readOutputAhead(this.effects, state.intent, diedId) : null;
    // An intent that has never had a container (none recorded, no start ever claimed) is not
    // inspected before its create: the create itself finds one that exists (a create of ours
    // before a crash: a name conflict, then adopted). Any other decision inspects first.
    let container: ContainerState | null = null;
    let decision = !inspecting && neverCreated(state.intent) ? decide({ ...observation, container }) : null;
    if (decision?.actions[0]?.type !== 'ensure_image') {
      if (inspecting) {
        const inspected = await inspecting;
        if ('failed' in inspected) throw inspected.failed;
        container = inspected.c;
      } else {
        container = await docker.inspect(containerName(id));
      }
      if (container) {
        const seen = withDiedExitCode(container, this.diedWith.get(id));
        if (seen !== container) {
          this.options.logger.warn(
            { ...intentEventFields(state.intent), event: 'container.exit_code_from_event', exit_code: seen.exitCode, daemon_exit_code: container.exitCode },
            `its Docker daemon restarted after the exit and reports ${container.exitCode}; the exit code its die event reported (${seen.exitCode}) is the program's`,
          );
          container = seen;
        }
      }
      // Died by a signal we did not send: is its daemon shutting down (a restart)? Recorded
      // before anything else, so a pass that fails to collect now still knows it later.
      // (Or it finished while this host found its daemon away: killed as the daemon left, or
      // by the daemon starting again after a crash. Known here even when this pass runs before
      // the outage is recorded on the rows.)
      if (container && diedBySignal(state.intent, container, lifecycleOf(state.intent.spec))) {
        const away = (await daemonRefusesConnections(docker.docker)) ? new Date() : this.outageCovering(container.finishedAt);
        if (away) {
          observation.daemonLeaving = true;
          state.intent.output_interrupted_at = await this.noteOutputInterrupted(
            id,
            away,
            'docker.daemon_leaving',
            'a container died by a signal while its Docker daemon was going away: killed by the daemon, not by its own failure',
          );
        }
      }
      if (container && (container.status === 'exited' || container.status === 'dead') && !isTerminal(state.intent.status) && !state.intent.output_interrupted_at) {
        // An exit while this host's events stream was lost: wait (a little) for the reconnect to say
        // whether the daemon went away meanwhile; an exit in a known outage: its output may be cut.
        const lost = this.eventsLostSince;
        const finished = container.finishedAt?.getTime() ?? Date.now();
        if (lost && finished >= lost.getTime() - DAEMON_GONE_SLACK_MS) {
          if (Date.now() - lost.getTime() < EVENTS_LOST_WAIT_MS) return { requeueAfterMs: 1_000 };
          state.intent.output_interrupted_at = await this.noteOutputInterrupted(id, lost, 'docker.output_interrupted', 'its output may be incomplete: its Docker events stream was lost when it ended');
        } else {
          const away = this.outageDuring(container.startedAt, container.finishedAt);
          if (away) state.intent.output_interrupted_at = await this.noteOutputInterrupted(id, away, 'docker.output_interrupted', 'its output may be incomplete: it ran while its Docker daemon was away');
        }
      }
      decision = decide({ ...observation, container });
    }
    if (decision.actions.length === 0) {
      // Nothing to do, but a container found by its name that the row does not know of (a
      // start claimed by a pass that died; a kept container) is recorded now, not when it ends.
      if (container) await executeActions(this.effects, state.intent, container, [], ahead);
      return decision.requeueAfterMs !== undefined ? { requeueAfterMs: decision.requeueAfterMs } : {};
    }
    // Our own removal's destroy event is no news (it would only cause a pass that finds it done).
    if (decision.actions.some((a) => a.type === 'remove')) this.rememberSettled(id);
    let after: IntentRow;
    try {
      after = await executeActions(this.effects, state.intent, container, decision.actions, ahead);
    } catch (err) {
      if (err instanceof HighwayError && err.code === 'docker_unavailable') void this.probeDaemon(err.message);
      throw err;
    }
    // Something changed: look again right away to see the new level. Except when it is all
    // over, or when this pass has just started the container: then what comes next is its exit
    // (a die event) or a deadline, and a pass now would only confirm what was just recorded.
    if (after.removed_at) {
      // A slot is free: take the next waiting intent, if any.
      if (this.offer.capacity !== null) void this.claim();
      return {};
    }
    if (after.status === 'running' && decision.actions.some((a) => a.type === 'start')) {
      const next = nextExpiryMs({ ...observation, intent: after, container });
      return next === undefined ? {} : { requeueAfterMs: next };
    }
    return { requeueAfterMs: 0 };
  }

  /**
   * The daemon went away and is back: the containers of this host that were running may have
   * lost output meanwhile (without live-restore nothing reads their logs while it is down).
   * Their intents record it; collecting them says so.
   */
  async daemonReturned(awaySince?: Date): Promise<void> {
    // Known here too: a pass that collects before the rows below are marked (a timer, a retry of
    // a pass that found the daemon away) still sees that its container ran through the outage.
    const since = awaySince ?? this.eventsLostSince ?? new Date();
    const open = this.outage && this.outage.until === null ? this.outage.since : null;
    this.outage = { since: open && open < since ? open : since, until: new Date() };
    // The time the daemon was seen going away: a container of these that its daemon killed
    // (the daemon's shutdown or restart) finished after it (decide: `daemon_restart`).
    const res = await this.options.pool.query(
      `UPDATE highway.docker_containers SET output_interrupted_at = COALESCE($2::timestamptz, now())
        WHERE reconciler_id = $1 AND removed_at IS NULL AND status IN ('running', 'stopping') AND output_interrupted_at IS NULL`,
      [this.options.reconcilerId, awaySince ?? null],
    );
    if (res.rowCount) this.options.logger.warn({ event: 'docker.daemon_returned', intents: res.rowCount }, `the Docker daemon was away: output of ${res.rowCount} running containers may be incomplete`);
  }

  /** Its output may be incomplete (the daemon away while it ran, or killed by the daemon leaving): recorded on the intent, said in the log. */
  private async noteOutputInterrupted(id: string, at: Date, event: string, why: string): Promise<Date> {
    const res = await this.options.pool.query<{ at: Date }>(
      `UPDATE highway.docker_containers SET output_interrupted_at = COALESCE(output_interrupted_at, $2)
        WHERE id = $1 RETURNING output_interrupted_at AS at`,
      [id, at],
    );
    this.options.logger.warn({ event, intent_id: id, away_since: at.toISOString() }, why);
    return res.rows[0]?.at ?? at;
  }

  /** When the daemon went away, if a container that ran from `startedAt` to `finishedAt` ran through this host's latest outage of it. */
  private outageDuring(startedAt: Date | null, finishedAt: Date | null): Date | null {
    const o = this.outage;
    if (!o || !finishedAt) return null;
    if (finishedAt.getTime() < o.since.getTime() - DAEMON_GONE_SLACK_MS) return null;
    if (o.until && startedAt && startedAt.getTime() > o.until.getTime()) return null;
    return o.since;
  }

  /** When the daemon went away, if `finishedAt` falls in this host's latest outage of its daemon (with slack). */
  private outageCovering(finishedAt: Date | null): Date | null {
    const o = this.outage;
    if (!o || !finishedAt) return null;
    const t = finishedAt.getTime();
    if (t < o.since.getTime() - DAEMON_GONE_SLACK_MS) return null;
    if (o.until && t > o.until.getTime() + DAEMON_GONE_SLACK_MS) return null;
    return o.since;
  }

  /** Record an error that retrying will not fix; the next pass removes whatever is left. */
  async fail(id: string, err: TerminalError): Promise<void> {
    const row = await patchLiveIntent(
      this.options.pool,
      id,
      { status: 'failed', error: err.message, error_code: err.code, finished_at: new Date() },
      { actor: this.options.reconcilerId, operation: 'container.run', outcome: 'error', detail: { code: err.code, error: err.message } },
    );
    if (!row) return;
    this.options.metrics?.transition('failed', null);
    this.options.logger.error({ ...intentEventFields(row), event: 'intent.failed', status: 'failed', code: err.code, error: err.message }, err.message);
  }

  /**
   * Claim waiting intents this host may take (placement, room), one claim at a time (so two
   * never count the same free slot); a claim asked for while one runs runs once more after it.
   * True when `wanted` was claimed by this call (the caller goes on with it).
   */
  async claim(wanted?: string): Promise<boolean> {
    if (this.daemonDown) return false;
    if (this.claiming) {
      this.claimAgain = true;
      await this.claiming;
      return false; // a key it claimed comes back through claimed$
    }
    let got = false;
    this.claiming = (async () => {
      try {
        do {
          this.claimAgain = false;
          if (this.daemonDown) break;
          const ids = await claimIntents(this.options.pool, this.offer, CLAIM_BATCH);
          for (const key of ids) {
            if (key === wanted) got = true;
            else this.claimed$.next({ key, priority: 'normal' });
          }
          if (ids.length === CLAIM_BATCH) this.claimAgain = true;
        } while (this.claimAgain);
      } catch (err) {
        this.options.logger.warn({ event: 'reconciler.claim_error', err: errorMessage(err) }, 'could not claim intents; the next hint or resync tries again');
      } finally {
        this.claiming = null;
      }
    })();
    await this.claiming;
    return got;
  }

  /**
   * Something said the daemon may be gone (the events stream lost, a call that found it
   * unavailable): ping it once. No answer: this host stops claiming, records it in its host row
   * (the leader's pending reasons name it), and hands back what it claimed but did not start,
   * so another host runs it now. The events stream's next `connected` ends it.
   */
  private probeDaemon(why: string): Promise<void> {
    this.probing ??= (async () => {
      const { pool, docker, reconcilerId, logger } = this.options;
      if (!this.daemonDown) {
        const unreachable = await daemonUnreachable(docker.docker);
        if (unreachable === null || this.daemonDown) return;
        const reason = why === unreachable ? why : `${why}; ${unreachable}`;
        this.daemonDown = { since: new Date(), reason };
        this.outage = { since: this.daemonDown.since, until: null };
        logger.warn({ event: 'host.docker_unreachable', reason }, 'the Docker daemon does not answer: this host claims no work until it does');
      }
      // Again on later hints while it is down: a claim that raced the first hand-back goes too.
      const reason = this.daemonDown.reason;
      try {
        await setDaemonReachability(pool, reconcilerId, reason);
        const released = await releaseUnstarted(pool, reconcilerId, `host ${reconcilerId} cannot reach its Docker daemon: ${reason}`);
        if (released.length) {
          logger.warn({ event: 'host.claims_released', intents: released.length, intent_ids: released }, `handed back ${released.length} intents this host claimed but did not start`);
        }
      } catch (err) {
        // Still claiming nothing; the next hint (a failing pass, a resync) records and hands back again.
        logger.warn({ event: 'host.docker_unreachable_record_error', err: errorMessage(err) }, 'could not record the daemon outage; the next hint tries again');
      }
    })().finally(() => (this.probing = null));
    return this.probing;
  }

  /** While the daemon is away: does it answer again? (At most once a second.) */
  private async recheckDaemon(): Promise<void> {
    if (!this.daemonDown || this.probing || Date.now() - this.lastRecheck < 1_000) return;
    this.lastRecheck = Date.now();
    if ((await daemonUnreachable(this.options.docker.docker)) === null) await this.daemonAnswers();
  }

  /** The daemon answers again (the events stream is connected, or a ping): claim again. */
  private async daemonAnswers(): Promise<void> {
    await this.probing;
    const down = this.daemonDown;
    if (!down) return;
    this.daemonDown = null;
    if (this.outage && this.outage.until === null) this.outage.until = new Date();
    this.options.logger.info(
      { event: 'host.docker_reachable', down_ms: Date.now() - down.since.getTime() },
      'the Docker daemon answers again: this host claims work again',
    );
    await setDaemonReachability(this.options.pool, this.options.reconcilerId, null).catch((err) =>
      this.options.logger.warn({ event: 'host.docker_reachable_record_error', err: errorMessage(err) }, 'could not record that the daemon is back'),
    );
    await this.claim();
  }

  /**
   * A container this host created and never started, of an intent it handed back (its daemon or
   * its database lost between the create and the start) that another host now runs: removed at
   * once, when this host's list finds it, rather than by the GC a minute later (one activity,
   * one container). Its create row, lost with the row write, and its removal are recorded.
   */
  private async removeHandedBack(intent: IntentRow, containerId: string): Promise<void> {
    const { docker, pool, reconcilerId, logger } = this.options;
    this.unstarted.delete(intent.id);
    try {
      const c = await docker.inspect(containerId);
      if (!c || c.status !== 'created' || c.labels[LABELS.reconcilerId] !== reconcilerId) return;
      await docker.remove(containerId);
      const why = `never started; its intent was handed back and is run by ${intent.reconciler_id ?? 'another host'}`;
      // The container is gone now, so no later pass would find it to write these: retried through a
      // database blip (each row only if not there yet, so a retry after a lost reply writes none twice).
      const entry = { tenant_id: intent.tenant_id, actor: reconcilerId, intent_id: intent.id, outcome: 'ok' as const };
      await withPgRetry('handed-back audit rows', () => appendAuditOnce(pool, [
        { ...entry, operation: 'container.create', detail: { container_id: containerId, image: intent.image, recorded_late: true } },
        { ...entry, operation: 'container.remove', detail: { container_id: containerId, why }, unless: REMOVAL_OPERATIONS },
      ]), { logger, maxRetryTime: 30_000 });
      logger.warn({ ...intentEventFields(intent), event: 'container.handed_back_removed', container_id: containerId }, `removed a container of ours that was ${why}`);
    } catch (err) {
      logger.warn({ event: 'container.handed_back_remove_error', intent_id: intent.id, container_id: containerId, err: errorMessage(err) }, 'could not remove a handed-back container yet; the next list or the GC removes it');
    }
  }

  private noteDied(id: string, containerId: string, exitCode: number | undefined): void {
    this.died.set(id, containerId);
    if (exitCode !== undefined && Number.isInteger(exitCode)) this.diedWith.set(id, { containerId, exitCode });
    // Consumed by the next pass (diedWith: by the settling); bounded in case that never comes here.
    if (this.died.size > 10_000) this.died.delete(this.died.keys().next().value!);
    if (this.diedWith.size > 10_000) this.diedWith.delete(this.diedWith.keys().next().value!);
  }

  private rememberSettled(id: string): void {
    this.diedWith.delete(id);
    const now = Date.now();
    this.settled.set(id, now);
    // Forget after a minute; pruned in insertion order, so the map stays small.
    for (const [key, at] of this.settled) {
      if (now - at < 60_000) break;
      this.settled.delete(key);
    }
  }
}
