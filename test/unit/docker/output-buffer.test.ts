import { expect } from 'chai';
import fc from 'fast-check';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LogDemuxer, SecretMasker, TailBuffer } from '../../../src/docker/output-buffer.js';
import { maskSecrets } from '../../../src/secrets.js';

/** A full garbage collection, so retained memory can be measured. */
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collect garbage until freed ArrayBuffers are really released (that happens a tick after gc). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** Off-heap bytes still reachable after `work` (what it keeps alive), in bytes. */
async function retainedBy<T>(work: () => T): Promise<{ kept: T; bytes: number }> {
  await settle();
  const before = process.memoryUsage().arrayBuffers;
  const kept = work();
  await settle();
  const bytes = process.memoryUsage().arrayBuffers - before;
  return { kept, bytes };
}

const MiB = 1024 * 1024;

/** One frame of Docker's multiplexed log stream. */
function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function demux(chunks: Buffer[], limit = 1 << 20): { stdout: TailBuffer; stderr: TailBuffer } {
  const sinks = { stdout: new TailBuffer(limit), stderr: new TailBuffer(limit) };
  const d = new LogDemuxer(sinks);
  for (const c of chunks) d.write(c);
  return sinks;
}

describe('docker/output-buffer', () => {
  describe('TailBuffer', () => {
    it('keeps everything when less than the limit was written', () => {
      const t = new TailBuffer(16);
      t.write(Buffer.from('hello '));
      t.write(Buffer.from('world'));
      expect(t.toString()).to.equal('hello world');
      expect(t.truncated).to.equal(false);
      expect(t.totalBytes).to.equal(11);
    });

    it('exactly the limit is not truncated; one byte more is', () => {
      const t = new TailBuffer(5);
      t.write(Buffer.from('abcde'));
      expect(t.toString()).to.equal('abcde');
      expect(t.truncated).to.equal(false);
      t.write(Buffer.from('f'));
      expect(t.toString()).to.equal('bcdef');
      expect(t.truncated).to.equal(true);
      expect(t.totalBytes).to.equal(6);
    });

    it('keeps exactly the last N bytes of any sequence of writes', () => {
      fc.assert(
        fc.property(fc.nat({ max: 64 }), fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 40 }), (limit, parts) => {
          const t = new TailBuffer(limit);
          for (const p of parts) t.write(Buffer.from(p));
          const all = Buffer.concat(parts.map((p) => Buffer.from(p)));
          const tail = all.subarray(Math.max(0, all.length - limit));
          expect(t.toBuffer().equals(tail)).to.equal(true);
          expect(t.truncated).to.equal(all.length > limit);
          expect(t.totalBytes).to.equal(all.length);
        }),
        { numRuns: 500 },
      );
    });

    it('reading the tail in the middle does not change what is kept afterwards', () => {
      const t = new TailBuffer(4);
      t.write(Buffer.from('abc'));
      expect(t.toString()).to.equal('abc');
      t.write(Buffer.from('defg'));
      expect(t.toString()).to.equal('defg');
      t.write(Buffer.from('h'));
      expect(t.toString()).to.equal('efgh');
    });

    it('limit 0 keeps nothing and says whether anything was cut', () => {
      const t = new TailBuffer(0);
      expect(t.toString()).to.equal('');
      expect(t.truncated).to.equal(false);
      t.write(Buffer.alloc(0));
      expect(t.truncated).to.equal(false);
      t.write(Buffer.from('x'));
      expect(t.toString()).to.equal('');
      expect(t.toBuffer().length).to.equal(0);
      expect(t.truncated).to.equal(true);
      expect(t.totalBytes).to.equal(1);
    });

    it('a write larger than the limit keeps its own tail', () => {
      const t = new TailBuffer(3);
      t.write(Buffer.from('ab'));
      t.write(Buffer.from('0123456789'));
      expect(t.toString()).to.equal('789');
    });

    it('a million one-byte writes keep the right tail', () => {
      const t = new TailBuffer(100);
      const text = 'abcdefghijklmnopqrstuvwxyz';
      for (let i = 0; i < 1_000_000; i++) t.write(Buffer.from(text[i % 26]!));
      const expected = Array.from({ length: 100 }, (_, k) => text[(1_000_000 - 100 + k) % 26]).join('');
      expect(t.toString()).to.equal(expected);
      expect(t.totalBytes).to.equal(1_000_000);
    });

    it('memory stays bounded by the limit, not by the stream (64 MiB through a 64 KiB tail)', async () => {
      const { kept: t, bytes } = await retainedBy(() => {
        const t = new TailBuffer(64 * 1024);
        for (let i = 0; i < 4096; i++) t.write(Buffer.alloc(16 * 1024, i % 256));
        return t;
      });
      expect(bytes).to.be.below(2 * MiB);
      expect(t.toBuffer().length).to.equal(64 * 1024);
    });

    it('NUL bytes, which PostgreSQL text cannot hold, become U+FFFD', () => {
      const t = new TailBuffer(100);
      t.write(Buffer.from([0x61, 0x00, 0x62, 0x00, 0x00]));
      expect(t.toString()).to.equal('a\uFFFDb\uFFFD\uFFFD');
      expect(t.toString()).not.to.include('\u0000');
    });

    it('a multi-byte character cut at the start of the tail becomes U+FFFD, the rest is intact', () => {
      const t = new TailBuffer(4);
      t.write(Buffer.from('xé€', 'utf8')); // x, C3 A9, E2 82 AC
      expect(t.toString()).to.equal('\uFFFD€');
    });
  });

  describe('LogDemuxer', () => {
    const sample = [
      frame(1, Buffer.from('line one\n')),
      frame(2, Buffer.from('warning: something\n')),
      frame(1, Buffer.alloc(0)),
      frame(1, Buffer.from('naïve ☃\n')),
      frame(2, Buffer.from([0xff, 0x00, 0x01])),
      frame(1, Buffer.from('end')),
    ];
    const stream = Buffer.concat(sample);
    const expectedStdout = Buffer.from('line one\nnaïve ☃\nend');
    const expectedStderr = Buffer.concat([Buffer.from('warning: something\n'), Buffer.from([0xff, 0x00, 0x01])]);

    it('splits stdout from stderr', () => {
      const { stdout, stderr } = demux([stream]);
      expect(stdout.toBuffer().equals(expectedStdout)).to.equal(true);
      expect(stderr.toBuffer().equals(expectedStderr)).to.equal(true);
    });

    it('a stream cut in two at every byte boundary gives the same output', () => {
      for (let cut = 0; cut <= stream.length; cut++) {
        const { stdout, stderr } = demux([stream.subarray(0, cut), stream.subarray(cut)]);
        expect(stdout.toBuffer().equals(expectedStdout), `cut at ${cut}`).to.equal(true);
        expect(stderr.toBuffer().equals(expectedStderr), `cut at ${cut}`).to.equal(true);
      }
    });

    it('a stream fed one byte at a time gives the same output', () => {
      const { stdout, stderr } = demux([...stream].map((b) => Buffer.from([b])));
      expect(stdout.toBuffer().equals(expectedStdout)).to.equal(true);
      expect(stderr.toBuffer().equals(expectedStderr)).to.equal(true);
    });

    it('any frames, split into chunks anywhere, reproduce stdout and stderr exactly (property)', () => {
      const frames = fc.array(fc.record({ stream: fc.constantFrom(1 as const, 2 as const), payload: fc.uint8Array({ maxLength: 300 }) }), {
        maxLength: 25,
      });
      fc.assert(
        fc.property(frames, fc.array(fc.nat(), { maxLength: 30 }), (fs, cutSeeds) => {
          const whole = Buffer.concat(fs.map((f) => frame(f.stream, Buffer.from(f.payload))));
          const cuts = [...new Set(cutSeeds.map((s) => (whole.length ? s % (whole.length + 1) : 0)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let from = 0;
          for (const c of [...cuts, whole.length]) {
            chunks.push(whole.subarray(from, c));
            from = c;
          }
          const { stdout, stderr } = demux(chunks);
          const want = (s: 1 | 2) => Buffer.concat(fs.filter((f) => f.stream === s).map((f) => Buffer.from(f.payload)));
          expect(stdout.toBuffer().equals(want(1))).to.equal(true);
          expect(stderr.toBuffer().equals(want(2))).to.equal(true);
        }),
        { numRuns: 300 },
      );
    });

    it('a frame larger than any chunk is reassembled', () => {
      const big = Buffer.alloc(200_000, 0x41);
      const whole = frame(2, big);
      const chunks: Buffer[] = [];
      for (let i = 0; i < whole.length; i += 4096) chunks.push(whole.subarray(i, i + 4096));
      const { stdout, stderr } = demux(chunks);
      expect(stdout.totalBytes).to.equal(0);
      expect(stderr.toBuffer().equals(big)).to.equal(true);
    });

    it('the tail limit applies per stream', () => {
      const { stdout, stderr } = demux([frame(1, Buffer.from('0123456789')), frame(2, Buffer.from('ab'))], 4);
      expect(stdout.toString()).to.equal('6789');
      expect(stdout.truncated).to.equal(true);
      expect(stderr.toString()).to.equal('ab');
      expect(stderr.truncated).to.equal(false);
    });

    it('memory stays bounded when small stdout frames arrive in large chunks (64 KiB chunks, 1 KiB tails)', async () => {
      // Each chunk: a 1-byte stdout frame, then a stderr frame filling the rest of 64 KiB. Keeping
      // the tiny stdout payloads as views into the chunks would keep every chunk alive.
      const CHUNK = 64 * 1024;
      const { kept, bytes } = await retainedBy(() => {
        const sinks = { stdout: new TailBuffer(1024), stderr: new TailBuffer(1024) };
        const d = new LogDemuxer(sinks);
        for (let i = 0; i < 1000; i++) {
          const chunk = Buffer.alloc(CHUNK);
          chunk[0] = 1;
          chunk.writeUInt32BE(1, 4);
          chunk[8] = 0x30 + (i % 10);
          chunk[9] = 2;
          chunk.writeUInt32BE(CHUNK - 17, 13);
          chunk.fill(0x65, 17);
          d.write(chunk);
        }
        return sinks;
      });
      expect(kept.stdout.totalBytes).to.equal(1000);
      expect(kept.stderr.toString()).to.equal('e'.repeat(1024));
      expect(bytes, `retained ${(bytes / MiB).toFixed(1)} MiB for two 1 KiB tails`).to.be.below(4 * MiB);
    });
  });

  describe('SecretMasker (mask as the bytes stream, before any cut)', () => {
    const masked = (secrets: string[], chunks: Buffer[], limit = 1 << 20) => {
      const tail = new TailBuffer(limit);
      const m = new SecretMasker(secrets, tail);
      for (const c of chunks) m.write(c);
      m.end();
      return tail;
    };

    it('a secret that straddles the output cut is masked whole: no tail of it is kept', () => {
      const secret = 'hunter2-SECRET-tail';
      const text = `${'x'.repeat(50)}${secret}done\n`;
      // The cut (the last 20 bytes) falls inside the secret: masking after the cut would keep "SECRET-tail".
      const tail = masked([secret], [Buffer.from(text)], 20);
      expect(tail.toString()).to.equal(`${'x'.repeat(13)}***done\n`.slice(-20));
      expect(tail.toString()).to.not.match(/tail|SECRET/);
      expect(maskSecrets(Buffer.from(text).subarray(-20).toString(), [secret]), 'masking after the cut leaks').to.include('-tail');
    });

    it('any chunking masks every value: as masking the whole text does, and no value shows (property)', () => {
      const alphabet = fc.constantFrom('a', 'b', 'c', 'x', '\n');
      fc.assert(
        fc.property(
          fc.array(fc.string({ unit: alphabet, minLength: 4, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
          fc.string({ unit: alphabet, maxLength: 120 }),
          fc.array(fc.nat(), { maxLength: 10 }),
          (secrets, text, cutSeeds) => {
            const whole = Buffer.from(text);
            const cuts = [...new Set(cutSeeds.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
            const chunks: Buffer[] = [];
            let from = 0;
            for (const c of [...cuts, whole.length]) {
              chunks.push(whole.subarray(from, c));
              from = c;
            }
            const out = masked(secrets, chunks).toString();
            // One value: exactly what masking the whole text gives. Several (they may overlap): none shows.
            if (secrets.length === 1) expect(out).to.equal(maskSecrets(text, secrets));
            for (const v of secrets) expect(out).to.not.include(v);
          },
        ),
        { numRuns: 1000 },
      );
    });

    it('one byte at a time, a secret split over every boundary is still masked', () => {
      const text = 'a token=s3cr3t-value; again s3cr3t-value.';
      const tail = masked(['s3cr3t-value'], [...Buffer.from(text)].map((b) => Buffer.from([b])));
      expect(tail.toString()).to.equal('a token=***; again ***.');
    });
  });

  describe('TailBuffer memory', () => {
    it('holds at most the cap while a stream far larger than the cap goes through, and allocates nothing once full', () => {
      const t = new TailBuffer(1 << 20);
      const inner = () => (t as unknown as { buf: Buffer | null }).buf;
      let most = 0;
      let full: Buffer | null = null;
      const all: Buffer[] = [];
      for (let i = 0; i < 2000; i++) {
        const chunk = Buffer.alloc(7 * 1024 + (i % 13), i % 256);
        all.push(chunk);
        t.write(chunk);
        most = Math.max(most, inner()?.length ?? 0);
        if (t.truncated) {
          full ??= inner();
          expect(inner()).to.equal(full); // the same ring, no new allocation
        }
      }
      expect(most).to.equal(1 << 20);
      const whole = Buffer.concat(all);
      expect(t.toBuffer().equals(whole.subarray(whole.length - (1 << 20)))).to.equal(true);
      // Taken without a copy: the ring itself, turned so the oldest kept byte is first.
      const taken = t.takeBuffer();
      expect(taken.buffer).to.equal(full!.buffer);
      expect(taken.equals(whole.subarray(whole.length - (1 << 20)))).to.equal(true);
      expect(t.toBuffer().length).to.equal(0);
    });

    it('a tail taken before the ring wraps and after it wraps at every offset is the stream\'s tail', () => {
      for (const limit of [1, 7, 64]) {
        for (let total = 0; total < 3 * limit + 5; total++) {
          const t = new TailBuffer(limit);
          const bytes = Buffer.from(Array.from({ length: total }, (_, i) => 97 + (i % 26)));
          for (let i = 0; i < total; ) {
            const n = 1 + ((i * 7) % 5);
            t.write(bytes.subarray(i, i + n));
            i += n;
          }
          const want = bytes.subarray(Math.max(0, total - limit)).toString();
          expect(t.toString(), `limit ${limit} total ${total}`).to.equal(want);
          expect(t.takeString(), `limit ${limit} total ${total}`).to.equal(want);
          expect(t.truncated).to.equal(total > limit);
        }
      }
    });
  });
});
