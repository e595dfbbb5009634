/**
 * A controller: one kind's reconcile loop on the shared runtime.
 *
 *   kind.watch(sources) ─┐
 *   resync (connects,    ├─► keys ─► workQueue (per key serialized, coalescing, capped,
 *     stalls, periodic) ─┤            requeueAfter, backoff) ─► kind.reconcile(key)
 *   enqueue(key) ────────┘
 *
 * A kind supplies what is specific to it (its keys, its reconcile); the runtime supplies the
 * rest, the same for every kind. Every source is a hint carrying a key; reconcile re-reads.
 */
import { EMPTY, Subject, catchError, defer, merge, mergeMap, takeUntil, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import { HighwayError, TerminalError, errorMessage } from '../errors.js';
import type { DockerEventSignal } from '../docker/events.js';
import type { NotificationSignal } from '../db/listener.js';
import { workQueue, type Enqueue, type QueueOutcome, type QueueStats, type ReconcileResult } from './workqueue.js';

/** The reason of the timer's resync (the others name what was lost: a connect, a stall, the lock). */
export const PERIODIC_RESYNC = 'periodic';

/** What a kind may watch: the manager's shared connections. */
export interface Sources {
  /** This host's Docker events (container events of its own containers, and image events), one shared subscription. */
  readonly docker$: Observable<DockerEventSignal>;
  /** Notifications and (re)connections of the one shared LISTEN connection (the kind's `channels`). */
  readonly notifications$: Observable<NotificationSignal>;
  /** Why to relist everything: a (re)connect, a stalled stream, the periodic resync. */
  readonly resync$: Observable<string>;
}

/** One kind of thing the manager reconciles: containers (run intents), execs, pulls, images, schedules... */
export interface Kind<K extends string = string> {
  readonly name: string;
  /** LISTEN channels this kind's `watch` needs. */
  readonly channels?: readonly string[];
  /**
   * Docker event actions this kind's `watch` reacts to (none: it takes no Docker events). The
   * manager asks the daemon for just the union of these: the rest is never sent nor parsed.
   */
  readonly dockerActions?: readonly string[];
  /** Reconciles in flight at most for this kind (default 16). */
  readonly concurrency?: number;
  /** Of those, slots only high-priority (finishing) work may use (default 0). */
  readonly highReserve?: number;
  /** Map the sources to keys (with a priority where finishing work must go first). */
  watch(sources: Sources): Observable<K | Enqueue<K>>;
  /**
   * Every key that may need work now: the safety net for lost hints. `reason` is why the
   * runtime relists: PERIODIC_RESYNC (the timer, nothing known lost: a kind may return just the
   * keys a pass would act on) or a (re)connect, a stall, a regained lock (hints were lost: all).
   */
  list(reason: string): Promise<K[]>;
  /** One level-triggered pass: re-read, decide, act. Returns when to look again. */
  reconcile(key: K): Promise<ReconcileResult>;
  /** Record an error that retrying will not fix (the key is looked at again right after). */
  fail?(key: K, err: TerminalError): Promise<void>;
  /** The Docker daemon went away and is back (it may have restarted): note what that may have cost. */
  daemonReturned?(awaySince?: Date): Promise<void>;
  /** Log fields for a key (e.g. `{ intent_id }`). */
  fields?(key: K): Record<string, unknown>;
}

export interface ControllerHooks {
  /** Called after every reconcile (for metrics). */
  onReconciled?(kind: string, seconds: number, ok: boolean): void;
  /** May this controller act now? When not (a standby that lost its lock), reconciles back off. */
  active?(): boolean;
}

export class Controller<K extends string = string> {
  readonly stats: QueueStats = { waiting: 0, running: 0, delayed: 0 };
  private readonly input = new Subject<K | Enqueue<K>>();
  private readonly stop$ = new Subject<void>();
  private done: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private readonly log: Logger;

  constructor(
    readonly kind: Kind<K>,
    logger: Logger,
    private readonly hooks: ControllerHooks = {},
  ) {
    this.log = logger.child({ kind: kind.name });
  }

  /** Start reconciling what the sources say. */
  start(sources: Sources): void {
    const keys$ = merge(
      this.input,
      guarded(this.kind.watch(sources), (err) => this.log.error({ event: 'controller.source_error', err: errorMessage(err) }, 'a source failed')),
      sources.resync$.pipe(mergeMap((why) => this.relist(why))),
    ).pipe(takeUntil(this.stop$));
    this.done = new Promise<void>((resolve) => {
      // On stop the keys complete: the queue drops what waits, finishes what runs, then completes.
      keys$
        .pipe(workQueue((key: K) => defer(() => this.reconcileOnce(key)), { concurrency: this.kind.concurrency ?? 16, highReserve: this.kind.highReserve ?? 0, stats: this.stats }))
        .subscribe({
          next: (outcome) => this.report(outcome),
          complete: () => resolve(),
          error: (err) => {
            this.log.error({ event: 'controller.error', err: errorMessage(err) }, 'controller pipeline failed');
            resolve();
          },
        });
    });
  }

  /** Ask for a pass over a key (e.g. after an effect elsewhere). */
  enqueue(key: K, priority: Enqueue<K>['priority'] = 'normal'): void {
    if (!this.stopping) this.input.next({ key, priority });
  }

  /** Stop: take no new keys, wait for the reconciles in flight. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stop$.next();
      this.stop$.complete();
      await (this.done ?? Promise.resolve());
    })();
    return this.stopping;
  }

  private async reconcileOnce(key: K): Promise<ReconcileResult> {
    if (this.hooks.active && !this.hooks.active()) throw new HighwayError('shutdown', 'not the live reconciler of this id right now (its lock is lost)');
    const started = performance.now();
    let ok = false;
    try {
      const result = await this.kind.reconcile(key);
      ok = true;
      return result;
    } catch (err) {
      if (!(err instanceof TerminalError) || !this.kind.fail) throw err;
      await this.kind.fail(key, err);
      ok = true;
      return { requeueAfterMs: 0 };
    } finally {
      this.hooks.onReconciled?.(this.kind.name, (performance.now() - started) / 1000, ok);
    }
  }

  private report(outcome: QueueOutcome<K>): void {
    if (outcome.error === undefined) return;
    this.log.warn(
      { ...this.kind.fields?.(outcome.key), event: 'reconcile.error', key: outcome.key, attempt: outcome.attempt, retry_in_ms: outcome.retryInMs, err: errorMessage(outcome.error) },
      'reconcile failed; will retry',
    );
  }

  private relist(why: string): Observable<K> {
    return defer(async () => {
      const keys = await this.kind.list(why);
      this.log.debug({ event: 'controller.resync', reason: why, keys: keys.length }, 'resync');
      return keys;
    }).pipe(
      mergeMap((keys) => keys),
      catchError((err) => {
        this.log.warn({ event: 'controller.resync_error', reason: why, err: errorMessage(err) }, 'resync failed');
        return EMPTY;
      }),
    );
  }
}

/** A source that errors is logged and dropped; it never ends the pipeline. */
function guarded<T>(source$: Observable<T>, onError: (err: unknown) => void): Observable<T> {
  return source$.pipe(
    catchError((err) => {
      onError(err);
      return EMPTY;
    }),
  );
}
