/**
 * Parameters of the container-targeted tools (tools.docker.stop, remove, logs, inspect, wait;
 * exec has its own module, exec.ts): one zod schema each, parsed by `parseParams`, which turns
 * every problem into a ValidationError naming the field.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import * as field from './fields.js';
import { formatPath } from './schema.js';
import { validationErrorOf } from './issues.js';

/** An intent id, or a container id (full, or a prefix of at least 4 hex digits). */
export const target = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
  .regex(
    /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{4,64})$/i,
    'must be an intent id (a UUID) or a container id (full, or at least 4 of its first hex digits)',
  )
  .transform((t) => t.toLowerCase());

/** A positive number of seconds (or a duration string such as "30s") up to `max`. */
export const seconds = (max: number) =>
  field.duration.refine((s) => s >= 0 && s <= max, `must be at least 0 and at most ${max} seconds`);

/**
 * A point in time for logs: an RFC 3339 date, unix seconds (number or string, with a fraction),
 * or a duration back from now ("10m", "1h30m"), as `docker logs --since` takes them. Output:
 * unix seconds as a decimal string (nanosecond precision kept), Docker's own form.
 */
export const pointInTime = z.union([z.string(), z.number()], { error: 'must be a date (RFC 3339), unix seconds, or a duration back from now such as "10m"' }).transform(
  field.normalizedBy((value: string | number): string => {
    if (typeof value === 'number') {
      if (!Number.isFinite(value) || value < 0) throw new Error(`${value} is not a time`);
      return value.toFixed(9);
    }
    const text = value.trim();
    if (/^\d+(?:\.\d{1,9})?$/.test(text)) return text;
    if (/^\d{4}-\d{2}-\d{2}/.test(text)) return unixFromRfc3339(text);
    try {
      const back = parseDurationStrict(text);
      return ((Date.now() / 1000) - back).toFixed(9);
    } catch {
      throw new Error(`${JSON.stringify(value)} is not a time; use e.g. "2026-01-02T15:04:05Z", "1767366245.5" or "10m"`);
    }
  }),
);

function parseDurationStrict(text: string): number {
  const seconds = field.duration.parse(text);
  if (/^\d+(?:\.\d+)?$/.test(text)) throw new Error('not a duration');
  return seconds;
}

/** RFC 3339 (nanoseconds kept) to unix seconds as a "sec.nanos" string. */
export function unixFromRfc3339(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  const ms = Date.parse(m ? `${m[1]}${m[3]}` : text);
  if (!Number.isFinite(ms)) throw new Error(`${JSON.stringify(text)} is not an RFC 3339 time`);
  const nanos = (m?.[2] ?? '').padEnd(9, '0');
  return `${Math.floor(ms / 1000)}.${nanos}`;
}

const tail = z.union([z.number().int().nonnegative(), z.literal('all')], { error: 'must be a number of lines or "all"' });

export const stopParams = z.strictObject({
  target,
  /** Grace period in seconds before SIGKILL (default: the intent's stop_grace_period). */
  time: seconds(3600).nullish().transform((v) => v ?? null),
  /** How long to wait for the intent to settle (default: grace period + 60 s). */
  wait_timeout: seconds(24 * 3600).nullish().transform((v) => v ?? null),
});

export const removeParams = z.strictObject({
  target,
  force: z.boolean().nullish().transform((v) => v ?? false),
  wait_timeout: seconds(24 * 3600).nullish().transform((v) => v ?? null),
});

export const logsParams = z.strictObject({
  target,
  tail: tail.nullish().transform((v) => v ?? 'all'),
  since: pointInTime.nullish().transform((v) => v ?? null),
  until: pointInTime.nullish().transform((v) => v ?? null),
  timestamps: z.boolean().nullish().transform((v) => v ?? false),
  stdout: z.boolean().nullish().transform((v) => v ?? true),
  stderr: z.boolean().nullish().transform((v) => v ?? true),
  max_bytes: field.size
    .refine((n) => n > 0 && n <= 64 * 1024 * 1024, 'must be more than 0 and at most 64m')
    .nullish()
    .transform((v) => v ?? 1024 * 1024),
  /**
   * Which lines the caps (tail, max_bytes) keep: `newest` (default, a tail) or `oldest` (a page
   * from `since`; `truncated` then says more follows: read on from the last line's timestamp).
   */
  keep: z.enum(['newest', 'oldest'], { error: 'must be "newest" or "oldest"' }).nullish().transform((v) => v ?? 'newest'),
}).refine((p) => p.stdout || p.stderr, { message: 'at least one of stdout and stderr must be selected', path: ['stdout'] });

export const inspectParams = z.strictObject({ target });

export const waitParams = z.strictObject({
  target,
  /** How long to wait, in seconds (default 3600). */
  timeout: seconds(7 * 24 * 3600).nullish().transform((v) => v ?? 3600),
});

export type StopParams = z.output<typeof stopParams>;
export type RemoveParams = z.output<typeof removeParams>;
export type LogsParams = z.output<typeof logsParams>;
export type InspectParams = z.output<typeof inspectParams>;
export type WaitParams = z.output<typeof waitParams>;

/** Validate `input` against `schema`; a ValidationError names each offending field. */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw validationErrorOf(result.error, { unknownKey: 'is not a parameter' });
}
