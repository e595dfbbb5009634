/**
 * Bounded, storable input: checked on the raw parameters before the schema sees them, so
 * abuse is refused by name and never reaches PostgreSQL (which refuses NUL characters and
 * lone surrogates in jsonb with a raw error) nor lingers in memory as a 20 MB string.
 *
 * - size: the parameter set, measured as UTF-8 JSON, is at most `max_params_bytes`
 *   (default 256 KiB); labels and environment have their own count and byte limits.
 *   The operator policy sets all of them (src/params/policy.ts).
 * - keys: `__proto__`, `constructor` and `prototype` are refused wherever they appear
 *   (as a label, an environment variable, a volume, ...): a plain object would drop
 *   `__proto__` silently or change its prototype.
 * - strings (values and keys): no NUL character, no lone surrogate (invalid Unicode).
 * - nesting at most 32 levels deep.
 */
import type { z } from 'zod';
import { ValidationError } from '../errors.js';
import { forbiddenKeyProblem } from './keys.js';

export interface InputLimits {
  /** The whole parameter set, in bytes of its JSON (UTF-8). */
  max_params_bytes: number;
  /** Number of labels. */
  max_labels: number;
  /** Labels' keys and values together, in bytes of their JSON. */
  max_labels_bytes: number;
  /** Number of environment variables. */
  max_environment: number;
  /** Environment names and values together, in bytes of their JSON. */
  max_environment_bytes: number;
  /** `files`: the bytes written (decoded), all files together; not counted in max_params_bytes. */
  max_files_bytes: number;
  /** `files`: how many. */
  max_files: number;
}

export const DEFAULT_INPUT_LIMITS: InputLimits = {
  max_params_bytes: 256 * 1024,
  max_labels: 128,
  max_labels_bytes: 64 * 1024,
  max_environment: 512,
  max_environment_bytes: 128 * 1024,
  max_files_bytes: 4 * 1024 * 1024,
  max_files: 256,
};

export { FORBIDDEN_KEYS } from './keys.js';

/** The parameter with its own size limit (max_files_bytes), not counted in max_params_bytes. */
const FILES_KEY = 'files';
const MAX_DEPTH = 32;
/** Key segments longer than this are shortened in field names (the key itself may be the abuse). */
const MAX_SEGMENT_CHARS = 64;

type Segment = string | number;
const fail = (path: Segment[], message: string): never => {
  throw new ValidationError([{ field: fieldName(path), message }]);
};

/** Refuses (ValidationError naming the field) what cannot be stored or exceeds the limits. No-op for a non-object. */
export function checkInput(input: unknown, limits: InputLimits = DEFAULT_INPUT_LIMITS): void {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return; // the schema says what is wrong
  const params = input as Record<string, unknown>;
  const keys = Object.keys(params);

  // Size first: a 20 MB string is refused before anything scans it.
  const budget = limits.max_params_bytes + 1;
  let total = 2 + Math.max(0, keys.length - 1);
  let largest: { key: string; bytes: number } | null = null;
  for (const key of keys) {
    if (key === FILES_KEY) continue;
    const bytes = stringBytes(key) + 3 + jsonBytes(params[key], budget, [key], 1);
    total += bytes;
    if (!largest || bytes > largest.bytes) largest = { key, bytes };
    if (total > limits.max_params_bytes) break;
  }
  if (total > limits.max_params_bytes && largest) {
    fail(
      [largest.key],
      `the parameters are more than ${formatBytes(limits.max_params_bytes)} of JSON (the limit, policy max_params_bytes); ` +
        `this parameter alone is ${largest.bytes >= budget ? 'over the limit' : formatBytes(largest.bytes)}`,
    );
  }

  collectionLimits(params, 'labels', limits.max_labels, limits.max_labels_bytes, 'max_labels');
  collectionLimits(params, 'environment', limits.max_environment, limits.max_environment_bytes, 'max_environment');
  filesLimits(params[FILES_KEY], limits);

  for (const key of keys) checkContent(key, [], true);
  for (const key of keys) checkValue(params[key], [key]);
}

function collectionLimits(params: Record<string, unknown>, name: string, maxCount: number, maxBytes: number, rule: string): void {
  const value = params[name];
  if (value === null || typeof value !== 'object') return;
  const count = Array.isArray(value) ? value.length : Object.keys(value).length;
  if (count > maxCount) fail([name], `has ${count} entries, more than the limit of ${maxCount} (policy ${rule})`);
  const bytes = jsonBytes(value, maxBytes + 1, [name], 1);
  if (bytes > maxBytes) fail([name], `is more than ${formatBytes(maxBytes)} of JSON (the limit, policy ${rule}_bytes)`);
}

/**
 * `files` before the schema sees it: at most max_files entries, and JSON no larger than its
 * decoded limit allows (base64 is 4/3 of the bytes, plus the paths and framing). The exact
 * decoded total is checked by the policy (checkPolicy, rule max_files_bytes).
 */
function filesLimits(value: unknown, limits: InputLimits): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const count = Object.keys(value).length;
  if (count > limits.max_files) fail([FILES_KEY], `has ${count} files, more than the limit of ${limits.max_files} (policy max_files)`);
  const maxJson = Math.ceil((limits.max_files_bytes * 4) / 3) + 64 * 1024;
  const bytes = jsonBytes(value, maxJson + 1, [FILES_KEY], 1);
  if (bytes > maxJson) fail([FILES_KEY], `are more than ${formatBytes(limits.max_files_bytes)} together (the limit, policy max_files_bytes)`);
}

/** A string's problem for storage, or null. Never echoes the string. */
export function stringProblem(s: string): string | null {
  const nul = s.indexOf('\u0000');
  if (nul >= 0) return `contains a NUL character (at index ${nul}), which cannot be stored`;
  const lone = LONE_SURROGATE.exec(s);
  if (lone) return `contains invalid Unicode (a lone surrogate at index ${lone.index}); send well-formed UTF-8`;
  return null;
}
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkContent(key: string, parent: Segment[], isKey: boolean): void {
  const path = [...parent, key];
  const forbidden = isKey ? forbiddenKeyProblem(key) : null;
  if (forbidden) fail(path, forbidden);
  const problem = stringProblem(key);
  if (problem) fail(path, `the key ${problem}`);
}

function checkValue(value: unknown, path: Segment[], depth = 1): void {
  if (depth > MAX_DEPTH) fail(path, `is nested more than ${MAX_DEPTH} levels deep`);
  if (typeof value === 'string') {
    const problem = stringProblem(value);
    if (problem) fail(path, problem);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => checkValue(item, [...path, i], depth + 1));
  } else if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) {
      checkContent(key, path, true);
      checkValue((value as Record<string, unknown>)[key], [...path, key], depth + 1);
    }
  }
}

/**
 * The UTF-8 size of `value` as JSON (exact but for escapes, counted as the character they
 * stand for: an estimate from below), stopping as soon as it passes `budget`. Cycles and excessive depth are refused.
 */
function jsonBytes(value: unknown, budget: number, path: Segment[], depth: number, seen = new Set<object>()): number {
  if (depth > MAX_DEPTH) fail(path, `is nested more than ${MAX_DEPTH} levels deep`);
  switch (typeof value) {
    case 'string':
      return stringBytes(value) + 2;
    case 'number':
    case 'boolean':
      return String(value).length;
    case 'bigint':
      return fail(path, 'is a BigInt, which JSON cannot carry; use a number or a string');
    case 'object': {
      if (value === null) return 4;
      if (seen.has(value)) fail(path, 'refers to itself (a cycle); parameters must be plain JSON');
      seen.add(value);
      let bytes = 2;
      const separator = (i: number) => (i > 0 ? 1 : 0);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length && bytes <= budget; i++) bytes += separator(i) + jsonBytes(value[i], budget - bytes, [...path, i], depth + 1, seen);
      } else {
        const keys = Object.keys(value);
        for (let i = 0; i < keys.length && bytes <= budget; i++) {
          const key = keys[i]!;
          bytes += separator(i) + stringBytes(key) + 3 + jsonBytes((value as Record<string, unknown>)[key], budget - bytes, [...path, key], depth + 1, seen);
        }
      }
      seen.delete(value);
      return bytes;
    }
    default:
      return 0; // undefined, functions: dropped by JSON
  }
}

const stringBytes = (s: string): number => Buffer.byteLength(s, 'utf8');

function fieldName(path: Segment[]): string {
  return formatPath(path.map((s) => (typeof s === 'string' && s.length > MAX_SEGMENT_CHARS ? `${s.slice(0, MAX_SEGMENT_CHARS)}...` : s)));
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** ["volumes", 0] -> "volumes[0]"; ["ulimits", "nofile", "soft"] -> "ulimits.nofile.soft"; ["tmpfs", "/tmp"] -> 'tmpfs["/tmp"]'. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      const key = String(segment);
      if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return `[${JSON.stringify(key)}]`;
      return i === 0 ? key : `.${key}`;
    })
    .join('');
}

// ---------------------------------------------------------------- numbers Docker and PostgreSQL accept

/**
 * Every number of the parameters has an upper bound that Docker (int64 nanoseconds and bytes,
 * Go `int` taken as int32) and PostgreSQL (dates, int4/int8 columns) accept, checked before
 * the intent is written: a value past it would be refused by Docker only at create time, or
 * make a date computation fail on every later pass (`0NaN-NaN-...`).
 */
/** Go's `int` in Docker's API, taken as int32 (its size on 32-bit builds). */
export const INT32_MAX = 2_147_483_647;
/** Whole numbers JavaScript and JSON carry exactly; below int64's maximum, so Docker's int64 fields take them. */
export const MAX_EXACT_INTEGER = Number.MAX_SAFE_INTEGER;
/** Docker's durations (health check interval, timeout, start period) are int64 nanoseconds: at most this many seconds (292 years). */
export const MAX_DOCKER_DURATION_SECONDS = 9_223_372_036;
/** A duration added to the current time (gc_protect_seconds, placement_timeout): 68 years keeps the date valid in JavaScript and PostgreSQL. */
export const MAX_SECONDS_FROM_NOW = INT32_MAX;
/** Linux refuses a pids.max above PID_MAX_LIMIT (4194304). */
export const PID_MAX_LIMIT = 4_194_304;
/** Docker refuses uids and gids above int32 ("uids and gids must be in range 0-2147483647"). */
export const MAX_UID = INT32_MAX;
/** Docker's NanoCpus is int64 nanoCPUs. */
export const MAX_CPUS = MAX_DOCKER_DURATION_SECONDS;

export interface NumberBound {
  /** Inclusive. */
  min?: number;
  /** Inclusive. */
  max: number;
  /** Whole numbers only. */
  integer?: boolean;
  /** The unit, as the message says it ("seconds", "bytes", "" for a count). */
  unit: string;
  /** Why this is the bound (named in the error). */
  why: string;
}

export const BOUNDS = {
  /** Docker's StopTimeout: a Go int of seconds. */
  stopTimeoutSeconds: { min: 0, max: INT32_MAX, unit: 'seconds', why: "Docker's StopTimeout is a Go int of seconds" },
  /** A duration the reconciler adds to now. */
  secondsFromNow: { min: 0, max: MAX_SECONDS_FROM_NOW, unit: 'seconds', why: 'about 68 years, so the date stays valid in JavaScript and PostgreSQL' },
  /** Docker's time.Duration: int64 nanoseconds. */
  dockerDurationSeconds: { min: 0, max: MAX_DOCKER_DURATION_SECONDS, unit: 'seconds', why: "Docker's durations are int64 nanoseconds" },
  /** A count Docker reads into a Go int. */
  goInt: { min: 0, max: INT32_MAX, integer: true, unit: '', why: "Docker reads it into a Go int (int32)" },
  /** Bytes Docker reads as int64. */
  bytes: { min: 0, max: MAX_EXACT_INTEGER, integer: true, unit: 'bytes', why: 'the largest whole number JSON carries exactly (Docker takes int64 bytes)' },
  /** CPUs, as Docker's int64 NanoCpus. */
  cpus: { min: 0.01, max: MAX_CPUS, unit: 'CPUs', why: "Docker's NanoCpus is int64 nanoCPUs" },
  /** pids.max. */
  pids: { min: -1, max: PID_MAX_LIMIT, integer: true, unit: 'processes', why: "Linux's PID_MAX_LIMIT" },
  /** uid or gid. */
  uid: { min: 0, max: MAX_UID, integer: true, unit: '', why: 'Docker takes uids and gids in 0-2147483647' },
} as const satisfies Record<string, NumberBound>;

const withUnit = (n: number, unit: string): string => (unit ? `${n} ${unit}` : String(n));

/** What is wrong with `n` for `bound` (naming the bound), or null. NaN, infinities and non-integers where integers are required included. */
export function numberProblem(n: number, bound: NumberBound): string | null {
  if (typeof n !== 'number' || Number.isNaN(n)) return 'is not a number (NaN)';
  if (!Number.isFinite(n)) return `is ${n > 0 ? 'infinite' : 'negative infinity'}; at most ${withUnit(bound.max, bound.unit)} (${bound.why})`;
  if (bound.integer && !Number.isInteger(n)) return `must be a whole number${bound.unit ? ` of ${bound.unit}` : ''}, not ${n}`;
  if (bound.min !== undefined && n < bound.min) return `must be at least ${withUnit(bound.min, bound.unit)}, not ${n}`;
  if (n > bound.max) return `must be at most ${withUnit(bound.max, bound.unit)} (${bound.why}), not ${n}`;
  return null;
}

/** A zod refinement for `bound`: `schema.superRefine(within(BOUNDS.bytes))`. */
export function within(bound: NumberBound) {
  return (n: number, ctx: z.RefinementCtx): void => {
    const problem = numberProblem(n, bound);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  };
}

/** PostgreSQL's timestamptz runs from 4713 BC; JavaScript's Date ends (275760) before PostgreSQL's (294276). */
const PG_MIN_DATE_MS = Date.UTC(-4712, 0, 1);
/** What is wrong with `d` as a date PostgreSQL can store, or null. */
export function dateProblem(d: Date): string | null {
  const ms = d.getTime();
  if (Number.isNaN(ms)) return 'is not a valid date';
  if (ms < PG_MIN_DATE_MS) return `is before 4713 BC, the earliest date PostgreSQL stores`;
  return null;
}
