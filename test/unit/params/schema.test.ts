import { expect } from 'chai';
import { ValidationError } from '../../../src/errors.js';
import { PARAMETER_NAMES, parseRunParams, type RunSpec } from '../../../src/params/schema.js';

const IMAGE = 'highway-test/busybox:latest';

function parse(params: Record<string, unknown>): RunSpec {
  return parseRunParams({ image: IMAGE, ...params });
}

function rejection(params: unknown): ValidationError {
  try {
    parseRunParams(params);
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  return expect.fail(`accepted ${JSON.stringify(params)}`);
}

/** Asserts that `params` (on top of a valid image) is rejected naming `field`, with a message matching `message`. */
function expectRejected(params: Record<string, unknown>, field: string, message?: RegExp): void {
  const err = rejection({ image: IMAGE, ...params });
  expect(err.field, err.message).to.equal(field);
  if (message) expect(err.issues[0]!.message).to.match(message);
}

describe('params/schema: parseRunParams', () => {
  describe('defaults', () => {
    it('fills every parameter for a minimal call', () => {
      expect(parseRunParams({ image: IMAGE })).to.deep.equal({
        image: IMAGE,
        command: null,
        entrypoint: null,
        environment: {},
        working_dir: null,
        user: null,
        labels: {},
        hostname: null,
        timeout: 3600,
        pull_policy: 'if_not_present',
        registry_auth: null,
        auto_remove: true,
        detach: false,
        init: true,
        privileged: false,
        cap_add: [],
        cap_drop: ['ALL'],
        memory_limit: null,
        cpu_limit: null,
        pids_limit: null,
        shm_size: null,
        read_only: false,
        tmpfs: {},
        volumes: [],
        ports: [],
        network: null,
        network_mode: 'none',
        dns: [],
        extra_hosts: [],
        devices: [],
        oom_kill_disable: false,
        ulimits: [],
        log_config: null,
        healthcheck: null,
        restart_policy: null,
        stop_signal: null,
        stop_grace_period: null,
        domainname: null,
        mac_address: null,
        network_disabled: false,
        publish_all_ports: false,
        dns_search: [],
        dns_opt: [],
        group_add: [],
        security_opt: [],
        sysctls: {},
        mem_reservation: null,
        memswap_limit: null,
        mem_swappiness: null,
        oom_score_adj: null,
        cpu_shares: null,
        cpu_period: null,
        cpu_quota: null,
        cpuset_cpus: null,
        cpuset_mems: null,
        cpu_rt_period: null,
        cpu_rt_runtime: null,
        blkio_weight: null,
        blkio_weight_device: [],
        device_read_bps: [],
        device_write_bps: [],
        device_read_iops: [],
        device_write_iops: [],
        device_cgroup_rules: [],
        device_requests: [],
        pid_mode: null,
        ipc_mode: null,
        uts_mode: null,
        userns_mode: null,
        cgroupns: null,
        cgroup_parent: null,
        runtime: null,
        volumes_from: [],
        volume_driver: null,
        storage_opt: {},
        mounts: [],
        placement: null,
        placement_timeout: null,
        gc_protect_seconds: null,
        max_output_bytes: 1048576,
        files: {},
        result_path: null,
        result_format: 'json',
        max_result_bytes: 1048576,
        services: [],
      });
    });

    it('treats null like an absent parameter', () => {
      const explicitNulls = Object.fromEntries(PARAMETER_NAMES.filter((n) => n !== 'image').map((n) => [n, null]));
      expect(parse(explicitNulls)).to.deep.equal(parseRunParams({ image: IMAGE }));
    });

    it('keeps dropping ALL capabilities when only cap_add is given', () => {
      const spec = parse({ cap_add: ['NET_BIND_SERVICE'] });
      expect(spec.cap_add).to.deep.equal(['NET_BIND_SERVICE']);
      expect(spec.cap_drop).to.deep.equal(['ALL']);
    });

    it('uses the given cap_drop, even an empty one', () => {
      expect(parse({ cap_drop: [] }).cap_drop).to.deep.equal([]);
      expect(parse({ cap_drop: ['net_raw'] }).cap_drop).to.deep.equal(['NET_RAW']);
    });

    it('defaults network_mode to none only when no network is given', () => {
      expect(parse({}).network_mode).to.equal('none');
      expect(parse({ network: 'backend' })).to.include({ network: 'backend', network_mode: null });
      expect(parse({ network_mode: 'bridge' }).network_mode).to.equal('bridge');
    });

    it('produces a JSON-serialisable spec that parses back to itself', () => {
      const spec = parse({
        command: 'sh -c "echo hi"',
        environment: ['A=1', 'B=x=y'],
        volumes: { '/srv/data': { bind: '/data', mode: 'ro' } },
        ports: { '8080/tcp': ['127.0.0.1', 8080], 9090: null },
        network_mode: 'bridge',
        tmpfs: ['/tmp:size=64m'],
        extra_hosts: { db: '10.0.0.2' },
        devices: ['/dev/fuse'],
        ulimits: { nofile: { soft: 1024, hard: 2048 } },
        healthcheck: { test: 'true', interval: '30s' },
        restart_policy: { Name: 'on-failure', MaximumRetryCount: 2 },
        auto_remove: false,
        stop_signal: 9,
        memory_limit: '1.5g',
        timeout: '2h',
      });
      const roundTripped = JSON.parse(JSON.stringify(spec));
      expect(roundTripped).to.deep.equal(spec);
      expect(parseRunParams(roundTripped)).to.deep.equal(spec);
    });
  });

  describe('accepted shapes', () => {
    it('image references', () => {
      for (const image of ['alpine', 'alpine:3.20', 'library/alpine', 'localhost:5000/a/b:tag', 'registry.example.com/team/app@sha256:' + 'a'.repeat(64)]) {
        expect(parseRunParams({ image }).image).to.equal(image);
      }
    });

    it('command and entrypoint as a string (shell-split) or a list', () => {
      expect(parse({ command: `sh -c 'echo "hi"'` }).command).to.deep.equal(['sh', '-c', 'echo "hi"']);
      expect(parse({ command: ['echo', 'a b'] }).command).to.deep.equal(['echo', 'a b']);
      expect(parse({ entrypoint: '/bin/sh -c' }).entrypoint).to.deep.equal(['/bin/sh', '-c']);
      expect(parse({ entrypoint: [] }).entrypoint).to.deep.equal([]);
    });

    it('environment as an object, converting numbers and booleans, and keeping secret references', () => {
      expect(parse({ environment: { A: 'x', N: 3, F: 1.5, B: false, TOKEN: { secret: 'api/token' } } }).environment).to.deep.equal({
        A: 'x',
        N: '3',
        F: '1.5',
        B: 'false',
        TOKEN: { secret: 'api/token' },
      });
    });

    it('environment as a list of NAME=value (value may contain "=")', () => {
      expect(parse({ environment: ['A=1', 'B=x=y', 'EMPTY=', 'spring.profile=dev'] }).environment).to.deep.equal({
        A: '1',
        B: 'x=y',
        EMPTY: '',
        'spring.profile': 'dev',
      });
    });

    it('working_dir, user, hostname, labels', () => {
      expect(parse({ working_dir: '/work/../app/' }).working_dir).to.equal('/app');
      for (const user of ['1000', '1000:1000', 'nobody', 'app:staff']) expect(parse({ user }).user).to.equal(user);
      expect(parse({ user: 1000 }).user).to.equal('1000');
      expect(parse({ hostname: 'web-1.local' }).hostname).to.equal('web-1.local');
      expect(parse({ labels: { team: 'data', 'com.example/x': '' } }).labels).to.deep.equal({ team: 'data', 'com.example/x': '' });
    });

    it('timeout, stop_grace_period and gc_protect_seconds as seconds or durations', () => {
      expect(parse({ timeout: 30 }).timeout).to.equal(30);
      expect(parse({ timeout: '1m30s' }).timeout).to.equal(90);
      expect(parse({ timeout: 7 * 86400 }).timeout).to.equal(7 * 86400);
      expect(parse({ stop_grace_period: '500ms' }).stop_grace_period).to.equal(0.5);
      expect(parse({ stop_grace_period: 0 }).stop_grace_period).to.equal(0);
      expect(parse({ gc_protect_seconds: '1h' }).gc_protect_seconds).to.equal(3600);
      expect(parse({ gc_protect_seconds: 0 }).gc_protect_seconds).to.equal(0);
    });

    it('pull_policy values and booleans', () => {
      for (const pull_policy of ['always', 'if_not_present', 'never']) expect(parse({ pull_policy }).pull_policy).to.equal(pull_policy);
      const spec = parse({ auto_remove: false, detach: true, init: false, privileged: true, read_only: true });
      expect(spec).to.include({ auto_remove: false, detach: true, init: false, privileged: true, read_only: true });
    });

    it('capabilities with or without CAP_, any case, deduplicated; ALL allowed', () => {
      expect(parse({ cap_add: ['cap_net_admin', 'NET_ADMIN', 'sys_time'] }).cap_add).to.deep.equal(['NET_ADMIN', 'SYS_TIME']);
      expect(parse({ cap_add: ['ALL'] }).cap_add).to.deep.equal(['ALL']);
    });

    it('resource limits', () => {
      expect(parse({ memory_limit: '512m' }).memory_limit).to.equal(512 * 1024 ** 2);
      expect(parse({ memory_limit: 8 * 1024 ** 2 }).memory_limit).to.equal(8 * 1024 ** 2);
      expect(parse({ cpu_limit: 0.5 }).cpu_limit).to.equal(0.5);
      expect(parse({ cpu_limit: '2' }).cpu_limit).to.equal(2);
      expect(parse({ pids_limit: 100 }).pids_limit).to.equal(100);
      expect(parse({ pids_limit: -1 }).pids_limit).to.equal(-1);
      expect(parse({ shm_size: '64m' }).shm_size).to.equal(64 * 1024 ** 2);
      expect(parse({ max_output_bytes: '64m' }).max_output_bytes).to.equal(64 * 1024 ** 2);
      expect(parse({ max_output_bytes: 0 }).max_output_bytes).to.equal(0);
    });

    it('tmpfs as an object or a list', () => {
      expect(parse({ tmpfs: { '/tmp': 'size=64m', '/run': null } }).tmpfs).to.deep.equal({ '/tmp': 'size=64m', '/run': '' });
      expect(parse({ tmpfs: ['/tmp:size=64m,mode=1777', '/run'] }).tmpfs).to.deep.equal({ '/tmp': 'size=64m,mode=1777', '/run': '' });
    });

    it('volumes as a docker-py object, a list of strings, or normalized objects', () => {
      const expected = [
        { type: 'bind', source: '/srv/in', target: '/in', mode: 'ro' },
        { type: 'bind', source: '/srv/out', target: '/out', mode: 'rw' },
      ];
      expect(parse({ volumes: { '/srv/in': { bind: '/in', mode: 'ro' }, '/srv/out': { bind: '/out' } } }).volumes).to.deep.equal(expected);
      expect(parse({ volumes: ['/srv/in:/in:ro', '/srv/out:/out'] }).volumes).to.deep.equal(expected);
      expect(parse({ volumes: expected }).volumes).to.deep.equal(expected);
    });

    it('volumes: named volumes are marked as such; paths are normalized', () => {
      expect(parse({ volumes: ['cache_v1.2:/cache', '/srv/a/../b/:/b/'] }).volumes).to.deep.equal([
        { type: 'volume', source: 'cache_v1.2', target: '/cache', mode: 'rw' },
        { type: 'bind', source: '/srv/b', target: '/b', mode: 'rw' },
      ]);
    });

    it('ports in every docker-py shape', () => {
      expect(
        parse({
          network_mode: 'bridge',
          ports: {
            '8080/tcp': 8080,
            '8081': '127.0.0.1:9081',
            '8082/udp': ['127.0.0.1', 9082],
            '8083/tcp': null,
            '8084': [9084, '9085'],
            '8086': '[::1]:9086',
          },
        }).ports,
      ).to.deep.equal([
        { container_port: '8081/tcp', host_ip: '127.0.0.1', host_port: '9081' },
        { container_port: '8084/tcp', host_ip: null, host_port: '9084' },
        { container_port: '8084/tcp', host_ip: null, host_port: '9085' },
        { container_port: '8086/tcp', host_ip: '::1', host_port: '9086' },
        { container_port: '8080/tcp', host_ip: null, host_port: '8080' },
        { container_port: '8082/udp', host_ip: '127.0.0.1', host_port: '9082' },
        { container_port: '8083/tcp', host_ip: null, host_port: null },
      ]);
    });

    it('network, network_mode, dns, extra_hosts', () => {
      expect(parse({ network: 'backend_net' }).network).to.equal('backend_net');
      for (const mode of ['none', 'host', 'bridge', 'container:db-1']) expect(parse({ network_mode: mode }).network_mode).to.equal(mode);
      expect(parse({ dns: ['1.1.1.1', '2606:4700::1111'] }).dns).to.deep.equal(['1.1.1.1', '2606:4700::1111']);
      expect(parse({ extra_hosts: { db: '10.0.0.2', gw: 'host-gateway' } }).extra_hosts).to.deep.equal(['db:10.0.0.2', 'gw:host-gateway']);
      expect(parse({ extra_hosts: ['db:10.0.0.2', 'v6:::1'] }).extra_hosts).to.deep.equal(['db:10.0.0.2', 'v6:::1']);
    });

    it('devices in every short form', () => {
      expect(parse({ devices: ['/dev/fuse', '/dev/sda:/dev/xvda', '/dev/sdb:/dev/xvdb:r', '/dev/net/tun:rw'] }).devices).to.deep.equal([
        { host_path: '/dev/fuse', container_path: '/dev/fuse', permissions: 'rwm' },
        { host_path: '/dev/sda', container_path: '/dev/xvda', permissions: 'rwm' },
        { host_path: '/dev/sdb', container_path: '/dev/xvdb', permissions: 'r' },
        { host_path: '/dev/net/tun', container_path: '/dev/net/tun', permissions: 'rw' },
      ]);
    });

    it('oom_kill_disable with a memory limit', () => {
      expect(parse({ oom_kill_disable: true, memory_limit: '64m' }).oom_kill_disable).to.equal(true);
    });

    it('ulimits as an object of limits, an object of numbers, or a list', () => {
      const expected = [
        { name: 'nofile', soft: 1024, hard: 2048 },
        { name: 'memlock', soft: -1, hard: -1 },
      ];
      expect(parse({ ulimits: { nofile: { soft: 1024, hard: 2048 }, memlock: -1 } }).ulimits).to.deep.equal(expected);
      expect(parse({ ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }, { name: 'memlock', soft: -1 }] }).ulimits).to.deep.equal(expected);
      expect(parse({ ulimits: { nproc: { soft: 10, hard: -1 } } }).ulimits).to.deep.equal([{ name: 'nproc', soft: 10, hard: -1 }]);
    });

    it('log_config, with config values as strings', () => {
      expect(parse({ log_config: { type: 'json-file', config: { 'max-size': '10m', 'max-file': 3 } } }).log_config).to.deep.equal({
        type: 'json-file',
        config: { 'max-size': '10m', 'max-file': '3' },
      });
      expect(parse({ log_config: { type: 'local' } }).log_config).to.deep.equal({ type: 'local', config: {} });
    });

    it('healthcheck: a string test becomes CMD-SHELL; durations are nanoseconds as in docker-py (strings with units too)', () => {
      expect(parse({ healthcheck: { test: 'curl -f localhost', interval: '30s', timeout: 5_000_000_000, retries: 3, start_period: '1m' } }).healthcheck).to.deep.equal({
        test: ['CMD-SHELL', 'curl -f localhost'],
        interval: 30e9,
        timeout: 5e9,
        retries: 3,
        start_period: 60e9,
      });
      // docker-py: {"interval": 1000000000} is one second, not 31 years
      expect(parse({ healthcheck: { test: 'true', interval: 1_000_000_000 } }).healthcheck?.interval).to.equal(1e9);
      expect(parse({ healthcheck: { Test: ['CMD', 'true'], Interval: 2_000_000_000, StartPeriod: '500ms' } }).healthcheck).to.include({ interval: 2e9, start_period: 5e8 });
      expect(parse({ healthcheck: { test: ['CMD', 'true'] } }).healthcheck).to.deep.equal({
        test: ['CMD', 'true'],
        interval: null,
        timeout: null,
        retries: null,
        start_period: null,
      });
      expect(parse({ healthcheck: { test: ['NONE'] } }).healthcheck?.test).to.deep.equal(['NONE']);
    });

    it('restart_policy in snake_case or docker-py spelling (with auto_remove off)', () => {
      expect(parse({ auto_remove: false, restart_policy: { name: 'on-failure', maximum_retry_count: 5 } }).restart_policy).to.deep.equal({
        name: 'on-failure',
        maximum_retry_count: 5,
      });
      expect(parse({ auto_remove: false, restart_policy: { Name: 'unless-stopped' } }).restart_policy).to.deep.equal({
        name: 'unless-stopped',
        maximum_retry_count: 0,
      });
      expect(parse({ restart_policy: { name: 'no' } }).restart_policy).to.deep.equal({ name: 'no', maximum_retry_count: 0 });
    });

    it('stop_signal as a name with or without SIG, or a number', () => {
      expect(parse({ stop_signal: 'TERM' }).stop_signal).to.equal('SIGTERM');
      expect(parse({ stop_signal: 'sigint' }).stop_signal).to.equal('SIGINT');
      expect(parse({ stop_signal: 'SIGQUIT' }).stop_signal).to.equal('SIGQUIT');
      expect(parse({ stop_signal: 9 }).stop_signal).to.equal('SIGKILL');
      expect(parse({ stop_signal: '15' }).stop_signal).to.equal('SIGTERM');
    });
  });

  describe('rejections name the field and say what is allowed', () => {
    it('an input that is not an object', () => {
      for (const input of [null, 'alpine', 42, ['alpine']]) expect(rejection(input).field).to.equal('(params)');
    });

    it('a missing image', () => {
      const err = rejection({ command: 'true' });
      expect(err.field).to.equal('image');
      expect(err.message).to.equal('image: is required');
      expect(err.code).to.equal('invalid_params');
    });

    it('unknown top-level keys, suggesting the likely name', () => {
      const err = rejection({ image: IMAGE, memroy_limit: '1g', foo: 1 });
      expect(err.issues.map((i) => i.field)).to.have.members(['memroy_limit', 'foo']);
      expect(err.issues.find((i) => i.field === 'memroy_limit')?.message).to.equal('is not a parameter; did you mean memory_limit?');
    });

    it('a bad size, in the documented words', () => {
      const err = rejection({ image: IMAGE, memory_limit: '12q' });
      expect(err.message).to.equal('memory_limit: "12q" is not a size; use bytes or e.g. "512m", "1g"');
    });

    it('reports every invalid field, not only the first', () => {
      const err = rejection({ image: '', memory_limit: 'x', volumes: ['rel/path:/in'] });
      expect(err.issues.map((i) => i.field)).to.deep.equal(['image', 'memory_limit', 'volumes[0]']);
    });

    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['image with whitespace', { image: 'alpine latest' }, 'image', /not an image reference/],
      ['empty image', { image: '' }, 'image', /must not be empty/],
      ['upper-case repository', { image: 'Alpine' }, 'image', /not an image reference/],
      ['command of numbers', { command: [1, 2] }, 'command', /string .* or a list of strings/],
      ['unbalanced quote', { command: 'sh -c "echo' }, 'command', /unbalanced double quote/],
      ['env name', { environment: { '1BAD': 'x' } }, 'environment["1BAD"]', /not a valid environment variable name/],
      ['env list entry', { environment: ['A=1', 'NOVALUE'] }, 'environment[1]', /must be "NAME=value"/],
      ['env value object', { environment: { A: { nested: 1 } } }, 'environment', /secret/],
      ['relative working_dir', { working_dir: 'app' }, 'working_dir', /absolute path/],
      ['user', { user: 'a b' }, 'user', /not a user; use e\.g\. "1000"/],
      ['reserved label', { labels: { 'highway.managed': 'false' } }, 'labels["highway.managed"]', /reserved/],
      ['hostname', { hostname: 'under_score' }, 'hostname', /valid host name/],
      ['timeout 0', { timeout: 0 }, 'timeout', /more than 0 and at most 7 days/],
      ['timeout over 7 days', { timeout: '169h' }, 'timeout', /at most 7 days/],
      ['timeout words', { timeout: 'forever' }, 'timeout', /not a duration/],
      ['pull_policy', { pull_policy: 'sometimes' }, 'pull_policy', /always.*if_not_present.*never/],
      ['boolean as string', { privileged: 'true' }, 'privileged', /boolean/],
      ['unknown capability', { cap_add: ['NET_ADMIN', 'FLY'] }, 'cap_add[1]', /not a Linux capability/],
      ['memory below Docker minimum', { memory_limit: '5m' }, 'memory_limit', /at least 6m/],
      ['cpu 0', { cpu_limit: 0 }, 'cpu_limit', /at least 0\.01/],
      ['pids 0', { pids_limit: 0 }, 'pids_limit', /-1 for unlimited/],
      ['shm 0', { shm_size: 0 }, 'shm_size', /more than 0/],
      ['tmpfs relative path', { tmpfs: ['tmp'] }, 'tmpfs[0]', /absolute path/],
      ['volume relative source', { volumes: ['./data:/in'] }, 'volumes[0]', /absolute host path or a volume name/],
      ['volume relative target', { volumes: { '/srv': { bind: 'in' } } }, 'volumes["/srv"]', /absolute path/],
      ['volume mode', { volumes: ['/srv:/in:rx'] }, 'volumes[0]', /"ro" or "rw"/],
      ['volume without target', { volumes: ['/srv'] }, 'volumes[0]', /source:target/],
      ['port number', { ports: { '8080/tcp': 70000 } }, 'ports["8080/tcp"]', /between 1 and 65535/],
      ['port protocol', { ports: { '8080/icmp': 1 } }, 'ports["8080/icmp"]', /tcp\|udp\|sctp/],
      ['port host ip', { ports: { '80': ['localhost', 80] } }, 'ports["80"]', /.+/],
      ['network that is a mode', { network: 'host' }, 'network', /use network_mode: "host"/],
      ['network_mode', { network_mode: 'overlay' }, 'network_mode', /"none", "host", "bridge" or "container:/],
      ['dns', { dns: ['one.one.one.one'] }, 'dns[0]', /not an IP address/],
      ['extra host', { extra_hosts: ['db'] }, 'extra_hosts[0]', /"host:ip"/],
      ['device', { devices: ['/dev/fuse:/dev/fuse:rwx'] }, 'devices[0]', /"r", "w", "m"/],
      ['ulimit soft > hard', { ulimits: { nofile: { soft: 2048, hard: 1024 } } }, 'ulimits.nofile.soft', /must not exceed the hard limit/],
      ['ulimit soft > hard in a list', { ulimits: [{ name: 'nofile', soft: 3, hard: 2 }] }, 'ulimits[0].soft', /must not exceed/],
      ['ulimit name', { ulimits: { files: 10 } }, 'ulimits.files', /not a ulimit/],
      ['ulimit twice', { ulimits: [{ name: 'nproc', soft: 1 }, { name: 'nproc', soft: 2 }] }, 'ulimits[1]', /given twice/],
      ['log driver', { log_config: { type: 'JSON File' } }, 'log_config.type', /logging driver/],
      ['healthcheck test', { healthcheck: { test: ['RUN', 'x'] } }, 'healthcheck.test', /"CMD", "CMD-SHELL" or "NONE"/],
      ['healthcheck interval', { healthcheck: { test: 'true', interval: '100us' } }, 'healthcheck.interval', /at least 1ms/],
      ['healthcheck interval as seconds', { healthcheck: { test: 'true', interval: 30 } }, 'healthcheck.interval', /at least 1ms \(1000000 nanoseconds\)/],
      ['healthcheck beyond int64', { healthcheck: { test: 'true', timeout: 1e19 } }, 'healthcheck.timeout', /more than 9007199254740991 nanoseconds/],
      ['restart policy name', { restart_policy: { name: 'sometimes' } }, 'restart_policy', /"no" \| "always"/],
      ['stop signal', { stop_signal: 'SIGFOO' }, 'stop_signal', /not a signal/],
      ['grace period', { stop_grace_period: -1 }, 'stop_grace_period', /not a duration/],
      ['gc protection', { gc_protect_seconds: -1 }, 'gc_protect_seconds', /not a duration/],
      ['output cap', { max_output_bytes: '65m' }, 'max_output_bytes', /at most 64 MiB/],
    ];
    for (const [what, params, field, message] of cases) {
      it(`${what} -> ${field}`, () => expectRejected(params, field, message));
    }
  });

  describe('contradictions, as Docker refuses them', () => {
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['network with network_mode', { network: 'backend', network_mode: 'bridge' }, 'network_mode', /cannot be combined with network/],
      ['auto_remove (default) with a restart policy', { restart_policy: { name: 'always' } }, 'restart_policy', /auto_remove/],
      ['retry count without on-failure', { auto_remove: false, restart_policy: { name: 'always', maximum_retry_count: 3 } }, 'restart_policy.maximum_retry_count', /only applies to "on-failure"/],
      ['ports with the host network', { network_mode: 'host', ports: { 80: 8080 } }, 'ports', /network_mode "host"/],
      ['ports without a network', { ports: { 80: 8080 } }, 'ports', /without a network/],
      ['ports with a container network', { network_mode: 'container:db', ports: { 80: null } }, 'ports', /container:db/],
      ['hostname with a container network', { network_mode: 'container:db', hostname: 'web' }, 'hostname', /container:db/],
      ['dns with a container network', { network_mode: 'container:db', dns: ['1.1.1.1'] }, 'dns', /container:db/],
      ['extra_hosts with a container network', { network_mode: 'container:db', extra_hosts: ['a:1.2.3.4'] }, 'extra_hosts', /container:db/],
      ['oom_kill_disable without memory_limit', { oom_kill_disable: true }, 'oom_kill_disable', /needs memory_limit/],
      ['a capability both added and dropped', { cap_add: ['NET_ADMIN'], cap_drop: ['CHOWN', 'cap_net_admin'] }, 'cap_drop[1]', /also in cap_add/],
      ['duplicate volume targets', { volumes: ['/a:/data', 'cache:/data/'] }, 'volumes[1]', /already mounted by volumes\[0\]/],
      ['a tmpfs over a volume', { volumes: ['/a:/scratch'], tmpfs: { '/scratch': '' } }, 'tmpfs["/scratch"]', /already mounted/],
    ];
    for (const [what, params, field, message] of cases) {
      it(`${what} -> ${field}`, () => expectRejected(params, field, message));
    }

    it('allows what Docker allows: host network with hostname, dns and extra_hosts; ALL in both cap lists', () => {
      expect(() => parse({ network_mode: 'host', hostname: 'h', dns: ['1.1.1.1'], extra_hosts: ['a:1.2.3.4'] })).not.to.throw();
      expect(() => parse({ cap_add: ['ALL'], cap_drop: ['ALL'] })).not.to.throw();
      expect(() => parse({ auto_remove: true, restart_policy: { name: 'no' } })).not.to.throw();
    });
  });
});
