/**
 * The schedules kind: durable cron. Keys are schedule ids. A pass (effects.ts) decides every
 * tick that is due and returns when the next one is (the timer comes from the row, not from
 * polling). Hints: a NOTIFY on schedule changes and requests (highway_docker_schedule), and
 * the completion of a tick's run (highway_docker_done), which frees a buffered tick.
 */
import type { Metrics } from '../../observability/metrics.js';
import { EMPTY, catchError, from, mergeMap, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Pool } from '../../db/pool.js';
import { CHANNELS } from '../../db/listener.js';
import { errorMessage } from '../../errors.js';
import { TERMINAL_STATUSES, type IntentStatus } from '../../model.js';
import { defaultPolicy, type Policy } from '../../params/policy.js';
import type { Kind, Sources } from '../../runtime/controller.js';
import type { ReconcileResult } from '../../runtime/workqueue.js';
import { schedulerPass } from './effects.js';
import { SCHEDULE_CHANNEL } from './model.js';
import { listScheduleIds, scheduleOfIntent } from './queries/write-tick.js';

export interface SchedulesKindOptions {
  pool: Pool;
  logger: Logger;
  reconcilerId: string;
  policy?: Policy;
  /**
   * Only the leader writes ticks (default: this process always may). Correctness does not
   * depend on it: the tick rows are unique, and the intents' ids derive from the tick.
   */
  isLeader?: () => boolean;
  metrics?: Metrics;
  /** How often a follower looks again whether it leads now (default 2 s). */
  followerRecheckMs?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class SchedulesKind implements Kind {
  readonly name = 'schedules';
  readonly channels = [SCHEDULE_CHANNEL, CHANNELS.done];
  readonly concurrency = 4;
  private readonly isLeader: () => boolean;

  constructor(private readonly options: SchedulesKindOptions) {
    this.isLeader = options.isLeader ?? (() => true);
  }

  fields(id: string) {
    return { schedule_id: id };
  }

  watch(sources: Sources): Observable<string> {
    return sources.notifications$.pipe(
      mergeMap((signal): Observable<string> | string[] => {
        if (signal.type !== 'notification') return [];
        if (signal.channel === SCHEDULE_CHANNEL) return UUID.test(signal.payload) ? [signal.payload] : [];
        if (signal.channel !== CHANNELS.done) return [];
        // "<intent id> <status> <removed>": only the end of a run can free a buffered tick.
        const [intentId, status] = signal.payload.split(' ');
        if (!intentId || !UUID.test(intentId) || !TERMINAL_STATUSES.has(status as IntentStatus)) return [];
        return from(scheduleOfIntent(this.options.pool, intentId)).pipe(
          mergeMap((id) => (id ? [id] : [])),
          catchError((err) => {
            this.options.logger.warn({ event: 'reconciler.lookup_error', err: errorMessage(err) }, 'could not map a completion to its schedule');
            return EMPTY;
          }),
        );
      }),
    );
  }

  list(): Promise<string[]> {
    return listScheduleIds(this.options.pool);
  }

  async reconcile(id: string): Promise<ReconcileResult> {
    if (!this.isLeader()) return { requeueAfterMs: this.options.followerRecheckMs ?? 2_000 };
    return schedulerPass(
      {
        pool: this.options.pool,
        logger: this.options.logger,
        policy: this.options.policy ?? defaultPolicy,
        actor: this.options.reconcilerId,
        ...(this.options.metrics ? { metrics: this.options.metrics } : {}),
      },
      id,
    );
  }
}
