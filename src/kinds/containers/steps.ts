/**
 * Containers as workflow steps (docs/steps.md), the reconciler's side:
 * - `files` are written into the created container right before its start (after the start
 *   claim): the same bytes each time, so a pass that repeats the write after a crash converges;
 * - `result_path` is read from the exited container before it is removed, in the collect that
 *   records its output (one row update: a crash before it leaves the container to read again).
 */
import { posix } from 'node:path';
import { TerminalError, HighwayError, errorMessage } from '../../errors.js';
import type { IntentRow, ResultError } from '../../model.js';
import type { ContainerClient } from '../../docker/client.js';
import { dockerMessage } from '../../docker/client.js';
import { readFirstFile, tarFiles, type TarFile } from '../../docker/archive.js';
import { DEFAULT_MAX_RESULT_BYTES, fileContent, mountHolding, mountsOf, type FileEntry } from '../../params/steps.js';
import type { RunSpec } from '../../params/schema.js';
import { stringProblem } from '../../params/bounds.js';
import { maskSecrets, type SecretResolver } from '../../secrets.js';

/** The `{"secret"}` files of a stored spec, resolved for the intent (at start, and to mask the output). */
export async function fileSecrets(spec: Record<string, unknown>, resolve: SecretResolver, intent: Pick<IntentRow, 'id' | 'tenant_id'>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [path, entry] of Object.entries((spec['files'] ?? {}) as Record<string, FileEntry>)) {
    if (!entry || typeof entry !== 'object' || typeof (entry as { secret?: unknown }).secret !== 'string') continue;
    const name = (entry as { secret: string }).secret;
    if (name in out) continue;
    try {
      out[name] = await resolve(name, intent);
    } catch (err) {
      if (err instanceof HighwayError) {
        // The provider speaks of environment values; this reference is a file's.
        throw new TerminalError(err.code, `files[${JSON.stringify(path)}]: ${err.message.replace(/^environment: /, '')}`, { cause: err });
      }
      throw err;
    }
  }
  return out;
}

/** uid and gid of the files: the run's numeric `user` ("1000" or "1000:1000"), else root. */
function ownerOf(user: string | null): { uid: number; gid: number } {
  const m = user ? /^(\d+)(?::(\d+))?$/.exec(user) : null;
  if (!m) return { uid: 0, gid: 0 };
  const uid = Number(m[1]);
  return { uid, gid: m[2] !== undefined ? Number(m[2]) : uid };
}

/**
 * Write the run's `files` into the (created, not started) container: one archive per mount that
 * holds some of them (a read-only root filesystem accepts writes only into its volumes), the rest
 * at `/`. Docker makes missing parent directories (0755, root).
 */
export async function writeFiles(docker: ContainerClient, spec: RunSpec, containerId: string, secrets: Readonly<Record<string, string>>): Promise<number> {
  const entries = Object.entries(spec.files);
  if (entries.length === 0) return 0;
  const mounts = mountsOf(spec).filter((m) => m.kind !== 'tmpfs');
  const { uid, gid } = ownerOf(spec.user);
  const byRoot = new Map<string, TarFile[]>();
  let bytes = 0;
  for (const [path, entry] of entries) {
    const root = mountHolding(mounts, path)?.target ?? '/';
    const content = fileContent(entry, secrets);
    bytes += content.length;
    const list = byRoot.get(root) ?? [];
    list.push({ name: posix.relative(root, path), content, mode: entry.mode, uid, gid });
    byRoot.set(root, list);
  }
  for (const [root, list] of byRoot) await docker.putArchive(containerId, root, tarFiles(list));
  return bytes;
}

export interface CollectedResult {
  result: unknown;
  result_error: ResultError | null;
}

/**
 * Read `result_path` from the container (an exited run's, or a running one's after an exec
 * ended): `spec` holds `result_path`, `result_format` and `max_result_bytes` (a run's or an
 * exec's parameters). Null when it has none. Throws only when the daemon is unavailable (the
 * pass is retried).
 */
export async function readResult(
  docker: ContainerClient,
  spec: Record<string, unknown>,
  containerId: string,
  secrets: readonly string[],
  ceiling: number,
): Promise<CollectedResult | null> {
  const path = spec['result_path'];
  if (typeof path !== 'string') return null;
  const format = spec['result_format'] === 'text' ? 'text' : 'json';
  // The policy's ceiling applies to the default (and to a row written past the tool).
  const asked = typeof spec['max_result_bytes'] === 'number' && spec['max_result_bytes'] > 0 ? spec['max_result_bytes'] : DEFAULT_MAX_RESULT_BYTES;
  const max = Math.min(asked, ceiling);
  const fail = (code: ResultError['code'], message: string): CollectedResult => ({ result: null, result_error: { code, message: `result_path ${JSON.stringify(path)}: ${message}` } });
  let read;
  try {
    read = await docker.readArchive(containerId, path, (stream) => readFirstFile(stream, max));
  } catch (err) {
    if (err instanceof HighwayError && err.code === 'docker_unavailable') throw err;
    if (err instanceof HighwayError && err.code === 'not_found') return fail('missing', 'no such file in the container (it did not write one)');
    return fail('unreadable', `could not be read: ${dockerMessage(err) || errorMessage(err)}`);
  }
  if (read === null) return fail('unreadable', 'could not be read: the container is gone');
  if (read.kind === 'too_large') return fail('too_large', `is ${read.size} bytes, more than max_result_bytes (${max})`);
  if (read.kind === 'not_a_file') return fail('not_a_file', `is ${read.type}, not a regular file`);
  const text = maskSecrets(read.content.toString('utf8'), secrets);
  if (format === 'text') {
    const problem = stringProblem(text);
    return problem ? fail('unstorable', `${problem}; return binary data base64-encoded`) : { result: text, result_error: null };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail('invalid_json', `is not valid JSON (${errorMessage(err)}); write JSON, or set result_format "text"`);
  }
  const problem = unstorable(value);
  return problem ? fail('unstorable', `${problem}; PostgreSQL cannot store it`) : { result: value, result_error: null };
}

/** A string (value or key) in a parsed JSON value that jsonb cannot hold (NUL, a lone surrogate). */
function unstorable(value: unknown): string | null {
  if (typeof value === 'string') return stringProblem(value) ? `holds a string that ${stringProblem(value)!.replace(/, which cannot be stored$/, '')}` : null;
  if (Array.isArray(value)) {
    for (const item of value) {
      const p = unstorable(item);
      if (p) return p;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = unstorable(k) ?? unstorable(v);
      if (p) return p;
    }
  }
  return null;
}
