/**
 * Networking parameters on a real daemon (started with --bridge=none: only the `none` and
 * `host` networks exist, and no test sends traffic anywhere): the default of no network,
 * hostname, dns and extra_hosts as the container sees them, ports as Docker records them.
 */
import { expect } from 'chai';
import { inspectWhileRunning, sleepy, useParamsHarness, interfaces } from './helpers.js';

const LIMITED = { memory_limit: '64m', cpu_limit: 1, pids_limit: 64 };

describe('params: networking (real Docker)', function () {
  this.timeout(60_000);
  const h = useParamsHarness();

  describe('network_mode', () => {
    it('defaults to none: the container has only a loopback interface', async () => {
      const { info, result } = await inspectWhileRunning(h, { ...LIMITED, command: sleepy('cat /proc/net/dev') });
      expect(info.HostConfig.NetworkMode).to.equal('none');
      expect(interfaces(result.stdout)).to.deep.equal(['lo']);
    });

    it('a network that does not exist fails the run with the daemon\'s reason', async () => {
      const result = await h.run({ ...LIMITED, network: 'highway-no-such-network', command: ['true'] });
      expect(result.status).to.equal('failed');
      expect(result.error).to.match(/highway-no-such-network/);
      expect(result.error).to.match(/not found/);
    });
  });

  describe('hostname', () => {
    it('is the container\'s host name, in /etc/hostname and in inspect', async () => {
      const { info, result } = await inspectWhileRunning(h, { ...LIMITED, hostname: 'params-worker-1', command: sleepy('hostname; cat /etc/hostname') });
      expect(info.Config.Hostname).to.equal('params-worker-1');
      expect(result.stdout).to.equal('params-worker-1\nparams-worker-1\n');
    });

    it("unset: Docker's default, the container's short id", async () => {
      const result = await h.run({ ...LIMITED, command: ['hostname'] });
      expect(result.stdout).to.equal(`${result.short_id}\n`);
    });
  });

  describe('dns', () => {
    it('the servers are the nameservers of /etc/resolv.conf, in order', async () => {
      const { info, result } = await inspectWhileRunning(h, { ...LIMITED, dns: ['192.0.2.53', '2001:db8::53'], command: sleepy('cat /etc/resolv.conf') });
      expect(info.HostConfig.Dns).to.deep.equal(['192.0.2.53', '2001:db8::53']);
      const nameservers = result.stdout.split('\n').filter((l) => l.startsWith('nameserver '));
      expect(nameservers).to.deep.equal(['nameserver 192.0.2.53', 'nameserver 2001:db8::53']);
    });
  });

  describe('extra_hosts', () => {
    it('object shape: entries of /etc/hosts', async () => {
      const { info, result } = await inspectWhileRunning(h, {
        ...LIMITED,
        extra_hosts: { 'db.internal': '192.0.2.10', 'cache.internal': '2001:db8::10' },
        command: sleepy('cat /etc/hosts'),
      });
      expect(info.HostConfig.ExtraHosts).to.have.members(['db.internal:192.0.2.10', 'cache.internal:2001:db8::10']);
      const lines = result.stdout.split('\n').map((l) => l.split(/\s+/).join(' '));
      expect(lines).to.include('192.0.2.10 db.internal');
      expect(lines).to.include('2001:db8::10 cache.internal');
    });

    it('list shape', async () => {
      const result = await h.run({ ...LIMITED, extra_hosts: ['api.internal:192.0.2.20'], command: ['grep', '-w', 'api.internal', '/etc/hosts'] });
      expect(result.stdout.split(/\s+/).slice(0, 2)).to.deep.equal(['192.0.2.20', 'api.internal']);
    });

    it('dns and extra_hosts together, with a hostname', async () => {
      const result = await h.run({
        ...LIMITED,
        hostname: 'combo',
        dns: ['192.0.2.1'],
        extra_hosts: { peer: '192.0.2.2' },
        command: ['sh', '-c', 'hostname; grep nameserver /etc/resolv.conf; grep -w peer /etc/hosts'],
      });
      expect(result.stdout.split('\n').map((l) => l.split(/\s+/).join(' '))).to.deep.equal(['combo', 'nameserver 192.0.2.1', '192.0.2.2 peer', '']);
    });
  });

  describe('ports', () => {
    it('become the port bindings and exposed ports Docker records (network_mode bridge)', async () => {
      // On this daemon (--bridge=none) the bridge network has no interface, so nothing is
      // actually published or reachable; the bindings are what Docker would publish.
      const { info, result } = await inspectWhileRunning(h, {
        ...LIMITED,
        network_mode: 'bridge',
        ports: { '8080/tcp': ['127.0.0.1', 38080], '53/udp': '127.0.0.1:38053', 9090: null },
        command: sleepy('true'),
      });
      expect(result.status).to.equal('exited');
      expect(info.HostConfig.NetworkMode).to.equal('bridge');
      expect(info.HostConfig.PortBindings).to.deep.equal({
        '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '38080' }],
        '53/udp': [{ HostIp: '127.0.0.1', HostPort: '38053' }],
        '9090/tcp': [{ HostIp: '', HostPort: '' }],
      });
      expect(Object.keys(info.Config.ExposedPorts ?? {})).to.have.members(['8080/tcp', '53/udp', '9090/tcp']);
    });

    it('one container port bound twice (list of host ports)', async () => {
      const { info } = await inspectWhileRunning(h, { ...LIMITED, network_mode: 'bridge', ports: { 80: [38081, 38082] }, command: sleepy('true') });
      expect(info.HostConfig.PortBindings).to.deep.equal({ '80/tcp': [{ HostIp: '', HostPort: '38081' }, { HostIp: '', HostPort: '38082' }] });
    });

    it('with network_mode "host" they are refused before Docker (Docker would drop them)', async () => {
      const ctx = h.ctx();
      const err = await h.run({ network_mode: 'host', ports: { 80: 8080 } }, ctx).catch((e: { field?: string }) => e);
      expect((err as { field?: string }).field).to.equal('ports');
      expect(await h.intentOfActivity(ctx.activity_id)).to.equal(null);
    });
  });
});
