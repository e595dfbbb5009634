/**
 * Every container argument of docker-py's containers.run() is either supported (a parameter or a
 * docker-py alias of one, pinned by the differential test's case or the test NOT_IN_PARITY names)
 * or refused with its own reason; none answers "is not a parameter".
 */
import { expect } from 'chai';
import { ValidationError } from '../../../src/errors.js';
import { toCreateOptions } from '../../../src/params/container-config.js';
import { ALIASES, REFUSED_ARGUMENTS } from '../../../src/params/refused.js';
import { PARAMETER_NAMES, parseRunParams } from '../../../src/params/schema.js';
import { DOCKER_PY_ARGUMENTS, NOT_IN_PARITY, PARITY_CASES } from '../../support/parity-cases.js';

const IMAGE = 'highway-test/busybox:latest';

function refusal(params: Record<string, unknown>): ValidationError {
  try {
    parseRunParams({ image: IMAGE, ...params });
  } catch (err) {
    expect(err).to.be.instanceOf(ValidationError);
    return err as ValidationError;
  }
  return expect.fail(`accepted ${JSON.stringify(params)}`);
}

describe("params: every docker-py containers.run() argument", () => {
  const supported = new Set<string>([...PARAMETER_NAMES, ...Object.keys(ALIASES)]);

  it('the list is docker-py\'s: 87 container arguments plus run()\'s remove, stdout, stderr, stream', () => {
    expect(new Set(DOCKER_PY_ARGUMENTS).size).to.equal(DOCKER_PY_ARGUMENTS.length);
    expect(DOCKER_PY_ARGUMENTS).to.have.length(90);
  });

  for (const argument of DOCKER_PY_ARGUMENTS) {
    if (supported.has(argument)) {
      it(`${argument}: supported, and pinned by the differential test (or the test named)`, () => {
        const cases = PARITY_CASES.filter((c) => c.argument === argument || c.argument.startsWith(`${argument} (`));
        expect(cases.length > 0 || argument in NOT_IN_PARITY, `no parity case for ${argument}`).to.equal(true);
        for (const c of cases) if (!JSON.stringify(c.params).includes('{target}')) expect(() => parseRunParams({ image: IMAGE, ...c.params })).not.to.throw();
      });
    } else if (argument === 'stdout' || argument === 'stderr') {
      it(`${argument}: true is what the result has anyway; false is refused with its reason`, () => {
        expect(() => parseRunParams({ image: IMAGE, [argument]: true })).not.to.throw();
        const err = refusal({ [argument]: false });
        expect(err.field).to.equal(argument);
        expect(err.issues[0]!.message).to.match(/the result always carries stdout and stderr, separately/);
      });
    } else {
      it(`${argument}: refused with its own reason, never "is not a parameter"`, () => {
        const err = refusal({ [argument]: true });
        expect(err.field).to.equal(argument);
        expect(err.issues[0]!.message).to.equal(`is not offered: ${REFUSED_ARGUMENTS[argument]}`);
        expect(err.message).not.to.match(/is not a parameter/);
      });
    }
  }

  it('every parity case\'s normal form parses back to itself (as the reconciler reads a stored spec)', () => {
    for (const c of PARITY_CASES) {
      const spec = parseRunParams({ image: IMAGE, ...JSON.parse(JSON.stringify(c.params).replaceAll('{target}', 'abc123')) });
      expect(parseRunParams(JSON.parse(JSON.stringify(spec))), c.argument).to.deep.equal(spec);
    }
  });

  it('an unknown name is still "not a parameter" (with a suggestion)', () => {
    expect(refusal({ memroy_limit: '1g' }).issues[0]!.message).to.equal('is not a parameter; did you mean memory_limit?');
  });
});

describe('params: docker-py names and shapes', () => {
  it('mem_limit, nano_cpus and remove are memory_limit, cpu_limit (CPUs) and auto_remove', () => {
    const spec = parseRunParams({ image: IMAGE, mem_limit: '512m', nano_cpus: 1_500_000_000, remove: false });
    expect(spec).to.include({ memory_limit: 512 * 1024 * 1024, cpu_limit: 1.5, auto_remove: false });
  });

  it('giving both names of one setting is an error naming both', () => {
    for (const [alias, name, value] of [['mem_limit', 'memory_limit', '1g'], ['nano_cpus', 'cpu_limit', 1e9], ['remove', 'auto_remove', true]] as const) {
      const err = refusal({ [alias]: value, [name]: name === 'cpu_limit' ? 1 : value });
      expect(err.field).to.equal(alias);
      expect(err.issues[0]!.message).to.contain(name).and.to.contain('give only one');
    }
  });

  it('nano_cpus below 0.01 CPUs or not an integer is refused, naming nano_cpus', () => {
    expect(refusal({ nano_cpus: 1000 }).field).to.equal('nano_cpus');
    expect(refusal({ nano_cpus: 1.5 }).field).to.equal('nano_cpus');
  });

  it("the Docker API's mixed-case keys docker-py passes through", () => {
    const spec = parseRunParams({
      image: IMAGE,
      restart_policy: { Name: 'on-failure', MaximumRetryCount: 2 },
      auto_remove: false,
      log_config: { Type: 'json-file', Config: { 'max-size': '1m' } },
      ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }],
      device_requests: [{ Driver: 'nvidia', DeviceIDs: ['0'], Capabilities: [['gpu']] }],
      mounts: [{ Type: 'tmpfs', Target: '/x', TmpfsOptions: { SizeBytes: 1024, Mode: 0o755 } }],
    });
    expect(spec.restart_policy).to.deep.equal({ name: 'on-failure', maximum_retry_count: 2 });
    expect(spec.log_config).to.deep.equal({ type: 'json-file', config: { 'max-size': '1m' } });
    expect(spec.ulimits).to.deep.equal([{ name: 'nofile', soft: 10, hard: 20 }]);
    expect(spec.device_requests).to.deep.equal([{ driver: 'nvidia', count: 0, device_ids: ['0'], capabilities: [['gpu']], options: {} }]);
    expect(spec.mounts[0]).to.include({ type: 'tmpfs', target: '/x', tmpfs_size: 1024, tmpfs_mode: 0o755 });
  });

  it('labels as a list of names (empty values); a name with "=" is refused', () => {
    expect(parseRunParams({ image: IMAGE, labels: ['a', 'b'] }).labels).to.deep.equal({ a: '', b: '' });
    expect(refusal({ labels: ['a=b'] }).field).to.equal('labels[0]');
  });

  it('device_requests: the create body carries docker-py\'s DeviceRequest (no GPU here: inspect is compared in the parity test)', () => {
    const body = toCreateOptions(parseRunParams({ image: IMAGE, device_requests: [{ driver: 'nvidia', count: -1, capabilities: [['gpu', 'utility']], options: { a: 'b' } }] }), { name: 'x', labels: {} });
    expect(body.HostConfig!.DeviceRequests).to.deep.equal([{ Driver: 'nvidia', Count: -1, DeviceIDs: [], Capabilities: [['gpu', 'utility']], Options: { a: 'b' } }]);
    expect(refusal({ device_requests: [{ count: 1, device_ids: ['0'] }] }).field).to.equal('device_requests[0].count');
  });

  it('publish_all_ports and mac_address in the create body (they need a network this machine does not have)', () => {
    const body = toCreateOptions(parseRunParams({ image: IMAGE, network_mode: 'bridge', publish_all_ports: true, mac_address: '02:42:ac:11:00:02' }), { name: 'x', labels: {} });
    expect(body.HostConfig!.PublishAllPorts).to.equal(true);
    expect(body.MacAddress).to.equal('02:42:ac:11:00:02');
    expect(refusal({ publish_all_ports: true }).field).to.equal('publish_all_ports');
  });

  it('mounts: a named volume is the tenant\'s own, as in volumes', () => {
    const body = toCreateOptions(parseRunParams({ image: IMAGE, mounts: [{ type: 'volume', source: 'data', target: '/d' }] }), { name: 'x', labels: {}, tenantId: 'acme' });
    expect(body.HostConfig!.Mounts![0]).to.deep.include({ Type: 'volume', Source: 'hw-4-acme-data', Target: '/d' });
  });

  it('security_opt: the caller\'s options, plus the secure default no-new-privileges unless the caller set it', () => {
    const opts = (p: Record<string, unknown>) => toCreateOptions(parseRunParams({ image: IMAGE, ...p }), { name: 'x', labels: {} }).HostConfig!.SecurityOpt;
    expect(opts({ security_opt: ['apparmor=docker-default'] })).to.deep.equal(['apparmor=docker-default', 'no-new-privileges']);
    expect(opts({ security_opt: ['no-new-privileges:false'] })).to.deep.equal(['no-new-privileges:false']);
  });

  it('new numeric fields have upper bounds Docker accepts, named in the error', () => {
    for (const [params, field] of [
      [{ cpu_shares: 1e30 }, 'cpu_shares'],
      [{ cpu_period: 1e30 }, 'cpu_period'],
      [{ cpu_quota: 1e30 }, 'cpu_quota'],
      [{ cpu_rt_runtime: 1e30 }, 'cpu_rt_runtime'],
      [{ oom_score_adj: 1001 }, 'oom_score_adj'],
      [{ mem_swappiness: 101 }, 'mem_swappiness'],
      [{ blkio_weight: 1001 }, 'blkio_weight'],
      [{ mem_reservation: 1e30 }, 'mem_reservation'],
      [{ mem_reservation: '1m' }, 'mem_reservation'],
      [{ device_read_iops: [{ Path: '/dev/vda', Rate: 1e30 }] }, 'device_read_iops[0].rate'],
      [{ device_requests: [{ count: 1e30 }] }, 'device_requests[0].count'],
      [{ mounts: [{ type: 'tmpfs', target: '/x', tmpfs_mode: 1e30 }] }, 'mounts[0].tmpfs_mode'],
      [{ cpuset_cpus: '0-99999' }, 'cpuset_cpus'],
    ] as const) {
      expect(refusal(params).field, JSON.stringify(params)).to.equal(field);
    }
  });
});
