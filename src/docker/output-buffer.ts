/**
 * The one pipeline every output read goes through (a container's output at its end, an exec's
 * output, a logs read): Docker's multiplexed frames are split by stream (LogDemuxer), secret
 * values are masked as the bytes flow (SecretMasker: before anything is cut, so a secret that
 * straddles a cut cannot leak its tail), and what is kept is bounded by its cap (TailBuffer for
 * bytes; LineWindow for log lines). Memory is the cap plus one block, whatever the stream's size.
 */
import { SECRET_MASK, maskableSecrets } from '../secrets.js';

/** Anything bytes are written to. */
export interface ByteSink {
  write(chunk: Buffer): void;
}

/** Bytes are copied into blocks of this size (so many tiny writes do not each hold an allocation). */
const BLOCK = 64 * 1024;

/**
 * Keeps the last `limit` bytes written to it (the tail of a stream: where errors are), and says
 * whether anything was cut. Holds at most `limit` plus one block (64 KiB) at any time: old blocks
 * are dropped as soon as the bytes after them cover the limit.
 */
export class TailBuffer implements ByteSink {
  /** Full blocks (oldest first), then the block being filled. */
  private blocks: Buffer[] = [];
  /** Bytes used in the last block. */
  private fill = 0;
  /** Bytes of the first block that are no longer part of the tail. */
  private skip = 0;
  private held = 0;
  private seen = 0;

  constructor(private readonly limit: number) {}

  write(chunk: Buffer): void {
    this.seen += chunk.length;
    if (this.limit === 0 || chunk.length === 0) return;
    // Only the chunk's own tail can matter (and never keep a view into the caller's buffer).
    let data = chunk.length > this.limit ? chunk.subarray(chunk.length - this.limit) : chunk;
    const blockSize = Math.min(BLOCK, this.limit);
    while (data.length > 0) {
      let last = this.blocks[this.blocks.length - 1];
      if (!last || this.fill === last.length) {
        last = Buffer.allocUnsafeSlow(blockSize);
        this.blocks.push(last);
        this.fill = 0;
      }
      const n = Math.min(data.length, last.length - this.fill);
      data.copy(last, this.fill, 0, n);
      this.fill += n;
      this.held += n;
      data = data.subarray(n);
      this.trim();
    }
  }

  /** Drop what lies before the last `limit` bytes: whole blocks, and a start offset in the first. */
  private trim(): void {
    let excess = this.held - this.limit;
    while (excess > 0 && this.blocks.length > 1) {
      const first = this.blocks[0]!.length - this.skip;
      if (first > excess) break;
      this.blocks.shift();
      this.skip = 0;
      this.held -= first;
      excess -= first;
    }
    if (excess > 0) {
      this.skip += excess;
      this.held -= excess;
    }
  }

  get truncated(): boolean {
    return this.seen > this.limit;
  }

  get totalBytes(): number {
    return this.seen;
  }

  toBuffer(): Buffer {
    const parts = this.blocks.map((b, i) => b.subarray(i === 0 ? this.skip : 0, i === this.blocks.length - 1 ? this.fill : b.length));
    return parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts, this.held);
  }

  /** The kept bytes as text. Invalid UTF-8 (or a code point cut at the start) becomes U+FFFD; NUL, which PostgreSQL text cannot hold, too. */
  toString(): string {
    const buf = this.toBuffer();
    const text = buf.toString('utf8');
    return buf.includes(0) ? text.replaceAll('\u0000', '\uFFFD') : text;
  }

  /** The kept bytes as text (as toString), letting go of them first: one copy of the tail at a time. */
  takeString(): string {
    const buf = this.toBuffer();
    this.release();
    const text = buf.toString('utf8');
    return buf.includes(0) ? text.replaceAll('\u0000', '\uFFFD') : text;
  }

  /** Let go of the kept bytes (after they were read): a finished read holds nothing. */
  release(): void {
    this.blocks = [];
    this.fill = this.skip = this.held = 0;
  }
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
