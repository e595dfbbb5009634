/**
 * Maps a normalized RunSpec to the body of Docker Engine API 1.41 `POST /containers/create`.
 * Pure: no Docker calls, no I/O.
 */
import type Docker from 'dockerode';
import { TerminalError } from '../errors.js';
import type { EnvValue } from './fields.js';
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

type ContainerConfig = Omit<Docker.ContainerCreateOptions, 'HostConfig'>;

/** The part of the create body one parameter contributes. */
interface Fragment {
  config?: ContainerConfig;
  host?: Docker.HostConfig;
}

type Mapper<K extends keyof RunSpec> = (value: RunSpec[K], ctx: CreateContext) => Fragment;

/** Parameters the reconciler acts on itself; they have no place in the create body. */
const RECONCILER = 'handled by the reconciler' as const;

const NANOS_PER_SECOND = 1e9;
const nanoseconds = (seconds: number | null): number | undefined => (seconds === null ? undefined : Math.round(seconds * NANOS_PER_SECOND));

/** `null` (unset) contributes nothing, so Docker or the image decides. */
function ifSet<T>(value: T | null, fragment: (value: T) => Fragment): Fragment {
  return value === null ? {} : fragment(value);
}

/** One entry per parameter; the type makes forgetting a new parameter a compile error. */
const MAPPING: { [K in keyof RunSpec]: Mapper<K> | typeof RECONCILER } = {
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
  volumes: (volumes, ctx) => (volumes.length === 0 ? {} : { host: { Mounts: volumes.map((v) => volumeMountOf(v, ctx)) } }),
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
          Interval: nanoseconds(h.interval),
          Timeout: nanoseconds(h.timeout),
          StartPeriod: nanoseconds(h.start_period),
          Retries: h.retries ?? undefined,
        },
      },
    })),
  restart_policy: (policy) => ifSet(policy, (p) => ({ host: { RestartPolicy: { Name: p.name, MaximumRetryCount: p.maximum_retry_count } } })),
  stop_signal: (StopSignal) => ({ config: { StopSignal } }),
  // Docker's StopTimeout is whole seconds; round up so the grace period is never shortened.
  stop_grace_period: (seconds) => ({ config: { StopTimeout: Math.ceil(seconds) } }),
  gc_protect_seconds: RECONCILER,
  max_output_bytes: RECONCILER,
  placement: RECONCILER,
  placement_timeout: RECONCILER,
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
  return spec.privileged || spec.cap_add.length > 0 ? [] : ['no-new-privileges'];
}

/** The create body for `spec`, named and labelled from `ctx`, with secret references resolved. */
export function toCreateOptions(spec: RunSpec, ctx: CreateContext): Docker.ContainerCreateOptions {
  const config: ContainerConfig = { name: ctx.name };
  const host: Docker.HostConfig = {};
  for (const [name, mapper] of Object.entries(MAPPING) as [keyof RunSpec, Mapper<keyof RunSpec> | typeof RECONCILER][]) {
    if (mapper === RECONCILER) continue;
    const fragment = mapper(spec[name], ctx);
    Object.assign(config, fragment.config);
    Object.assign(host, fragment.host);
  }
  const SecurityOpt = securityOptions(spec);
  return { ...config, HostConfig: SecurityOpt.length > 0 ? { ...host, SecurityOpt } : host };
}
