/**
 * `--params FILE|-` of `run` and `cron add`: a JSON object of tools.docker.run parameters,
 * read from a file or standard input, bounded.
 */
import { open } from 'node:fs/promises';
import { ValidationError, errorMessage } from '../errors.js';
import { formatBytes } from '../params/bounds.js';

/**
 * The --params JSON, read up to `maxBytes` + 1 bytes and no further (`--params /dev/zero`
 * ends there), as well-formed UTF-8.
 */
export async function readParams(source: string | undefined, maxBytes: number): Promise<Record<string, unknown>> {
  if (!source) return {};
  let bytes: Buffer;
  try {
    bytes = source === '-' ? await readStdin(maxBytes + 1) : await readFileUpTo(source, maxBytes + 1);
  } catch (err) {
    throw new ValidationError([{ field: '--params', message: `cannot be read: ${errorMessage(err)}` }]);
  }
  if (bytes.length > maxBytes) {
    throw new ValidationError([{ field: '--params', message: `is more than ${formatBytes(maxBytes)}, the limit for parameters (policy max_params_bytes)` }]);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ValidationError([{ field: '--params', message: 'is not valid UTF-8' }]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ValidationError([{ field: '--params', message: `is not valid JSON: ${errorMessage(err)}` }]);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ValidationError([{ field: '--params', message: 'must be a JSON object of tools.docker.run parameters' }]);
  }
  return parsed as Record<string, unknown>;
}

/** A file's first `limit` bytes, never more (a device like /dev/zero ends there). */
export async function readFileUpTo(file: string, limit: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(limit);
    let length = 0;
    while (length < limit) {
      const { bytesRead } = await handle.read(buffer, length, limit - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

async function readStdin(limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length >= limit) break; // ends the stream: nothing more is read
  }
  return Buffer.concat(chunks).subarray(0, limit);
}
