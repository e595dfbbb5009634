/**
 * The manager (controller-runtime's Manager): owns the connections every controller shares,
 * starts the controllers and the other long-running parts, and stops them in order.
 *
 *   one Docker events subscription ──► docker$ ─┐
 *   one LISTEN connection ──► notifications$ ───┼─► each kind's controller (its own work queue)
 *   (re)connects, stalls, periodic ──► resync$ ─┘
 *   periodic work (GC, heartbeats, cluster duties) is a kind too (src/runtime/periodic.ts)
 *
 * Behind `highway-docker up` (one manager per Docker host) and the test harness.
 */
import os from 'node:os';
import { Subject, filter, firstValueFrom, interval, map, merge, share, skip, type Observable, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { PgListener, type NotificationSignal } from '../db/listener.js';
import type { ContainerClient } from '../docker/client.js';
import { dockerEvents$, type DockerEventSignal } from '../docker/events.js';
import { HighwayError, errorMessage } from '../errors.js';
import { LABELS } from '../model.js';
import type { Metrics } from '../observability/metrics.js';
import { Controller, PERIODIC_RESYNC, type Kind, type Sources } from './controller.js';
import { LeaderElector } from './leader.js';
import { withTimeout } from '../timeouts.js';

export interface ManagerOptions {
  /** This host's reconciler id: its containers carry it in `highway.reconciler_id`. */
  id: string;
  /** This database's identity: only containers labelled with it (or unlabelled, made before the label) are events of ours. */
  clusterId: string;
  pool: Pool;
  databaseUrl: string;
  docker: ContainerClient;
  logger: Logger;
  /** Safety-net relist interval (default 30 s). */
  resyncIntervalMs?: number;
  /** How long start() waits for the Docker events stream (default 30 s). */
  connectTimeoutMs?: number;
  /**
   * One live reconciler per id (default true): the manager holds a lock named for its id. A
   * second one with the same id waits as a standby and takes over when the first one dies.
   */
  exclusive?: boolean;
  metrics?: Metrics;
  /** The shared LISTEN connection on these channels (default: a PgListener on databaseUrl). A seam for unit tests. */
  listener?: (channels: readonly string[], logger: Logger) => Listener;
}

/** What the manager uses of its LISTEN connection. */
export type Listener = Pick<PgListener, 'signals$' | 'connected' | 'start' | 'stop'>;

export class Manager {
  readonly id: string;
  readonly clusterId: string;
  readonly log: Logger;
  private readonly controllers = new Map<string, Controller>();
  private listener: Listener | null = null;
  private dockerSub: Subscription | null = null;
  private readonly resync$ = new Subject<string>();
  private started = false;
  private stopping: Promise<void> | null = null;
  private lock: LeaderElector | null = null;
  private eventsConnected = false;

  constructor(private readonly options: ManagerOptions) {
    this.id = options.id;
    this.clusterId = options.clusterId;
    this.log = options.logger.child({ reconciler_id: options.id });
  }

  /** Add a kind (before start). Adding a kind touches no other kind. */
  add<K extends string>(kind: Kind<K>): Controller<K> {
    if (this.started) throw new Error(`manager already started: cannot add kind ${kind.name}`);
    if (this.controllers.has(kind.name)) throw new Error(`kind already added: ${kind.name}`);
    const metrics = this.options.metrics;
    const controller: Controller<K> = new Controller<K>(kind, this.log, {
      active: () => this.lock === null || this.lock.isLeader,
      onReconciled: (name, seconds) => {
        metrics?.reconcileDuration.observe({ kind: name }, seconds);
        metrics?.queueDepth.set({ kind: name }, controller.stats.waiting + controller.stats.delayed);
      },
    });
    this.controllers.set(kind.name, controller as unknown as Controller);
    return controller;
  }

  controller<K extends string = string>(name: string): Controller<K> | undefined {
    return this.controllers.get(name) as Controller<K> | undefined;
  }

  /** Is this the live reconciler of its id (not a standby)? */
  get active(): boolean {
    return this.lock === null || this.lock.isLeader;
  }

  /** Readiness checks for /readyz: each true when that dependency works for this reconciler. */
  readiness(): Record<string, () => boolean> {
    return {
      listen: () => this.listener?.connected ?? false,
      docker_events: () => this.eventsConnected,
      docker_breaker: () => !this.options.docker.breakerOpen(),
      active: () => this.active,
    };
  }

  /**
   * Connect the shared sources and start every controller; resolves once both streams are
   * connected. With another live reconciler of this id, waits as its standby first.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('manager already started');
    this.started = true;
    if (this.options.exclusive ?? true) await this.becomeActive();
    const channels = [...new Set([...this.controllers.values()].flatMap((c) => c.kind.channels ?? []))];
    this.listener = this.options.listener ? this.options.listener(channels, this.log) : new PgListener(this.options.databaseUrl, channels, this.log);

    const dockerSignals$ = new Subject<DockerEventSignal>();
    const sources: Sources = {
      // For every kind: this host's containers of this cluster (the daemon already sends only
      // this reconciler's, see below; another database's containers on a shared daemon are none
      // of ours; unlabelled ones predate the cluster label and are judged by their row), and
      // image events (which carry no labels of ours).
      docker$: dockerSignals$.pipe(
        filter(
          (s) =>
            s.type !== 'event' ||
            s.event.type === 'image' ||
            (s.event.labels[LABELS.managed] === 'true' &&
              s.event.labels[LABELS.reconcilerId] === this.id &&
              (s.event.labels[LABELS.clusterId] ?? this.clusterId) === this.clusterId),
        ),
      ),
      notifications$: this.listener.signals$,
      resync$: this.resync$,
    };
    for (const c of this.controllers.values()) c.start(sources);

    // Every (re)connect or stall means hints were lost: every kind relists. Plus a periodic safety net.
    const reasons$: Observable<string> = merge(
      dockerSignals$.pipe(
        filter((s) => s.type === 'connected' || s.type === 'stalled'),
        map((s) => (s.type === 'stalled' ? 'docker events stalled' : s.reconnect ? 'docker reconnect' : 'docker connect')),
      ),
      this.listener.signals$.pipe(
        filter((s): s is Extract<NotificationSignal, { type: 'connected' }> => s.type === 'connected'),
        map((s) => (s.reconnect ? 'postgres reconnect' : 'postgres connect')),
      ),
      interval(this.options.resyncIntervalMs ?? 30_000).pipe(map(() => PERIODIC_RESYNC)),
    ).pipe(share());
    const reasonsSub = reasons$.subscribe(this.resync$);

    let markDockerReady: () => void = () => {};
    const dockerReady = new Promise<void>((resolve) => (markDockerReady = resolve));
    const metrics = this.options.metrics;
    let forwarded: Promise<void> = Promise.resolve();
    const actions = [...new Set([...this.controllers.values()].flatMap((c) => c.kind.dockerActions ?? []))];
    // Two subscriptions, each filtered by the daemon: this reconciler's containers (by label, so
    // the churn of other software on a shared daemon is never sent, parsed or looked at here),
    // and image events (which carry no labels of ours). Docker ANDs a label filter with every
    // event type, so one subscription cannot be both.
    const streams = {
      container: dockerEvents$({
        docker: this.options.docker.docker,
        logger: this.log,
        labels: [`${LABELS.managed}=true`, `${LABELS.reconcilerId}=${this.id}`],
        types: ['container'],
        actions,
      }),
      image: dockerEvents$({ docker: this.options.docker.docker, logger: this.log, labels: [], types: ['image'], actions }),
    };
    const connected = { container: false, image: false };
    const seen = { container: false, image: false };
    const onSignal = (source: 'container' | 'image', signal: DockerEventSignal) => {
      if (signal.type === 'connected') {
        connected[source] = seen[source] = true;
        this.eventsConnected = connected.container && connected.image;
        if (signal.reconnect) metrics?.eventsReconnects.inc();
        // A daemon that went away is recorded by whichever stream is back first, before the relist
        // its reconnect causes (the other stream's record finds it done: the rows are marked once).
        if (signal.daemonWentAway) {
          // Recorded before anything of the daemon's is looked at again: the signals behind
          // this one wait for it (the chain below keeps their order).
          const awaySince = signal.awaySince;
          const returned = [...this.controllers.values()].map((c) =>
            c.kind.daemonReturned?.(awaySince).catch((err) => this.log.error({ event: 'controller.daemon_returned_error', kind: c.kind.name, err: errorMessage(err) }, 'could not record the daemon outage')),
          );
          forwarded = forwarded.then(() => Promise.all(returned)).then(() => {});
        }
        if (seen.container && seen.image) markDockerReady();
      } else if (signal.type === 'stalled' || signal.type === 'disconnected') {
        connected[source] = false;
        this.eventsConnected = false;
      } else {
        metrics?.eventArrived(signal.event.timeNano);
      }
      const forward = signal;
      forwarded = forwarded.then(() => dockerSignals$.next(forward));
    };
    this.dockerSub = streams.container.subscribe((s) => onSignal('container', s));
    this.dockerSub.add(streams.image.subscribe((s) => onSignal('image', s)));
    this.dockerSub.add(reasonsSub);
    await this.listener.start();
    const connectTimeoutMs = this.options.connectTimeoutMs ?? 30_000;
    await withTimeout(dockerReady, connectTimeoutMs, () => new HighwayError('docker_unavailable', `could not subscribe to Docker events within ${connectTimeoutMs / 1000} s`));
    this.log.info({ event: 'reconciler.started', kinds: [...this.controllers.keys()] }, `reconciler ${this.id} started`);
  }


  /** Take this id's lock, waiting as a standby while another reconciler holds it. */
  private async becomeActive(): Promise<void> {
    const lock = new LeaderElector({
      connectionString: this.options.databaseUrl,
      name: `reconciler:${this.id}`,
      id: `${os.hostname()}:${process.pid}`,
      logger: this.log,
    });
    this.lock = lock;
    await lock.start();
    if (!lock.isLeader) {
      this.log.warn(
        { event: 'reconciler.standby' },
        `another reconciler with id ${this.id} is live (same HIGHWAY_RECONCILER_ID or Docker daemon): waiting as its standby`,
      );
      await firstValueFrom(lock.leader$.pipe(filter((leader) => leader)));
      this.log.info({ event: 'reconciler.active' }, `the other reconciler with id ${this.id} is gone: taking over`);
    }
    // Losing the lock (its connection broke): act on nothing until it is back, then relist.
    lock.leader$.pipe(skip(1)).subscribe((leader) => {
      if (this.stopping) return;
      if (!leader) this.log.warn({ event: 'reconciler.lock_lost' }, 'lost the lock of this reconciler id: pausing until it is back');
      else {
        this.log.info({ event: 'reconciler.lock_regained' }, 'lock of this reconciler id regained');
        this.resync$.next('lock regained');
      }
    });
  }

  /**
   * Stop: every controller (no new keys; reconciles in flight finish), then
   * the shared connections. Containers keep running (a restart re-attaches). Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all([...this.controllers.values()].map((c) => c.stop()));
      this.dockerSub?.unsubscribe();
      this.resync$.complete();
      await this.listener?.stop();
      // Last: a standby takes over only once this one has let go of everything.
      await this.lock?.stop();
      this.log.info({ event: 'reconciler.stopped' }, 'reconciler stopped');
    })();
    return this.stopping;
  }
}

