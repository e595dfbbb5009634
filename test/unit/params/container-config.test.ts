import { expect } from 'chai';
import { HighwayError } from '../../../src/errors.js';
import { toCreateOptions, type CreateContext } from '../../../src/params/container-config.js';
import { parseRunParams } from '../../../src/params/schema.js';

const IMAGE = 'highway-test/busybox:latest';
const CTX: CreateContext = { name: 'highway-0b6f', labels: { 'highway.managed': 'true', 'highway.intent_id': '0b6f' } };

function createOptions(params: Record<string, unknown>, ctx: CreateContext = CTX) {
  return toCreateOptions(parseRunParams({ image: IMAGE, ...params }), ctx);
}

describe('params/container-config: toCreateOptions', () => {
  describe('secure defaults', () => {
    const options = createOptions({});

    it('names the container and uses the image', () => {
      expect(options).to.include({ name: 'highway-0b6f', Image: IMAGE });
    });

    it('drops all capabilities, forbids new privileges, runs an init, has no network', () => {
      expect(options.HostConfig).to.deep.include({
        CapDrop: ['ALL'],
        CapAdd: [],
        SecurityOpt: ['no-new-privileges'],
        Init: true,
        Privileged: false,
        NetworkMode: 'none',
        ReadonlyRootfs: false,
        OomKillDisable: false,
      });
    });

    it("never sets Docker's AutoRemove (output is collected first)", () => {
      expect(options.HostConfig).not.to.have.property('AutoRemove');
      expect(createOptions({ auto_remove: true }).HostConfig).not.to.have.property('AutoRemove');
    });

    it("keeps the image's stop signal and Docker's stop timeout (sends neither)", () => {
      expect(options).not.to.have.property('StopSignal');
      expect(options).not.to.have.property('StopTimeout');
    });

    it("leaves the image's command, entrypoint, user and working dir alone", () => {
      for (const key of ['Cmd', 'Entrypoint', 'User', 'WorkingDir', 'Hostname', 'Healthcheck']) expect(options).not.to.have.property(key);
    });
  });

  describe('no-new-privileges', () => {
    it('is left off for privileged containers and for added capabilities', () => {
      expect(createOptions({ privileged: true }).HostConfig).not.to.have.property('SecurityOpt');
      expect(createOptions({ cap_add: ['NET_BIND_SERVICE'] }).HostConfig).not.to.have.property('SecurityOpt');
    });

    it('stays on when capabilities are only dropped', () => {
      expect(createOptions({ cap_drop: ['NET_RAW'] }).HostConfig?.SecurityOpt).to.deep.equal(['no-new-privileges']);
    });
  });

  it('command, entrypoint, working_dir, user, hostname', () => {
    expect(createOptions({ command: 'sh -c "echo hi"', entrypoint: [], working_dir: '/work', user: '1000:1000', hostname: 'job' })).to.deep.include({
      Cmd: ['sh', '-c', 'echo hi'],
      Entrypoint: [],
      WorkingDir: '/work',
      User: '1000:1000',
      Hostname: 'job',
    });
  });

  describe('environment', () => {
    it('becomes NAME=value strings', () => {
      expect(createOptions({ environment: { A: 1, B: 'x=y' } }).Env).to.deep.equal(['A=1', 'B=x=y']);
    });

    it('resolves secret references from the context', () => {
      const options = createOptions({ environment: { TOKEN: { secret: 'api' }, A: 'a' } }, { ...CTX, secrets: { api: 's3cr3t' } });
      expect(options.Env).to.deep.equal(['TOKEN=s3cr3t', 'A=a']);
    });

    it('throws, without any secret value, on an unresolved reference', () => {
      const spec = parseRunParams({ image: IMAGE, environment: { TOKEN: { secret: 'api' } } });
      expect(() => toCreateOptions(spec, { ...CTX, secrets: { other: 'value' } }))
        .to.throw(HighwayError, /environment\.TOKEN: secret "api" was not resolved/)
        .with.property('message')
        .that.does.not.include('value');
    });
  });

  it("merges labels with the context's, which win", () => {
    expect(createOptions({ labels: { team: 'data' } }, { ...CTX, labels: { 'highway.managed': 'true' } }).Labels).to.deep.equal({
      team: 'data',
      'highway.managed': 'true',
    });
  });

  it('resource limits', () => {
    expect(createOptions({ memory_limit: '512m', cpu_limit: 0.5, pids_limit: 64, shm_size: '64m' }).HostConfig).to.deep.include({
      Memory: 512 * 1024 ** 2,
      NanoCpus: 500_000_000,
      PidsLimit: 64,
      ShmSize: 64 * 1024 ** 2,
    });
  });

  it('privileged, capabilities, read-only root, OOM killer', () => {
    expect(createOptions({ privileged: true, cap_add: ['net_admin'], cap_drop: ['MKNOD'], read_only: true, oom_kill_disable: true, memory_limit: '1g', init: false }).HostConfig).to.deep.include({
      Privileged: true,
      CapAdd: ['NET_ADMIN'],
      CapDrop: ['MKNOD'],
      ReadonlyRootfs: true,
      OomKillDisable: true,
      Init: false,
    });
  });

  it('tmpfs', () => {
    expect(createOptions({ tmpfs: ['/tmp:size=64m', '/run'] }).HostConfig?.Tmpfs).to.deep.equal({ '/tmp': 'size=64m', '/run': '' });
  });

  it('volumes become Mounts (bind and named volume), read-only when mode is ro', () => {
    expect(createOptions({ volumes: ['/srv/in:/in:ro', 'cache:/cache'] }).HostConfig?.Mounts).to.deep.equal([
      { Type: 'bind', Source: '/srv/in', Target: '/in', ReadOnly: true },
      { Type: 'volume', Source: 'cache', Target: '/cache', ReadOnly: false },
    ]);
  });

  it('ports become ExposedPorts and PortBindings', () => {
    const options = createOptions({ network_mode: 'bridge', ports: { '8080/tcp': ['127.0.0.1', 9080], '53/udp': null, 8443: [1, 2] } });
    expect(options.ExposedPorts).to.deep.equal({ '8443/tcp': {}, '8080/tcp': {}, '53/udp': {} });
    expect(options.HostConfig?.PortBindings).to.deep.equal({
      '8443/tcp': [
        { HostIp: '', HostPort: '1' },
        { HostIp: '', HostPort: '2' },
      ],
      '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '9080' }],
      '53/udp': [{ HostIp: '', HostPort: '' }],
    });
  });

  it('network connects to the named network at create', () => {
    const options = createOptions({ network: 'backend' });
    expect(options.HostConfig?.NetworkMode).to.equal('backend');
    expect(options.NetworkingConfig).to.deep.equal({ EndpointsConfig: { backend: {} } });
  });

  it('network_mode, dns, extra_hosts', () => {
    expect(createOptions({ network_mode: 'host', dns: ['1.1.1.1'], extra_hosts: { db: '10.0.0.2' } }).HostConfig).to.deep.include({
      NetworkMode: 'host',
      Dns: ['1.1.1.1'],
      ExtraHosts: ['db:10.0.0.2'],
    });
    expect(createOptions({ network_mode: 'container:db' }).HostConfig?.NetworkMode).to.equal('container:db');
  });

  it('devices', () => {
    expect(createOptions({ devices: ['/dev/fuse', '/dev/sda:/dev/xvda:r'] }).HostConfig?.Devices).to.deep.equal([
      { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' },
      { PathOnHost: '/dev/sda', PathInContainer: '/dev/xvda', CgroupPermissions: 'r' },
    ]);
  });

  it('ulimits', () => {
    expect(createOptions({ ulimits: { nofile: { soft: 1024, hard: 2048 }, memlock: -1 } }).HostConfig?.Ulimits).to.deep.equal([
      { Name: 'nofile', Soft: 1024, Hard: 2048 },
      { Name: 'memlock', Soft: -1, Hard: -1 },
    ]);
  });

  it('log_config', () => {
    expect(createOptions({ log_config: { type: 'json-file', config: { 'max-size': '10m' } } }).HostConfig?.LogConfig).to.deep.equal({
      Type: 'json-file',
      Config: { 'max-size': '10m' },
    });
  });

  it('healthcheck durations in nanoseconds', () => {
    const { Healthcheck } = createOptions({ healthcheck: { test: 'true', interval: '30s', timeout: '500ms', retries: 3, start_period: 60_000_000_000 } });
    expect(JSON.parse(JSON.stringify(Healthcheck))).to.deep.equal({
      Test: ['CMD-SHELL', 'true'],
      Interval: 30_000_000_000,
      Timeout: 500_000_000,
      StartPeriod: 60_000_000_000,
      Retries: 3,
    });
    expect(JSON.parse(JSON.stringify(createOptions({ healthcheck: { test: ['NONE'] } }).Healthcheck))).to.deep.equal({ Test: ['NONE'] });
  });

  it('restart_policy', () => {
    expect(createOptions({ auto_remove: false, restart_policy: { name: 'on-failure', maximum_retry_count: 2 } }).HostConfig?.RestartPolicy).to.deep.equal({
      Name: 'on-failure',
      MaximumRetryCount: 2,
    });
  });

  it('stop_signal and stop_grace_period (rounded up to whole seconds)', () => {
    expect(createOptions({ stop_signal: 'INT', stop_grace_period: '1500ms' })).to.include({ StopSignal: 'SIGINT', StopTimeout: 2 });
  });

  it('leaves the parameters the reconciler handles out of the create body', () => {
    const body = JSON.stringify(createOptions({ timeout: 5, pull_policy: 'never', detach: true, gc_protect_seconds: 60, max_output_bytes: 10 }));
    expect(body).to.equal(JSON.stringify(createOptions({})));
  });
});
