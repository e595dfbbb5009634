/**
 * docker-py's arguments through the whole path (tools.docker.run, the row, the reconciler, the
 * daemon): the image's own stop signal kept, containers named by container:<x> and volumes_from
 * only the tenant's own, and the new arguments seen from inside the container.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { defaultPolicy } from '../../../src/params/policy.js';
import { TEST_IMAGE } from '../../support/test-image.js';
import { expectNothingStored, inspectWhileRunning, rejection, sleepy, useParamsHarness } from './helpers.js';
import { PolicyError } from '../../../src/errors.js';

const run = promisify(execFile);
const STOPSIGNAL_IMAGE = 'highway-test/stopsignal:latest';
const LIMITED = { memory_limit: '64m', cpu_limit: 0.5, pids_limit: 64 };

describe('params: docker-py arguments end to end (real Docker)', function () {
  this.timeout(90_000);
  const h = useParamsHarness({
    policy: { ...defaultPolicy, allow_container_network: true, allow_container_namespaces: true },
  });

  describe("the image's own settings", () => {
    before(async () => {
      // An image whose STOPSIGNAL is SIGQUIT (as nginx's is), built from the local test image.
      await run('sh', ['-c', `printf 'FROM ${TEST_IMAGE}\\nSTOPSIGNAL SIGQUIT\\n' | DOCKER_BUILDKIT=0 docker build -q -t ${STOPSIGNAL_IMAGE} -`]);
    });
    after(async () => {
      await run('docker', ['rmi', '-f', STOPSIGNAL_IMAGE]).catch(() => {});
    });

    it("a run past its timeout is stopped with the image's STOPSIGNAL (SIGQUIT), not SIGTERM", async () => {
      const script = "trap 'echo got-QUIT; exit 0' QUIT; trap 'echo got-TERM; exit 0' TERM; echo ready; while :; do sleep 0.1; done";
      const { info, result } = await inspectWhileRunning(h, { ...LIMITED, image: STOPSIGNAL_IMAGE, timeout: 2, command: ['sh', '-c', script] });
      expect((info.Config as { StopSignal?: string }).StopSignal).to.equal('SIGQUIT');
      expect(result.status).to.equal('timeout');
      expect(result.stdout).to.contain('got-QUIT').and.not.to.contain('got-TERM');
    });

    it('a stop_signal the caller sets wins over the image\'s', async () => {
      const script = "trap 'echo got-QUIT; exit 0' QUIT; trap 'echo got-INT; exit 0' INT; echo ready; while :; do sleep 0.1; done";
      const { info, result } = await inspectWhileRunning(h, { ...LIMITED, image: STOPSIGNAL_IMAGE, timeout: 2, stop_signal: 'INT', command: ['sh', '-c', script] });
      expect((info.Config as { StopSignal?: string }).StopSignal).to.equal('SIGINT');
      expect(result.stdout).to.contain('got-INT');
    });
  });

  describe('container:<x> and volumes_from name only the tenant\'s own containers', () => {
    it("another tenant's container is not found through network_mode, pid_mode, ipc_mode or volumes_from; the tenant's own is joined", async () => {
      const ownerCtx = h.ctx({ tenant_id: 'tenant-a' });
      const owner = await h.run({ ...LIMITED, detach: true, timeout: 8, ipc_mode: 'shareable', command: ['sh', '-c', 'sleep 30'] }, ownerCtx);
      expect(owner.status).to.equal('running');
      const target = owner.container_id!;

      for (const params of [
        { network_mode: `container:${target}` },
        { pid_mode: `container:${target}` },
        { ipc_mode: `container:${target.slice(0, 12)}` },
        { volumes_from: [target] },
      ]) {
        const other = await h.run({ ...LIMITED, ...params, command: ['true'] }, h.ctx({ tenant_id: 'tenant-b' }));
        const field = Object.keys(params)[0]!;
        expect(other.status, JSON.stringify(other)).to.equal('failed');
        expect(other.error).to.match(new RegExp(`^${field}(\\[0\\])?: container "[0-9a-f]+" not found$`));
        expect(other.container_id).to.equal(null); // refused before any create
      }

      // The owner's own tenant joins its PID namespace: it sees the sleep.
      const same = await h.run({ ...LIMITED, pid_mode: `container:${target}`, command: ['sh', '-c', 'ps -o comm | grep -c sleep'] }, h.ctx({ tenant_id: 'tenant-a' }));
      expect(same.status, JSON.stringify(same)).to.equal('exited');
      expect(Number(same.stdout.trim())).to.be.greaterThan(0);
      await h.waitSettled(ownerCtx.activity_id);
    });

    it('a container highway-docker does not manage is not found, even for the same tenant', async () => {
      const stray = await h.docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'], Labels: { 'highway.tenant_id': 'not-this-one' } });
      try {
        const result = await h.run({ ...LIMITED, network_mode: `container:${stray.id}`, command: ['true'] });
        expect(result.status).to.equal('failed');
        expect(result.error).to.match(/^network_mode: container "[0-9a-f]+" not found$/);
      } finally {
        await stray.remove({ force: true });
      }
    });
  });

  describe('the operator policy, through the tool', () => {
    for (const [what, params, rule, field] of [
      ['the host PID namespace', { pid_mode: 'host' }, 'host_namespaces', 'pid_mode'],
      ['seccomp turned off', { security_opt: ['seccomp=unconfined'] }, 'security_opt', 'security_opt[0]'],
      ['a docker-py bind Mount of /etc', { mounts: [{ Type: 'bind', Source: '/etc', Target: '/host-etc', ReadOnly: true }] }, 'bind_mounts', 'mounts[0]'],
      ['a sysctl outside the safe set', { sysctls: { 'kernel.msgmax': 65536 } }, 'sysctls', 'sysctls.kernel.msgmax'],
    ] as const) {
      it(`${what}: denied by rule ${rule} before anything is stored`, async () => {
        const ctx = h.ctx();
        const err = await rejection(h.run({ ...LIMITED, ...params, command: ['true'] }, ctx));
        expect(err).to.be.instanceOf(PolicyError);
        expect(err).to.include({ rule, field });
        await expectNothingStored(h, ctx);
      });
    }
  });

  it('the new arguments, seen from inside: sysctls, domainname, dns_search, dns_opt, a tmpfs mount, oom_score_adj, cpu_shares, healthcheck in nanoseconds', async () => {
    const { info, result } = await inspectWhileRunning(h, {
      ...LIMITED,
      sysctls: { 'net.ipv4.tcp_syncookies': 0 },
      hostname: 'box',
      domainname: 'example.com',
      dns: ['127.0.0.53'],
      dns_search: ['corp.example'],
      dns_opt: ['ndots:3'],
      oom_score_adj: 300,
      cpu_shares: 256,
      mounts: [{ Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 4194304 } }],
      healthcheck: { test: 'true', interval: 1_000_000_000, timeout: 10_000_000_000 },
      command: sleepy('cat /proc/sys/net/ipv4/tcp_syncookies; cat /proc/sys/kernel/domainname; cat /etc/resolv.conf; cat /proc/self/oom_score_adj; grep " /scratch " /proc/mounts'),
    });
    expect(result.status, JSON.stringify(result)).to.equal('exited');
    const lines = result.stdout.split('\n');
    expect(lines[0]).to.equal('0');
    expect(lines[1]).to.equal('example.com');
    expect(result.stdout).to.contain('search corp.example').and.to.contain('ndots:3');
    expect(result.stdout).to.contain('\n300\n');
    expect(result.stdout).to.match(/tmpfs \/scratch tmpfs [^\n]*size=4096k/);
    expect(info.HostConfig.CpuShares).to.equal(256);
    // docker-py's unit: 1000000000 is one second (and 10 s of timeout no longer overflows int64).
    expect(info.Config.Healthcheck).to.deep.include({ Interval: 1_000_000_000, Timeout: 10_000_000_000 });
  });
});
