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
  | 'shutdown'
  | 'internal';

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
