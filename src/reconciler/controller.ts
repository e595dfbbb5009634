/**
 * The reconciler: a long-running controller that keeps highway.docker_containers (desired
 * state) and the Docker daemon (actual state) in agreement.
 *
 *   Docker /events ─┐
 *   NOTIFY intents ─┤                          ┌─ reconcile(id): re-read row + inspect
 *   NOTIFY run/activity/worker ─► keys ────────┤    → decide() (pure) → effects
 *   resync (connect, periodic) ─┤  serialized  └─ → requeue after a deadline / backoff
 *   requeue timers ─┘            per key, coalescing, capped
 *
 * Every source is a hint carrying a key; the database and the daemon are the truth.
 */
import { EMPTY, Subject, type Subscription, defer, from, interval, merge, mergeMap, filter, catchError, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { CHANNELS, PgListener, type NotificationSignal } from '../db/listener.js';
import { loadReconcileState } from '../db/queries/load-reconcile-state.js';
import { listLiveIntentIds, liveIntentIdsFor, type Related } from '../db/queries/live-intents.js';
import { patchLiveIntent } from '../db/queries/update-intent.js';
import type { ContainerClient } from '../docker/client.js';
import { dockerEvents$, type DockerEventSignal } from '../docker/events.js';
import { HighwayError, TerminalError, errorMessage } from '../errors.js';
import { LABELS, containerName } from '../model.js';
import { decide, nextExpiryMs } from './decide.js';
import { executeActions, type SecretResolver } from './effects.js';
import { serializePerKey } from './serialize.js';
import { defaultPolicy, type Policy } from '../params/policy.js';
import { intentEventFields } from '../observability/events.js';

export interface ReconcilerOptions {
  pool: Pool;
  databaseUrl: string;
  docker: ContainerClient;
  logger: Logger;
  /** Which reconciler this is (one per Docker host). Default: the Docker daemon's ID, so a restart re-attaches. */
  reconcilerId?: string;
  workerTimeoutMs?: number;
  /** Safety-net relist interval (default 30 s). */
  resyncIntervalMs?: number;
  /** Reconciles in flight at most, over all intents (default 16). */
  concurrency?: number;
  resolveSecret?: SecretResolver;
  /** The operator policy, enforced again at create time (default: the built-in policy). */
  policy?: Policy;
}

const MAX_TIMER_MS = 60 * 60 * 1000; // longer waits are covered by the periodic resync
const MAX_BACKOFF_MS = 30_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Events that tell the reconciler something it did not cause itself. Create, start and kill
 * follow its own calls; reacting to them would only add a pass (and an inspect that, right
 * after a start, waits on the daemon until a short container has exited).
 */
const NEWS = new Set(['die', 'destroy', 'oom', 'pause', 'unpause', 'restart']);
export const isNews = (action: string): boolean => NEWS.has(action) || action.startsWith('health_status');

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(onTimeout()), ms))),
  ]);
}

/** Default secret source: the reconciler's environment, HIGHWAY_SECRET_<NAME>. */
export const envSecretResolver: SecretResolver = async (name) => {
  const key = `HIGHWAY_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  const value = process.env[key];
  if (value === undefined) throw new TerminalError('invalid_params', `environment: secret "${name}" is not available (set ${key} on the reconciler)`);
  return value;
};

export class Reconciler {
  readonly id: string;
  private readonly log: Logger;
  private readonly listener: PgListener;
  private readonly requeue$ = new Subject<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  /** Intents this reconciler saw through to removal lately: their destroy event is no news. */
  private readonly settled = new Map<string, number>();
  private subscription: Subscription | null = null;
  private stopping: Promise<void> | null = null;
  private readonly workerTimeoutMs: number;

  private constructor(
    private readonly options: ReconcilerOptions,
    id: string,
  ) {
    this.id = id;
    this.log = options.logger.child({ reconciler_id: id });
    this.workerTimeoutMs = options.workerTimeoutMs ?? 30_000;
    // Not the completion channel: that one is for waiting callers.
    this.listener = new PgListener(options.databaseUrl, [CHANNELS.intent, CHANNELS.workflowRun, CHANNELS.activity, CHANNELS.worker], this.log);
  }

  static async create(options: ReconcilerOptions): Promise<Reconciler> {
    const id = options.reconcilerId ?? (await options.docker.daemonId());
    return new Reconciler(options, id);
  }

  /** Connect the sources and start reconciling. Resolves once both streams are connected. */
  async start(): Promise<void> {
    const dockerSignals$ = new Subject<DockerEventSignal>();
    let markDockerReady: () => void = () => {};
    const dockerReady = new Promise<void>((resolve) => (markDockerReady = resolve));
    const keys$ = merge(
      this.keysFromDocker(dockerSignals$),
      this.keysFromNotifications(this.listener.signals$),
      interval(this.options.resyncIntervalMs ?? 30_000).pipe(mergeMap(() => this.resyncKeys('periodic'))),
      this.requeue$,
    ).pipe(filter((id) => UUID.test(id)));
    this.subscription = keys$
      .pipe(serializePerKey((id: string) => defer(() => this.reconcileSafely(id)), { concurrency: this.options.concurrency ?? 16 }))
      .subscribe();
    const docker$ = dockerEvents$({
      docker: this.options.docker.docker,
      logger: this.log,
      labels: [`${LABELS.managed}=true`, `${LABELS.reconcilerId}=${this.id}`],
    });
    this.subscription.add(
      docker$.subscribe((signal) => {
        if (signal.type === 'connected') markDockerReady();
        dockerSignals$.next(signal);
      }),
    );
    await this.listener.start();
    await withTimeout(dockerReady, 30_000, () => new HighwayError('docker_unavailable', 'could not subscribe to Docker events within 30 s'));
    this.log.info({ event: 'reconciler.started' }, `reconciler ${this.id} started`);
  }

  /** Stop: complete the pipeline and close the listener. Containers keep running (a restart re-attaches). Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.subscription?.unsubscribe();
      for (const t of this.timers.values()) clearTimeout(t);
      this.timers.clear();
      this.requeue$.complete();
      await this.listener.stop();
      this.log.info({ event: 'reconciler.stopped' }, 'reconciler stopped');
    })();
    return this.stopping;
  }

  /**
   * One level-triggered pass over an intent: re-read the row and inspect the container,
   * decide, act. Returns when to look again.
   */
  async reconcile(id: string): Promise<{ requeueAfterMs?: number }> {
    // The row and the container are read side by side (inspecting a name that does not exist is cheap).
    const [state, container] = await Promise.all([
      loadReconcileState(this.options.pool, id, this.id),
      this.options.docker.inspect(containerName(id)),
    ]);
    // Not ours (another host's), or done: a stray container of a removed intent is the GC's.
    if (!state || state.intent.reconciler_id !== this.id || state.intent.removed_at) return {};
    const observation = { ...state, now: state.dbNow, workerTimeoutMs: this.workerTimeoutMs };
    const decision = decide({ ...observation, container });
    if (decision.actions.length === 0) return { ...(decision.requeueAfterMs !== undefined ? { requeueAfterMs: decision.requeueAfterMs } : {}) };
    const after = await executeActions(
      {
        pool: this.options.pool,
        docker: this.options.docker,
        logger: this.log,
        reconcilerId: this.id,
        resolveSecret: this.options.resolveSecret ?? envSecretResolver,
        policy: this.options.policy ?? defaultPolicy,
      },
      state.intent,
      container,
      decision.actions,
    );
    // Something changed: look again right away to see the new level. Except when it is all
    // over, or when this pass has just started the container: then what comes next is its exit
    // (a die event) or a deadline, and a pass now would only confirm what was just recorded.
    if (after.removed_at) {
      this.rememberSettled(id);
      return {};
    }
    if (after.status === 'running' && decision.actions.some((a) => a.type === 'start')) {
      const next = nextExpiryMs({ ...observation, intent: after, container });
      return next === undefined ? {} : { requeueAfterMs: next };
    }
    return { requeueAfterMs: 0 };
  }

  /** reconcile(), with errors turned into backoff (or, for terminal errors, into a failed intent). */
  private async reconcileSafely(id: string): Promise<void> {
    try {
      const { requeueAfterMs } = await this.reconcile(id);
      this.failures.delete(id);
      this.schedule(id, requeueAfterMs);
    } catch (err) {
      if (err instanceof TerminalError) {
        await this.failIntent(id, err).catch((e) => this.log.error({ event: 'reconcile.error', intent_id: id, err: errorMessage(e) }));
        this.schedule(id, 0);
        return;
      }
      const n = (this.failures.get(id) ?? 0) + 1;
      this.failures.set(id, n);
      const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** (n - 1));
      this.log.warn({ event: 'reconcile.error', intent_id: id, attempt: n, retry_in_ms: delay, err: errorMessage(err) }, 'reconcile failed; will retry');
      this.schedule(id, delay);
    }
  }

  /** Record an error that retrying will not fix; the next pass removes whatever is left. */
  private async failIntent(id: string, err: TerminalError): Promise<void> {
    const row = await patchLiveIntent(
      this.options.pool,
      id,
      { status: 'failed', error: err.message, finished_at: new Date() },
      { actor: this.id, operation: 'container.run', outcome: 'error', detail: { code: err.code, error: err.message } },
    );
    if (!row) return;
    this.log.error({ ...intentEventFields(row), event: 'intent.failed', status: 'failed', code: err.code, error: err.message }, err.message);
  }

  private rememberSettled(id: string): void {
    const now = Date.now();
    this.settled.set(id, now);
    // Forget after a minute; pruned in insertion order, so the map stays small.
    for (const [key, at] of this.settled) {
      if (now - at < 60_000) break;
      this.settled.delete(key);
    }
  }

  private schedule(id: string, afterMs: number | undefined): void {
    const existing = this.timers.get(id);
    if (existing) clearTimeout(existing);
    this.timers.delete(id);
    if (afterMs === undefined || this.stopping) return;
    if (afterMs <= 0) {
      queueMicrotask(() => this.requeue$.next(id));
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.requeue$.next(id);
    }, Math.min(afterMs, MAX_TIMER_MS));
    timer.unref?.();
    this.timers.set(id, timer);
  }

  /** Docker events carry the intent id in a label; a (re)connect means events were missed: relist. */
  private keysFromDocker(signals$: Observable<DockerEventSignal>): Observable<string> {
    return signals$.pipe(
      mergeMap((signal) => {
        if (signal.type === 'connected') return this.resyncKeys(signal.reconnect ? 'docker reconnect' : 'docker connect');
        if (signal.type === 'stalled') return this.resyncKeys('docker events stalled');
        if (!isNews(signal.event.action)) return [];
        const id = signal.event.labels[LABELS.intentId];
        if (!id || (signal.event.action === 'destroy' && this.settled.has(id))) return [];
        return [id];
      }),
    );
  }

  /** Intent notifications are keys; run, activity and worker notifications map to their live intents. */
  private keysFromNotifications(signals$: Observable<NotificationSignal>): Observable<string> {
    const related: Record<string, Related> = {
      [CHANNELS.workflowRun]: 'workflow_run_id',
      [CHANNELS.activity]: 'activity_id',
      [CHANNELS.worker]: 'worker_id',
    };
    return signals$.pipe(
      mergeMap((signal) => {
        if (signal.type === 'connected') return this.resyncKeys(signal.reconnect ? 'postgres reconnect' : 'postgres connect');
        if (signal.channel === CHANNELS.intent) return [signal.payload];
        const column = related[signal.channel];
        if (!column) return EMPTY;
        return from(liveIntentIdsFor(this.options.pool, column, signal.payload)).pipe(
          mergeMap((ids) => ids),
          catchError((err) => {
            this.log.warn({ event: 'reconciler.lookup_error', err: errorMessage(err) }, 'could not map notification');
            return EMPTY;
          }),
        );
      }),
    );
  }

  /** Every live intent of ours, plus every container labelled ours: the safety net for lost hints. */
  private resyncKeys(why: string): Observable<string> {
    return defer(async () => {
      const [rows, containers] = await Promise.all([
        listLiveIntentIds(this.options.pool, this.id),
        this.options.docker.list([`${LABELS.managed}=true`, `${LABELS.reconcilerId}=${this.id}`]),
      ]);
      const ids = new Set(rows);
      for (const c of containers) {
        const id = c.labels[LABELS.intentId];
        if (id) ids.add(id);
      }
      this.log.debug({ event: 'reconciler.resync', reason: why, intents: ids.size }, 'resync');
      return [...ids];
    }).pipe(
      mergeMap((ids) => ids),
      catchError((err) => {
        this.log.warn({ event: 'reconciler.resync_error', reason: why, err: errorMessage(err) }, 'resync failed');
        return EMPTY;
      }),
    );
  }
}
