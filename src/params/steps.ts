/**
 * Containers as workflow steps (issue 19): `files` written into the container before it starts,
 * and `result_path`, a file read back from it after it exits (`result_format`, `max_result_bytes`).
 *
 * Normal form of `files`: `{"/abs/path": {"content": "...", "encoding": "utf8" | "base64", "mode": 420}}`
 * or `{"/abs/path": {"secret": "name", "mode": 420}}`; it parses back to itself.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { FieldProblem, normalizedBy, secretReference } from './fields.js';

/** max_result_bytes unless set; where the policy's ceiling is lower, the ceiling. */
export const DEFAULT_MAX_RESULT_BYTES = 1024 * 1024;
/** The largest max_result_bytes a caller may ask for (the policy's ceiling is lower by default). */
export const MAX_RESULT_BYTES = 64 * 1024 * 1024;

/** Default mode of a written file: rw-r--r-- (readable by a container that runs as another user). */
export const DEFAULT_FILE_MODE = 0o644;
/** Linux PATH_MAX, less the NUL. */
const MAX_PATH_CHARS = 4095;
/** Where no file may be written: the kernel's filesystems (Docker mounts them over whatever is there). */
export const FORBIDDEN_FILE_ROOTS: readonly string[] = ['/proc', '/sys'];

export type FileEntry =
  | { content: string; encoding: 'utf8' | 'base64'; mode: number }
  | { secret: string; mode: number };

const quote = (value: unknown): string => JSON.stringify(value);

/**
 * An absolute path inside the container, written as it is meant (no `.` or `..` segment, no
 * `//`, no trailing `/`), not `/` itself, not under /proc or /sys.
 */
export function containerFilePath(path: string, what: string): string {
  if (path.length === 0 || path.length > MAX_PATH_CHARS) throw new FieldProblem(`${what} must be an absolute path of 1 to ${MAX_PATH_CHARS} characters`);
  if (!path.startsWith('/')) throw new FieldProblem(`${what} ${quote(path)} must be an absolute path (start with "/")`);
  const segments = path.split('/').slice(1);
  if (segments.some((s) => s === '..')) throw new FieldProblem(`${what} ${quote(path)} must not contain ".." (write the path it means)`);
  if (segments.some((s) => s === '.' || s === '') || path === '/') {
    throw new FieldProblem(`${what} ${quote(path)} must name a file: no "." segments, "//" or trailing "/"`);
  }
  if (posix.normalize(path) !== path) throw new FieldProblem(`${what} ${quote(path)} must be a normalized absolute path`);
  for (const root of FORBIDDEN_FILE_ROOTS) {
    if (path === root || path.startsWith(`${root}/`)) throw new FieldProblem(`${what} ${quote(path)} is under ${root}, which the kernel provides; choose another path`);
  }
  return path;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const fileMode = z
  .number({ error: 'must be a file mode as a number, e.g. 420 (0o644) or 384 (0o600)' })
  .int('must be a whole number (a file mode such as 420, which is 0o644)')
  .min(0, 'must be a file mode from 0 to 4095 (0o7777)')
  .max(0o7777, 'must be a file mode from 0 to 4095 (0o7777)');

const contentFile = z.strictObject({
  content: z.string({ error: 'must be a string (the file content; base64 with "encoding": "base64")' }),
  encoding: z.enum(['utf8', 'base64'], { error: 'must be "utf8" (the default) or "base64"' }).optional(),
  mode: fileMode.optional(),
});
const secretFile = secretReference.extend({ mode: fileMode.optional() });

const fileValue = z.union([z.string(), contentFile, secretFile], {
  error: 'must be the file content as a string, {"content": "...", "encoding": "base64", "mode": 420} or {"secret": "name"}',
});

export const files = z
  .record(z.string(), fileValue, { error: 'must be an object {"/path/in/container": "content" | {"content", "encoding", "mode"} | {"secret": "name"}}' })
  .transform(
    normalizedBy((input: Record<string, z.output<typeof fileValue>>): Record<string, FileEntry> => {
      const out: Record<string, FileEntry> = {};
      for (const [path, value] of Object.entries(input)) {
        try {
          containerFilePath(path, 'path');
        } catch (err) {
          throw new FieldProblem((err as Error).message, [path]);
        }
        if (typeof value === 'string') {
          out[path] = { content: value, encoding: 'utf8', mode: DEFAULT_FILE_MODE };
        } else if ('secret' in value) {
          out[path] = { secret: value.secret, mode: value.mode ?? DEFAULT_FILE_MODE };
        } else {
          const encoding = value.encoding ?? 'utf8';
          if (encoding === 'base64' && !BASE64.test(value.content)) {
            throw new FieldProblem('is not valid base64 (A-Z, a-z, 0-9, "+", "/", padded with "=")', [path, 'content']);
          }
          out[path] = { content: value.content, encoding, mode: value.mode ?? DEFAULT_FILE_MODE };
        }
      }
      return out;
    }),
  );

export const resultPath = z.string({ error: 'must be an absolute path in the container, e.g. "/out/result.json"' }).transform(
  normalizedBy((path: string) => containerFilePath(path, 'result_path')),
);

/** The bytes a file entry writes (a secret's are known only on the reconciler: 0 here). */
export function fileBytes(entry: FileEntry): number {
  if ('secret' in entry) return 0;
  if (entry.encoding === 'base64') {
    const padding = entry.content.endsWith('==') ? 2 : entry.content.endsWith('=') ? 1 : 0;
    return (entry.content.length / 4) * 3 - padding;
  }
  return Buffer.byteLength(entry.content, 'utf8');
}

/** The bytes of a file entry, for the archive: the content, or the resolved secret. */
export function fileContent(entry: FileEntry, secrets: Readonly<Record<string, string>>): Buffer {
  if ('secret' in entry) {
    const value = secrets[entry.secret];
    if (value === undefined) throw new Error(`secret "${entry.secret}" was not resolved`);
    return Buffer.from(value, 'utf8');
  }
  return Buffer.from(entry.content, entry.encoding === 'base64' ? 'base64' : 'utf8');
}

/** Is `path` at or beneath `dir`? */
export const isWithin = (path: string, dir: string): boolean => dir === '/' || path === dir || path.startsWith(`${dir}/`);

/** A mount of the spec (volumes, mounts, tmpfs) as `files` and `result_path` see it. */
export interface StepMount {
  target: string;
  kind: 'bind' | 'volume' | 'tmpfs';
  readOnly: boolean;
  /** The parameter that mounts it (for messages). */
  field: string;
}

export function mountsOf(spec: {
  volumes: { type: string; target: string; mode: string }[];
  mounts: { type: string; target: string; read_only: boolean }[];
  tmpfs: Record<string, unknown>;
}): StepMount[] {
  return [
    ...spec.volumes.map((v, i) => ({ target: v.target, kind: v.type as StepMount['kind'], readOnly: v.mode === 'ro', field: `volumes[${i}]` })),
    ...spec.mounts.map((m, i) => ({ target: m.target, kind: m.type as StepMount['kind'], readOnly: m.read_only, field: `mounts[${i}]` })),
    ...Object.keys(spec.tmpfs).map((target) => ({ target, kind: 'tmpfs' as const, readOnly: false, field: `tmpfs.${target}` })),
  ];
}

/** The deepest mount that holds `path`, if any. */
export function mountHolding(mounts: readonly StepMount[], path: string): StepMount | null {
  let best: StepMount | null = null;
  for (const m of mounts) {
    if (isWithin(path, m.target) && path !== m.target && (!best || m.target.length > best.target.length)) best = m;
  }
  return best;
}

/**
 * Why a file cannot be written at `path` before the container starts, or null: a tmpfs is mounted
 * at start (over the file); a read-only mount, or a read-only root filesystem outside any mount,
 * refuses the write (Docker's archive API says "rootfs is marked read-only").
 */
export function fileTargetProblem(path: string, mounts: readonly StepMount[], readOnlyRoot: boolean): string | null {
  const m = mountHolding(mounts, path);
  if (mounts.some((x) => x.target === path)) return `is a mount point (${mounts.find((x) => x.target === path)!.field}); name a file beneath it`;
  if (m?.kind === 'tmpfs') {
    return `is under the tmpfs ${m.target} (${m.field}), which Docker mounts when the container starts, over the file; write it to a volume (e.g. {"volumes": ["in:${m.target}"]}) or to the root filesystem`;
  }
  if (m?.readOnly) return `is under ${m.target}, mounted read-only (${m.field}); a file cannot be written there`;
  if (!m && readOnlyRoot) return `is on the root filesystem, which read_only makes read-only; write it under a volume (e.g. {"volumes": ["in:/in"]})`;
  return null;
}

// ---------------------------------------------------------------- services

/** The run parameters a service (sidecar) may set; the rest are the job's (network, labels) or make no sense for a sidecar. */
export const SERVICE_PARAMETERS = [
  'image', 'command', 'entrypoint', 'environment', 'healthcheck', 'user', 'working_dir', 'memory_limit', 'cpu_limit', 'pids_limit',
  'init', 'cap_add', 'cap_drop', 'read_only', 'tmpfs', 'stop_signal', 'pull_policy', 'max_output_bytes',
] as const;
const SERVICE_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const MAX_SERVICES = 8;
const MAX_READY_TIMEOUT_S = 600;

export interface ServiceSpec {
  name: string;
  /** Seconds from the service's start for it to be healthy (or running, without a healthcheck). */
  ready_timeout: number;
  /** The service's own parameters, normalized (a subset of a run's). */
  params: Record<string, unknown>;
}

/**
 * `services`: `[{"name", "image", "command", "environment", "healthcheck", "ready_timeout", ...}]`.
 * `parseService` parses one service's run parameters (injected: schema.ts parses them as a run's).
 */
export function servicesSchema(parseService: (params: Record<string, unknown>) => Record<string, unknown>) {
  return z.array(z.record(z.string(), z.unknown()), { error: 'must be a list of services [{"name", "image", ...}]' }).transform(
    normalizedBy((list: Record<string, unknown>[]): ServiceSpec[] => {
      if (list.length > MAX_SERVICES) throw new FieldProblem(`has ${list.length} services; at most ${MAX_SERVICES}`);
      const seen = new Set<string>();
      return list.map((raw, i) => {
        const { name, ready_timeout, params, ...rest } = raw as { name?: unknown; ready_timeout?: unknown; params?: unknown };
        if (typeof name !== 'string' || !SERVICE_NAME.test(name)) throw new FieldProblem('must be a service name: lower-case letters, digits, "_", ".", "-" (at most 63)', [i, 'name']);
        if (seen.has(name)) throw new FieldProblem(`"${name}" is already the name of another service`, [i, 'name']);
        seen.add(name);
        let readyTimeout = 30;
        if (ready_timeout !== undefined && ready_timeout !== null) {
          if (typeof ready_timeout !== 'number' || !Number.isFinite(ready_timeout) || ready_timeout <= 0 || ready_timeout > MAX_READY_TIMEOUT_S) {
            throw new FieldProblem(`must be seconds, more than 0 and at most ${MAX_READY_TIMEOUT_S}`, [i, 'ready_timeout']);
          }
          readyTimeout = ready_timeout;
        }
        // A stored (normalized) service keeps its parameters under `params`.
        const given = params !== undefined && params !== null && typeof params === 'object' ? (params as Record<string, unknown>) : rest;
        for (const key of Object.keys(given)) {
          if (!(SERVICE_PARAMETERS as readonly string[]).includes(key)) {
            throw new FieldProblem(`is not a service parameter (a service takes ${SERVICE_PARAMETERS.join(', ')}, name, ready_timeout; its network is the job's)`, [i, key]);
          }
        }
        let parsed: Record<string, unknown>;
        try {
          parsed = parseService(given);
        } catch (err) {
          throw new FieldProblem((err as Error).message, [i]);
        }
        const kept = Object.fromEntries(SERVICE_PARAMETERS.map((k) => [k, parsed[k]]));
        return { name, ready_timeout: readyTimeout, params: kept };
      });
    }),
  );
}
