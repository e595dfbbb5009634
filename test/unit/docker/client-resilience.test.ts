/**
 * The narrow Docker client is the one place for retries, the circuit breaker and typed
 * errors. Its dockerode is a sinon stub here: what a flaky or dead daemon answers.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import type Docker from 'dockerode';
import { pino } from 'pino';
import { createDockerClient } from '../../../src/docker/client.js';
import { HighwayError, TerminalError } from '../../../src/errors.js';

const logger = pino({ level: 'silent' });
const transport = (code: string) => Object.assign(new Error(`connect ${code} /var/run/docker.sock`), { code });
const http = (statusCode: number, message: string) => Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), { statusCode, json: { message } });

function stubDocker(retries = 3, requestTimeoutMs?: number) {
  const container = { inspect: sinon.stub(), start: sinon.stub(), kill: sinon.stub(), remove: sinon.stub() };
  const docker = {
    getContainer: sinon.stub().returns(container),
    createContainer: sinon.stub(),
    getImage: sinon.stub().returns({ inspect: sinon.stub().resolves({}) }),
  };
  return { docker, container, client: createDockerClient({ logger, docker: docker as unknown as Docker, retries, ...(requestTimeoutMs ? { requestTimeoutMs } : {}) }) };
}

const inspectInfo = {
  Id: 'c'.repeat(64),
  Name: '/highway-x',
  Created: '2026-01-01T00:00:00Z',
  RestartCount: 0,
  State: { Status: 'running', Running: true, ExitCode: 0, OOMKilled: false, Error: '', StartedAt: '2026-01-01T00:00:01Z', FinishedAt: '0001-01-01T00:00:00Z' },
  Config: { Labels: { 'highway.managed': 'true' } },
  HostConfig: { RestartPolicy: { Name: 'no' } },
};

describe('docker/client: retries, typed errors, circuit breaker', () => {
  it('retries transport failures (daemon restarting) and returns the answer that follows', async () => {
    const { container, client } = stubDocker();
    container.inspect.onCall(0).rejects(transport('ECONNREFUSED'));
    container.inspect.onCall(1).rejects(transport('ECONNRESET'));
    container.inspect.onCall(2).resolves(inspectInfo);
    const state = await client.inspect('highway-x');
    expect(state?.status).to.equal('running');
    expect(container.inspect.callCount).to.equal(3);
  });

  it('does not retry an answer: 404 on inspect is "no such container"', async () => {
    const { container, client } = stubDocker();
    container.inspect.rejects(http(404, 'No such container: highway-x'));
    expect(await client.inspect('highway-x')).to.equal(null);
    expect(container.inspect.callCount).to.equal(1);
  });

  it('gives up after the retries with a docker_unavailable error', async () => {
    const { container, client } = stubDocker();
    container.inspect.rejects(transport('ENOENT'));
    const err = await client.inspect('highway-x').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(HighwayError);
    expect((err as HighwayError).code).to.equal('docker_unavailable');
    expect(container.inspect.callCount).to.equal(4); // the first try and 3 retries
  });

  it('a create the daemon refuses is terminal (not retried), with its message', async () => {
    const { docker, client } = stubDocker();
    docker.createContainer.rejects(http(400, 'invalid reference format'));
    const err = await client.create({ Image: 'UPPER/case' }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TerminalError);
    expect((err as TerminalError).code).to.equal('create_failed');
    expect((err as Error).message).to.equal('create failed: invalid reference format');
    expect(docker.createContainer.callCount).to.equal(1);
  });

  it('a 500 that says the request is wrong (Go field "StopTimeout") is terminal at once, and does not open the circuit', async () => {
    const { docker, client } = stubDocker();
    const refusal = http(500, 'json: cannot unmarshal number 1e30 into Go struct field ContainerConfigWrapper.StopTimeout of type int');
    docker.createContainer.rejects(refusal);
    for (let i = 0; i < 12; i++) {
      const err = await client.create({ Image: 'alpine' }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(TerminalError);
      expect((err as TerminalError).code).to.equal('create_failed');
      expect((err as Error).message).to.equal(`create failed: ${refusal.json.message}`);
    }
    expect(docker.createContainer.callCount).to.equal(12); // never retried
    expect(client.breakerOpen()).to.equal(false);
  });

  it('a 503 (the daemon unavailable) is retried, then docker_unavailable with the status and message: the reconciler retries it', async () => {
    const { container, client } = stubDocker(2);
    container.start.rejects(http(503, 'the daemon is shutting down'));
    const err = await client.start('c'.repeat(64)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(HighwayError).and.not.instanceOf(TerminalError);
    expect((err as HighwayError).code).to.equal('docker_unavailable');
    expect((err as Error).message).to.equal('Docker daemon failed start (HTTP 503): the daemon is shutting down');
    expect(container.start.callCount).to.equal(3);
  });

  it('a 500 on start is retried; one the daemon keeps giving through the retries is its answer: start_failed, terminal', async () => {
    const { container, client } = stubDocker(2);
    container.start.onCall(0).rejects(http(500, 'containerd: connection reset by peer'));
    container.start.onCall(1).resolves();
    await client.start('c'.repeat(64));
    expect(container.start.callCount).to.equal(2);

    const again = stubDocker(2);
    again.container.start.rejects(http(500, 'something this engine says of this container'));
    const err = await again.client.start('c'.repeat(64)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TerminalError);
    expect((err as TerminalError).code).to.equal('start_failed');
    expect((err as Error).message).to.equal('start failed: something this engine says of this container');
    expect(again.container.start.callCount).to.equal(3);
  });

  it('a start refused for the container\'s own configuration (unknown user) is terminal at once', async () => {
    const { container, client } = stubDocker(2);
    container.start.rejects(http(500, 'unable to find user no-such-user: no matching entries in passwd file'));
    const err = await client.start('c'.repeat(64)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TerminalError);
    expect((err as Error).message).to.equal('start failed: unable to find user no-such-user: no matching entries in passwd file');
    expect(container.start.callCount).to.equal(1);
  });

  it('a name conflict on create is an answer to adopt, not an error', async () => {
    const { docker, client } = stubDocker();
    docker.createContainer.rejects(http(409, 'Conflict. The container name "/highway-x" is already in use'));
    expect(await client.create({ Image: 'busybox' })).to.deep.equal({ conflict: true });
  });

  it('kill and remove of a container that is already gone or stopped succeed', async () => {
    const { container, client } = stubDocker();
    container.kill.rejects(http(409, 'Container is not running'));
    container.remove.rejects(http(404, 'No such container'));
    await client.kill('c', 'SIGTERM');
    await client.remove('c');
    expect(container.kill.callCount).to.equal(1);
    expect(container.remove.callCount).to.equal(1);
  });

  it('opens the circuit when the daemon keeps failing, then fails fast without calling it', async () => {
    const { container, client } = stubDocker(0);
    container.inspect.rejects(transport('ECONNREFUSED'));
    // Enough failing calls for the breaker's volume threshold.
    for (let i = 0; i < 10; i++) await client.inspect('highway-x').catch(() => {});
    const before = container.inspect.callCount;
    const err = await client.inspect('highway-x').catch((e: unknown) => e);
    expect((err as HighwayError).code).to.equal('docker_unavailable');
    expect((err as Error).message).to.contain('circuit open');
    expect(container.inspect.callCount, 'no call while the circuit is open').to.equal(before);
  });

  it('expected answers (404, 409) do not open the circuit', async () => {
    const { container, client } = stubDocker();
    container.inspect.rejects(http(404, 'No such container'));
    for (let i = 0; i < 20; i++) expect(await client.inspect('gone')).to.equal(null);
    container.inspect.resolves(inspectInfo);
    expect((await client.inspect('highway-x'))?.status).to.equal('running');
  });

  it("a caller's 4xx never opens the circuit: the daemon that answers it is healthy", async () => {
    const { docker, container, client } = stubDocker(0);
    docker.createContainer.rejects(http(400, 'invalid reference format'));
    for (let i = 0; i < 30; i++) {
      const err = await client.create({ Image: 'BAD' }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(TerminalError);
    }
    expect(docker.createContainer.callCount).to.equal(30);
    container.inspect.resolves(inspectInfo);
    expect((await client.inspect('highway-x'))?.status).to.equal('running');
  });

  it('5xx answers open the circuit like an unreachable daemon', async () => {
    const { container, client } = stubDocker(0);
    container.inspect.rejects(http(500, 'driver failed'));
    for (let i = 0; i < 12; i++) await client.inspect('highway-x').catch(() => {});
    const calls = container.inspect.callCount;
    const err = await client.inspect('highway-x').catch((e: unknown) => e);
    expect((err as HighwayError).code).to.equal('docker_unavailable');
    expect(container.inspect.callCount).to.equal(calls); // failed fast, without calling the daemon
  });

  it('a hung request is aborted after its timeout with docker_unavailable, and its abort signal fires', async () => {
    const { container, client } = stubDocker(0, 50);
    let signal: AbortSignal | undefined;
    container.inspect.callsFake((opts: { abortSignal: AbortSignal }) => {
      signal = opts.abortSignal;
      return new Promise(() => {}); // never answers
    });
    const started = Date.now();
    const err = await client.inspect('highway-x').catch((e: unknown) => e);
    expect((err as HighwayError).code).to.equal('docker_unavailable');
    expect((err as Error).message).to.match(/did not answer inspect within/);
    expect(Date.now() - started).to.be.lessThan(2_000);
    expect(signal?.aborted).to.equal(true);
  });
});
