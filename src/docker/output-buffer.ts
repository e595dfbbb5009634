/**
 * Keeps the last `limit` bytes written to it (the tail of a stream: where errors are),
 * with bounded memory whatever the stream's size, and says whether anything was cut.
 */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private held = 0;
  private seen = 0;

  constructor(private readonly limit: number) {}

  write(chunk: Buffer): void {
    this.seen += chunk.length;
    if (this.limit === 0) return;
    // Keep a copy of at most `limit` bytes: the chunk may be a view into a much larger buffer.
    const kept = Buffer.from(chunk.length > this.limit ? chunk.subarray(chunk.length - this.limit) : chunk);
    this.chunks.push(kept);
    this.held += kept.length;
    // Compact lazily, once twice the limit is held, so each byte is copied O(1) times.
    if (this.held > this.limit * 2) this.compact();
  }

  get truncated(): boolean {
    return this.seen > this.limit;
  }

  get totalBytes(): number {
    return this.seen;
  }

  toBuffer(): Buffer {
    this.compact();
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /** The kept bytes as text. Invalid UTF-8 (or a code point cut at the start) becomes U+FFFD; NUL, which PostgreSQL text cannot hold, too. */
  toString(): string {
    return this.toBuffer().toString('utf8').replaceAll('\u0000', '\uFFFD');
  }

  private compact(): void {
    const all = Buffer.concat(this.chunks);
    const kept = all.length > this.limit ? all.subarray(all.length - this.limit) : all;
    this.chunks = [Buffer.from(kept)];
    this.held = kept.length;
  }
}

/**
 * Splits Docker's multiplexed (non-TTY) log stream into stdout and stderr.
 * Each frame is an 8-byte header [stream, 0, 0, 0, size (uint32 BE)] and `size` bytes of payload;
 * frames may be split across chunks in any way.
 */
export class LogDemuxer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly sinks: { stdout: TailBuffer; stderr: TailBuffer }) {}

  write(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const stream = buf[0];
      const payload = buf.subarray(8, 8 + size);
      (stream === 2 ? this.sinks.stderr : this.sinks.stdout).write(payload);
      buf = buf.subarray(8 + size);
    }
    this.pending = Buffer.from(buf);
  }
}
