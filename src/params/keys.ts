/**
 * The one rule for keys and names that callers give (parameter keys at any depth, environment
 * variable names in every form: an object key, a "NAME=value" entry, a CLI `-e NAME=value`):
 * `__proto__`, `constructor` and `prototype` are refused. A plain JavaScript object would drop
 * `__proto__` silently (or change its prototype) and the other two shadow its machinery; a
 * request is refused by name rather than run with something else than was asked.
 * Used by run (bounds.ts), exec (exec.ts), cron (schedules), the environment field and the CLI.
 */
import { ValidationError } from '../errors.js';

export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Why `key` is refused, or null. */
export function forbiddenKeyProblem(key: string): string | null {
  return FORBIDDEN_KEYS.has(key) ? `the key "${key}" is refused: it names a JavaScript object's prototype machinery and would not be kept as given` : null;
}

/** The path of the first forbidden key in `value` (own keys, at any depth), or null. */
export function findForbiddenKey(value: unknown, path: (string | number)[] = [], depth = 0): (string | number)[] | null {
  if (depth > 64 || value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findForbiddenKey(value[i], [...path, i], depth + 1);
      if (found) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return [...path, key];
    const found = findForbiddenKey((value as Record<string, unknown>)[key], [...path, key], depth + 1);
    if (found) return found;
  }
  return null;
}

/** A field path as schema.ts's formatPath writes it (not imported: schema.ts imports this module through fields.ts). */
function formatPath(path: readonly (string | number)[]): string {
  return path
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) return `[${JSON.stringify(segment)}]`;
      return i === 0 ? segment : `.${segment}`;
    })
    .join('');
}

/** Throws a ValidationError naming the field (under `prefix`) when `input` holds a forbidden key anywhere. */
export function refuseForbiddenKeys(input: unknown, prefix: (string | number)[] = []): void {
  const at = findForbiddenKey(input, prefix);
  if (at) throw new ValidationError([{ field: formatPath(at), message: forbiddenKeyProblem(String(at[at.length - 1]))! }]);
}

/**
 * One `-e NAME=value` of the command line (run, exec): [name, value]. Refuses, naming `-e`, an
 * entry without `=` or with an empty or forbidden name; the tool checks the name's grammar.
 */
export function envPair(entry: string, flag = '-e'): [string, string] {
  const eq = entry.indexOf('=');
  if (eq <= 0) throw new ValidationError([{ field: flag, message: `"${entry.slice(0, 80)}" is not NAME=value` }]);
  const name = entry.slice(0, eq);
  const problem = forbiddenKeyProblem(name);
  if (problem) throw new ValidationError([{ field: flag, message: problem }]);
  return [name, entry.slice(eq + 1)];
}
