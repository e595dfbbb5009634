/** The daemon probes: a bare connection tells a daemon that closed its socket (shutting down) from one that listens. */
import { expect } from 'chai';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import Docker from 'dockerode';
import { daemonRefusesConnections, daemonUnreachable } from '../../../src/docker/daemon-health.js';

describe('docker/daemon-health', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hw-daemon-health-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a socket that is gone: refuses connections, and unreachable says why', async () => {
    const docker = new Docker({ socketPath: path.join(dir, 'gone.sock') });
    expect(await daemonRefusesConnections(docker)).to.equal(true);
    expect(await daemonUnreachable(docker, 500)).to.be.a('string').and.match(/ENOENT/);
  });

  it('a socket that listens (even if it never answers HTTP): not refusing; a ping that gets no answer is unreachable', async () => {
    const socketPath = path.join(dir, 'live.sock');
    const server = net.createServer(() => {}).listen(socketPath);
    await new Promise((r) => server.once('listening', r));
    try {
      const docker = new Docker({ socketPath });
      expect(await daemonRefusesConnections(docker)).to.equal(false);
      expect(await daemonUnreachable(docker, 300)).to.match(/no answer to a ping within 300 ms/);
    } finally {
      server.close();
    }
  });

  it('a TCP port nobody listens on: refuses connections', async () => {
    const probe = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    expect(await daemonRefusesConnections(new Docker({ host: '127.0.0.1', port, protocol: 'http' }))).to.equal(true);
  });

  it('the default socket (no DOCKER_HOST: docker-modem holds a function that finds it) is probed too', async () => {
    // Found by the soak's exit 255: a client made without DOCKER_HOST made this probe throw, so every
    // pass over a container that died by a signal failed, and the container was never collected.
    const socketPath = path.join(dir, 'default.sock');
    const server = net.createServer(() => {}).listen(socketPath);
    await new Promise((r) => server.once('listening', r));
    try {
      const docker = new Docker();
      (docker.modem as unknown as { socketPath: () => string }).socketPath = () => socketPath;
      expect(await daemonRefusesConnections(docker)).to.equal(false);
    } finally {
      server.close();
    }
    const gone = new Docker();
    (gone.modem as unknown as { socketPath: () => Promise<string> }).socketPath = async () => path.join(dir, 'missing.sock');
    expect(await daemonRefusesConnections(gone)).to.equal(true);
  });
});
