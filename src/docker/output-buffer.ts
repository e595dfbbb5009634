/**
 * The one pipeline every output read goes through (a container's output at its end, an exec's
 * output, a logs read): Docker's multiplexed frames are split by stream (LogDemuxer), secret
 * values are masked as the bytes flow (SecretMasker: before anything is cut, so a secret that
 * straddles a cut cannot leak its tail), and what is kept is bounded by its cap (TailBuffer for
 * bytes; LineWindow for log lines). Memory is the cap, whatever the stream's size.
 */
import { isUtf8 } from 'node:buffer';
import { SECRET_MASK, maskableSecrets } from '../secrets.js';

/** Anything bytes are written to. */
export interface ByteSink {
  write(chunk: Buffer): void;
}

/** The first allocation of a tail buffer (small outputs); past it, the buffer is its limit. */
const FIRST = 64 * 1024;

/**
 * Keeps the last `limit` bytes written to it (the tail of a stream: where errors are), and says
 * whether anything was cut. One buffer: 64 KiB, then (once more was written) `limit` bytes, used
 * as a ring once full: writing more allocates nothing, and the kept bytes are
 * handed out without a copy (`takeBuffer`: the ring is turned in place so they start at 0).
 */
export class TailBuffer implements ByteSink {
  private buf: Buffer | null = null;
  /** Where the oldest kept byte is (non-zero only once the ring is full and wrapped). */
  private start = 0;
  private held = 0;
  private seen = 0;

  constructor(private readonly limit: number) {}

  write(chunk: Buffer): void {
    this.seen += chunk.length;
    if (this.limit === 0 || chunk.length === 0) return;
    // Only the chunk's own tail can matter (and never keep a view into the caller's buffer).
    const data = chunk.length > this.limit ? chunk.subarray(chunk.length - this.limit) : chunk;
    if (this.held + data.length <= this.limit) {
      this.ensure(this.held + data.length);
      data.copy(this.buf!, this.held);
      this.held += data.length;
      return;
    }
    // Full from now on: the buffer is exactly `limit` bytes, a ring whose oldest byte is at `start`.
    this.ensure(this.limit);
    const buf = this.buf!;
    // The bytes after the kept ones (free space first, then the oldest) take the new ones.
    let at = (this.start + this.held) % this.limit;
    let rest = data;
    while (rest.length > 0) {
      const n = Math.min(rest.length, this.limit - at);
      rest.copy(buf, at, 0, n);
      rest = rest.subarray(n);
      at = (at + n) % this.limit;
    }
    const over = this.held + data.length - this.limit;
    this.held = this.limit;
    this.start = (this.start + over) % this.limit;
  }

  /** A buffer of at least `size` bytes (at most `limit`), keeping what it holds. */
  private ensure(size: number): void {
    if (this.buf && this.buf.length >= size) return;
    // Past FIRST, the whole limit at once: growing by doubling would leave up to the limit again
    // as garbage (external memory, freed only by a later full GC); pages not yet written to are
    // not resident (an uninitialised allocation), so a short output costs what it wrote.
    const n = size <= FIRST ? Math.min(FIRST, this.limit) : this.limit;
    const next = Buffer.allocUnsafeSlow(n);
    if (this.buf) this.buf.copy(next, 0, 0, this.held); // not wrapped: only a full ring wraps
    this.buf = next;
  }

  get truncated(): boolean {
    return this.seen > this.limit;
  }

  get totalBytes(): number {
    return this.seen;
  }

  /** A copy of the kept bytes. */
  toBuffer(): Buffer {
    if (!this.buf || this.held === 0) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(this.held);
    const first = Math.min(this.held, this.buf.length - this.start);
    this.buf.copy(out, 0, this.start, this.start + first);
    if (first < this.held) this.buf.copy(out, first, 0, this.held - first);
    return out;
  }

  /** The kept bytes without a copy (the ring turned in place), letting go of them: the buffer is the caller's. */
  takeBuffer(): Buffer {
    const buf = this.buf;
    const held = this.held;
    const start = this.start;
    this.release();
    if (!buf || held === 0) return Buffer.alloc(0);
    if (start !== 0) {
      // Rotate left by `start` with three reversals: no second buffer.
      buf.subarray(0, start).reverse();
      buf.subarray(start, held).reverse();
      buf.subarray(0, held).reverse();
    }
    return buf.subarray(0, held);
  }

  /** The kept bytes as text. Invalid UTF-8 (or a code point cut at the start) becomes U+FFFD; NUL, which PostgreSQL text cannot hold, too. */
  toString(): string {
    return bufferText(this.toBuffer());
  }

  /** The kept bytes as text (as toString), letting go of them first: one copy of the tail at a time. */
  takeString(): string {
    return bufferText(this.takeBuffer());
  }

  /** The kept bytes for a text column (rowText), letting go of them first. */
  takeRowText(): RowText {
    return rowText(this.takeBuffer());
  }

  /** Let go of the kept bytes (after they were read): a finished read holds nothing. */
  release(): void {
    this.buf = null;
    this.start = this.held = 0;
  }
}

/**
 * Output for a text column: the bytes themselves when they are valid UTF-8 without NUL (node-postgres
 * sends a Buffer as it is, PostgreSQL's binary form of text: no JS string, no encoding pass), else
 * the text as bufferText makes it. Either way the column holds the same text.
 */
export type RowText = string | Buffer;

export function rowText(buf: Buffer): RowText {
  return isUtf8(buf) && !buf.includes(0) ? buf : bufferText(buf);
}

/** Bytes as text: invalid UTF-8 becomes U+FFFD, NUL (which PostgreSQL text cannot hold) too. */
export function bufferText(buf: Buffer): string {
  const text = buf.toString('utf8');
  return buf.includes(0) ? text.replaceAll('\u0000', '\uFFFD') : text;
}

/**
 * Replaces every secret value in a byte stream by `***` before passing it on, whatever the
 * chunking: up to (longest secret - 1) bytes are held back until it is known whether they start
 * a secret. `end()` flushes them. Longest value first where several match at one place.
 */
export class SecretMasker implements ByteSink {
  private readonly values: Buffer[];
  private readonly longest: number;
  private carry: Buffer = Buffer.alloc(0);

  constructor(secrets: readonly string[], private readonly next: ByteSink) {
    this.values = maskableSecrets(secrets).map((v) => Buffer.from(v));
    this.longest = Math.max(0, ...this.values.map((v) => v.length));
  }

  write(chunk: Buffer): void {
    if (this.values.length === 0) return this.next.write(chunk);
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    // A match is decided only where the longest value would fit in what we have.
    const decidable = buf.length - this.longest + 1;
    const from = this.emit(buf, decidable);
    this.carry = Buffer.from(buf.subarray(from));
  }

  end(): void {
    if (this.carry.length) this.emit(this.carry, this.carry.length);
    this.carry = Buffer.alloc(0);
  }

  /** Pass on `buf` masked, deciding matches that start before `limit`; returns where it stopped. */
  private emit(buf: Buffer, limit: number): number {
    let pos = 0;
    while (pos < limit) {
      let at = -1;
      let len = 0;
      for (const v of this.values) {
        const i = buf.indexOf(v, pos);
        if (i === -1 || i >= limit || i + v.length > buf.length) continue;
        if (at === -1 || i < at || (i === at && v.length > len)) {
          at = i;
          len = v.length;
        }
      }
      if (at === -1) break;
      if (at > pos) this.next.write(buf.subarray(pos, at));
      this.next.write(MASK);
      pos = at + len;
    }
    const stop = Math.max(pos, limit);
    if (stop > pos) this.next.write(buf.subarray(pos, Math.min(stop, buf.length)));
    return Math.min(stop, buf.length);
  }
}

const MASK = Buffer.from(SECRET_MASK);

export type StreamName = 'stdout' | 'stderr';

/**
 * Splits Docker's multiplexed (non-TTY) log stream into stdout and stderr.
 * Each frame is an 8-byte header [stream, 0, 0, 0, size (uint32 BE)] and `size` bytes of payload;
 * frames may be split across chunks in any way. Each whole frame goes to its stream's sink (or to
 * `onFrame`); a payload is a view that is only valid during the call (sinks copy what they keep).
 */
export class LogDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  private readonly onFrame: (stream: StreamName, payload: Buffer) => void;

  constructor(sinks: { stdout: ByteSink; stderr: ByteSink } | ((stream: StreamName, payload: Buffer) => void)) {
    this.onFrame = typeof sinks === 'function' ? sinks : (stream, payload) => sinks[stream].write(payload);
  }

  write(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      this.onFrame(buf[0] === 2 ? 'stderr' : 'stdout', buf.subarray(8, 8 + size));
      buf = buf.subarray(8 + size);
    }
    this.pending = Buffer.from(buf);
  }
}

/** One log line of a container, with Docker's timestamp. */
export interface LogLine {
  stream: StreamName;
  /** Docker's RFC 3339 timestamp (nanoseconds). */
  timestamp: string;
  /** The line, with its newline when it had one. */
  text: string;
}

/** Which lines a capped read keeps: the newest (a tail) or the oldest (a page, read on from its last timestamp). */
export type KeepLines = 'newest' | 'oldest';

/**
 * The lines of a timestamped log read, bounded: at most `maxLines` and `maxBytes` (text, plus
 * timestamps when `countTimestamps`), the newest or the oldest ones. `full` says an `oldest`
 * window will take no more (the read can stop); `truncated` that a line was left out.
 */
export class LineWindow {
  private lines: LogLine[] = [];
  private first = 0;
  private bytes = 0;
  truncated = false;
  full = false;

  constructor(private readonly o: { maxBytes: number; maxLines: number; keep: KeepLines; countTimestamps: boolean }) {}

  add(line: LogLine): void {
    const size = Buffer.byteLength(line.text) + (this.o.countTimestamps ? line.timestamp.length + 1 : 0);
    if (this.o.keep === 'oldest') {
      if (this.full || this.lines.length >= this.o.maxLines || this.bytes + size > this.o.maxBytes) {
        this.truncated = this.full = true;
        return;
      }
      this.lines.push(line);
      this.bytes += size;
      return;
    }
    this.lines.push(line);
    this.bytes += size;
    while (this.lines.length - this.first > this.o.maxLines || this.bytes > this.o.maxBytes) {
      const dropped = this.lines[this.first++]!;
      this.bytes -= Buffer.byteLength(dropped.text) + (this.o.countTimestamps ? dropped.timestamp.length + 1 : 0);
      this.truncated = true;
    }
    // Compact now and then, so dropped lines are let go.
    if (this.first > 1024 && this.first * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.first);
      this.first = 0;
    }
  }

  result(): LogLine[] {
    return this.lines.slice(this.first);
  }
}

/** A frame of a timestamped log read to lines ("<RFC 3339> <text>"; a frame may hold several lines). */
export function framePayloadLines(stream: StreamName, payload: Buffer): LogLine[] {
  const lines: LogLine[] = [];
  for (const piece of payload.toString('utf8').split(/(?<=\n)/)) {
    if (piece === '') continue;
    const space = piece.indexOf(' ');
    lines.push({ stream, timestamp: space > 0 ? piece.slice(0, space) : '', text: space > 0 ? piece.slice(space + 1) : piece });
  }
  return lines;
}
