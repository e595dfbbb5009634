/**
 * Maps a normalized RunSpec to the body of Docker Engine API 1.41 `POST /containers/create`.
 * Pure: no Docker calls, no I/O.
 */
import type Docker from 'dockerode';
import { TerminalError } from '../errors.js';
import type { EnvValue } from './fields.js';
import type { MountSpec } from './host-fields.js';
import type { RunSpec } from './schema.js';

export interface CreateContext {
  /** Container name, `highway-<intent id>`. */
  name: string;
  /** highway-docker's own labels; they win over the caller's. */
  labels: Record<string, string>;
  /** Resolved secret values by name, for `{"secret": name}` environment references. */
  secrets?: Record<string, string>;
  /** The caller's tenant: its named volumes are its own (default: names as given). */
  tenantId?: string;
  /** Named volumes shared by every tenant (operator policy `shared_volumes`). */
  sharedVolumes?: readonly string[];
}

/**
 * The Docker name of a tenant's named volume: private to the tenant (tenant B's "data" is not
 * tenant A's), unambiguous (the tenant's length is part of it, so no two tenant/name pairs
 * meet), and within Docker's volume-name grammar (tenant ids are [A-Za-z0-9._-]).
 */
export function tenantVolumeName(tenantId: string, name: string): string {
  return `hw-${tenantId.length}-${tenantId}-${name}`;
}

function volumeMountOf(v: RunSpec['volumes'][number], ctx: CreateContext): Docker.MountSettings {
  const mount: Docker.MountSettings = { Type: v.type, Source: v.source, Target: v.target, ReadOnly: v.mode === 'ro' };
  if (v.type !== 'volume' || ctx.tenantId === undefined || ctx.sharedVolumes?.includes(v.source)) return mount;
  return {
    ...mount,
    Source: tenantVolumeName(ctx.tenantId, v.source),
    // Applied when Docker creates the volume: whose it is, for the people on call and cleanup.
    VolumeOptions: { Labels: { 'highway.managed': 'true', 'highway.tenant_id': ctx.tenantId, 'highway.volume': v.source } } as unknown as Docker.MountSettings['VolumeOptions'],
  };
}

/** A docker-py Mount as Docker's HostConfig.Mounts entry; a named volume is the tenant's own, as in `volumes`. */
function mountOf(m: MountSpec, ctx: CreateContext): Docker.MountSettings {
  const mount: Record<string, unknown> = { Type: m.type, Target: m.target, ReadOnly: m.read_only };
  if (m.source !== null) mount['Source'] = m.source;
  if (m.consistency !== null) mount['Consistency'] = m.consistency;
  if (m.type === 'bind' && m.propagation !== null) mount['BindOptions'] = { Propagation: m.propagation };
  if (m.type === 'tmpfs' && (m.tmpfs_size !== null || m.tmpfs_mode !== null)) {
    mount['TmpfsOptions'] = { ...(m.tmpfs_size !== null ? { SizeBytes: m.tmpfs_size } : {}), ...(m.tmpfs_mode !== null ? { Mode: m.tmpfs_mode } : {}) };
  }
  if (m.type === 'volume') {
    const options: Record<string, unknown> = {};
    if (m.no_copy) options['NoCopy'] = true;
    if (m.driver_config !== null) options['DriverConfig'] = { Name: m.driver_config.name, Options: m.driver_config.options };
    let labels: Record<string, string> = m.labels;
    if (m.source !== null && ctx.tenantId !== undefined && !ctx.sharedVolumes?.includes(m.source)) {
      mount['Source'] = tenantVolumeName(ctx.tenantId, m.source);
      labels = { ...labels, 'highway.managed': 'true', 'highway.tenant_id': ctx.tenantId, 'highway.volume': m.source };
    }
    if (Object.keys(labels).length > 0) options['Labels'] = labels;
    if (Object.keys(options).length > 0) mount['VolumeOptions'] = options;
  }
  return mount as unknown as Docker.MountSettings;
}

type ContainerConfig = Omit<Docker.ContainerCreateOptions, 'HostConfig'>;

/** The part of the create body one parameter contributes. */
interface Fragment {
  config?: ContainerConfig;
  host?: Docker.HostConfig;
}

type Mapper<K extends keyof RunSpec> = (value: RunSpec[K], ctx: CreateContext) => Fragment;

/** Parameters the reconciler acts on itself; they have no place in the create body. */
const RECONCILER = 'handled by the reconciler' as const;
/** Parameters merged with another into one create field, in toCreateOptions. */
const RECONCILER_MERGED = 'merged in toCreateOptions' as const;

const rates = (list: readonly { path: string; rate: number }[]) => list.map((d) => ({ Path: d.path, Rate: d.rate }));

const NANOS_PER_SECOND = 1e9;

/** `null` (unset) contributes nothing, so Docker or the image decides. */
function ifSet<T>(value: T | null, fragment: (value: T) => Fragment): Fragment {
  return value === null ? {} : fragment(value);
}

/** One entry per parameter; the type makes forgetting a new parameter a compile error. */
const MAPPING: { [K in keyof RunSpec]: Mapper<K> | typeof RECONCILER | typeof RECONCILER_MERGED } = {
  image: (image) => ({ config: { Image: image } }),
  command: (command) => ifSet(command, (Cmd) => ({ config: { Cmd } })),
  entrypoint: (entrypoint) => ifSet(entrypoint, (Entrypoint) => ({ config: { Entrypoint } })),
  environment: (environment, ctx) => ({ config: { Env: Object.entries(environment).map(([name, value]) => `${name}=${envValue(name, value, ctx)}`) } }),
  working_dir: (dir) => ifSet(dir, (WorkingDir) => ({ config: { WorkingDir } })),
  user: (user) => ifSet(user, (User) => ({ config: { User } })),
  labels: (labels, ctx) => ({ config: { Labels: { ...labels, ...ctx.labels } } }),
  hostname: (hostname) => ifSet(hostname, (Hostname) => ({ config: { Hostname } })),
  timeout: RECONCILER,
  pull_policy: RECONCILER,
  registry_auth: RECONCILER,
  // Never Docker's AutoRemove: it would delete the output before the reconciler collects it.
  auto_remove: RECONCILER,
  detach: RECONCILER,
  init: (Init) => ({ host: { Init } }),
  privileged: (Privileged) => ({ host: { Privileged } }),
  cap_add: (CapAdd) => ({ host: { CapAdd } }),
  cap_drop: (CapDrop) => ({ host: { CapDrop } }),
  // MemorySwap = Memory: the limit is the whole allowance, not doubled again in swap (Docker's default).
  memory_limit: (bytes) => ifSet(bytes, (Memory) => ({ host: { Memory, MemorySwap: Memory } })),
  cpu_limit: (cpus) => ifSet(cpus, (n) => ({ host: { NanoCpus: Math.round(n * NANOS_PER_SECOND) } })),
  pids_limit: (pids) => ifSet(pids, (PidsLimit) => ({ host: { PidsLimit } })),
  shm_size: (bytes) => ifSet(bytes, (ShmSize) => ({ host: { ShmSize } })),
  read_only: (ReadonlyRootfs) => ({ host: { ReadonlyRootfs } }),
  tmpfs: (tmpfs) => (Object.keys(tmpfs).length === 0 ? {} : { host: { Tmpfs: tmpfs } }),
  // Mounts rather than Binds: a missing host path is an error instead of a directory Docker creates as root.
  volumes: RECONCILER_MERGED, // one HostConfig.Mounts with mounts, in toCreateOptions
  ports: (ports) => (ports.length === 0 ? {} : portFragment(ports)),
  network: (network) => ifSet(network, (name) => ({ config: { NetworkingConfig: { EndpointsConfig: { [name]: {} } } }, host: { NetworkMode: name } })),
  network_mode: (mode) => ifSet(mode, (NetworkMode) => ({ host: { NetworkMode } })),
  dns: (Dns) => (Dns.length === 0 ? {} : { host: { Dns } }),
  extra_hosts: (ExtraHosts) => (ExtraHosts.length === 0 ? {} : { host: { ExtraHosts } }),
  devices: (devices) =>
    devices.length === 0
      ? {}
      : { host: { Devices: devices.map((d) => ({ PathOnHost: d.host_path, PathInContainer: d.container_path, CgroupPermissions: d.permissions })) } },
  oom_kill_disable: (OomKillDisable) => ({ host: { OomKillDisable } }),
  ulimits: (ulimits) => (ulimits.length === 0 ? {} : { host: { Ulimits: ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })) } }),
  log_config: (log) => ifSet(log, ({ type, config }) => ({ host: { LogConfig: { Type: type, Config: config } } })),
  healthcheck: (health) =>
    ifSet(health, (h) => ({
      config: {
        Healthcheck: {
          Test: h.test,
          // Already nanoseconds (docker-py's unit).
          Interval: h.interval ?? undefined,
          Timeout: h.timeout ?? undefined,
          StartPeriod: h.start_period ?? undefined,
          Retries: h.retries ?? undefined,
        },
      },
    })),
  restart_policy: (policy) => ifSet(policy, (p) => ({ host: { RestartPolicy: { Name: p.name, MaximumRetryCount: p.maximum_retry_count } } })),
  // Unset: the image's STOPSIGNAL stays (Docker's default, SIGTERM, when it has none).
  stop_signal: (signal) => ifSet(signal, (StopSignal) => ({ config: { StopSignal } })),
  // Docker's StopTimeout is whole seconds; round up so the grace period is never shortened.
  stop_grace_period: (seconds) => ifSet(seconds, (s) => ({ config: { StopTimeout: Math.ceil(s) } })),
  domainname: (name) => ifSet(name, (Domainname) => ({ config: { Domainname } })),
  mac_address: (mac) => ifSet(mac, (MacAddress) => ({ config: { MacAddress } })),
  network_disabled: (disabled) => (disabled ? { config: { NetworkDisabled: true } } : {}),
  publish_all_ports: (all) => (all ? { host: { PublishAllPorts: true } } : {}),
  dns_search: (DnsSearch) => (DnsSearch.length === 0 ? {} : { host: { DnsSearch } }),
  dns_opt: (DnsOptions) => (DnsOptions.length === 0 ? {} : { host: { DnsOptions } }),
  group_add: (GroupAdd) => (GroupAdd.length === 0 ? {} : { host: { GroupAdd } }),
  security_opt: RECONCILER_MERGED, // merged with the secure default in toCreateOptions
  sysctls: (Sysctls) => (Object.keys(Sysctls).length === 0 ? {} : { host: { Sysctls } }),
  mem_reservation: (bytes) => ifSet(bytes, (MemoryReservation) => ({ host: { MemoryReservation } })),
  // After memory_limit: it replaces the MemorySwap that memory_limit sets.
  memswap_limit: (bytes) => ifSet(bytes, (MemorySwap) => ({ host: { MemorySwap } })),
  mem_swappiness: (n) => ifSet(n, (MemorySwappiness) => ({ host: { MemorySwappiness } })),
  oom_score_adj: (n) => ifSet(n, (OomScoreAdj) => ({ host: { OomScoreAdj } })),
  cpu_shares: (n) => ifSet(n, (CpuShares) => ({ host: { CpuShares } })),
  cpu_period: (n) => ifSet(n, (CpuPeriod) => ({ host: { CpuPeriod } })),
  cpu_quota: (n) => ifSet(n, (CpuQuota) => ({ host: { CpuQuota } })),
  cpuset_cpus: (set) => ifSet(set, (CpusetCpus) => ({ host: { CpusetCpus } })),
  cpuset_mems: (set) => ifSet(set, (CpusetMems) => ({ host: { CpusetMems } })),
  cpu_rt_period: (n) => ifSet(n, (CpuRealtimePeriod) => ({ host: { CpuRealtimePeriod } })),
  cpu_rt_runtime: (n) => ifSet(n, (CpuRealtimeRuntime) => ({ host: { CpuRealtimeRuntime } })),
  blkio_weight: (n) => ifSet(n, (BlkioWeight) => ({ host: { BlkioWeight } })),
  blkio_weight_device: (list) => (list.length === 0 ? {} : { host: { BlkioWeightDevice: list.map((d) => ({ Path: d.path, Weight: d.weight })) } }),
  device_read_bps: (list) => (list.length === 0 ? {} : { host: { BlkioDeviceReadBps: rates(list) } }),
  device_write_bps: (list) => (list.length === 0 ? {} : { host: { BlkioDeviceWriteBps: rates(list) } }),
  device_read_iops: (list) => (list.length === 0 ? {} : { host: { BlkioDeviceReadIOps: rates(list) } }),
  device_write_iops: (list) => (list.length === 0 ? {} : { host: { BlkioDeviceWriteIOps: rates(list) } }),
  device_cgroup_rules: (DeviceCgroupRules) => (DeviceCgroupRules.length === 0 ? {} : { host: { DeviceCgroupRules } }),
  device_requests: (list) =>
    list.length === 0
      ? {}
      : { host: { DeviceRequests: list.map((r) => ({ Driver: r.driver, Count: r.count, DeviceIDs: r.device_ids, Capabilities: r.capabilities, Options: r.options })) } },
  pid_mode: (mode) => ifSet(mode, (PidMode) => ({ host: { PidMode } })),
  ipc_mode: (mode) => ifSet(mode, (IpcMode) => ({ host: { IpcMode } })),
  uts_mode: (mode) => ifSet(mode, (UTSMode) => ({ host: { UTSMode } })),
  userns_mode: (mode) => ifSet(mode, (UsernsMode) => ({ host: { UsernsMode } })),
  cgroupns: (mode) => ifSet(mode, (CgroupnsMode) => ({ host: { CgroupnsMode } as Docker.HostConfig })),
  cgroup_parent: (path) => ifSet(path, (CgroupParent) => ({ host: { CgroupParent } })),
  runtime: (name) => ifSet(name, (Runtime) => ({ host: { Runtime } })),
  volumes_from: (VolumesFrom) => (VolumesFrom.length === 0 ? {} : { host: { VolumesFrom } }),
  volume_driver: (name) => ifSet(name, (VolumeDriver) => ({ host: { VolumeDriver } })),
  storage_opt: (StorageOpt) => (Object.keys(StorageOpt).length === 0 ? {} : { host: { StorageOpt } }),
  mounts: RECONCILER_MERGED, // one HostConfig.Mounts with volumes, in toCreateOptions
  gc_protect_seconds: RECONCILER,
  max_output_bytes: RECONCILER,
  placement: RECONCILER,
  placement_timeout: RECONCILER,
  files: RECONCILER, // written through the archive API before the start (kinds/containers/steps.ts)
  result_path: RECONCILER,
  result_format: RECONCILER,
  max_result_bytes: RECONCILER,
  services: RECONCILER, // created and started before the job (kinds/containers/services.ts)
};

function envValue(name: string, value: EnvValue, ctx: CreateContext): string {
  if (typeof value === 'string') return value;
  const secret = ctx.secrets?.[value.secret];
  // The message names the reference, never a value.
  if (secret === undefined) throw new TerminalError('create_failed', `environment.${name}: secret "${value.secret}" was not resolved`);
  return secret;
}

function portFragment(ports: RunSpec['ports']): Fragment {
  const ExposedPorts: Record<string, object> = {};
  const PortBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const { container_port, host_ip, host_port } of ports) {
    ExposedPorts[container_port] = {};
    // Empty strings let Docker choose: all addresses, a free port.
    (PortBindings[container_port] ??= []).push({ HostIp: host_ip ?? '', HostPort: host_port ?? '' });
  }
  return { config: { ExposedPorts }, host: { PortBindings } };
}

/**
 * `no-new-privileges` stops setuid binaries and file capabilities from raising a
 * process's privileges. It is on by default; it is left off when the caller asks
 * for privileges on purpose (privileged, or added capabilities, which commonly rely
 * on a setuid or file-capability binary such as ping), as the security posture says.
 */
function securityOptions(spec: RunSpec): string[] {
  const callerDecides = spec.security_opt.some((opt) => opt.startsWith('no-new-privileges'));
  const secureDefault = spec.privileged || spec.cap_add.length > 0 || callerDecides ? [] : ['no-new-privileges'];
  return [...spec.security_opt, ...secureDefault];
}

/** The create body for `spec`, named and labelled from `ctx`, with secret references resolved. */
export function toCreateOptions(spec: RunSpec, ctx: CreateContext): Docker.ContainerCreateOptions {
  const config: ContainerConfig = { name: ctx.name };
  const host: Docker.HostConfig = {};
  for (const [name, mapper] of Object.entries(MAPPING) as [keyof RunSpec, Mapper<keyof RunSpec> | typeof RECONCILER | typeof RECONCILER_MERGED][]) {
    if (mapper === RECONCILER || mapper === RECONCILER_MERGED) continue;
    const fragment = mapper(spec[name], ctx);
    Object.assign(config, fragment.config);
    Object.assign(host, fragment.host);
  }
  const Mounts = [...spec.volumes.map((v) => volumeMountOf(v, ctx)), ...spec.mounts.map((m) => mountOf(m, ctx))];
  if (Mounts.length > 0) host.Mounts = Mounts;
  const SecurityOpt = securityOptions(spec);
  return { ...config, HostConfig: SecurityOpt.length > 0 ? { ...host, SecurityOpt } : host };
}
