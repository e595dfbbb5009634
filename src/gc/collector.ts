/**
 * DockerGarbageCollector: the third GC layer, a periodic sweep that catches what the
 * reconciler's inline cleanup could not (a create that errored yet made a container, a
 * container started behind our back, a row whose container vanished, anything too old).
 *
 * It runs inside `highway-docker up` and as the standalone `highway-docker gc`, on the
 * controller runtime (kind()). A sweep is
 * leader-only per reconciler scope (advisory lock), so both may run at once.
 *
 * It judges only containers of its own cluster (the `highway.cluster_id` label, or, for a
 * container made before that label, an intent row in this database): another database's
 * containers on a shared daemon are never touched. An intent that ended moments ago is the
 * reconciler's to clean up, not an orphan.
 *
 * It never kills live work of a live intent itself: for those it asks the reconciler to stop
 * (desired state), so the output is collected first. It force-removes only containers that
 * no live intent owns.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import type { Metrics } from '../observability/metrics.js';
import { requestStop } from '../db/queries/request-stop.js';
import { appendAudit, appendAuditOnce } from '../db/queries/audit.js';
import { gcRowsFor, markVanishedLost, type GcRow } from '../db/queries/gc.js';
import { ownedByCluster, readClusterId } from '../db/queries/cluster.js';
import { hostAliveSql } from '../db/queries/hosts.js';
import type { ContainerClient, ContainerSummary } from '../docker/client.js';
import { errorMessage } from '../errors.js';
import { LABELS, isTerminal, lifecycleOf } from '../model.js';
import { UUID } from '../ids.js';
import type { Kind } from '../runtime/controller.js';
import { periodicKind } from '../runtime/periodic.js';

export interface GcOptions {
  pool: Pool;
  /**
   * With many hosts (HIGHWAY_HOST_TIMEOUT_S): also collect containers on this daemon labelled
   * with a reconciler id that is a registered host of this database but not a live one (an id
   * changed by configuration, a host retired), once their intent is ended or missing.
   */
  hostTimeoutS?: number;
  metrics?: Metrics;
  docker: ContainerClient;
  logger: Logger;
  /** Which reconciler's containers this collector looks after (the `highway.reconciler_id` label). */
  reconcilerId: string;
  /**
   * This database's identity (default: read from highway.cluster). Only containers labelled
   * with it (or unlabelled ones whose intent row is in this database) are judged: another
   * cluster's containers on a shared daemon are never touched.
   */
  clusterId?: string;
  /** A container younger than this is never an orphan: its row may not be written yet (default 60 s). */
  creationGraceMs?: number;
  /** Containers older than this are removed whatever their state (default 24 h). */
  staleMaxAgeMs?: number;
  /** Sweep interval (default 60 s). */
  intervalMs?: number;
}

export interface SweepReport {
  skipped: boolean; // another process holds this scope's sweep lock
  orphansRemoved: number;
  staleRemoved: number;
  stopsRequested: number;
  markedLost: number;
}


/** What to do with one managed container, given its row (pure; exported for tests). */
export type Verdict =
  | { kind: 'keep' }
  | { kind: 'remove'; reason: 'orphan' | 'stale'; why: string }
  | { kind: 'stop'; reason: 'activity_gone' | 'stale' };

export function judge(
  container: Pick<ContainerSummary, 'createdAt' | 'labels'>,
  row: GcRow | undefined,
  now: Date,
  limits: { creationGraceMs: number; staleMaxAgeMs: number },
): Verdict {
  const age = now.getTime() - container.createdAt.getTime();
  if (row?.gc_protected_until && row.gc_protected_until > now) return { kind: 'keep' };
  const live = row !== undefined && !row.removed_at && !isTerminal(row.status);
  if (age > limits.staleMaxAgeMs) {
    return live ? { kind: 'stop', reason: 'stale' } : { kind: 'remove', reason: 'stale', why: `older than ${Math.round(limits.staleMaxAgeMs / 1000)} s` };
  }
  if (age < limits.creationGraceMs) return { kind: 'keep' };
  const intentId = container.labels[LABELS.intentId];
  if (!intentId || !UUID.test(intentId)) return { kind: 'remove', reason: 'orphan', why: 'no valid intent id label' };
  if (!row) return { kind: 'remove', reason: 'orphan', why: 'no intent row' };
  // Ended or removed moments ago: the reconciler is collecting or removing it right now (its
  // own removal may be in flight). Not an orphan until it had the grace to do so.
  if ((row.removed_at || !live) && row.changed_ms_ago < limits.creationGraceMs) return { kind: 'keep' };
  if (row.removed_at) return { kind: 'remove', reason: 'orphan', why: 'intent already removed' };
  if (!live) {
    // Ended: the reconciler removes it unless it is kept on purpose (auto_remove: false).
    return lifecycleOf(row.spec).autoRemove ? { kind: 'remove', reason: 'orphan', why: `intent ended (${row.status})` } : { kind: 'keep' };
  }
  if (!row.activity_exists) return { kind: 'stop', reason: 'activity_gone' };
  return { kind: 'keep' };
}

export class DockerGarbageCollector {
  readonly name = 'gc';
  private readonly log: Logger;
  private readonly creationGraceMs: number;
  private readonly staleMaxAgeMs: number;
  private running: Promise<SweepReport> | null = null;
  private clusterId: string | null;
  /** Unlabelled containers without a row here, already logged (once each). */
  private readonly unownedSeen = new Set<string>();

  constructor(private readonly options: GcOptions) {
    this.log = options.logger.child({ component: 'gc', reconciler_id: options.reconcilerId });
    this.creationGraceMs = options.creationGraceMs ?? 60_000;
    this.staleMaxAgeMs = options.staleMaxAgeMs ?? 24 * 3600_000;
    this.clusterId = options.clusterId ?? null;
  }

  /**
   * The sweep as periodic work on the controller runtime: a sweep every `intervalMs`
   * (HIGHWAY_GC_INTERVAL_S). Inside a Host it runs on the manager (gated on this reconciler's
   * lock); the standalone `highway-docker gc` runs it with runKinds.
   */
  kind(): Kind<'gc'> {
    const intervalMs = this.options.intervalMs ?? 60_000;
    return periodicKind({
      name: 'gc',
      minIntervalMs: intervalMs,
      run: async () => {
        await this.sweep(); // a failed sweep is logged (gc.sweep_error); the next one retries
        return intervalMs;
      },
    });
  }

  /** One sweep. Concurrent calls share it. */
  sweep(): Promise<SweepReport> {
    this.running ??= this.sweepOnce().finally(() => (this.running = null));
    return this.running;
  }

  private async sweepOnce(): Promise<SweepReport> {
    const report: SweepReport = { skipped: false, orphansRemoved: 0, staleRemoved: 0, stopsRequested: 0, markedLost: 0 };
    // Everything inside the try: a database that is down (even for the connect) costs this
    // sweep, never the process.
    let lock: pg.PoolClient | null = null;
    let broken = false;
    try {
      lock = await this.options.pool.connect();
      const got = await lock.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [`highway-docker-gc:${this.options.reconcilerId}`]);
      if (!got.rows[0]?.ok) return { ...report, skipped: true };
      try {
        await this.sweepLocked(report);
      } finally {
        await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [`highway-docker-gc:${this.options.reconcilerId}`]);
      }
    } catch (err) {
      broken = true;
      this.log.warn({ event: 'gc.sweep_error', err: errorMessage(err) }, 'GC sweep failed; next sweep retries');
    } finally {
      // A connection that failed may hold the lock in a broken session: discard it.
      lock?.release(broken);
    }
    if (report.orphansRemoved || report.staleRemoved || report.stopsRequested || report.markedLost) {
      this.log.info({ event: 'gc.sweep', ...report }, 'GC sweep');
    }
    return report;
  }

  /**
   * Docker lists creation times in whole seconds; for a container near the creation grace,
   * inspect it for the exact time, so the grace is kept to the millisecond.
   */
  private async preciseAge(c: ContainerSummary, now: Date): Promise<ContainerSummary | null> {
    const age = now.getTime() - c.createdAt.getTime();
    if (Math.abs(age - this.creationGraceMs) > 1_000) return c; // clearly inside or past it
    const state = await this.options.docker.inspect(c.id);
    return state ? { ...c, createdAt: state.createdAt } : null;
  }

  /**
   * The containers of this cluster among `listed`: labelled with its id, or unlabelled (made
   * before the label existed) with their intent row in this database. Another cluster's are
   * never judged; an unlabelled one with no row here may be another cluster's, so it is kept
   * (logged once), whatever its age.
   */
  private ours(listed: ContainerSummary[], rows: Map<string, GcRow>, clusterId: string): ContainerSummary[] {
    return listed.filter((c) => {
      if (ownedByCluster(c.labels, clusterId, (id) => rows.has(id))) return true;
      if (c.labels[LABELS.clusterId] === undefined && !this.unownedSeen.has(c.id)) {
        this.unownedSeen.add(c.id);
        this.log.info(
          { event: 'gc.unlabelled_kept', container_id: c.id, intent_id: c.labels[LABELS.intentId] ?? null },
          'kept a container without a highway.cluster_id label and no intent row in this database: it may be another cluster\'s',
        );
      }
      return false;
    });
  }

  private async sweepLocked(report: SweepReport): Promise<void> {
    const { pool, docker, reconcilerId } = this.options;
    this.clusterId ??= await readClusterId(pool);
    const clusterId = this.clusterId;
    // The database's clock, as row update times are compared with it.
    const listedAt = (await pool.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t;
    const listed = await docker.list([`${LABELS.managed}=true`, `${LABELS.reconcilerId}=${reconcilerId}`]);
    await this.sweepRetired(report, clusterId);
    const ids = listed.map((c) => c.labels[LABELS.intentId]).filter((id): id is string => !!id && UUID.test(id));
    const rows = new Map((await gcRowsFor(pool, ids)).map((r) => [r.id, r]));
    const containers = this.ours(listed, rows, clusterId);
    const now = new Date();

    for (const listed of containers) {
      const c = await this.preciseAge(listed, now);
      if (!c) continue; // gone meanwhile
      const intentId = c.labels[LABELS.intentId] ?? null;
      const row = intentId ? rows.get(intentId) : undefined;
      const verdict = judge(c, row, now, { creationGraceMs: this.creationGraceMs, staleMaxAgeMs: this.staleMaxAgeMs });
      if (verdict.kind === 'keep') continue;
      const fields = { intent_id: intentId, container_id: c.id, tenant_id: c.labels[LABELS.tenantId], workflow_run_id: c.labels[LABELS.workflowRunId], activity_id: c.labels[LABELS.activityId] };
      if (verdict.kind === 'stop') {
        const stopped = await requestStop(pool, { column: 'id', value: intentId! }, verdict.reason);
        if (stopped.length) {
          report.stopsRequested++;
          this.log.info({ ...fields, event: 'gc.stop_requested', stop_reason: verdict.reason }, `asked the reconciler to stop: ${verdict.reason}`);
        }
        continue;
      }
      // Gone (or being removed) since the listing: someone else (the reconciler) cleaned it up.
      const still = await docker.inspect(c.id);
      if (!still || still.status === 'removing') continue;
      try {
        await docker.remove(c.id);
      } catch (err) {
        this.log.warn({ ...fields, event: 'gc.remove_error', err: errorMessage(err) }, 'could not remove');
        continue;
      }
      if (verdict.reason === 'orphan') report.orphansRemoved++;
      else report.staleRemoved++;
      this.options.metrics?.gcRemovals.inc({ reason: verdict.reason });
      await this.auditRemoval(c, row ? intentId : null, `gc.${verdict.reason}_removed`, verdict.why);
      this.log.warn({ ...fields, event: `gc.${verdict.reason}_removed`, why: verdict.why }, `removed ${verdict.reason} container: ${verdict.why}`);
    }

    // Rows that claim a container which no longer exists (and did not appear after the listing).
    const present = new Set(ids);
    const lost = await markVanishedLost(pool, reconcilerId, [...present], listedAt);
    for (const row of lost) {
      report.markedLost++;
      this.log.error(
        { event: 'intent.lost', intent_id: row.id, tenant_id: row.tenant_id, workflow_run_id: row.workflow_run_id, activity_id: row.activity_id, container_id: row.container_id, status: 'lost', code: 'container_lost' },
        'container vanished before its result was collected',
      );
    }
  }

  /**
   * Containers of retired ids: labelled with a reconciler id that this database knows as a host
   * (a row in highway.hosts) that is not alive. Ids it does not know are not ours to judge
   * (another cluster may share the daemon). Live intents are left to failover, which ends them.
   */
  private async sweepRetired(report: SweepReport, clusterId: string): Promise<void> {
    const { pool, docker, reconcilerId, hostTimeoutS } = this.options;
    if (hostTimeoutS === undefined) return;
    // Each host is judged by the timeout it recorded in its row (the reader's only for older rows).
    const retired = new Set(
      (
        await pool.query<{ id: string }>(
          `SELECT id FROM highway.hosts h WHERE id <> $1 AND NOT ${hostAliveSql('h', '$2')}`,
          [reconcilerId, hostTimeoutS],
        )
      ).rows.map((r) => r.id),
    );
    if (retired.size === 0) return;
    const listed = (await docker.list([`${LABELS.managed}=true`])).filter((c) => retired.has(c.labels[LABELS.reconcilerId] ?? ''));
    const ids = listed.map((c) => c.labels[LABELS.intentId]).filter((id): id is string => !!id && UUID.test(id));
    const rows = new Map((await gcRowsFor(pool, ids)).map((r) => [r.id, r]));
    const foreign = this.ours(listed, rows, clusterId);
    const now = new Date();
    for (const c of foreign) {
      const intentId = c.labels[LABELS.intentId] ?? null;
      const row = intentId ? rows.get(intentId) : undefined;
      const verdict = judge(c, row, now, { creationGraceMs: this.creationGraceMs, staleMaxAgeMs: this.staleMaxAgeMs });
      if (verdict.kind !== 'remove') continue;
      const still = await docker.inspect(c.id);
      if (!still || still.status === 'removing') continue;
      try {
        await docker.remove(c.id);
      } catch (err) {
        this.log.warn({ event: 'gc.remove_error', container_id: c.id, err: errorMessage(err) }, 'could not remove');
        continue;
      }
      report.orphansRemoved++;
      this.options.metrics?.gcRemovals.inc({ reason: 'retired_host' });
      const from = c.labels[LABELS.reconcilerId];
      await this.auditRemoval(c, row ? intentId : null, 'gc.orphan_removed', `${verdict.why}; its host ${from} is gone`);
      this.log.warn({ event: 'gc.orphan_removed', intent_id: intentId, container_id: c.id, host: from, why: `${verdict.why}; its host ${from} is gone` }, `removed a container of retired host ${from}`);
    }
  }

  /**
   * The removal's audit row, and, for a container of a known intent, the create row it may never
   * have got (a create whose row write a crash, a lost claim or a handover cut off): every
   * container in the trail is created before it is removed.
   */
  private async auditRemoval(c: ContainerSummary, intentId: string | null, operation: string, why: string): Promise<void> {
    const { pool, reconcilerId } = this.options;
    const tenant_id = c.labels[LABELS.tenantId] ?? null;
    const actor = `gc:${reconcilerId}`;
    if (intentId === null) {
      await appendAudit(pool, { tenant_id, actor, intent_id: null, operation, outcome: 'ok', detail: { container_id: c.id, why } });
      return;
    }
    const entry = { tenant_id, actor, intent_id: intentId, outcome: 'ok' as const };
    await appendAuditOnce(pool, [
      { ...entry, operation: 'container.create', detail: { container_id: c.id, recorded_late: true } },
      { ...entry, operation, detail: { container_id: c.id, why }, unless: [] },
    ]);
  }
}
