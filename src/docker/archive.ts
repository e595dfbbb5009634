/**
 * The little of the tar format Docker's archive API needs (PUT and GET
 * /containers/{id}/archive): write regular files (ustar, a PAX header for long names), and
 * consume what a GET returns (ContainerClient.readArchive), bounded as it streams: the whole
 * archive (collectTar, for cp) or the one file of a file path (readFirstFile, for a result file).
 */
import { HighwayError } from '../errors.js';

/** The tar stream of a GET /containers/{id}/archive. */
export type ArchiveStream = NodeJS.ReadableStream & { destroy(): void };

export interface TarFile {
  /** Relative to the directory the archive is extracted in (no leading "/"). */
  name: string;
  content: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, size: number, mode: number, uid: number, gid: number, type: '0' | 'x', mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode & 0o7777, 8), 100, 8, 'ascii');
  h.write(octal(uid, 8), 108, 8, 'ascii');
  h.write(octal(gid, 8), 116, 8, 'ascii');
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(mtime, 12), 136, 12, 'ascii');
  h.fill(' ', 148, 156); // checksum field counts as spaces
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

const padding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK, 0);

/** A PAX record "<len> path=<name>\n", its length counting itself. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`, 'utf8');
}

/** A tar archive of regular files (parents are made by Docker's extraction, 0755 root). */
export function tarFiles(files: readonly TarFile[], mtime = Math.floor(Date.now() / 1000)): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    let name = f.name;
    if (Buffer.byteLength(name) > 100) {
      const pax = paxRecord('path', name);
      parts.push(header('PaxHeader', pax.length, 0o644, 0, 0, 'x', mtime), pax, padding(pax.length));
      name = name.slice(0, 99);
    }
    parts.push(header(name, f.content.length, f.mode, f.uid, f.gid, '0', mtime), f.content, padding(f.content.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

export type ReadFileResult =
  | { kind: 'file'; content: Buffer }
  | { kind: 'too_large'; size: number }
  | { kind: 'not_a_file'; type: string };

const TYPE_NAMES: Record<string, string> = { '1': 'a hard link', '2': 'a symbolic link', '3': 'a character device', '4': 'a block device', '5': 'a directory', '6': 'a FIFO' };

/**
 * The first regular file of a tar stream, at most `maxBytes` (a larger one stops the read:
 * only its size is known). PAX and GNU long-name headers before it are skipped.
 */
export function readFirstFile(stream: NodeJS.ReadableStream & { destroy?: () => void }, maxBytes: number): Promise<ReadFileResult> {
  return new Promise<ReadFileResult>((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    let want: { size: number; skip: boolean } | null = null;
    let done = false;
    const finish = (r: ReadFileResult | Error) => {
      if (done) return;
      done = true;
      stream.removeAllListeners('data');
      stream.destroy?.();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    const step = (): void => {
      for (;;) {
        if (want) {
          const padded = want.size + ((BLOCK - (want.size % BLOCK)) % BLOCK);
          if (buffered.length < (want.skip ? padded : want.size)) return;
          if (!want.skip) return finish({ kind: 'file', content: Buffer.from(buffered.subarray(0, want.size)) });
          buffered = buffered.subarray(padded);
          want = null;
          continue;
        }
        if (buffered.length < BLOCK) return;
        const h = buffered.subarray(0, BLOCK);
        buffered = buffered.subarray(BLOCK);
        if (h.every((b) => b === 0)) return finish(new Error('the archive holds no file'));
        const type = String.fromCharCode(h[156] || 0x30);
        const sizeField = h.subarray(124, 136);
        // Base-256 (GNU) sizes have the high bit set: only for files of 8 GiB or more.
        const size = (sizeField[0]! & 0x80) !== 0 ? Number.MAX_SAFE_INTEGER : parseInt(sizeField.toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
        if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
          want = { size, skip: true };
          continue;
        }
        if (type !== '0' && type !== '\0' && type !== '7') return finish({ kind: 'not_a_file', type: TYPE_NAMES[type] ?? `entry type ${JSON.stringify(type)}` });
        if (size > maxBytes) return finish({ kind: 'too_large', size });
        want = { size, skip: false };
      }
    };
    stream.on('data', (chunk: Buffer) => {
      if (done) return;
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : Buffer.from(chunk);
      step();
    });
    stream.on('end', () => finish(new Error('the archive ended early')));
    stream.on('error', (err: Error) => finish(err));
  });
}

/** The whole archive, at most `maxBytes` (more: a `too_large` error, the read stopped). */
export function collectTar(stream: ArchiveStream, maxBytes: number, what: string): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        stream.destroy();
        reject(new HighwayError('too_large', `${what} is larger than max_bytes (${maxBytes} bytes); copy less, or raise max_bytes`));
        return;
      }
      chunks.push(chunk);
    });
    const done = () => resolve(Buffer.concat(chunks));
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', reject);
  });
}
