import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import pino from 'pino';
import { createDockerClient } from '../../../src/docker/client.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** A daemon whose log endpoint serves each attempt from `attempts` (frames, then end or a transport error). */
function fakeDocker(attempts: Array<{ frames: Buffer[]; fail?: NodeJS.ErrnoException }>): { docker: Docker; calls: () => number } {
  let calls = 0;
  const docker = {
    getContainer: () => ({
      logs: async () => {
        const attempt = attempts[Math.min(calls, attempts.length - 1)]!;
        calls++;
        const stream = new PassThrough();
        setImmediate(() => {
          for (const f of attempt.frames) stream.write(f);
          if (attempt.fail) stream.destroy(attempt.fail);
          else stream.end();
        });
        return stream;
      },
    }),
  } as unknown as Docker;
  return { docker, calls: () => calls };
}

const logger = pino({ level: 'silent' });

describe('docker/client logs', () => {
  it('splits stdout and stderr and reports truncation', async () => {
    const { docker } = fakeDocker([{ frames: [frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'out 2\n')] }]);
    const out = await createDockerClient({ logger, docker }).logs('c1', 1024);
    expect(out).to.deep.equal({ stdout: 'out 1\nout 2\n', stderr: 'err 1\n', truncated: false });
    const cut = await createDockerClient({ logger, docker: fakeDocker([{ frames: [frame(1, '0123456789')] }]).docker }).logs('c1', 4);
    expect(cut).to.deep.equal({ stdout: '6789', stderr: '', truncated: true });
  });

  it('a read retried after a dropped connection does not repeat the output', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const { docker, calls } = fakeDocker([
      { frames: [frame(1, 'hello\n'), frame(2, 'warn\n')], fail: reset },
      { frames: [frame(1, 'hello\n'), frame(2, 'warn\n'), frame(1, 'world\n')] },
    ]);
    const out = await createDockerClient({ logger, docker }).logs('c1', 1024);
    expect(calls(), 'the read was retried').to.equal(2);
    expect(out).to.deep.equal({ stdout: 'hello\nworld\n', stderr: 'warn\n', truncated: false });
  });
});

describe('docker/client logsForRow', () => {
  it('gives valid UTF-8 as its bytes, and NUL or invalid UTF-8 as the same text logs gives', async () => {
    const read = (stream: 1 | 2, payload: Buffer, max = 1024) => {
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(payload.length, 4);
      const docker = fakeDocker([{ frames: [Buffer.concat([header, payload])] }]).docker;
      const client = createDockerClient({ logger, docker });
      return Promise.all([client.logsForRow('c1', max), client.logs('c1', max)]);
    };
    const [row, text] = await read(1, Buffer.from('héllo wörld\n'));
    expect(Buffer.isBuffer(row.stdout)).to.equal(true);
    expect(row.stdout.toString()).to.equal(text.stdout);
    expect(row.stderr.toString()).to.equal('');
    for (const bad of [Buffer.from('a\0b'), Buffer.from([0x61, 0xff, 0x62])]) {
      const [r, t] = await read(2, bad);
      expect(typeof r.stderr).to.equal('string');
      expect(r.stderr).to.equal(t.stderr);
      expect(r.stderr).to.equal('a\uFFFDb');
    }
    // A tail cut inside a code point: the same U+FFFD as logs.
    const [cut, cutText] = await read(1, Buffer.from('xé'), 1);
    expect(cut.stdout).to.equal(cutText.stdout);
    expect(cut.truncated).to.equal(true);
  });
});

describe('docker/client: logLines of a container that is going away', () => {
  const http = (statusCode: number, message: string) => Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode, json: { message } });
  for (const [status, message] of [
    [404, 'No such container: x'],
    [409, 'can not get logs from container which is dead or marked for removal'],
  ] as const) {
    it(`${status} (${message.slice(0, 30)}...): no live logs (null), so the caller reads the row instead`, async () => {
      const docker = { modem: { dial: (_o: unknown, cb: (err: unknown) => void) => setImmediate(() => cb(http(status, message))) } } as unknown as Docker;
      const client = createDockerClient({ logger: pino({ level: 'silent' }), docker, retries: 0 });
      expect(await client.logLines('x', { stdout: true, stderr: true })).to.equal(null);
    });
  }
});
