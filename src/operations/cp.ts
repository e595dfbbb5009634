/**
 * tools.docker.cp: copy a file or a directory out of a container, running or kept (ended, not
 * removed), read on its host through Docker's archive API. Bounded by `max_bytes` (default
 * 64 MiB, never above the policy's max_output_bytes); tenant-checked like every tool. A single
 * file comes back as its bytes (base64), anything else (a directory, a link) as a tar (base64);
 * `format: "tar"` asks for a tar either way. Rerun-safe (a read).
 *
 * CLI: `cp [--tenant T] TARGET:PATH DEST` writes the file, extracts the directory, or with DEST
 * `-` writes the tar to standard output, as `docker cp` does.
 */
import { lstat, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { collectTar } from '../docker/archive.js';
import { HighwayError, ValidationError } from '../errors.js';
import * as field from '../params/fields.js';
import { target } from '../params/operations.js';
import { checkLogsPolicy } from '../params/policy.js';
import { defineOperation, type CliInput } from './definition.js';

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** base64 of it (and its tar headers) stays under PostgreSQL's 256 MiB limit on a jsonb string. */
const MAX_MAX_BYTES = 128 * 1024 * 1024;
/** Tar headers and padding the archive may carry beyond the content it bounds. */
const TAR_OVERHEAD_BYTES = 64 * 1024;

export const cpParams = z.strictObject({
  target,
  /** An absolute path inside the container. */
  path: z
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
    .max(4096, 'must be at most 4096 characters')
    .refine((p) => !p.includes('\0'), 'must not contain a NUL character')
    .refine((p) => p.startsWith('/'), 'must be an absolute path in the container, such as "/etc/hostname"')
    .transform((p) => (p === '/' ? p : path.posix.normalize(p).replace(/(.)\/$/, '$1'))),
  /** `auto` (default): a single file as its bytes, anything else as a tar; `tar`: a tar always. */
  format: z.enum(['auto', 'tar'], { error: 'must be "auto" or "tar"' }).nullish().transform((v) => v ?? 'auto'),
  /** At most this many bytes of content (default 64m, or the policy's max_output_bytes when lower). */
  max_bytes: field.size
    .refine((n) => n > 0 && n <= MAX_MAX_BYTES, 'must be more than 0 and at most 128m')
    .nullish()
    .transform((v) => v ?? null),
});

export type CpParams = z.output<typeof cpParams>;

export interface CpResult {
  intent_id: string;
  container_id: string;
  /** The path copied (normalized). */
  path: string;
  /** The copied entry's own name (the last part of the path). */
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  /** `bytes`: content_base64 is the file's content; `tar`: it is a tar archive holding `name`. */
  format: 'bytes' | 'tar';
  /** Bytes of content (a file's size; for a tar, the sum of the regular files in it). */
  size_bytes: number;
  /** The entry's permission bits (e.g. 420 = 0644). */
  mode: number;
  /** For a link: where it points. */
  link_target: string | null;
  content_base64: string;
}

export const cpOperation = defineOperation({
  name: 'cp',
  tool: 'tools.docker.cp',
  schema: cpParams,
  rerunSafe: true,
  transientResult: ['content_base64'],
  checkPolicy: (p, policy) => {
    if (p.max_bytes !== null) checkLogsPolicy({ max_bytes: p.max_bytes }, policy);
  },

  async call({ intent, operate, raise, policy, call }, p): Promise<CpResult> {
    if (!intent.container_id || intent.removed_at) {
      throw new HighwayError('not_found', `the container of intent ${intent.id} was removed (it is ${intent.status}); there is nothing to copy from`);
    }
    const maxBytes = p.max_bytes ?? Math.min(DEFAULT_MAX_BYTES, policy.max_output_bytes);
    call.note({ path: p.path, max_bytes: maxBytes });
    const op = await operate({ ...p, max_bytes: maxBytes }, 180_000);
    if (op.status !== 'done') raise(op);
    return { intent_id: intent.id, container_id: intent.container_id, ...(op.result as Omit<CpResult, 'intent_id' | 'container_id'>) };
  },

  async perform(ctx, _op, intent, p) {
    const maxBytes = p.max_bytes ?? DEFAULT_MAX_BYTES;
    const tar = intent.container_id ? await ctx.docker.readArchive(intent.container_id, p.path, (stream) => collectTar(stream, maxBytes + TAR_OVERHEAD_BYTES, p.path)) : null;
    if (!tar) throw new HighwayError('not_found', `the container of intent ${intent.id} does not exist any more`);
    const entries = tarEntries(tar);
    const first = entries[0];
    if (!first) throw new HighwayError('internal', `Docker gave an empty archive for ${p.path}`);
    const size = entries.reduce((n, e) => n + (e.type === 'file' ? e.data.length : 0), 0);
    if (size > maxBytes) throw new HighwayError('too_large', `${p.path} holds ${size} bytes, more than max_bytes (${maxBytes}); copy less, or raise max_bytes`);
    const single = entries.length === 1 && first.type === 'file' && p.format === 'auto';
    const result: Omit<CpResult, 'intent_id' | 'container_id'> = {
      path: p.path,
      name: first.name.split('/')[0] ?? first.name,
      type: first.type,
      format: single ? 'bytes' : 'tar',
      size_bytes: size,
      mode: first.mode & 0o7777,
      link_target: first.type === 'symlink' ? first.linkname : null,
      content_base64: (single ? first.data : tar).toString('base64'),
    };
    ctx.logger.info(
      { event: 'container.copied_from', intent_id: intent.id, tenant_id: intent.tenant_id, container_id: intent.container_id, path: p.path, type: result.type, size_bytes: size },
      `copied ${p.path} out of the container`,
    );
    return { status: 'done', result };
  },

  cli: {
    command: 'cp',
    description: 'copy a file or directory out of a container (running, or ended and kept) to DEST; DEST - writes a tar to stdout',
    arguments: [
      { syntax: '<source>', description: 'TARGET:PATH (TARGET an intent id or container id, PATH absolute in the container)' },
      { syntax: '<dest>', description: 'a file or directory path here, or - for a tar stream on stdout' },
    ],
    options: [{ flags: '--max-bytes <size>', description: 'copy at most this much (default 64m)' }],
    params: ({ args: [source, dest], opts }) => {
      const text = String(source);
      const colon = text.indexOf(':');
      if (colon <= 0) throw new ValidationError([{ field: 'TARGET:PATH', message: `${JSON.stringify(text.slice(0, 80))} is not TARGET:PATH (e.g. 3f2a9c1b:/etc/hostname)` }]);
      return {
        target: text.slice(0, colon),
        path: text.slice(colon + 1),
        ...(dest === '-' ? { format: 'tar' } : {}),
        ...(opts['maxBytes'] !== undefined ? { max_bytes: opts['maxBytes'] } : {}),
      };
    },
    async print(r, input) {
      const written = await writeDest(r, input);
      if (written) process.stderr.write(`copied ${r.size_bytes} bytes to ${written}\n`);
    },
    // --json: DEST is written all the same; the document says what was copied, without the bytes.
    async json(r, input) {
      const written = await writeDest(r, input);
      const { content_base64: _content, ...rest } = r;
      return { ...rest, dest: written ?? '-' };
    },
  },
});

/** Write what was copied to DEST (as `docker cp` does); returns where, or null for stdout. */
async function writeDest(r: CpResult, { args: [, dest] }: CliInput): Promise<string | null> {
  const content = Buffer.from(r.content_base64, 'base64');
  if (dest === '-') {
    process.stdout.write(content);
    return null;
  }
  const to = path.resolve(String(dest));
  const existing = await lstat(to).catch(() => null);
  if (r.format === 'bytes') {
    const file = existing?.isDirectory() ? path.join(to, r.name) : to;
    await writeFile(file, content, { mode: r.mode & 0o777 });
    return file;
  }
  if (existing && !existing.isDirectory()) throw new HighwayError('invalid_params', `DEST: ${to} exists and is not a directory; a ${r.type} goes into a directory`);
  // Into an existing directory: DEST/NAME; to a new path: the entry becomes DEST.
  await extract(tarEntries(content), existing ? to : path.dirname(to), existing ? null : path.basename(to));
  return existing ? path.join(to, r.name) : to;
}

/** Extract entries under `dir`, their first part renamed to `rename` when given. Links last: nothing is written through one. */
export async function extract(entries: TarEntry[], dir: string, rename: string | null): Promise<void> {
  const links: TarEntry[] = [];
  const where = (name: string): string => {
    const parts = name.split('/').filter((s) => s !== '' && s !== '.');
    if (parts.length === 0 || parts.some((s) => s === '..')) throw new HighwayError('invalid_params', `the archive holds an unsafe name: ${JSON.stringify(name)}`);
    if (rename !== null) parts[0] = rename;
    return path.join(dir, ...parts);
  };
  for (const e of entries) {
    const to = where(e.name);
    if (e.type === 'directory') await mkdir(to, { recursive: true, mode: (e.mode & 0o777) | 0o700 });
    else if (e.type === 'file') {
      await mkdir(path.dirname(to), { recursive: true });
      await writeFile(to, e.data, { mode: e.mode & 0o777 });
    } else if (e.type === 'symlink') links.push(e);
  }
  for (const e of links) {
    const to = where(e.name);
    await mkdir(path.dirname(to), { recursive: true });
    await symlink(e.linkname, to);
  }
}

export interface TarEntry {
  name: string;
  type: CpResult['type'];
  mode: number;
  linkname: string;
  data: Buffer;
}

/** The entries of a tar (ustar, with PAX and GNU long names, as Docker writes them); hard links carry their target's bytes. */
export function tarEntries(tar: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  const byName = new Map<string, Buffer>();
  let pax: Record<string, string> = {};
  let longName: string | null = null;
  let longLink: string | null = null;
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const text = (from: number, to: number) => {
      const raw = h.subarray(from, to);
      const end = raw.indexOf(0);
      return raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
    };
    const octal = (from: number, to: number) => parseInt(text(from, to).trim() || '0', 8);
    const size = Number(pax['size'] ?? octal(124, 136));
    const flag = String.fromCharCode(h[156] || 0x30);
    const data = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (flag === 'x') {
      pax = parsePax(data);
      continue;
    }
    if (flag === 'g') continue;
    if (flag === 'L' || flag === 'K') {
      const value = data.toString('utf8').replace(/\0+$/, '');
      if (flag === 'L') longName = value;
      else longLink = value;
      continue;
    }
    const prefix = h.subarray(257, 263).toString('latin1') === 'ustar\0' ? text(345, 500) : ''; // POSIX ustar (GNU's has no prefix field)
    const name = (pax['path'] ?? longName ?? (prefix ? `${prefix}/${text(0, 100)}` : text(0, 100))).replace(/^\.\//, '');
    const linkname = pax['linkpath'] ?? longLink ?? text(157, 257);
    pax = {};
    longName = longLink = null;
    const mode = octal(100, 108);
    const bare = name.replace(/\/$/, '');
    if (flag === '0' || flag === '\0' || flag === '7') {
      byName.set(bare, data);
      out.push({ name: bare, type: 'file', mode, linkname: '', data });
    } else if (flag === '1') {
      out.push({ name: bare, type: 'file', mode, linkname: '', data: byName.get(linkname.replace(/\/$/, '')) ?? Buffer.alloc(0) });
    } else if (flag === '5') out.push({ name: bare, type: 'directory', mode, linkname: '', data: Buffer.alloc(0) });
    else if (flag === '2') out.push({ name: bare, type: 'symlink', mode, linkname, data: Buffer.alloc(0) });
    else out.push({ name: bare, type: 'other', mode, linkname: '', data: Buffer.alloc(0) });
  }
  return out;
}

/** PAX records: "LEN key=value\n". */
function parsePax(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  for (let i = 0; i < data.length; ) {
    const space = data.indexOf(0x20, i);
    if (space < 0) break;
    const len = parseInt(data.subarray(i, space).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = data.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return records;
}
