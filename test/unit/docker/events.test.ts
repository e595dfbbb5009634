import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { pino } from 'pino';
import { dockerEvents$, ndjsonObjects, sinceParam, toContainerEvent, type DockerEventSignal } from '../../../src/docker/events.js';
import { isTransient } from '../../../src/docker/client.js';

const ID = '7e3c5f0b9a1d2c4e6f8a0b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e';
const INTENT = '0b6f3e2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b';
const labels = {
  'highway.managed': 'true',
  'highway.intent_id': INTENT,
  'highway.reconciler_id': 'r-1',
};

/** Events as Docker 20.10 writes them on /events, one JSON object a line. */
const DIE = JSON.stringify({
  status: 'die',
  id: ID,
  from: 'alpine:3.20',
  Type: 'container',
  Action: 'die',
  Actor: { ID, Attributes: { ...labels, exitCode: '137', image: 'alpine:3.20', name: `highway-${INTENT}` } },
  scope: 'local',
  time: 1717243200,
  timeNano: 1717243200123456000,
});
const DESTROY = JSON.stringify({
  status: 'destroy',
  id: ID,
  from: 'alpine:3.20',
  Type: 'container',
  Action: 'destroy',
  Actor: { ID, Attributes: { ...labels, image: 'alpine:3.20', name: `highway-${INTENT}` } },
  scope: 'local',
  time: 1717243201,
  timeNano: 1717243201000000000,
});
const NETWORK_DISCONNECT = JSON.stringify({
  Type: 'network',
  Action: 'disconnect',
  Actor: { ID: 'a1b2c3', Attributes: { container: ID, name: 'bridge', type: 'bridge' } },
  scope: 'local',
  time: 1717243200,
  timeNano: 1717243200223456000,
});
const IMAGE_PULL = JSON.stringify({
  status: 'pull',
  id: 'alpine:3.20',
  Type: 'image',
  Action: 'pull',
  Actor: { ID: 'alpine:3.20', Attributes: { name: 'alpine' } },
  scope: 'local',
  time: 1717243100,
  timeNano: 1717243100000000000,
});

const tick = () => new Promise((r) => setImmediate(r));

/** A stream fed chunk by chunk through ndjsonObjects: what it emits at each step, and the bad lines. */
function feed() {
  const input = new PassThrough();
  const out: unknown[] = [];
  const bad: string[] = [];
  const lines = ndjsonObjects(input, (o) => out.push(o), (_err, line) => bad.push(line));
  const ended = new Promise((r) => lines.on('end', r));
  return {
    out,
    bad,
    async write(chunk: string) {
      input.write(chunk);
      await tick();
    },
    async end() {
      input.end();
      await ended;
    },
  };
}

async function split(chunks: string[]): Promise<unknown[]> {
  const f = feed();
  for (const c of chunks) await f.write(c);
  await f.end();
  return f.out;
}

describe('docker/events', () => {
  describe('ndjsonObjects (split2)', () => {
    it('several objects in one chunk', async () => {
      expect(await split(['{"a":1}\n{"b":2}\n{"c":3}\n'])).to.deep.equal([{ a: 1 }, { b: 2 }, { c: 3 }]);
    });

    it('a line split over chunks is emitted once complete', async () => {
      const f = feed();
      await f.write('{"a":');
      expect(f.out).to.deep.equal([]);
      await f.write('1}\n{"b"');
      expect(f.out).to.deep.equal([{ a: 1 }]);
      await f.write(':2}\n');
      expect(f.out).to.deep.equal([{ a: 1 }, { b: 2 }]);
      await f.end();
    });

    it('a real event stream cut at every character gives the same events', async () => {
      const stream = `${DIE}\n${NETWORK_DISCONNECT}\n${DESTROY}\n`;
      const whole = await split([stream]);
      expect(whole).to.have.length(3);
      for (let cut = 0; cut <= stream.length; cut += 7) {
        expect(await split([stream.slice(0, cut), stream.slice(cut)]), `cut at ${cut}`).to.deep.equal(whole);
      }
      expect(await split([...stream])).to.deep.equal(whole);
    });

    it('blank lines and CRLF endings are tolerated', async () => {
      expect(await split(['\n{"a":1}\r\n\r\n', '  \n{"b":2}\n'])).to.deep.equal([{ a: 1 }, { b: 2 }]);
    });

    it('an unterminated last line is held back until its newline (or the end)', async () => {
      const f = feed();
      await f.write('{"a":1}\n{"b":2}');
      expect(f.out).to.deep.equal([{ a: 1 }]);
      await f.write('\n');
      expect(f.out).to.deep.equal([{ a: 1 }, { b: 2 }]);
      await f.write('{"c":3}');
      await f.end();
      expect(f.out).to.deep.equal([{ a: 1 }, { b: 2 }, { c: 3 }]);
    });

    it('a malformed line is reported and does not cost the valid events after it in the same chunk', async () => {
      const f = feed();
      await f.write(`{"broken":\n${DIE}\n${DESTROY}\n`);
      await f.end();
      expect(f.out.map((o) => (o as { Action: string }).Action)).to.deep.equal(['die', 'destroy']);
      expect(f.bad).to.deep.equal(['{"broken":']);
    });
  });

  describe('toContainerEvent', () => {
    it('die: id, labels, the exit code (a string in the event) as a number, and the time', () => {
      const ev = toContainerEvent(JSON.parse(DIE));
      expect(ev).to.not.equal(null);
      expect(ev!.action).to.equal('die');
      expect(ev!.id).to.equal(ID);
      expect(ev!.exitCode).to.equal(137);
      expect(ev!.labels['highway.intent_id']).to.equal(INTENT);
      expect(ev!.labels['highway.managed']).to.equal('true');
      expect(ev!.timeNano).to.equal(1717243200123456000n);
    });

    it('die with exit code 0 keeps the 0', () => {
      const raw = JSON.parse(DIE);
      raw.Actor.Attributes.exitCode = '0';
      expect(toContainerEvent(raw)!.exitCode).to.equal(0);
    });

    it('destroy has no exit code', () => {
      const ev = toContainerEvent(JSON.parse(DESTROY));
      expect(ev).to.deep.equal({
        type: 'container',
        action: 'destroy',
        id: ID,
        labels: { ...labels, image: 'alpine:3.20', name: `highway-${INTENT}` },
        timeNano: 1717243201000000000n,
      });
      expect(ev).to.not.have.property('exitCode');
    });

    it('events of other types (network, image, volume) are ignored, even when they name a container', () => {
      expect(toContainerEvent(JSON.parse(NETWORK_DISCONNECT))).to.equal(null);
      expect(toContainerEvent(JSON.parse(IMAGE_PULL))).to.equal(null);
      expect(toContainerEvent({ Type: 'volume', Action: 'mount', Actor: { ID: 'v', Attributes: { container: ID } } })).to.equal(null);
    });

    it('health_status actions pass through with their full action text', () => {
      const raw = { ...JSON.parse(DIE), status: 'health_status: healthy', Action: 'health_status: healthy' };
      delete raw.Actor.Attributes.exitCode;
      expect(toContainerEvent(raw)!.action).to.equal('health_status: healthy');
    });

    it('without timeNano the time in seconds is used', () => {
      const raw = JSON.parse(DESTROY);
      delete raw.timeNano;
      expect(toContainerEvent(raw)!.timeNano).to.equal(1717243201000000000n);
    });

    it('an event without an id or action is dropped', () => {
      expect(toContainerEvent({ Type: 'container', Action: 'die', Actor: { Attributes: {} } })).to.equal(null);
      expect(toContainerEvent({ Type: 'container', Actor: { ID } })).to.equal(null);
    });

    it('the legacy top-level id is used when Actor has none', () => {
      expect(toContainerEvent({ Type: 'container', Action: 'start', id: ID, time: 1 })!.id).to.equal(ID);
    });
  });

  describe('sinceParam', () => {
    const cases: Array<[bigint, string]> = [
      [1717243200123456789n, '1717243200.123456789'],
      [1717243200000000001n, '1717243200.000000001'],
      [1717243200000000000n, '1717243200.000000000'],
      [1717243200100000000n, '1717243200.100000000'],
      [999_999_999n, '0.999999999'],
      [0n, '0.000000000'],
    ];
    for (const [ns, text] of cases) {
      it(`${ns} ns -> "${text}"`, () => expect(sinceParam(ns)).to.equal(text));
    }

    it('resumes from the time of a parsed event', () => {
      expect(sinceParam(toContainerEvent(JSON.parse(DESTROY))!.timeNano)).to.equal('1717243201.000000000');
    });
  });

  describe('isTransient', () => {
    /** An error as dockerode raises it for an HTTP answer. */
    const httpError = (statusCode: number, message: string) =>
      Object.assign(new Error(`(HTTP code ${statusCode}) unexpected - ${message}`), { statusCode, json: { message } });
    const sysError = (code: string, message: string) => Object.assign(new Error(message), { code });

    const cases: Array<[string, unknown, boolean]> = [
      ['ECONNREFUSED (daemon down)', sysError('ECONNREFUSED', 'connect ECONNREFUSED /var/run/docker.sock'), true],
      ['ENOENT on the socket (daemon restarting)', sysError('ENOENT', 'connect ENOENT /var/run/docker.sock'), true],
      ['ECONNRESET', sysError('ECONNRESET', 'read ECONNRESET'), true],
      ['EPIPE', sysError('EPIPE', 'write EPIPE'), true],
      ['socket hang up (no status)', new Error('socket hang up'), true],
      ['500 with "connection reset" from containerd', httpError(500, 'read unix @->/run/containerd/containerd.sock: read: connection reset by peer'), true],
      ['500 with an i/o timeout', httpError(500, 'dial unix /run/containerd/containerd.sock: i/o timeout'), true],
      ['500 with unexpected EOF', httpError(500, 'unexpected EOF'), true],
      ['404 no such container', httpError(404, `No such container: ${ID}`), false],
      ['409 name conflict', httpError(409, `Conflict. The container name "/highway-${INTENT}" is already in use`), false],
      ['400 invalid parameter', httpError(400, 'invalid reference format'), false],
      ['500 create config error (bind source missing)', httpError(500, 'invalid mount config for type "bind": bind source path does not exist: /nope'), false],
      ['500 start error (executable not found)', httpError(500, 'failed to create task for container: OCI runtime create failed: exec: "nope": executable file not found in $PATH: unknown'), false],
      // Issue 16: a Go field name in a refusal is not a timeout (it used to be retried for ever).
      ['500 json unmarshal naming StopTimeout', httpError(500, 'json: cannot unmarshal number 1e30 into Go struct field ContainerConfigWrapper.StopTimeout of type int'), false],
      ['500 json unmarshal naming Healthcheck.Timeout', httpError(500, 'json: cannot unmarshal number 1e19 into Go struct field HealthConfig.Healthcheck.Timeout of type time.Duration'), false],
      ['500 uid out of range', httpError(500, 'uids and gids must be in range 0-2147483647'), false],
      ['500 pids.max invalid argument', httpError(500, 'OCI runtime create failed: failed to write "9007199254740991": pids.max: invalid argument: unknown'), false],
      ['500 unknown user (Engine 20.10)', httpError(500, 'unable to find user no-such-user: no matching entries in passwd file'), false],
      ['500 missing device', httpError(500, 'error gathering device information while adding custom device "/dev/nope": no such file or directory'), false],
      ['500 working_dir on a file', httpError(500, 'Cannot mkdir: /etc/passwd is not a directory'), false],
      ['500 that says nothing of the request (the daemon failing)', httpError(500, 'something went wrong in the daemon'), true],
      ['503 service unavailable', httpError(503, 'the daemon is shutting down'), true],
      ['502 bad gateway', httpError(502, 'bad gateway'), true],
      ['501 not implemented (a log driver that cannot be read)', httpError(501, 'configured logging driver does not support reading'), false],
      ['400 whose message says "timeout"', httpError(400, 'invalid value for Timeout: request timeout'), false],
      ['a plain error that mentions a timeout', new Error('healthcheck timeout too long'), false],
      ['a plain programming error', new TypeError('cannot read properties of undefined'), false],
      ['a programming error mentioning EOF', new TypeError('EOF'), false],
      ['not an error at all', undefined, false],
    ];
    for (const [name, err, transient] of cases) {
      it(`${name}: ${transient ? 'retried' : 'not retried'}`, () => expect(isTransient(err)).to.equal(transient));
    }
  });

  describe('dockerEvents$ reconnects (a fake daemon: stream wiring only)', () => {
    /** A daemon whose getEvents answers from a script: a stream, or an error. */
    function fakeDaemon(script: Array<'refuse' | 'stream'>) {
      const calls: Array<Record<string, unknown>> = [];
      const streams: PassThrough[] = [];
      const docker = {
        getEvents: async (opts: Record<string, unknown>) => {
          calls.push(opts);
          const step = script.shift() ?? 'refuse';
          if (step === 'refuse') throw Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { code: 'ECONNREFUSED' });
          const s = new PassThrough();
          streams.push(s);
          return s;
        },
      } as unknown as Docker;
      return { docker, calls, streams };
    }
    const options = (docker: Docker) => ({ docker, logger: pino({ level: 'silent' }), labels: [], minBackoffMs: 5, maxBackoffMs: 20, stallCheckMs: 60_000 });
    const brief = (s: DockerEventSignal) => (s.type === 'connected' ? `connected${s.reconnect ? ' again' : ''}${s.daemonWentAway ? ' (daemon went away)' : ''}` : s.type === 'event' ? `event ${s.event.action}` : s.type);

    it('a daemon that refuses at first, then a stream that ends: one disconnected per outage, retried until it is back, resumed with since', async () => {
      const fake = fakeDaemon(['refuse', 'refuse', 'stream', 'refuse', 'refuse', 'refuse', 'stream']);
      const seen: string[] = [];
      const sub = dockerEvents$(options(fake.docker)).subscribe((s) => {
        seen.push(brief(s));
        if (seen.length === 2) {
          fake.streams[0]!.write(`${DIE}\n`);
          setTimeout(() => fake.streams[0]!.end(), 20); // the daemon goes away
        }
      });
      try {
        const deadline = Date.now() + 10_000;
        while (seen.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        expect(seen).to.deep.equal(['disconnected', 'connected', 'event die', 'disconnected', 'connected again (daemon went away)']);
        expect(fake.calls).to.have.length(7); // every refusal retried
        expect(fake.calls[6]!['since']).to.equal(sinceParam(1717243200123456000n)); // resumed after the last event seen
      } finally {
        sub.unsubscribe();
      }
    });

    it('unsubscribing ends the retries', async () => {
      const fake = fakeDaemon([]);
      const sub = dockerEvents$(options(fake.docker)).subscribe();
      await new Promise((r) => setTimeout(r, 100));
      sub.unsubscribe();
      const calls = fake.calls.length;
      expect(calls).to.be.greaterThan(1);
      await new Promise((r) => setTimeout(r, 100));
      expect(fake.calls.length).to.equal(calls);
    });
  });
});
