/**
 * The client's pull: credentials reach Docker, the digest comes back, concurrent pulls of one
 * ref with the same credentials share one call (other credentials: another call), and a
 * registry's failure is a terminal pull_failed that says what it means. dockerode is a stub.
 */
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import sinon from 'sinon';
import type Docker from 'dockerode';
import { pino } from 'pino';
import { createDockerClient } from '../../../src/docker/client.js';
import { HighwayError, TerminalError } from '../../../src/errors.js';

const logger = pino({ level: 'silent' });
const http = (statusCode: number, message: string) => Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode, json: { message } });
const transport = (code: string) => Object.assign(new Error(`connect ${code} /var/run/docker.sock`), { code });
const DIGEST = 'sha256:' + 'd'.repeat(64);

function stubDocker(progress: Array<Record<string, string>> = [{ status: 'Pulling from hw/app' }, { status: `Digest: ${DIGEST}` }]) {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const docker = {
    pull: sinon.stub().callsFake(async () => new PassThrough()),
    modem: {
      followProgress: (_stream: unknown, done: (err: Error | null, out: unknown[]) => void) => void gate.then(() => done(null, progress)),
    },
  };
  return { docker, release, client: createDockerClient({ logger, docker: docker as unknown as Docker, retries: 1 }) };
}

describe('docker/client: pull', () => {
  it('passes the credentials as authconfig and returns the digest Docker reports', async () => {
    const { docker, client, release } = stubDocker();
    release();
    const auth = { username: 'u', password: 'p', serveraddress: '127.0.0.1:5000' };
    expect(await client.pull('127.0.0.1:5000/hw/app:1', auth)).to.deep.equal({ digest: DIGEST });
    expect(docker.pull.firstCall.args[0]).to.equal('127.0.0.1:5000/hw/app:1');
    expect(docker.pull.firstCall.args[1]).to.include({ authconfig: auth });
    expect(docker.pull.firstCall.args[1].abortSignal).to.be.instanceOf(AbortSignal); // bounded by the pull timeout
    expect(await client.pull('127.0.0.1:5000/hw/app:1')).to.deep.equal({ digest: DIGEST });
    expect(docker.pull.secondCall.args[1]).to.not.have.property('authconfig');
  });

  it('shares a pull in flight between callers with the same ref and credentials, not across credentials', async () => {
    const { docker, client, release } = stubDocker();
    const a = { username: 'a', password: '1', serveraddress: 'r' };
    const b = { username: 'b', password: '2', serveraddress: 'r' };
    const pulls = [client.pull('r/app:1', a), client.pull('r/app:1', { ...a }), client.pull('r/app:1', b), client.pull('r/app:1')];
    await Promise.resolve();
    release();
    await Promise.all(pulls);
    expect(docker.pull.callCount).to.equal(3);
  });

  it('no digest in the progress: null', async () => {
    const { client, release } = stubDocker([{ status: 'Status: Image is up to date' }]);
    release();
    expect(await client.pull('r/app:1')).to.deep.equal({ digest: null });
  });

  it('a registry error in the progress stream is terminal, saying what it means; an image the registry does not have is image_not_found', async () => {
    const { client, release } = stubDocker([{ error: 'manifest for r/app:1 not found: manifest unknown: manifest unknown' }]);
    release();
    const err = (await client.pull('r/app:1').then(() => expect.fail('pulled'), (e: unknown) => e)) as TerminalError;
    expect(err).to.be.instanceOf(TerminalError);
    expect(err.code).to.equal('image_not_found');
    expect(err.message).to.equal('image: pulling "r/app:1" failed: image not found in the registry: manifest for r/app:1 not found: manifest unknown: manifest unknown');
  });

  it('a daemon answer that looks transient (500 i/o timeout from the registry) is, after the retries, the registry\'s failure, not an unavailable daemon', async () => {
    const { docker, client } = stubDocker();
    docker.pull.rejects(http(500, 'Get "https://r/v2/": dial tcp 10.0.0.1:443: i/o timeout'));
    const err = (await client.pull('r/app:1').then(() => expect.fail('pulled'), (e: unknown) => e)) as TerminalError;
    expect(err).to.be.instanceOf(TerminalError);
    expect(err.message).to.equal('image: pulling "r/app:1" failed: registry unreachable: Get "https://r/v2/": dial tcp 10.0.0.1:443: i/o timeout');
    expect(docker.pull.callCount).to.equal(2);
  });

  it('a daemon that does not answer stays docker_unavailable (retried by the caller)', async () => {
    const { docker, client } = stubDocker();
    docker.pull.rejects(transport('ECONNREFUSED'));
    const err = (await client.pull('r/app:1').then(() => expect.fail('pulled'), (e: unknown) => e)) as HighwayError;
    expect(err).to.not.be.instanceOf(TerminalError);
    expect(err.code).to.equal('docker_unavailable');
  });
});
