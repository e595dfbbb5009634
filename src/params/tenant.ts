/**
 * The tenant id grammar: 1 to 128 characters of ASCII letters, digits, ".", "_" and "-".
 * It is stored in rows and container labels and compared byte for byte, so nothing that can
 * look alike (Unicode, U+FFFD from invalid UTF-8), split lines (newlines) or be empty is allowed.
 */
import { ValidationError } from '../errors.js';

export const TENANT_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
export const TENANT_ID_GRAMMAR = '1 to 128 characters of A-Z, a-z, 0-9, ".", "_" and "-"';

/** Why `value` is not a tenant id (without echoing it), or null. */
export function tenantIdProblem(value: unknown): string | null {
  if (typeof value !== 'string') return `is required: ${TENANT_ID_GRAMMAR}`;
  if (TENANT_ID_PATTERN.test(value)) return null;
  if (value.length === 0) return `is empty; it must be ${TENANT_ID_GRAMMAR}`;
  if (value.length > 128) return `is ${value.length} characters long; it must be ${TENANT_ID_GRAMMAR}`;
  const bad = [...value].find((c) => !/^[A-Za-z0-9._-]$/.test(c))!;
  const shown = /^[\x21-\x7e]$/.test(bad) ? `"${bad}"` : `U+${bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return `contains ${shown}; it must be ${TENANT_ID_GRAMMAR}`;
}

/**
 * Throw a ValidationError naming `field` (default `ctx.tenant_id`) unless it is a tenant id:
 * every tool checks its caller this way, and the CLI its `--tenant`.
 */
export function assertTenantId(value: unknown, field = 'ctx.tenant_id'): asserts value is string {
  const problem = tenantIdProblem(value);
  if (problem) throw new ValidationError([{ field, message: problem }]);
}
