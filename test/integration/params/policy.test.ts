/**
 * The operator policy on a real daemon: every rule denies with a PolicyError naming it, an
 * `intent.denied` event, a 'denied' audit row, and nothing stored or created; and a custom
 * policy (built in code, or loaded from a file) allows what the default denies, with the
 * effect visible in the container.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { PolicyError } from '../../../src/errors.js';
import { defaultPolicy, loadPolicy, type Policy } from '../../../src/params/policy.js';
import type { Harness } from '../../support/harness.js';
import { effectiveCapabilities, expectNoContainers, expectNothingStored, inspectWhileRunning, PARAMS_IMAGE, rejection, sleepy, startHarness, useParamsHarness, interfaces } from './helpers.js';
import { useHarness } from '../../support/fixture.js';

const LIMITED = { memory_limit: '64m', cpu_limit: 1, pids_limit: 64 };

/** Asserts that `params` is denied by `rule` on `field`, logged, audited, and left nothing behind. */
async function expectDenied(h: Harness, params: Record<string, unknown>, rule: string, field: string, message?: RegExp): Promise<void> {
  const ctx = h.ctx({ tenant_id: `policy-${randomUUID()}` });
  const err = await rejection(h.run({ command: ['true'], ...params }, ctx));
  expect(err, err.message).to.be.instanceOf(PolicyError);
  const denied = err as PolicyError;
  expect(denied.code).to.equal('policy_denied');
  expect(denied.rule).to.equal(rule);
  expect(denied.field).to.equal(field);
  expect(denied.message).to.contain(`"${rule}"`);
  if (message) expect(denied.message).to.match(message);

  const events = h.log.events('intent.denied').filter((e) => e['activity_id'] === ctx.activity_id);
  expect(events).to.have.length(1);
  expect(events[0]).to.include({ rule, field, tenant_id: ctx.tenant_id, level: 40 });

  const audit = await h.db.pool.query<{ outcome: string; operation: string; intent_id: string | null; detail: Record<string, unknown> }>(
    'SELECT outcome, operation, intent_id, detail FROM highway.docker_audit WHERE tenant_id = $1',
    [ctx.tenant_id],
  );
  expect(audit.rows).to.have.length(1);
  expect(audit.rows[0]).to.deep.include({ outcome: 'denied', operation: 'tools.docker.run', intent_id: null });
  expect(audit.rows[0]!.detail).to.include({ code: 'policy_denied', rule, field });

  await expectNothingStored(h, ctx);
}

describe('params: operator policy (real Docker)', function () {
  this.timeout(60_000);
  let scratch: string;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'highway-policy-'));
    await writeFile(join(scratch, 'readme.txt'), 'allowed\n');
    await symlink('/etc', join(scratch, 'etc-link'));
    await symlink('/var/run/docker.sock', join(scratch, 'sock-link'));
  });
  after(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  describe('the default policy denies', () => {
    const h = useParamsHarness();

    it('privileged', async () => {
      await expectDenied(h, { privileged: true }, 'privileged', 'privileged');
    });

    describe('capabilities', () => {
      it('cap_add of a capability outside the allowed set', async () => {
        await expectDenied(h, { cap_add: ['NET_ADMIN'] }, 'capabilities', 'cap_add', /NET_ADMIN/);
      });
      it('cap_add ALL', async () => {
        await expectDenied(h, { cap_add: ['ALL'] }, 'capabilities', 'cap_add');
      });
      it('a cap_drop that keeps NET_RAW or MKNOD from Docker\'s default set', async () => {
        await expectDenied(h, { cap_drop: [] }, 'capabilities', 'cap_drop', /MKNOD|NET_RAW/);
        await expectDenied(h, { cap_drop: ['MKNOD'] }, 'capabilities', 'cap_drop', /NET_RAW/);
      });
    });

    it('the host network', async () => {
      await expectDenied(h, { network_mode: 'host' }, 'host_network', 'network_mode');
    });

    describe('bind_mounts', () => {
      const cases: Array<[string, () => unknown, string]> = [
        ['the Docker socket', () => ['/var/run/docker.sock:/var/run/docker.sock'], 'volumes[0]'],
        ['the Docker socket under /run', () => ['/run/docker.sock:/sock:ro'], 'volumes[0]'],
        ['/etc, read-only (docker-py object shape)', () => ({ '/etc': { bind: '/host-etc', mode: 'ro' } }), 'volumes[0]'],
        ['a file beneath /etc', () => ['/etc/passwd:/passwd:ro'], 'volumes[0]'],
        ['/ (it contains every protected path)', () => ['/:/host:ro'], 'volumes[0]'],
        ['/var (it contains /var/lib/docker)', () => ['/var:/v:ro'], 'volumes[0]'],
        ['/proc', () => ['/proc:/p:ro'], 'volumes[0]'],
        ['/sys', () => ['/sys:/s:ro'], 'volumes[0]'],
        ['/dev', () => ['/dev:/d:ro'], 'volumes[0]'],
        ['/boot', () => ['/boot:/b:ro'], 'volumes[0]'],
        ['a symlink to /etc', () => [`${scratch}/etc-link:/x:ro`], 'volumes[0]'],
        ['a path beneath a symlink to /etc', () => [`${scratch}/etc-link/hostname:/x:ro`], 'volumes[0]'],
        ['a symlink to the Docker socket', () => [`${scratch}/sock-link:/sock`], 'volumes[0]'],
        ['a path that climbs out with ..', () => [`${scratch}/../../../etc:/x:ro`], 'volumes[0]'],
        ['the second of two mounts', () => [`${scratch}:/ok:ro`, '/etc:/x:ro'], 'volumes[1]'],
      ];
      for (const [what, volumes, field] of cases) {
        it(what, async () => {
          await expectDenied(h, { volumes: volumes() }, 'bind_mounts', field, /protected path/);
        });
      }

      it('names the real path of a symlink in the message', async () => {
        const err = await rejection(h.run({ volumes: [`${scratch}/etc-link:/x:ro`] }));
        expect(err.message).to.contain(`${scratch}/etc-link (/etc)`);
      });
    });

    it('devices', async () => {
      await expectDenied(h, { devices: ['/dev/null'] }, 'devices', 'devices[0]', /\/dev\/null/);
    });

    it('oom_kill_disable', async () => {
      await expectDenied(h, { oom_kill_disable: true, memory_limit: '64m' }, 'oom_kill_disable', 'oom_kill_disable');
    });

    it('the first violated rule wins, and only one denial is recorded', async () => {
      await expectDenied(h, { privileged: true, network_mode: 'host', devices: ['/dev/null'] }, 'privileged', 'privileged');
    });

    it('what it allows runs: a read-only bind mount of a test directory, and allowed capabilities', async () => {
      const result = await h.run({ ...LIMITED, volumes: [`${scratch}:/in:ro`], cap_add: ['CHOWN'], command: ['cat', '/in/readme.txt'] });
      expect(result.status).to.equal('exited');
      expect(result.stdout).to.equal('allowed\n');
    });
  });

  describe('a strict policy (images, require_limits, ceilings) denies', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({
        policy: {
          ...defaultPolicy,
          images: { allow: ['highway-test/*'], deny: ['*:evil*'] },
          require_limits: true,
          max_memory_bytes: 64 * 1024 * 1024,
          max_cpus: 1,
          max_pids: 100,
        },
      });
    });
    after(async () => {
      await h?.stop();
    });
    afterEach(async () => {
      await expectNoContainers(h);
    });

    it('images: one that matches no allowed pattern', async () => {
      await expectDenied(h, { ...LIMITED, image: 'alpine:3.20' }, 'images', 'image', /none of the allowed patterns/);
    });
    it('images: one that matches a denied pattern (deny wins over allow)', async () => {
      await expectDenied(h, { ...LIMITED, image: 'highway-test/busybox:evil-twin' }, 'images', 'image', /denied pattern/);
    });
    it('images: matched as Docker resolves them (docker.io/library/...)', async () => {
      await expectDenied(h, { ...LIMITED, image: 'docker.io/library/busybox' }, 'images', 'image');
    });
    it('require_limits: a run without a pids limit', async () => {
      await expectDenied(h, { memory_limit: '64m', cpu_limit: 1 }, 'require_limits', 'pids_limit');
    });
    it('require_limits: pids_limit -1 counts as none', async () => {
      await expectDenied(h, { ...LIMITED, pids_limit: -1 }, 'require_limits', 'pids_limit');
    });
    it('require_limits: a run without any limit names memory first', async () => {
      await expectDenied(h, {}, 'require_limits', 'memory_limit');
    });
    it('max_memory', async () => {
      await expectDenied(h, { ...LIMITED, memory_limit: '128m' }, 'max_memory', 'memory_limit', /exceeds the maximum of 67108864/);
    });
    it('max_cpus', async () => {
      await expectDenied(h, { ...LIMITED, cpu_limit: 1.5 }, 'max_cpus', 'cpu_limit');
    });
    it('max_pids', async () => {
      await expectDenied(h, { ...LIMITED, pids_limit: 101 }, 'max_pids', 'pids_limit');
    });
    it('what is within it runs, with the limits applied', async () => {
      const result = await h.run({ memory_limit: '64m', cpu_limit: 1, pids_limit: 100, command: ['cat', '/sys/fs/cgroup/pids/pids.max'] });
      expect(result.status).to.equal('exited');
      expect(result.stdout).to.equal('100\n');
      expect(result.warnings).to.deep.equal([]);
    });
  });

  describe('ceilings without require_limits', () => {
    const h = useHarness({ policy: { ...defaultPolicy, max_memory_bytes: 64 * 1024 * 1024, max_pids: 100 } });

    it('a run without the limit exceeds the ceiling', async () => {
      await expectDenied(h, { cpu_limit: 1, pids_limit: 10 }, 'max_memory', 'memory_limit', /is required/);
      await expectDenied(h, { memory_limit: '32m' }, 'max_pids', 'pids_limit', /is required/);
      await expectNoContainers(h);
    });
  });

  describe('a custom policy allows what the default denies', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({
        policy: { ...defaultPolicy, allow_host_network: true, allowed_capabilities: [...defaultPolicy.allowed_capabilities, 'NET_ADMIN'] },
      });
    });
    after(async () => {
      await h?.stop();
    });
    afterEach(async () => {
      await expectNoContainers(h);
    });

    it('the host network: the container sees the host\'s interfaces', async () => {
      const { info, result } = await inspectWhileRunning(h, { ...LIMITED, network_mode: 'host', command: sleepy('cat /proc/net/dev') });
      expect(info.HostConfig.NetworkMode).to.equal('host');
      const host = interfaces(await readFile('/proc/net/dev', 'utf8'));
      expect(host.length).to.be.greaterThan(1);
      expect(interfaces(result.stdout)).to.deep.equal(host);
    });

    it('cap_add NET_ADMIN: in the capability sets, and it works (in the container\'s own network namespace)', async () => {
      const script = 'grep -E "^Cap(Eff|Bnd)|^NoNewPrivs" /proc/self/status; ip link set lo mtu 1400 && cat /sys/class/net/lo/mtu';
      const result = await h.run({ ...LIMITED, cap_add: ['CAP_NET_ADMIN'], command: ['sh', '-c', script] });
      expect(result.status).to.equal('exited');
      const caps = effectiveCapabilities(result.stdout);
      expect(caps.eff).to.deep.equal(['NET_ADMIN']);
      expect(caps.bnd).to.deep.equal(['NET_ADMIN']);
      expect(caps.noNewPrivs).to.equal('0');
      expect(result.stdout.trim().split('\n').pop()).to.equal('1400');

      const without = await h.run({ ...LIMITED, command: ['sh', '-c', 'ip link set lo mtu 1400 || echo refused'] });
      expect(without.stdout).to.equal('refused\n');
      expect(without.stderr).to.match(/not permitted/i);
    });

    it('what it still denies is denied', async () => {
      await expectDenied(h, { cap_add: ['SYS_ADMIN'] }, 'capabilities', 'cap_add', /SYS_ADMIN/);
    });
  });

  describe('a policy file (loadPolicy)', () => {
    let h: Harness;
    let policy: Policy;
    let allowedDir: string;
    before(async () => {
      allowedDir = join(scratch, 'allowed');
      await mkdir(allowedDir);
      await writeFile(join(allowedDir, 'data.txt'), 'inside the allowed path\n');
      const file = join(scratch, 'policy.json');
      await writeFile(file, JSON.stringify({ allowed_devices: ['/dev/null', '/dev/zero'], bind_mounts: { allowed_paths: [allowedDir] } }));
      policy = loadPolicy(file);
      h = await startHarness({ policy });
    });
    after(async () => {
      await h?.stop();
    });
    afterEach(async () => {
      await expectNoContainers(h);
    });

    it('merges over the default: the protected paths stay', () => {
      expect(policy.allowed_devices).to.deep.equal(['/dev/null', '/dev/zero']);
      expect(policy.bind_mounts.denied_paths).to.deep.equal(defaultPolicy.bind_mounts.denied_paths);
      expect(policy.allow_privileged).to.equal(false);
    });

    it('devices: an allowed device appears in the container at the given path', async () => {
      const { info, result } = await inspectWhileRunning(h, {
        ...LIMITED,
        devices: ['/dev/null:/dev/hw-null:rw'],
        command: sleepy('ls -l /dev/hw-null; echo discard > /dev/hw-null && echo wrote'),
      });
      expect(info.HostConfig.Devices).to.deep.equal([{ PathOnHost: '/dev/null', PathInContainer: '/dev/hw-null', CgroupPermissions: 'rw' }]);
      expect(result.stdout).to.match(/^c.* 1,\s+3 .*\/dev\/hw-null\nwrote\n$/);
    });

    it('devices: one the file does not allow is denied', async () => {
      await expectDenied(h, { devices: ['/dev/full'] }, 'devices', 'devices[0]');
    });

    it('bind_mounts: under an allowed path runs; elsewhere is denied, and /etc still is', async () => {
      const result = await h.run({ ...LIMITED, volumes: [`${allowedDir}:/in:ro`], command: ['cat', '/in/data.txt'] });
      expect(result.stdout).to.equal('inside the allowed path\n');
      await expectDenied(h, { volumes: [`${scratch}:/in:ro`] }, 'bind_mounts', 'volumes[0]', /not under an allowed path/);
      await expectDenied(h, { volumes: ['/etc:/in:ro'] }, 'bind_mounts', 'volumes[0]', /protected path/);
    });

    it('the image of a denied run is never pulled: the policy runs before anything else', async () => {
      await expectDenied(h, { image: `${PARAMS_IMAGE.split(':')[0]}:not-here`, privileged: true }, 'privileged', 'privileged');
    });
  });
});

