import type { IntentRow } from '../../model.js';
import type { RowText } from '../../docker/output-buffer.js';

/** Columns a patch may set; everything else (id, activity, tenant, spec, created_at) is fixed at insert. */
export type IntentPatch = Partial<
  Omit<Pick<
    IntentRow,
    | 'container_id'
    | 'short_id'
    | 'reconciler_id'
    | 'status'
    | 'desired_state'
    | 'stop_reason'
    | 'stop_requested_at'
    | 'start_attempted_at'
    | 'error'
    | 'error_code'
    | 'exit_code'
    | 'oom_killed'
    | 'stdout'
    | 'stderr'
    | 'logs_truncated'
    | 'duration_ms'
    | 'started_at'
    | 'finished_at'
    | 'removed_at'
    | 'deadline_at'
    | 'gc_protected_until'
    | 'warnings'
    | 'result'
    | 'result_error'
    | 'services'
  >, 'stdout' | 'stderr'> & {
    /** Output: text, or its bytes when they are valid UTF-8 without NUL (RowText: sent as they are). */
    stdout: RowText | null;
    stderr: RowText | null;
  }
>;

const PATCHABLE = new Set<string>([
  'container_id', 'short_id', 'reconciler_id', 'status', 'desired_state', 'stop_reason', 'stop_requested_at',
  'start_attempted_at', 'error', 'error_code', 'exit_code', 'oom_killed', 'stdout', 'stderr', 'logs_truncated', 'duration_ms', 'started_at',
  'finished_at', 'removed_at', 'deadline_at', 'gc_protected_until', 'warnings', 'result', 'result_error', 'services',
]);

/** jsonb columns: sent as JSON text (a null result_error is SQL NULL). */
const JSONB = new Set(['warnings', 'result', 'result_error', 'services']);

/** Build `col = $n` assignments for a patch, starting at parameter index `start`. */
export function patchAssignments(patch: IntentPatch, start: number): { sql: string; values: unknown[] } {
  const sets: string[] = [];
  const values: unknown[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (!PATCHABLE.has(key)) throw new Error(`not a patchable intent column: ${key}`);
    values.push(JSONB.has(key) && !(key === 'result_error' && value === null) ? JSON.stringify(value) : value);
    sets.push(`${key} = $${start + values.length - 1}`);
  }
  sets.push('updated_at = now()');
  return { sql: sets.join(', '), values };
}

export const TERMINAL_SQL = `('exited', 'failed', 'timeout', 'cancelled', 'lost')`;

/**
 * Every column but the stored output, for readers that decide and do not report (the
 * reconciler's passes, resyncs): a kept container's megabytes of output are not read each time.
 * The row's stdout, stderr and result (up to max_result_bytes) come back null.
 */
export const COLUMNS_WITHOUT_OUTPUT = [
  'id', 'container_id', 'short_id', 'activity_id', 'workflow_run_id', 'tenant_id', 'worker_id', 'reconciler_id', 'image',
  'spec', 'status', 'desired_state', 'stop_reason', 'stop_requested_at', 'start_attempted_at', 'error', 'error_code', 'exit_code', 'oom_killed',
  'logs_truncated', 'duration_ms', 'warnings', 'labels', 'pending_reason', 'output_interrupted_at', 'remove_requested_at',
  'created_at', 'started_at', 'finished_at', 'removed_at', 'deadline_at', 'gc_protected_until', 'updated_at', 'result_error',
] as const;

export const INTENT_COLUMNS_WITHOUT_OUTPUT = (alias: string): string =>
  COLUMNS_WITHOUT_OUTPUT.map((c) => `${alias}.${c}`)
    .concat(['NULL::text AS stdout', 'NULL::text AS stderr', 'NULL::jsonb AS result', 'NULL::jsonb AS services'])
    .join(', ');
