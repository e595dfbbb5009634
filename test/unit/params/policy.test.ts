import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { PolicyError } from '../../../src/errors.js';
import { checkPolicy, defaultPolicy, loadPolicy, resourceWarnings, type Policy } from '../../../src/params/policy.js';
import { parseRunParams } from '../../../src/params/schema.js';

const IMAGE = 'highway-test/busybox:latest';

function spec(params: Record<string, unknown> = {}) {
  return parseRunParams({ image: IMAGE, ...params });
}

function policy(overrides: Partial<Policy> = {}): Policy {
  return { ...defaultPolicy, ...overrides };
}

/** Asserts the run is denied by `rule`, naming `field`. */
function expectDenied(params: Record<string, unknown>, rule: string, field: string, p: Policy = defaultPolicy): void {
  let error: unknown;
  try {
    checkPolicy(spec(params), p);
  } catch (err) {
    error = err;
  }
  expect(error, `expected rule ${rule} to deny ${JSON.stringify(params)}`).to.be.instanceOf(PolicyError);
  expect(error).to.include({ rule, field, code: 'policy_denied' });
  expect((error as Error).message).to.contain(`"${rule}"`);
}

function expectAllowed(params: Record<string, unknown>, p: Policy = defaultPolicy): void {
  expect(() => checkPolicy(spec(params), p)).not.to.throw();
}

describe('params/policy', () => {
  it('allows a plain run under the default policy', () => expectAllowed({ command: 'echo hi' }));

  describe('privileged', () => {
    it('is denied by default', () => expectDenied({ privileged: true }, 'privileged', 'privileged'));
    it('is allowed when the policy allows it', () => expectAllowed({ privileged: true }, policy({ allow_privileged: true })));
  });

  describe('capabilities', () => {
    it("allows Docker's defaults except NET_RAW and MKNOD", () => {
      expectAllowed({ cap_add: ['CHOWN', 'NET_BIND_SERVICE', 'SETUID', 'SETGID'] });
    });

    it('denies an added capability outside the allowed list', () => {
      expectDenied({ cap_add: ['NET_ADMIN'] }, 'capabilities', 'cap_add');
      expectDenied({ cap_add: ['NET_RAW'] }, 'capabilities', 'cap_add');
      expectDenied({ cap_add: ['ALL'] }, 'capabilities', 'cap_add');
    });

    it("denies keeping Docker's disallowed defaults by not dropping them", () => {
      expectDenied({ cap_drop: [] }, 'capabilities', 'cap_drop');
      expectAllowed({ cap_drop: ['NET_RAW', 'MKNOD'] });
    });

    it('follows a custom allowed list', () => {
      expectAllowed({ cap_add: ['NET_ADMIN'] }, policy({ allowed_capabilities: ['NET_ADMIN'] }));
      expectAllowed({ cap_add: ['ALL'] }, policy({ allowed_capabilities: ['ALL'] }));
    });
  });

  describe('host_network', () => {
    it('is denied by default', () => expectDenied({ network_mode: 'host' }, 'host_network', 'network_mode'));
    it('is allowed when the policy allows it', () => expectAllowed({ network_mode: 'host' }, policy({ allow_host_network: true })));
    it("joining another container's network is denied by default (rule container_network)", () => {
      let err: unknown;
      try {
        checkPolicy(parseRunParams({ image: 'alpine:3.20', network_mode: 'container:other' }), defaultPolicy);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(PolicyError);
      expect((err as PolicyError).rule).to.equal('container_network');
    });
    it("joining another container's network is allowed when the policy allows it", () =>
      expectAllowed({ network_mode: 'container:other' }, policy({ allow_container_network: true })));
    it('does not concern other modes', () => expectAllowed({ network_mode: 'bridge' }));
  });

  describe('bind_mounts', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'highway-policy-'));
      mkdirSync(join(dir, 'data'));
      symlinkSync('/etc', join(dir, 'etc-link'));
      symlinkSync('/', join(dir, 'root-link'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    for (const source of ['/var/run/docker.sock', '/run/docker.sock', '/', '/etc', '/etc/ssh', '/proc/1', '/sys', '/var/lib/docker/volumes', '/boot', '/dev', '/dev/sda']) {
      it(`denies ${source}`, () => expectDenied({ volumes: [`/srv/ok:/ok`, `${source}:/mnt`] }, 'bind_mounts', 'volumes[1]'));
    }

    it('denies directories that contain a protected path (/var holds /var/lib/docker)', () => {
      expectDenied({ volumes: ['/var:/mnt'] }, 'bind_mounts', 'volumes[0]');
      expectDenied({ volumes: ['/run:/mnt'] }, 'bind_mounts', 'volumes[0]');
    });

    it('resolves ".." and symlinks, also below a path that does not exist yet', () => {
      expectDenied({ volumes: ['/srv/../etc:/mnt'] }, 'bind_mounts', 'volumes[0]');
      expectDenied({ volumes: [`${dir}/etc-link:/mnt`] }, 'bind_mounts', 'volumes[0]');
      expectDenied({ volumes: [`${dir}/etc-link/not-yet/there:/mnt`] }, 'bind_mounts', 'volumes[0]');
      expectDenied({ volumes: [`${dir}/root-link:/mnt`] }, 'bind_mounts', 'volumes[0]');
    });

    it('allows ordinary paths and does not mistake prefixes for parents', () => {
      expectAllowed({ volumes: [`${dir}/data:/data:ro`, '/etcetera:/x', '/srv/app:/app', '/home/user/dev:/dev-home'] });
    });

    it('does not apply to named volumes', () => expectAllowed({ volumes: ['etc:/etc-data'] }));

    it('with an allow-list, only paths beneath it', () => {
      const p = policy({ bind_mounts: { ...defaultPolicy.bind_mounts, allowed_paths: ['/srv/jobs'] } });
      expectAllowed({ volumes: ['/srv/jobs/42:/in'] }, p);
      expectDenied({ volumes: ['/srv/jobs-other:/in'] }, 'bind_mounts', 'volumes[0]', p);
      expectDenied({ volumes: ['/srv/jobs/../secrets:/in'] }, 'bind_mounts', 'volumes[0]', p);
    });

    it('the deny list still wins over an allow-list', () => {
      const p = policy({ bind_mounts: { ...defaultPolicy.bind_mounts, allowed_paths: ['/'] } });
      expectDenied({ volumes: ['/etc:/in'] }, 'bind_mounts', 'volumes[0]', p);
    });
  });

  describe('devices', () => {
    it('are denied by default', () => expectDenied({ devices: ['/dev/fuse'] }, 'devices', 'devices[0]'));
    it('are allowed by the allow-list (glob patterns)', () => {
      const p = policy({ allowed_devices: ['/dev/fuse', '/dev/nvidia*'] });
      expectAllowed({ devices: ['/dev/fuse', '/dev/nvidia0'] }, p);
      expectDenied({ devices: ['/dev/fuse', '/dev/sda'] }, 'devices', 'devices[1]', p);
    });
  });

  describe('images', () => {
    it('allows every image by default', () => expectAllowed({ image: 'anything/at:all' }));

    it('denies images matching a deny pattern, in the form written or the full form', () => {
      const p = policy({ images: { allow: ['*'], deny: ['docker.io/library/*', 'evil/*'] } });
      expectDenied({ image: 'alpine' }, 'images', 'image', p);
      expectDenied({ image: 'evil/miner:1' }, 'images', 'image', p);
      expectAllowed({ image: 'registry.local/team/app' }, p);
    });

    it('denies images matching no allow pattern', () => {
      const p = policy({ images: { allow: ['registry.local/*', 'highway-test/*:latest'], deny: [] } });
      expectAllowed({ image: 'registry.local/team/app:1' }, p);
      expectAllowed({ image: 'highway-test/busybox' }, p);
      expectDenied({ image: 'alpine' }, 'images', 'image', p);
    });
  });

  describe('ceilings', () => {
    const p = policy({ max_memory_bytes: 1024 ** 3, max_cpus: 2, max_pids: 100 });
    const limited = { memory_limit: '1g', cpu_limit: 2, pids_limit: 100 };

    it('allow limits up to the ceiling', () => expectAllowed(limited, p));
    it('deny memory above max_memory_bytes', () => expectDenied({ ...limited, memory_limit: '2g' }, 'max_memory', 'memory_limit', p));
    it('deny cpus above max_cpus', () => expectDenied({ ...limited, cpu_limit: 2.5 }, 'max_cpus', 'cpu_limit', p));
    it('deny pids above max_pids', () => expectDenied({ ...limited, pids_limit: 101 }, 'max_pids', 'pids_limit', p));
    it('deny a missing limit (unlimited exceeds any ceiling)', () => {
      expectDenied({ ...limited, memory_limit: null }, 'max_memory', 'memory_limit', p);
      expectDenied({ ...limited, pids_limit: -1 }, 'max_pids', 'pids_limit', p);
    });
  });

  describe('require_limits', () => {
    const p = policy({ require_limits: true });
    it('denies a run without a memory, cpu or pids limit', () => {
      expectDenied({ cpu_limit: 1, pids_limit: 10 }, 'require_limits', 'memory_limit', p);
      expectDenied({ memory_limit: '1g', pids_limit: 10 }, 'require_limits', 'cpu_limit', p);
      expectDenied({ memory_limit: '1g', cpu_limit: 1, pids_limit: -1 }, 'require_limits', 'pids_limit', p);
    });
    it('allows a fully limited run', () => expectAllowed({ memory_limit: '1g', cpu_limit: 1, pids_limit: 10 }, p));
    it('is off by default', () => expectAllowed({}));
  });

  describe('oom_kill_disable', () => {
    it('is denied by default', () => expectDenied({ oom_kill_disable: true, memory_limit: '1g' }, 'oom_kill_disable', 'oom_kill_disable'));
    it('is allowed when the policy allows it', () => {
      expectAllowed({ oom_kill_disable: true, memory_limit: '1g' }, policy({ allow_oom_kill_disable: true }));
    });
  });

  describe('resourceWarnings', () => {
    it('warns once per missing limit', () => {
      const warnings = resourceWarnings(spec());
      expect(warnings).to.have.length(3);
      expect(warnings.join('\n')).to.match(/memory_limit/).and.match(/cpu_limit/).and.match(/pids_limit/);
    });
    it('treats pids_limit -1 as missing', () => {
      expect(resourceWarnings(spec({ memory_limit: '1g', cpu_limit: 1, pids_limit: -1 }))).to.have.length(1);
    });
    it('is empty for a fully limited run', () => {
      expect(resourceWarnings(spec({ memory_limit: '1g', cpu_limit: 1, pids_limit: 10 }))).to.deep.equal([]);
    });
  });

  describe('loadPolicy', () => {
    let dir: string;
    before(() => (dir = mkdtempSync(join(tmpdir(), 'highway-policy-file-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    function file(content: string): string {
      const path = join(dir, `policy-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(path, content);
      return path;
    }

    it('returns the default policy without a path', () => {
      expect(loadPolicy()).to.deep.equal(defaultPolicy);
    });

    it('merges the file over the defaults, nested objects one level deep', () => {
      const loaded = loadPolicy(file(JSON.stringify({ allow_privileged: true, allowed_capabilities: ['cap_net_admin'], bind_mounts: { allowed_paths: ['/srv'] }, max_cpus: 4 })));
      expect(loaded).to.deep.equal({
        ...defaultPolicy,
        allow_privileged: true,
        allowed_capabilities: ['NET_ADMIN'],
        bind_mounts: { denied_paths: defaultPolicy.bind_mounts.denied_paths, allowed_paths: ['/srv'] },
        max_cpus: 4,
      });
    });

    it('names the file and the field on an invalid value', () => {
      const path = file(JSON.stringify({ bind_mounts: { denied_paths: ['relative'] } }));
      expect(() => loadPolicy(path)).to.throw(`policy file ${path}: bind_mounts.denied_paths[0]: must be an absolute path`);
    });

    it('names an unknown field', () => {
      const path = file(JSON.stringify({ allow_privleged: true }));
      expect(() => loadPolicy(path)).to.throw(`policy file ${path}: allow_privleged: is not a policy field`);
    });

    it('names the file when it is missing or not JSON', () => {
      expect(() => loadPolicy(join(dir, 'missing.json'))).to.throw(/policy file .*missing\.json: .*ENOENT/);
      const path = file('{ nope');
      expect(() => loadPolicy(path)).to.throw(new RegExp(`policy file ${path}: .*JSON`));
    });
  });
});

describe('params/policy: what weakens isolation is denied by default, each by its rule', () => {
  const cases: [string, Record<string, unknown>, string, string, Partial<Policy>][] = [
    ['seccomp off', { security_opt: ['seccomp=unconfined'] }, 'security_opt', 'security_opt[0]', { allow_unconfined: true }],
    ['a custom seccomp profile', { security_opt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'] }, 'security_opt', 'security_opt[0]', { allow_unconfined: true }],
    ['AppArmor off', { security_opt: ['apparmor=unconfined'] }, 'security_opt', 'security_opt[0]', { allow_unconfined: true }],
    ['SELinux labels off', { security_opt: ['label:disable'] }, 'security_opt', 'security_opt[0]', { allow_unconfined: true }],
    ['no-new-privileges off', { security_opt: ['no-new-privileges=false'] }, 'security_opt', 'security_opt[0]', { allow_unconfined: true }],
    ['systempaths unconfined', { security_opt: ['systempaths=unconfined'] }, 'security_opt', 'security_opt[0]', { allow_unconfined: true }],
    ['host PID namespace', { pid_mode: 'host' }, 'host_namespaces', 'pid_mode', { allow_host_namespaces: true }],
    ['host IPC namespace', { ipc_mode: 'host' }, 'host_namespaces', 'ipc_mode', { allow_host_namespaces: true }],
    ['host UTS namespace', { uts_mode: 'host' }, 'host_namespaces', 'uts_mode', { allow_host_namespaces: true }],
    ['host user namespace', { userns_mode: 'host' }, 'host_namespaces', 'userns_mode', { allow_host_namespaces: true }],
    ['host cgroup namespace', { cgroupns: 'host' }, 'host_namespaces', 'cgroupns', { allow_host_namespaces: true }],
    ["another container's PID namespace", { pid_mode: 'container:abc' }, 'container_namespaces', 'pid_mode', { allow_container_namespaces: true }],
    ["another container's IPC namespace", { ipc_mode: 'container:abc' }, 'container_namespaces', 'ipc_mode', { allow_container_namespaces: true }],
    ['a sysctl outside the safe set', { sysctls: { 'kernel.msgmax': 65536 } }, 'sysctls', 'sysctls.kernel.msgmax', { allowed_sysctls: ['kernel.msg*'] }],
    ['cgroup_parent', { cgroup_parent: '/x' }, 'cgroup_parent', 'cgroup_parent', { allow_cgroup_parent: true }],
    ['device_requests', { device_requests: [{ count: -1, capabilities: [['gpu']] }] }, 'device_requests', 'device_requests', { allow_device_requests: true }],
    ['device_cgroup_rules', { device_cgroup_rules: ['c 1:3 mr'] }, 'device_cgroup_rules', 'device_cgroup_rules', { allow_device_cgroup_rules: true }],
    ['a runtime outside the list', { runtime: 'runsc' }, 'runtime', 'runtime', { allowed_runtimes: ['runc', 'runsc'] }],
    ['volume_driver', { volume_driver: 'nfs' }, 'volume_driver', 'volume_driver', { allowed_volume_drivers: ['nfs'] }],
    ['a volume mount with a driver', { mounts: [{ type: 'volume', source: 'vol', target: '/v', driver_config: { name: 'nfs' } }] }, 'volume_driver', 'mounts[0].driver_config', { allowed_volume_drivers: ['nfs'] }],
    ['storage_opt', { storage_opt: { size: '1G' } }, 'storage_opt', 'storage_opt', { allow_storage_opt: true }],
    ['group_add', { group_add: ['disk'] }, 'group_add', 'group_add', { allow_group_add: true }],
    ['a negative oom_score_adj', { oom_score_adj: -500 }, 'oom_score_adj', 'oom_score_adj', { allow_negative_oom_score_adj: true }],
    ['cpu_rt_runtime', { cpu_rt_runtime: 1000 }, 'cpu_realtime', 'cpu_rt_runtime', { allow_cpu_realtime: true }],
    ['a bind mount of the Docker socket through mounts', { mounts: [{ type: 'bind', source: '/var/run/docker.sock', target: '/s' }] }, 'bind_mounts', 'mounts[0]', { bind_mounts: { denied_paths: [], allowed_paths: null } }],
    ['a bind mount of / through mounts (API keys)', { mounts: [{ Type: 'bind', Source: '/', Target: '/host' }] }, 'bind_mounts', 'mounts[0]', { bind_mounts: { denied_paths: [], allowed_paths: null } }],
  ];
  for (const [what, params, rule, field, allow] of cases) {
    it(`${what}: denied (rule ${rule}), allowed when the operator says so`, () => {
      expectDenied(params, rule, field);
      expectAllowed(params, policy(allow));
    });
  }

  it('allows what weakens nothing: safe sysctls, positive oom_score_adj, runc, private namespaces, labels and profiles', () => {
    expectAllowed({
      sysctls: { 'net.ipv4.tcp_syncookies': 1, 'net.ipv4.ip_local_port_range': '1024 65000' },
      oom_score_adj: 500,
      runtime: 'runc',
      ipc_mode: 'shareable',
      cgroupns: 'private',
      security_opt: ['no-new-privileges:true', 'apparmor=docker-default', 'label=type:svirt_apache_t'],
      mounts: [{ type: 'tmpfs', target: '/t' }, { type: 'volume', source: 'data', target: '/d' }, { type: 'bind', source: '/tmp', target: '/x' }],
    });
  });
});
