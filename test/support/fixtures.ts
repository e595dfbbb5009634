/**
 * Builders for the values decide() and friends read: an intent row, its surroundings, a
 * container as inspect reports it. Each returns a plausible, healthy default (a running
 * intent of a live run, activity and worker) that a test overrides field by field.
 */
import type { IntentRow } from '../../src/model.js';
import type { IntentSurroundings } from '../../src/kinds/containers/queries/load-reconcile-state.js';
import type { ContainerState } from '../../src/docker/client.js';

/** The fixed "now" of unit tests. */
export const NOW = new Date('2025-06-01T12:00:00.000Z');

export const INTENT_ID = '0b6f3e2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b';
export const CONTAINER_ID = 'c0ffee'.padEnd(64, '0');
export const WORKER_ID = 'worker-1';

/** `ms` milliseconds from NOW (negative: before). */
export const at = (ms: number): Date => new Date(NOW.getTime() + ms);
export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

/** A running intent, started a minute ago with the default one-hour timeout. */
export function intentRow(overrides: Partial<IntentRow> = {}): IntentRow {
  return {
    id: INTENT_ID,
    container_id: CONTAINER_ID,
    short_id: CONTAINER_ID.slice(0, 12),
    activity_id: '7a1b2c3d-0000-4000-8000-000000000001',
    workflow_run_id: '7a1b2c3d-0000-4000-8000-000000000002',
    tenant_id: 'tenant-a',
    worker_id: WORKER_ID,
    reconciler_id: 'reconciler-1',
    image: 'alpine:3.20',
    spec: { image: 'alpine:3.20' },
    status: 'running',
    desired_state: 'running',
    stop_reason: null,
    stop_requested_at: null,
    start_attempted_at: null,
    pending_reason: null,
    output_interrupted_at: null,
    error: null,
    exit_code: null,
    oom_killed: null,
    stdout: null,
    stderr: null,
    logs_truncated: false,
    duration_ms: null,
    warnings: [],
    labels: {},
    created_at: at(-2 * MINUTE),
    started_at: at(-1 * MINUTE),
    finished_at: null,
    removed_at: null,
    deadline_at: at(-1 * MINUTE + HOUR),
    gc_protected_until: null,
    updated_at: at(-1 * MINUTE),
    ...overrides,
  };
}

/** An intent that has not been created yet (`pending`, no container, no deadline). */
export function pendingIntent(overrides: Partial<IntentRow> = {}): IntentRow {
  return intentRow({
    status: 'pending',
    container_id: null,
    short_id: null,
    started_at: null,
    deadline_at: null,
    ...overrides,
  });
}

/** A live run, an activity without a heartbeat timeout, and a worker that heartbeat just now. */
export function surroundings(overrides: Partial<IntentSurroundings> = {}): IntentSurroundings {
  return {
    run_status: 'running',
    activity_exists: true,
    activity_status: 'running',
    activity_heartbeat_at: null,
    activity_heartbeat_timeout_s: null,
    activity_created_at: at(-2 * MINUTE),
    worker_exists: true,
    worker_status: 'alive',
    worker_heartbeat_at: NOW,
    ...overrides,
  };
}

/** A running container. */
export function containerState(overrides: Partial<ContainerState> = {}): ContainerState {
  return {
    id: CONTAINER_ID,
    name: `highway-${INTENT_ID}`,
    status: 'running',
    exitCode: null,
    oomKilled: false,
    error: null,
    createdAt: at(-90 * SECOND),
    startedAt: at(-1 * MINUTE),
    finishedAt: null,
    labels: { 'highway.managed': 'true', 'highway.intent_id': INTENT_ID },
    restartCount: 0,
    restartPolicy: 'no',
    health: null,
    ...overrides,
  };
}

/** The container states decide() distinguishes, by name. */
export const CONTAINERS = {
  absent: null,
  created: containerState({ status: 'created', startedAt: null }),
  running: containerState(),
  restarting: containerState({ status: 'restarting', restartCount: 1 }),
  'exited 0': containerState({ status: 'exited', exitCode: 0, finishedAt: at(-1 * SECOND) }),
  'exited 2': containerState({ status: 'exited', exitCode: 2, finishedAt: at(-1 * SECOND) }),
  'exited OOM': containerState({ status: 'exited', exitCode: 137, oomKilled: true, finishedAt: at(-1 * SECOND) }),
  dead: containerState({ status: 'dead', exitCode: 255, error: 'driver failed', finishedAt: at(-1 * SECOND) }),
} as const satisfies Record<string, ContainerState | null>;

export type ContainerName = keyof typeof CONTAINERS;
