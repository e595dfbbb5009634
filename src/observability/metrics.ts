import type { EventEmitter } from 'node:events';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queryable } from '../db/pool.js';
import { errorMessage } from '../errors.js';
import { silentLogger, type Logger } from './logger.js';
import { withTimeout as raceTimeout } from '../timeouts.js';
const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> => raceTimeout(p, ms, () => new Error(`timed out after ${ms} ms`));

/**
 * The project's Prometheus metrics, on a registry of their own (never prom-client's global one,
 * so every test and every embedding gets a clean set). Labels are bounded sets only: statuses,
 * stop reasons, kinds, operations, reasons, host ids. Never a tenant, intent, container or
 * schedule id.
 */
export type BreakerState = 'closed' | 'half_open' | 'open';
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export interface MetricsOptions {
  /** Where `highway_docker_intents` is counted at scrape time; without it that gauge stays empty. */
  pool?: Queryable;
  /** Count only this host's intents (default: every host's, labelled by host). */
  intentsHost?: string;
  /** Longest a scrape waits for the intents count (default 2000 ms). */
  intentsQueryTimeoutMs?: number;
  /** The process_* and nodejs_* metrics (default true). */
  defaultMetrics?: boolean;
  logger?: Logger;
}

const SECONDS_FAST = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SECONDS_DOCKER = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const SECONDS_LATENESS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export class Metrics {
  readonly registry: Registry;

  /** Intents not yet removed, by status and host (`""` for pending intents no host has claimed). Computed on scrape. */
  readonly intents: Gauge<'status' | 'host'>;
  /** Status transitions recorded, by the new status and stop reason (`""` when none). */
  readonly transitions: Counter<'status' | 'stop_reason'>;
  /** One reconcile call, by controller kind (`containers`, `operations`, `images`, `pulls`, `schedules`). */
  readonly reconcileDuration: Histogram<'kind'>;
  /** Keys waiting in a controller's work queue. */
  readonly queueDepth: Gauge<'kind'>;
  /** One Docker API request (retries included), by operation (`create`, `start`, `inspect`, `pull`, ...). */
  readonly dockerRequestDuration: Histogram<'operation'>;
  /** Docker API requests that failed, by operation. */
  readonly dockerErrors: Counter<'operation'>;
  /** The Docker circuit breaker: 0 closed, 1 half-open, 2 open. */
  readonly breakerState: Gauge;
  /** Reconnections of the Docker /events subscription. */
  readonly eventsReconnects: Counter;
  /** Seconds between a Docker event's time and its arrival here, for the last event. */
  readonly eventsLag: Gauge;
  /** How late a cron tick started against its scheduled time. */
  readonly cronTickLateness: Histogram;
  /** Containers removed by the GC, by reason (`orphan`, `stale`, `retired_host`). */
  readonly gcRemovals: Counter<'reason'>;
  /** Scrapes whose intents count failed (the gauge is then empty, never stale); visible from the next scrape. */
  readonly scrapeErrors: Counter<'collector'>;

  constructor(options: MetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    const log = options.logger ?? silentLogger;
    const registers = [registry];
    // Every metric on this registry, one line each (the intents gauge, counted at scrape time, in full below).
    const counter = <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers });
    const gauge = <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers });
    const histogram = <L extends string = string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []) =>
      new Histogram<L>({ name, help, buckets, labelNames, registers });

    this.scrapeErrors = counter('highway_docker_scrape_errors_total', 'Scrapes in which a collector failed (its metric is left empty for that scrape).', ['collector']);
    const scrapeErrors = this.scrapeErrors;
    const pool = options.pool;
    const host = options.intentsHost;
    const timeoutMs = options.intentsQueryTimeoutMs ?? 2000;

    this.intents = new Gauge({
      name: 'highway_docker_intents',
      help: 'Intents not yet removed, by status and host (host "" = not claimed yet).',
      labelNames: ['status', 'host'] as const,
      registers,
      async collect() {
        if (!pool) return;
        this.reset();
        try {
          const rows = await withTimeout(
            pool.query<{ status: string; host: string; n: number }>(
              `SELECT status, COALESCE(reconciler_id, '') AS host, count(*)::int AS n
                 FROM highway.docker_containers
                WHERE removed_at IS NULL AND ($1::text IS NULL OR reconciler_id = $1)
                GROUP BY 1, 2`,
              [host ?? null],
            ),
            timeoutMs,
          );
          for (const r of rows.rows) this.set({ status: r.status, host: r.host }, r.n);
        } catch (err) {
          scrapeErrors.inc({ collector: 'highway_docker_intents' });
          log.warn({ event: 'metrics.collect_failed', metric: 'highway_docker_intents', err: errorMessage(err) }, 'could not count intents for /metrics');
        }
      },
    });
    this.transitions = counter('highway_docker_transitions_total', 'Intent status transitions, by new status and stop reason ("" when none).', ['status', 'stop_reason']);
    this.reconcileDuration = histogram('highway_docker_reconcile_duration_seconds', 'Duration of one reconcile call, by controller kind.', SECONDS_FAST, ['kind']);
    this.queueDepth = gauge('highway_docker_queue_depth', 'Keys waiting in a controller work queue, by kind.', ['kind']);
    this.dockerRequestDuration = histogram('highway_docker_docker_request_duration_seconds', 'Duration of one Docker API request (with its retries), by operation.', SECONDS_DOCKER, ['operation']);
    this.dockerErrors = counter(
      'highway_docker_docker_errors_total',
      'Docker API requests that failed because the daemon was unavailable (no answer, timeout, 5xx; not a 4xx answer), by operation.',
      ['operation'],
    );
    this.breakerState = gauge('highway_docker_breaker_state', 'Docker circuit breaker state: 0 closed, 1 half-open, 2 open.');
    this.breakerState.set(0);
    this.eventsReconnects = counter('highway_docker_events_reconnects_total', 'Reconnections of the Docker /events subscription.');
    this.eventsLag = gauge('highway_docker_events_lag_seconds', "Seconds between the last Docker event's time and its arrival.");
    this.cronTickLateness = histogram('highway_docker_cron_tick_lateness_seconds', 'How late a cron tick started against its scheduled time.', SECONDS_LATENESS);
    this.gcRemovals = counter('highway_docker_gc_removals_total', 'Containers removed by the garbage collector, by reason.', ['reason']);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  }

  /** A status transition (stop reason null or absent is recorded as ""). */
  transition(status: string, stopReason?: string | null): void {
    this.transitions.inc({ status, stop_reason: stopReason ?? '' });
  }

  setBreakerState(state: BreakerState): void {
    this.breakerState.set(BREAKER_VALUE[state]);
  }

  /** Follow an opossum circuit breaker's `open` / `halfOpen` / `close` events. Returns the unsubscribe. */
  observeBreaker(breaker: EventEmitter): () => void {
    const open = () => this.setBreakerState('open');
    const half = () => this.setBreakerState('half_open');
    const close = () => this.setBreakerState('closed');
    breaker.on('open', open);
    breaker.on('halfOpen', half);
    breaker.on('close', close);
    return () => {
      breaker.off('open', open);
      breaker.off('halfOpen', half);
      breaker.off('close', close);
    };
  }

  /** Time one Docker request; a rejection also counts in `highway_docker_docker_errors_total`. */
  async timeDockerRequest<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const end = this.dockerRequestDuration.startTimer({ operation });
    try {
      return await fn();
    } catch (err) {
      this.dockerErrors.inc({ operation });
      throw err;
    } finally {
      end();
    }
  }

  /** Time one reconcile call of a kind, whatever its outcome. */
  async timeReconcile<T>(kind: string, fn: () => Promise<T>): Promise<T> {
    const end = this.reconcileDuration.startTimer({ kind });
    try {
      return await fn();
    } finally {
      end();
    }
  }

  /** A Docker event arrived; `eventTimeNano` is its `timeNano` (or `time * 1e9`). */
  eventArrived(eventTimeNano: number | bigint, now: number = Date.now()): void {
    const ms = typeof eventTimeNano === 'bigint' ? Number(eventTimeNano / 1_000_000n) : eventTimeNano / 1e6;
    this.eventsLag.set(Math.max(0, (now - ms) / 1000));
  }

  /** The text exposition of every metric, and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

