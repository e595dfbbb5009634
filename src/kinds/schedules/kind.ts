/**
 * The schedules kind: durable cron. Keys are schedule ids. A pass (effects.ts) decides every
 * tick that is due and returns when the next one is (the timer comes from the row, not from
 * polling). Hints: a NOTIFY on schedule changes and requests (highway_docker_schedule), and
 * the end of a tick's run (highway_docker_done, for the runs each pass saw live), which frees
 * a buffered tick.
 */
import type { Metrics } from '../../observability/metrics.js';
import { mergeMap, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Pool } from '../../db/pool.js';
import { CHANNELS } from '../../db/listener.js';
import { TERMINAL_STATUSES, type IntentStatus } from '../../model.js';
import { defaultPolicy, type Policy } from '../../params/policy.js';
import type { Kind, Sources } from '../../runtime/controller.js';
import type { ReconcileResult } from '../../runtime/workqueue.js';
import { schedulerPass } from './effects.js';
import { SCHEDULE_CHANNEL } from './model.js';
import { listScheduleIds } from './queries/write-tick.js';
import { UUID } from '../../ids.js';

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


export class SchedulesKind implements Kind {
  readonly name = 'schedules';
  readonly channels = [SCHEDULE_CHANNEL, CHANNELS.done];
  readonly concurrency = 4;
  private readonly isLeader: () => boolean;
  /** Live tick runs (intent id -> schedule id), as the last pass of each schedule saw them. */
  private readonly liveTicks = new Map<string, string>();
  private readonly ticksOf = new Map<string, string[]>();
  /** Passes running now, and the ends notified meanwhile (for the race of an end with a pass). */
  private passing = 0;
  private readonly endedDuringPass = new Set<string>();

  constructor(private readonly options: SchedulesKindOptions) {
    this.isLeader = options.isLeader ?? (() => true);
  }

  fields(id: string) {
    return { schedule_id: id };
  }

  watch(sources: Sources): Observable<string> {
    return sources.notifications$.pipe(
      mergeMap((signal): string[] => {
        if (signal.type !== 'notification') return [];
        if (signal.channel === SCHEDULE_CHANNEL) return UUID.test(signal.payload) ? [signal.payload] : [];
        if (signal.channel !== CHANNELS.done) return [];
        // "<intent id> <status> <removed>": only the end of a tick's run can free a buffered
        // tick (or pause the schedule on failure). Known from the passes: no query per end.
        const [intentId, status] = signal.payload.split(' ');
        if (!intentId || !TERMINAL_STATUSES.has(status as IntentStatus)) return [];
        if (this.passing > 0) this.endedDuringPass.add(intentId);
        const scheduleId = this.liveTicks.get(intentId);
        return scheduleId ? [scheduleId] : [];
      }),
    );
  }

  list(): Promise<string[]> {
    return listScheduleIds(this.options.pool);
  }

  async reconcile(id: string): Promise<ReconcileResult> {
    if (!this.isLeader()) {
      this.forgetTicksOf(id);
      return { requeueAfterMs: this.options.followerRecheckMs ?? 2_000 };
    }
    this.passing++;
    try {
      const { liveIntents, ...result } = await schedulerPass(
        {
          pool: this.options.pool,
          logger: this.options.logger,
          policy: this.options.policy ?? defaultPolicy,
          actor: this.options.reconcilerId,
          ...(this.options.metrics ? { metrics: this.options.metrics } : {}),
        },
        id,
      );
      this.forgetTicksOf(id);
      for (const intentId of liveIntents) this.liveTicks.set(intentId, id);
      this.ticksOf.set(id, liveIntents);
      // A run that ended while the pass ran (notified before it was known as this schedule's):
      // look again now rather than at the next fire time.
      if (liveIntents.some((i) => this.endedDuringPass.has(i))) return { requeueAfterMs: 0 };
      return result;
    } finally {
      if (--this.passing === 0) this.endedDuringPass.clear();
    }
  }

  private forgetTicksOf(scheduleId: string): void {
    for (const intentId of this.ticksOf.get(scheduleId) ?? []) this.liveTicks.delete(intentId);
    this.ticksOf.delete(scheduleId);
  }
}
