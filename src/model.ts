/** The intent lifecycle, shared by the tools, the reconciler and the GC. */
import { MAX_SECONDS_FROM_NOW } from './params/bounds.js';
import type { ErrorCode } from './errors.js';

export const INTENT_STATUSES = [
  'pending',
  'pulling',
  'created',
  'running',
  'stopping',
  'exited',
  'failed',
  'timeout',
  'cancelled',
  'lost',
] as const;
export type IntentStatus = (typeof INTENT_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<IntentStatus> = new Set(['exited', 'failed', 'timeout', 'cancelled', 'lost']);
export const isTerminal = (s: IntentStatus): boolean => TERMINAL_STATUSES.has(s);

export const STOP_REASONS = [
  'workflow_cancelled',
  'activity_timeout',
  'activity_gone',
  'worker_lost',
  'worker_shutdown',
  'requested',
  'stale',
  /** Its Docker daemon killed the container as it shut down or restarted (status `lost`): not the program's own failure. */
  'daemon_restart',
] as const;
export type StopReason = (typeof STOP_REASONS)[number];

export type DesiredState = 'running' | 'stopped';

/** A row of highway.docker_containers, as the queries return it. */
export interface IntentRow {
  id: string;
  container_id: string | null;
  short_id: string | null;
  activity_id: string;
  workflow_run_id: string;
  tenant_id: string;
  worker_id: string | null;
  reconciler_id: string | null;
  image: string;
  spec: Record<string, unknown>;
  status: IntentStatus;
  desired_state: DesiredState;
  stop_reason: StopReason | null;
  stop_requested_at: Date | null;
  /** When a start of its container was claimed (the guard that makes a start happen at most once). */
  start_attempted_at: Date | null;
  /** Why an unclaimed intent still waits for a host (placement, capacity), when it does. */
  pending_reason: string | null;
  /** When the Docker daemon was seen going away while the container ran: its output may be incomplete. */
  output_interrupted_at: Date | null;
  error: string | null;
  /** The stable code of `error` (migration 024; see ErrorCode). */
  error_code?: ErrorCode | null;
  exit_code: number | null;
  oom_killed: boolean | null;
  stdout: string | null;
  stderr: string | null;
  logs_truncated: boolean;
  duration_ms: number | null;
  warnings: string[];
  labels: Record<string, string>;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  removed_at: Date | null;
  deadline_at: Date | null;
  gc_protected_until: Date | null;
  /** The `result_path` file, parsed (migration 023); null in rows read without output. */
  result?: unknown;
  /** Why there is no `result`: {code, message} (migration 023). */
  result_error?: ResultError | null;
  /** The services' output by name (migration 023); null in rows read without output. */
  services?: Record<string, { stdout: string; stderr: string; exit_code: number | null; logs_truncated: boolean }> | null;
  /** tools.docker.remove asked for the (kept) container to go (migration 005). */
  remove_requested_at?: Date | null;
  updated_at: Date;
}

/** Why a run's `result_path` gave no result. */
export interface ResultError {
  code: 'missing' | 'too_large' | 'not_a_file' | 'invalid_json' | 'unstorable' | 'unreadable';
  message: string;
}

/** How long a claimed start blocks another: longer than any start call may take (its timeout is 30 s). */
export const START_CLAIM_MS = 60_000;

/** The lifecycle knobs of an intent, read from its validated spec. */
export interface Lifecycle {
  timeoutMs: number;
  /** The caller's stop_signal; null: the container's own (its image's STOPSIGNAL, else SIGTERM). */
  stopSignal: string | null;
  stopGraceMs: number;
  autoRemove: boolean;
  pullPolicy: 'always' | 'if_not_present' | 'never';
  maxOutputBytes: number;
  gcProtectMs: number | null;
}

const num = (v: unknown, fallback: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);

export function lifecycleOf(spec: Record<string, unknown>): Lifecycle {
  const pull = spec['pull_policy'];
  return {
    timeoutMs: Math.min(num(spec['timeout'], 3600), MAX_SECONDS_FROM_NOW) * 1000,
    stopSignal: typeof spec['stop_signal'] === 'string' ? spec['stop_signal'] : null,
    stopGraceMs: Math.min(num(spec['stop_grace_period'], 10), MAX_SECONDS_FROM_NOW) * 1000,
    autoRemove: spec['auto_remove'] !== false,
    pullPolicy: pull === 'always' || pull === 'never' ? pull : 'if_not_present',
    maxOutputBytes: num(spec['max_output_bytes'], 1024 * 1024),
    // Bounded however the row came to be (written before the bound, or past the tool): the
    // date computed from it must stay valid, or every later pass would fail on it.
    gcProtectMs: typeof spec['gc_protect_seconds'] === 'number' ? Math.min(num(spec['gc_protect_seconds'], 0), MAX_SECONDS_FROM_NOW) * 1000 : null,
  };
}

/** Docker's container label keys (the contract). */
export const LABELS = {
  managed: 'highway.managed',
  intentId: 'highway.intent_id',
  tenantId: 'highway.tenant_id',
  workflowRunId: 'highway.workflow_run_id',
  activityId: 'highway.activity_id',
  workerId: 'highway.worker_id',
  reconcilerId: 'highway.reconciler_id',
  /** The identity of the database (cluster) that made the container (migration 014). */
  clusterId: 'highway.cluster_id',
} as const;

export const containerName = (intentId: string): string => `highway-${intentId}`;
