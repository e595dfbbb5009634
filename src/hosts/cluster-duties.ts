/**
 * What runs once per cluster, on the holder of the `cluster` leader lock: failover of dead
 * hosts, the reasons unclaimed intents wait, placement timeouts, and retention of ended rows.
 * Per-host work (a host's own containers, its daemon's orphans) stays with each host.
 *
 * Failover, and its trade-off: a host whose heartbeat is older than its own HIGHWAY_HOST_TIMEOUT_S
 * (recorded in its row; `hostTimeoutS` here only judges rows that predate that) is dead. Its claimed intents that never reached Docker go back to the pool (another host runs
 * them); its others end `lost`, naming the host, so the engine may retry the activity. A host
 * that was only partitioned may still be running such a container: the timeout is the knob
 * between failing over fast and declaring live work lost. When the host comes back, its
 * reconciler removes the containers whose intents ended meanwhile.
 */
import { filter, map } from 'rxjs';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import { deadHosts } from '../db/queries/hosts.js';
import { clusterWork, endLostOnDeadHost, failPlacementTimeouts, recordPendingReasons, releaseUnstarted } from '../db/queries/failover.js';
import { deleteEndedIntents } from '../db/queries/retention.js';
import { endUnclaimed, unclaimedIntents } from '../db/queries/unclaimed-stops.js';
import { stopWanted } from '../kinds/containers/decide.js';
import { errorMessage } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import { CHANNELS } from '../db/listener.js';
import type { Kind } from '../runtime/controller.js';
import { periodicKind } from '../runtime/periodic.js';

export interface ClusterDutiesOptions {
  pool: Pool;
  logger: Logger;
  /** Is this process the cluster's leader now? */
  isLeader: () => boolean;
  /** For host rows that do not record their own timeout (written before migration 014). */
  hostTimeoutS: number;
  /** A worker whose heartbeat is older than this is gone (HIGHWAY_WORKER_TIMEOUT_S, default 30). */
  workerTimeoutS?: number;
  /** How often the leader looks while there is work (default 1.5 s). */
  intervalMs?: number;
  /** The longest an idle leader sleeps (default 30 s): it wakes earlier for a host's expiry or a new intent. */
  idleMs?: number;
  /** Delete ended intents older than this many days (HIGHWAY_RETENTION_DAYS, default 30). */
  retentionDays?: number;
  retentionEveryMs?: number;
  metrics?: Metrics;
}

export class ClusterDuties {
  private lastRetention = 0;
  private readonly log: Logger;

  constructor(private readonly options: ClusterDutiesOptions) {
    this.log = options.logger.child({ component: 'cluster' });
  }

  /**
   * The duties as periodic work on the controller runtime: one pass at a time, gated on the
   * `cluster` leader lock inside the pass, timed from the rows: while there is work (a dead
   * host, an unclaimed intent) every `intervalMs`; otherwise not before the next host with live
   * intents could be dead, or `idleMs` at the latest. A new intent (its NOTIFY, an insert: a
   * payload without a space) asks for a pass soon, not at once: at most one every `intervalMs`.
   * An idle cluster costs the leader about one statement per `idleMs`.
   */
  kind(): Kind<'cluster'> {
    return periodicKind({
      name: 'cluster',
      minIntervalMs: this.options.intervalMs ?? 1_500,
      run: () => this.pass(),
      channels: [CHANNELS.intent],
      watch: (sources) =>
        sources.notifications$.pipe(
          filter((n) => n.type === 'notification' && n.channel === CHANNELS.intent && !n.payload.includes(' ')),
          map(() => 'cluster' as const),
        ),
    });
  }

  /** One pass (leader only); never throws. Returns when to look again. */
  async pass(): Promise<number> {
    const interval = this.options.intervalMs ?? 1_500;
    const idle = this.options.idleMs ?? 30_000;
    if (!this.options.isLeader()) return interval; // a follower only checks whether it leads now
    const { pool, hostTimeoutS } = this.options;
    let next = idle;
    try {
      // One statement when there is nothing to do (the usual case).
      const work = await clusterWork(pool, hostTimeoutS);
      if (work.dead || work.waiting) next = interval;
      else if (work.next_death_ms !== null) next = Math.min(idle, Math.max(interval, work.next_death_ms + 100));
      for (const host of work.dead ? await deadHosts(pool, hostTimeoutS, { withWork: true, heartbeatOnly: true }) : []) {
        const released = await releaseUnstarted(pool, host.id);
        const lost = await endLostOnDeadHost(pool, host.id, host.timeout_s ?? hostTimeoutS);
        for (const row of lost) {
          this.options.metrics?.transition('lost', null);
          this.log.error({ event: 'intent.lost', intent_id: row.id, tenant_id: row.tenant_id, workflow_run_id: row.workflow_run_id, activity_id: row.activity_id, container_id: row.container_id, host: host.id, status: 'lost', code: 'host_lost' }, `host ${host.id} is dead: intent lost`);
        }
        if (released.length || lost.length) {
          this.log.warn({ event: 'host.failover', host: host.id, released: released.length, lost: lost.length, heartbeat_at: host.heartbeat_at }, `host ${host.id} is dead: ${released.length} intents back to the pool, ${lost.length} lost`);
        }
      }
      if (work.waiting) await recordPendingReasons(pool, hostTimeoutS, 2_000);
      for (const row of work.waiting ? await failPlacementTimeouts(pool) : []) {
        this.options.metrics?.transition('failed', null);
        this.log.error({ event: 'intent.failed', intent_id: row.id, tenant_id: row.tenant_id, status: 'failed', code: 'placement_timeout', error: row.error }, row.error);
      }
      if (work.waiting) await this.endAbandoned();
    } catch (err) {
      next = interval;
      this.log.warn({ event: 'cluster.pass_error', err: errorMessage(err) }, 'cluster duties failed; the next pass retries');
    }
    const every = this.options.retentionEveryMs ?? 3_600_000;
    if (Date.now() - this.lastRetention >= every) {
      this.lastRetention = Date.now();
      // Two chores, each on its own: a failure of one never keeps the other from running.
      await this.chore('audit.partitions_failed', 'could not make the audit partitions; the next round retries', async () => {
        // The audit trail is never deleted from: its monthly partitions are made ahead (archiving is detaching one).
        const made = (await pool.query<{ made: number }>('SELECT highway.ensure_audit_partitions(2) AS made')).rows[0]?.made ?? 0;
        if (made) this.log.info({ event: 'audit.partitions_made', partitions: made }, `made ${made} audit partitions`);
      });
      await this.chore('retention.failed', 'retention failed; the next round retries', async () => {
        const deleted = await deleteEndedIntents(pool, { olderThanDays: this.options.retentionDays ?? 30, maxBatches: 100 });
        if (deleted) this.log.info({ event: 'retention.deleted', rows: deleted }, `deleted ${deleted} ended intents past retention`);
      });
    }
    return next;
  }

  /**
   * Unclaimed intents whose caller went away (its worker is dead or silent, its activity gone
   * or timed out, its run cancelled, a stop asked for) end now, with that reason, by the same
   * rules a host applies to its own (stopWanted), instead of waiting for a host forever.
   */
  private async endAbandoned(): Promise<void> {
    const workerTimeoutMs = (this.options.workerTimeoutS ?? 30) * 1000;
    for (const { intent, around, dbNow } of await unclaimedIntents(this.options.pool, 2_000)) {
      const stop = stopWanted({ intent, around, container: null, now: dbNow, workerTimeoutMs });
      if (!stop) continue;
      const error = intent.pending_reason ? `never started: ${intent.pending_reason}` : null;
      const row = await endUnclaimed(this.options.pool, intent.id, stop.status, stop.reason, error);
      if (!row) continue; // a host took it meanwhile: it ends it there
      this.options.metrics?.transition(stop.status, stop.reason);
      this.log.info(
        { event: `intent.${stop.status}`, intent_id: row.id, tenant_id: row.tenant_id, workflow_run_id: row.workflow_run_id, activity_id: row.activity_id, status: stop.status, stop_reason: stop.reason, error, code: error === null ? null : 'never_started' },
        `intent ${stop.status} before any host took it${stop.reason ? `: ${stop.reason}` : ''}`,
      );
    }
  }

  /** One periodic chore: its failure is logged (with its own event) and retried next round. */
  private async chore(event: string, message: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log.error({ event, err: errorMessage(err) }, message);
    }
  }
}
