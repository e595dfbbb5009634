/**
 * Typed errors. Every error the project raises on purpose carries a stable `code`
 * (machine-readable, used in results, events and exit codes) and, where it comes
 * from something else, a `cause`.
 */

export type ErrorCode =
  | 'invalid_params' // caller input failed validation (names the field)
  | 'usage' // the command line was not understood (unknown option, missing argument)
  | 'policy_denied' // the operator policy refused the request (names the rule)
  | 'not_found' // no such intent/container for this tenant
  | 'image_not_present' // pull_policy never, image absent
  | 'pull_failed'
  | 'create_failed'
  | 'start_failed'
  | 'docker_unavailable'
  | 'database_unavailable'
  | 'timeout' // waiting for something took too long
  | 'not_running' // an exec on a container that is not running
  | 'not_ended' // removing a container that still runs (without force)
  | 'exec_failed' // the exec could not be run or its outcome is unknown
  | 'too_large' // more than the caller's bound (a copy past its max_bytes)
  | 'files_failed' // run parameter `files` could not be written into the container
  | 'service_not_ready' // a service (sidecar) exited, turned unhealthy or was not ready in time
  | 'shutdown' // the call was aborted through ctx.signal (a worker shutdown); the intent stays asked to stop
  | 'internal'
  // How an intent ended badly (the row's and the result's `error_code`, the log line's `code`):
  | 'image_not_found' // the registry has no such image (a pull failed: not found)
  | 'nonzero_exit' // the container exited with a non-zero code
  | 'oom_killed' // the container was killed for running out of memory
  | 'daemon_restarted' // the container was killed by its Docker daemon stopping or restarting (running it again may succeed)
  | 'container_lost' // the container vanished before its result was collected
  | 'host_lost' // the container's host stopped answering (no heartbeat within its timeout)
  | 'placement_timeout' // no live host took the intent within its placement_timeout
  | 'never_started' // the caller went away while no host could take the intent
  | 'output_unavailable'; // the result is there, but the container's output could not be read

export class HighwayError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HighwayError';
    this.code = code;
  }
}

/** Caller input is invalid. `field` is the dotted path of the offending parameter. */
export class ValidationError extends HighwayError {
  readonly field: string;
  readonly issues: ReadonlyArray<{ field: string; message: string }>;
  constructor(issues: ReadonlyArray<{ field: string; message: string }>) {
    const first = issues[0] ?? { field: '(params)', message: 'invalid' };
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more: ${issues.slice(1).map((i) => i.field).join(', ')})` : '';
    super('invalid_params', `${first.field}: ${first.message}${more}`);
    this.name = 'ValidationError';
    this.field = first.field;
    this.issues = issues;
  }
}

/** The operator policy refused the request. `rule` names the policy rule, `field` the parameter. */
export class PolicyError extends HighwayError {
  readonly rule: string;
  readonly field: string;
  constructor(rule: string, field: string, message: string) {
    super('policy_denied', `${field}: denied by policy rule "${rule}": ${message}`);
    this.name = 'PolicyError';
    this.rule = rule;
    this.field = field;
  }
}

/**
 * An error that retrying will not fix (bad image, create rejected by the daemon).
 * The reconciler records it on the intent and does not requeue.
 */
export class TerminalError extends HighwayError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'TerminalError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * The code of an intent that ended with an error, from how it ended: the one mapping every
 * place that records an ending uses, so the row, the result and the log line agree.
 */
export function endingErrorCode(e: { status: string; stop_reason?: string | null; oom_killed?: boolean | null; error: string | null; outputUnavailable?: boolean }): ErrorCode | null {
  if (e.status === 'timeout') return 'timeout';
  if (e.stop_reason === 'daemon_restart') return 'daemon_restarted';
  if (e.status === 'failed' && e.oom_killed) return 'oom_killed';
  if (e.status === 'failed') return 'nonzero_exit';
  if (e.status === 'lost') return 'container_lost';
  if (e.outputUnavailable) return 'output_unavailable';
  return e.error === null ? null : 'internal';
}
