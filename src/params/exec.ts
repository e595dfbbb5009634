/**
 * The parameters of tools.docker.exec: one schema, built from the run parameters' field
 * helpers (command words, user, working_dir, environment with secret references, durations,
 * sizes). The normal form is stored in highway.docker_operations.params (secret references,
 * never values).
 */
import { z } from 'zod';
import * as field from './fields.js';
import { parseParams, target } from './operations.js';
import { refuseForbiddenKeys } from './keys.js';
import { MAX_RESULT_BYTES, resultPath } from './steps.js';

const MAX_EXEC_TIMEOUT_SECONDS = 24 * 3600;
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

export const execParamsSchema = z.strictObject({
  target,
  command: field.commandWords.refine((words) => words.length > 0, 'must not be empty'),
  user: field.user.nullish().transform((v) => v ?? null),
  working_dir: field.workingDir.nullish().transform((v) => v ?? null),
  environment: field.environment.nullish().transform((v) => v ?? {}),
  /** Seconds; past it the exec's processes are killed and the result says `timeout`. */
  timeout: field.duration
    .refine((s) => s > 0 && s <= MAX_EXEC_TIMEOUT_SECONDS, 'must be more than 0 and at most 24 hours')
    .nullish()
    .transform((v) => v ?? 60),
  /** Per stream: the tail is kept, and `logs_truncated` says so. */
  max_output_bytes: field.size
    .refine((n) => n > 0 && n <= MAX_OUTPUT_BYTES, 'must be more than 0 and at most 64m')
    .nullish()
    .transform((v) => v ?? 1024 * 1024),
  privileged: z.boolean().nullish().transform((v) => v ?? false),
  /** A file the exec writes, read back after it ends (docs/steps.md): the same rules as a run's. */
  result_path: resultPath.nullish().transform((v) => v ?? null),
  result_format: z.enum(['json', 'text'], { error: 'must be "json" or "text"' }).nullish().transform((v) => v ?? 'json'),
  /** Null: the default (1 MiB, or the policy's ceiling if lower); a value above the ceiling is refused. */
  max_result_bytes: field.size
    .refine((b) => b > 0 && b <= MAX_RESULT_BYTES, 'must be more than 0 and at most 64 MiB')
    .nullish()
    .transform((v) => v ?? null),
}).superRefine((p, ctx) => {
  // A setting that does nothing would hide a missing result_path.
  if (p.result_path !== null) return;
  if (p.result_format !== 'json') ctx.addIssue({ code: 'custom', path: ['result_format'], message: 'needs result_path (the file to read)' });
  else if (p.max_result_bytes !== null) ctx.addIssue({ code: 'custom', path: ['max_result_bytes'], message: 'needs result_path (the file to read)' });
});

export type ExecSpec = z.output<typeof execParamsSchema>;

/** Validate and normalize exec parameters; throws a ValidationError naming the field. */
export function parseExecParams(input: unknown): ExecSpec {
  refuseForbiddenKeys(input); // before the schema, which would drop `__proto__` silently
  return parseParams(execParamsSchema, input);
}
