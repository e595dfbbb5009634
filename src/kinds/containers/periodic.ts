/**
 * The periodic resync of the containers kind, made cheap (controller-runtime's way: events and
 * requeueAfter carry the work, the periodic resync is a safety net). A (re)connect, a stalled
 * stream or a regained lock still relists every live intent (hints were lost then); the periodic
 * resync instead compares one list of this host's containers with one read of its live rows
 * (with their run, activity and worker) and enqueues only the keys a full pass would act on.
 *
 * What only the periodic resync would heal, and how the comparison still catches it:
 *  - a missed Docker event (die, destroy, oom): the row says running and the container is gone,
 *    not running, or another one than the row's -> enqueued;
 *  - a timeout (`deadline_at`), an activity heartbeat expiry, a worker presumed dead: each has its
 *    requeueAfter (nextExpiryMs), but only in this process's memory (and capped at 1 h) -> stopWanted()
 *    is evaluated on every running row against the database clock; due -> enqueued;
 *  - a missed NOTIFY (a stop asked for, a run cancelled, an activity or a worker gone) -> the same
 *    stopWanted() sees it in the row's surroundings -> enqueued;
 *  - a container labelled ours with no live row of ours (a stray, a handed-back create) -> enqueued;
 *  - a failed pass: the work queue retries it with backoff (not the resync's job);
 *  - everything not plainly running (pending, unclaimed, pulling, created, stopping, ended but not
 *    removed, kept containers): always enqueued, as before; few, and their passes may change them.
 * What the periodic resync no longer does: a row read and a `docker inspect` for each running
 * container whose row, container and deadlines all agree (a pass that would decide nothing).
 */
import { LABELS, type IntentRow } from '../../model.js';
import type { ContainerSummary } from '../../docker/client.js';
import { UUID } from '../../ids.js';
import { stopWanted } from './decide.js';
import type { ReconcileState } from './queries/load-reconcile-state.js';

/** Container states in which a recorded running intent needs no pass (decide: nothing to do). */
const QUIET_STATES = new Set(['running', 'paused', 'restarting']);

export interface PeriodicInput {
  /** This reconciler's live rows (ours or unclaimed, not removed), with surroundings and the database clock. */
  states: readonly ReconcileState[];
  /** This host's containers labelled ours (managed, this reconciler). */
  containers: readonly ContainerSummary[];
  reconcilerId: string;
  clusterId: string;
  workerTimeoutMs: number;
}

/** Is this row plainly running, its container as recorded, no deadline due, nothing asking it to stop? */
function quiet(intent: IntentRow, s: ReconcileState, c: ContainerSummary | undefined, reconcilerId: string, workerTimeoutMs: number): boolean {
  if (intent.status !== 'running' || intent.reconciler_id !== reconcilerId || intent.deadline_at === null) return false;
  if (!c || c.id !== intent.container_id || !QUIET_STATES.has(c.state)) return false;
  return stopWanted({ intent, around: s.around, container: null, now: s.dbNow, workerTimeoutMs }) === null;
}

/** The keys a periodic resync enqueues: where the rows and the containers disagree, or a row is due. */
export function periodicKeys(input: PeriodicInput): string[] {
  const { states, containers, reconcilerId, clusterId, workerTimeoutMs } = input;
  const byIntent = new Map<string, ContainerSummary>();
  const keys = new Set<string>();
  for (const c of containers) {
    const id = c.labels[LABELS.intentId];
    const cluster = c.labels[LABELS.clusterId];
    if (!id || !UUID.test(id) || (cluster !== undefined && cluster !== clusterId)) continue;
    if (byIntent.has(id)) keys.add(id); // two containers for one intent: let a pass look
    byIntent.set(id, c);
  }
  for (const s of states) {
    if (!quiet(s.intent, s, byIntent.get(s.intent.id), reconcilerId, workerTimeoutMs)) keys.add(s.intent.id);
    byIntent.delete(s.intent.id);
  }
  // Containers of ours with no live row of ours.
  for (const id of byIntent.keys()) keys.add(id);
  return [...keys];
}
