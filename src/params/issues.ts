import type { z } from 'zod';
import { ValidationError } from '../errors.js';
import { formatPath } from './bounds.js';

/**
 * A schema's refusal as a ValidationError naming each offending field: the one mapping of zod's issues for the
 * tools' schemas (the run schema adds its own wording of the accepted shapes on top: schema.ts).
 * `unknownKey`: what an unknown key is told; `root`: the field name of the whole input.
 */
export function validationErrorOf(error: z.ZodError, opts: { unknownKey: string; root?: string }): ValidationError {
  const root = opts.root ?? '(params)';
  return new ValidationError(
    error.issues.flatMap((issue) => {
      if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ field: formatPath([...issue.path, key]), message: opts.unknownKey }));
      if (issue.path.length === 0) {
        return [{ field: root, message: issue.code === 'invalid_type' && root === '(params)' ? 'parameters must be an object' : issue.message.replace(/^Invalid input: /, '') }];
      }
      return [{ field: formatPath(issue.path), message: issue.message.replace(/^Invalid input: /, '') }];
    }),
  );
}
