/**
 * The parameters of `tools.docker.run`: one table (schema, default and documentation
 * of each parameter), the cross-parameter rules Docker itself enforces, and
 * `parseRunParams`, which turns caller input into the normalized RunSpec stored in
 * `docker_containers.spec`.
 *
 * Adding a parameter: add an entry to PARAMETERS (its docs render into the README),
 * then map it in container-config.ts (the compiler insists).
 *
 * Normal form: every key is present; unset scalars are null, unset collections are
 * empty, durations are seconds and sizes are bytes. A RunSpec parses back to itself.
 */
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { BOUNDS, formatPath, within } from './bounds.js';
import * as field from './fields.js';
import * as host from './host-fields.js';
import { ALIASES, REFUSED_ARGUMENTS } from './refused.js';
import * as steps from './steps.js';

export { formatPath };

export interface ParameterDoc {
  /** docker-py's name for the same setting, when it has another (accepted too). */
  alias?: string;
  /** The shapes a caller may write. */
  accepts: string;
  /** The default, in words ("none" when unset means Docker's / the image's default). */
  default: string;
  description: string;
}

interface Parameter<S extends z.ZodType> extends ParameterDoc {
  schema: S;
}

/** An optional parameter: absent or null both normalize to null. */
function optional<S extends z.ZodType>(schema: S, doc: Omit<ParameterDoc, 'default'> & { default?: string }) {
  return { ...doc, default: doc.default ?? 'none', schema: schema.nullish().transform((v) => v ?? null) };
}

/** A parameter with a default: absent or null both normalize to `value` (documented as its JSON, unless `doc.default` says otherwise). */
function withDefault<S extends z.ZodType>(schema: S, value: z.output<S>, doc: Omit<ParameterDoc, 'default'> & { default?: string }) {
  return { ...doc, default: doc.default ?? JSON.stringify(value), schema: schema.nullish().transform((v): z.output<S> => v ?? value) };
}

/** A required parameter. */
function required<S extends z.ZodType>(schema: S, doc: Omit<ParameterDoc, 'default'>): Parameter<S> {
  return { ...doc, default: 'required', schema };
}

const MAX_TIMEOUT_SECONDS = 7 * 24 * 3600;
const MIN_MEMORY_BYTES = 6 * 1024 * 1024; // Docker refuses less
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
const MAX_RESULT_BYTES = steps.MAX_RESULT_BYTES;

/** A service's own parameters, parsed as a run's (bound below, after parseRunParams: the table refers to itself). */
const parseServiceParams = (params: Record<string, unknown>): Record<string, unknown> => {
  try {
    return serviceParser(params);
  } catch (err) {
    if (err instanceof ValidationError) throw new Error(`${err.issues[0]!.field}: ${err.issues[0]!.message}`);
    throw err;
  }
};
let serviceParser: (params: Record<string, unknown>) => Record<string, unknown> = () => {
  throw new Error('not ready');
};

export const PARAMETERS = {
  image: required(field.image, {
    accepts: 'string',
    description: 'Image reference, e.g. `alpine:3.20` or `registry:5000/team/app@sha256:...`.',
  }),
  command: optional(field.commandWords, {
    accepts: 'string | string[]',
    description: "Command; a string is split like a shell would (quotes, backslashes), without expansions. Default: the image's CMD.",
  }),
  entrypoint: optional(field.commandWords, {
    accepts: 'string | string[]',
    description: "Entrypoint, split like `command`; `[]` clears the image's entrypoint.",
  }),
  environment: withDefault(field.environment, {}, {
    accepts: '{NAME: string | number | boolean | {"secret": "name"}} | ["NAME=value"]',
    description: 'Environment variables. `{"secret": "name"}` is resolved when the container is created and never stored.',
  }),
  working_dir: optional(field.workingDir, { accepts: 'absolute path', description: 'Working directory inside the container.' }),
  user: optional(field.user, { accepts: 'string | uid', description: 'User (and group) to run as: `"1000"`, `"1000:1000"`, `"nobody"`.' }),
  labels: withDefault(field.labels, {}, {
    accepts: '{string: string} | [name]',
    description: `Container labels. Keys starting with \`${field.RESERVED_LABEL_PREFIX}\` are reserved.`,
  }),
  hostname: optional(field.hostname, { accepts: 'string', description: 'Container host name. Not with `network_mode: "container:..."`.' }),
  timeout: withDefault(field.duration.refine((s) => s > 0 && s <= MAX_TIMEOUT_SECONDS, 'must be more than 0 and at most 7 days'), 3600, {
    accepts: 'seconds | duration',
    default: '3600',
    description: 'Run time limit in seconds (or `"2h"`); past it the container is stopped (status `timeout`).',
  }),
  pull_policy: withDefault(z.enum(['always', 'if_not_present', 'never']), 'if_not_present', {
    accepts: '"always" | "if_not_present" | "never"',
    default: '"if_not_present"',
    description: 'When to pull the image before creating the container.',
  }),
  registry_auth: optional(field.registryAuth, {
    accepts: '{"secret": "name"}',
    description:
      'Credentials for a private registry, used when the image is pulled: a secret whose value is `{"username", "password"[, "serveraddress"]}` as JSON or `"user:password"`. Resolved on the reconciler, never stored.',
  }),
  auto_remove: withDefault(z.boolean(), true, {
    alias: 'remove',
    accepts: 'boolean',
    default: 'true',
    description: 'Remove the container once its output is collected (done by highway-docker, not Docker).',
  }),
  detach: withDefault(z.boolean(), false, {
    accepts: 'boolean',
    description: 'Return once the container has started instead of waiting for it to finish.',
  }),
  init: withDefault(z.boolean(), true, {
    accepts: 'boolean',
    default: 'true',
    description: 'Run an init process as PID 1 that forwards signals and reaps zombies.',
  }),
  privileged: withDefault(z.boolean(), false, { accepts: 'boolean', description: 'Give the container all capabilities and devices.' }),
  cap_add: withDefault(field.capabilities, [], {
    accepts: 'string[]',
    description: 'Capabilities to add (`NET_ADMIN` or `CAP_NET_ADMIN`; `ALL`).',
  }),
  cap_drop: withDefault(field.capabilities, ['ALL'], {
    accepts: 'string[]',
    default: '["ALL"]',
    description: 'Capabilities to drop. Unless set, all are dropped, so only `cap_add` remains.',
  }),
  memory_limit: optional(field.size.refine((b) => b >= MIN_MEMORY_BYTES, 'must be at least 6m (Docker\'s minimum)'), {
    alias: 'mem_limit',
    accepts: 'bytes | size',
    description: 'Memory limit: bytes, or `"512m"`, `"1g"`, `"1.5G"` (1024-based).',
  }),
  cpu_limit: optional(field.cpus, {
    alias: 'nano_cpus',
    accepts: 'number',
    description: 'CPU limit in CPUs, e.g. `0.5`. docker-py\'s `nano_cpus` gives the same in units of 1e-9 CPUs (`500000000`).',
  }),
  pids_limit: optional(field.pidsLimit, { accepts: 'integer', description: 'Maximum number of processes; `-1` for unlimited.' }),
  shm_size: optional(field.size.refine((b) => b > 0, 'must be more than 0'), { accepts: 'bytes | size', description: 'Size of `/dev/shm`.' }),
  read_only: withDefault(z.boolean(), false, { accepts: 'boolean', description: 'Mount the root filesystem read-only.' }),
  tmpfs: withDefault(field.tmpfs, {}, {
    accepts: '{"/path": "options"} | ["/path", "/path:options"]',
    description: 'tmpfs mounts, e.g. `{"/tmp": "size=64m"}`.',
  }),
  volumes: withDefault(field.volumes, [], {
    accepts: '{"/host": {"bind": "/in", "mode": "ro"}} | ["/host:/in:ro"]',
    description: 'Bind mounts of host paths (absolute) or named volumes; mode `ro` or `rw` (default). Targets must be distinct.',
  }),
  ports: withDefault(field.ports, [], {
    accepts: '{"8080/tcp": 8080 | "ip:port" | ["ip", port] | null}',
    description: 'Published ports; `null` picks a free host port. Needs a network (`network_mode` or `network`), not `"host"`.',
  }),
  network: optional(field.network, { accepts: 'string', description: 'A user-defined network to connect to. Not with `network_mode`.' }),
  network_mode: optional(field.networkMode, {
    accepts: '"none" | "host" | "bridge" | "container:<name>"',
    default: '"none" unless `network` is set',
    description: 'Network mode. Containers have no network unless asked for.',
  }),
  dns: withDefault(field.dns, [], { accepts: 'string[]', description: 'DNS server IP addresses.' }),
  extra_hosts: withDefault(field.extraHosts, [], {
    accepts: '{"host": "ip"} | ["host:ip"]',
    description: 'Extra `/etc/hosts` entries (`host-gateway` for the host).',
  }),
  devices: withDefault(field.devices, [], {
    accepts: '["/dev/x", "/dev/x:/dev/y", "/dev/x:/dev/y:rwm"]',
    description: 'Host devices to expose.',
  }),
  oom_kill_disable: withDefault(z.boolean(), false, {
    accepts: 'boolean',
    description: 'Disable the OOM killer; needs `memory_limit`.',
  }),
  ulimits: withDefault(field.ulimits, [], {
    accepts: '{"nofile": {"soft": n, "hard": n}} | {"nofile": n} | [{"name", "soft", "hard"}]',
    description: 'Resource limits; `soft` <= `hard`, `-1` for unlimited.',
  }),
  log_config: optional(field.logConfig, {
    accepts: '{"type": "json-file", "config": {...}}',
    description: "Logging driver. Output is collected through Docker's logs, so `none` is refused.",
  }),
  healthcheck: optional(field.healthcheck, {
    accepts: '{"test", "interval", "timeout", "retries", "start_period"}',
    description:
      '`test` is `["CMD", ...]`, `["CMD-SHELL", "..."]`, `["NONE"]` or a shell string. Durations are **nanoseconds** as in docker-py (`1000000000` is 1 s), or strings with a unit (`"30s"`, `"500ms"`); 0 or at least 1 ms.',
  }),
  restart_policy: optional(field.restartPolicy, {
    accepts: '{"name": "no" | "always" | "on-failure" | "unless-stopped", "maximum_retry_count": n}',
    description: 'Docker restart policy; needs `auto_remove: false`; a retry count only with `on-failure`.',
  }),
  stop_signal: optional(field.signal, {
    accepts: 'string | number',
    default: "the image's `STOPSIGNAL`, else `SIGTERM`",
    description: 'Signal that stops the container (`"TERM"`, `"SIGTERM"`, `15`).',
  }),
  stop_grace_period: optional(field.duration.superRefine(within(BOUNDS.stopTimeoutSeconds)), {
    accepts: 'seconds | duration',
    default: '10',
    description: 'Seconds (or `"30s"`) between the stop signal and SIGKILL. Sent to Docker as StopTimeout only when set.',
  }),
  // ---- docker-py's other container arguments
  domainname: optional(host.domainname, { accepts: 'string', description: 'Container domain name (`docker create --domainname`).' }),
  mac_address: optional(host.macAddress, { accepts: 'string', description: 'MAC address (`--mac-address`); needs a network.' }),
  network_disabled: withDefault(z.boolean(), false, {
    accepts: 'boolean',
    description: 'Disable networking entirely (Config.NetworkDisabled; no CLI flag).',
  }),
  publish_all_ports: withDefault(z.boolean(), false, {
    accepts: 'boolean',
    description: 'Publish every exposed port on a free host port (`-P`); needs a network.',
  }),
  dns_search: withDefault(host.dnsSearch, [], { accepts: 'string[]', description: 'DNS search domains (`--dns-search`).' }),
  dns_opt: withDefault(host.dnsOptions, [], { accepts: 'string[]', description: 'resolv.conf options (`--dns-option`), e.g. `"ndots:2"`.' }),
  group_add: withDefault(host.groupAdd, [], {
    accepts: '(string | gid)[]',
    description: 'Supplementary groups (`--group-add`). Policy `allow_group_add` (default: denied).',
  }),
  security_opt: withDefault(host.securityOpt, [], {
    accepts: 'string[]',
    description:
      '`--security-opt` values. Turning off seccomp, AppArmor, SELinux labels or `no-new-privileges` (or a custom seccomp profile) needs policy `allow_unconfined`. `no-new-privileges` is added unless privileges are asked for.',
  }),
  sysctls: withDefault(host.sysctls, {}, {
    accepts: '{"name": value}',
    description: 'Namespaced kernel parameters (`--sysctl`); only those the policy `allowed_sysctls` lists (default: the namespaced safe set).',
  }),
  mem_reservation: optional(host.memoryBytes.refine((b) => b >= MIN_MEMORY_BYTES, 'must be at least 6m (Docker\'s minimum)'), { accepts: 'bytes | size', description: 'Memory soft limit (`--memory-reservation`).' }),
  memswap_limit: optional(host.memorySwap, {
    accepts: 'bytes | size | -1',
    default: '`memory_limit` (no swap)',
    description: 'Memory plus swap (`--memory-swap`); `-1` for unlimited swap. Needs memory_limit.',
  }),
  mem_swappiness: optional(host.memSwappiness, { accepts: '0..100', description: 'Swappiness (`--memory-swappiness`).' }),
  oom_score_adj: optional(host.oomScoreAdj, {
    accepts: '-1000..1000',
    description: 'OOM score adjustment (`--oom-score-adj`); a negative value needs policy `allow_negative_oom_score_adj`.',
  }),
  cpu_shares: optional(host.cpuShares, { accepts: 'integer', description: 'Relative CPU weight (`--cpu-shares`), 2..262144.' }),
  cpu_period: optional(host.cpuPeriod, { accepts: 'microseconds', description: 'CFS period in **microseconds** (`--cpu-period`), 1000..1000000. Not with cpu_limit.' }),
  cpu_quota: optional(host.cpuQuota, { accepts: 'microseconds', description: 'CFS quota in **microseconds** per period (`--cpu-quota`), or -1. Not with cpu_limit.' }),
  cpuset_cpus: optional(host.cpuSet, { accepts: 'string', description: 'CPUs to run on (`--cpuset-cpus`), e.g. `"0-1"`.' }),
  cpuset_mems: optional(host.cpuSet, { accepts: 'string', description: 'Memory nodes (`--cpuset-mems`), e.g. `"0"`.' }),
  cpu_rt_period: optional(host.cpuRealtime, {
    accepts: 'microseconds',
    description: 'Real-time scheduler period in **microseconds** (`--cpu-rt-period`). Policy `allow_cpu_realtime` (default: denied).',
  }),
  cpu_rt_runtime: optional(host.cpuRealtime, {
    accepts: 'microseconds',
    description: 'Real-time runtime in **microseconds** (`--cpu-rt-runtime`). Policy `allow_cpu_realtime` (default: denied).',
  }),
  blkio_weight: optional(host.blkioWeight, { accepts: '10..1000', description: 'Block IO weight (`--blkio-weight`).' }),
  blkio_weight_device: withDefault(host.blkioWeightDevice, [], {
    accepts: '[{"Path", "Weight"}]',
    description: 'Block IO weight per device (`--blkio-weight-device`).',
  }),
  device_read_bps: withDefault(host.deviceBps, [], { accepts: '[{"Path", "Rate"}]', description: 'Read rate limit per device, bytes per second or `"1mb"` (`--device-read-bps`).' }),
  device_write_bps: withDefault(host.deviceBps, [], { accepts: '[{"Path", "Rate"}]', description: 'Write rate limit per device (`--device-write-bps`).' }),
  device_read_iops: withDefault(host.deviceIops, [], { accepts: '[{"Path", "Rate"}]', description: 'Read operations per second per device (`--device-read-iops`).' }),
  device_write_iops: withDefault(host.deviceIops, [], { accepts: '[{"Path", "Rate"}]', description: 'Write operations per second per device (`--device-write-iops`).' }),
  device_cgroup_rules: withDefault(host.deviceCgroupRules, [], {
    accepts: 'string[]',
    description: 'Device cgroup rules (`--device-cgroup-rule`), e.g. `"c 1:3 mr"`. Policy `allow_device_cgroup_rules` (default: denied).',
  }),
  device_requests: withDefault(host.deviceRequests, [], {
    accepts: '[{"driver", "count", "device_ids", "capabilities", "options"}]',
    description: 'docker-py DeviceRequests, e.g. GPUs `[{"count": -1, "capabilities": [["gpu"]]}]` (`--gpus`). Policy `allowed_device_drivers` (default: none).',
  }),
  pid_mode: optional(host.pidMode, {
    accepts: '"host" | "container:<name>"',
    description: 'PID namespace (`--pid`). `host` needs policy `allow_host_namespaces`; a container must be the tenant\'s own.',
  }),
  ipc_mode: optional(host.ipcMode, {
    accepts: '"private" | "shareable" | "none" | "host" | "container:<name>"',
    description: 'IPC namespace (`--ipc`). `host` needs policy `allow_host_namespaces`; a container must be the tenant\'s own.',
  }),
  uts_mode: optional(host.utsMode, { accepts: '"host"', description: 'UTS namespace (`--uts`); needs policy `allow_host_namespaces`.' }),
  userns_mode: optional(host.usernsMode, { accepts: '"host"', description: 'User namespace (`--userns`); needs policy `allow_host_namespaces`.' }),
  cgroupns: optional(host.cgroupnsMode, { accepts: '"private" | "host"', description: 'Cgroup namespace (`--cgroupns`); `host` needs policy `allow_host_namespaces`.' }),
  cgroup_parent: optional(host.cgroupParent, { accepts: 'string', description: 'Parent cgroup (`--cgroup-parent`). Policy `allow_cgroup_parent` (default: denied).' }),
  runtime: optional(host.runtime, { accepts: 'string', description: 'OCI runtime (`--runtime`); one the policy `allowed_runtimes` lists (default `["runc"]`).' }),
  volumes_from: withDefault(host.volumesFrom, [], {
    accepts: '["container", "container:ro"]',
    description: "Mount another container's volumes (`--volumes-from`); only the tenant's own containers.",
  }),
  volume_driver: optional(host.volumeDriver, { accepts: 'string', description: 'Volume driver (`--volume-driver`). Policy `allowed_volume_drivers` (default: none).' }),
  storage_opt: withDefault(host.storageOpt, {}, {
    accepts: '{"size": "10G"}',
    description: 'Storage driver options (`--storage-opt`). Policy `allow_storage_opt` (default: denied).',
  }),
  mounts: withDefault(host.mounts, [], {
    accepts: '[{"type", "source", "target", "read_only", ...}] | ["src:dst[:ro]"]',
    description:
      'docker-py Mounts (`--mount`) of type `bind` (host-path policy as for `volumes`), `volume` (named volumes are the tenant\'s own) or `tmpfs` (`tmpfs_size`, `tmpfs_mode`). API keys (`Type`, `Source`, `Target`, `ReadOnly`, ...) too.',
  }),
  placement: optional(field.placement, {
    accepts: '{"host": "<id>"} | {"labels": {"k": "v"}}',
    description: 'Which Docker host runs it: a host id, or labels the host must have (`HIGHWAY_HOST_LABELS`). Default: any live host with room.',
  }),
  placement_timeout: optional(field.duration.superRefine(within(BOUNDS.secondsFromNow)), {
    accepts: 'seconds | duration',
    description: 'Seconds (or `"5m"`): end `failed` if no live host has taken it after this long (default: wait, with the reason visible).',
  }),
  gc_protect_seconds: optional(field.duration.superRefine(within(BOUNDS.secondsFromNow)), {
    accepts: 'seconds | duration',
    description: 'Seconds (or `"1h"`) to keep the finished container (for debugging) before it is removed.',
  }),
  max_output_bytes: withDefault(field.size.refine((b) => b <= MAX_OUTPUT_BYTES, 'must be at most 64 MiB'), 1024 * 1024, {
    accepts: 'bytes | size',
    default: '1048576 (1 MiB)',
    description: 'Output kept per stream (stdout, stderr); the rest is dropped and `logs_truncated` set.',
  }),
  // ---- containers as workflow steps (docs/steps.md)
  files: withDefault(steps.files, {}, {
    accepts: '{"/path": "text" | {"content", "encoding": "base64", "mode"} | {"secret": "name"}}',
    description:
      'Files written into the container after it is created and before it starts (Docker\'s archive API: works on any host, and on a volume of a read-only root filesystem). `mode` is a number (`420` = 0o644, the default); a `{"secret"}` file is resolved on the reconciler, never stored, and masked in the output. Paths absolute, without `..`, not under `/proc` or `/sys`, nor under a `tmpfs` (mounted at start). Total size: policy `max_files_bytes` (default 4 MiB).',
  }),
  result_path: optional(steps.resultPath, {
    accepts: 'absolute path',
    description:
      'A file the container writes (e.g. `/out/result.json`), read after it exits and before it is removed, returned as `result` (stored in the row). A missing, too large or invalid file is `result_error` `{code, message}`; the exit code and output are kept.',
  }),
  result_format: withDefault(z.enum(['json', 'text'], { error: 'must be "json" or "text"' }), 'json', {
    accepts: '"json" | "text"',
    default: '"json"',
    description: '`json`: `result` is the parsed JSON; `text`: the file as a UTF-8 string.',
  }),
  services: withDefault(
    steps.servicesSchema((params) => parseServiceParams(params)),
    [],
    {
      accepts: '[{"name", "image", "command", "environment", "healthcheck", "ready_timeout", ...}]',
      description:
        'Sidecar containers started before the job, in order; the job starts when each is healthy (or running, without a healthcheck) within its `ready_timeout` (seconds, default 30), else it fails `service_not_ready`. They share the job\'s network namespace (the first service\'s; reach them on `127.0.0.1`, also with `network_mode: "none"`), carry the job\'s labels plus `highway.service`, and are stopped and removed with the job; their output is in the result under `services`.',
    },
  ),
  max_result_bytes: withDefault(field.size.refine((b) => b > 0 && b <= MAX_RESULT_BYTES, 'must be more than 0 and at most 64 MiB'), steps.DEFAULT_MAX_RESULT_BYTES, {
    accepts: 'bytes | size',
    default: '1048576 (1 MiB), or the policy ceiling if lower',
    description: 'Largest `result_path` file read; a larger one is `result_error` `too_large`. A value above the policy ceiling (`max_result_bytes`, default 16 MiB) is refused.',
  }),
} satisfies Record<string, Parameter<z.ZodType>>;

export type ParameterName = keyof typeof PARAMETERS;
export const PARAMETER_NAMES = Object.keys(PARAMETERS) as ParameterName[];

const parameterShape = Object.fromEntries(Object.entries(PARAMETERS).map(([name, p]) => [name, p.schema])) as {
  [K in ParameterName]: (typeof PARAMETERS)[K]['schema'];
};

type Fields = z.output<z.ZodObject<typeof parameterShape>>;
type Problem = { field: ParameterName; path?: (string | number)[]; message: string };

/** The contradictions Docker's CLI or daemon refuses (or silently ignores), found before anything is stored. */
function contradictions(p: Fields): Problem[] {
  const problems: Problem[] = [];
  if (p.network !== null && p.network_mode !== null) {
    problems.push({ field: 'network_mode', message: 'cannot be combined with network; set only one' });
  }
  if (p.restart_policy !== null) {
    const { name, maximum_retry_count } = p.restart_policy;
    if (p.auto_remove && name !== 'no') {
      problems.push({ field: 'restart_policy', message: `"${name}" cannot be combined with auto_remove (the default); set auto_remove: false` });
    }
    if (maximum_retry_count > 0 && name !== 'on-failure') {
      problems.push({ field: 'restart_policy', path: ['maximum_retry_count'], message: `only applies to "on-failure", not "${name}"` });
    }
  }
  // Docker accepts ports with the host network but discards them; it refuses these with another container's network.
  if (p.network_mode === 'host' && p.ports.length > 0) {
    problems.push({ field: 'ports', message: 'cannot be published with network_mode "host" (the container uses the host\'s ports directly)' });
  }
  // With no network (the default), Docker records port bindings but publishes nothing: refuse instead of dropping them silently.
  if ((p.network_mode === 'none' || (p.network_mode === null && p.network === null)) && p.ports.length > 0) {
    problems.push({ field: 'ports', message: 'cannot be published without a network (network_mode "none" is the default); set network_mode or network' });
  }
  if (p.network_mode?.startsWith('container:')) {
    const refused = { ports: p.ports.length > 0, hostname: p.hostname !== null, dns: p.dns.length > 0, extra_hosts: p.extra_hosts.length > 0 };
    for (const [name, isSet] of Object.entries(refused) as [ParameterName, boolean][]) {
      if (isSet) problems.push({ field: name, message: `cannot be set with network_mode "${p.network_mode}" (the network is that container's)` });
    }
  }
  if (p.publish_all_ports && (p.network_mode === 'none' || p.network_mode === 'host' || (p.network_mode === null && p.network === null))) {
    problems.push({ field: 'publish_all_ports', message: 'needs a network other than "none" or "host"; set network_mode or network' });
  }
  if (p.mac_address !== null && (p.network_mode === 'host' || p.network_mode?.startsWith('container:'))) {
    problems.push({ field: 'mac_address', message: `cannot be set with network_mode "${p.network_mode}"` });
  }
  if (p.network_mode?.startsWith('container:')) {
    const refused = { dns_search: p.dns_search.length > 0, dns_opt: p.dns_opt.length > 0, publish_all_ports: p.publish_all_ports };
    for (const [name, isSet] of Object.entries(refused) as [ParameterName, boolean][]) {
      if (isSet) problems.push({ field: name, message: `cannot be set with network_mode "${p.network_mode}" (the network is that container's)` });
    }
  }
  // Docker refuses these together ("Conflicting options: Nano CPUs and CPU Period/Quota").
  for (const name of ['cpu_period', 'cpu_quota'] as const) {
    if (p.cpu_limit !== null && p[name] !== null) problems.push({ field: name, message: 'cannot be combined with cpu_limit (nano_cpus); set one or the other' });
  }
  if (p.memswap_limit !== null && p.memory_limit === null) {
    problems.push({ field: 'memswap_limit', message: 'needs memory_limit (mem_limit): it is memory plus swap' });
  }
  if (p.memswap_limit !== null && p.memswap_limit !== -1 && p.memory_limit !== null && p.memswap_limit < p.memory_limit) {
    problems.push({ field: 'memswap_limit', message: `must be at least memory_limit (${p.memory_limit}): it is memory plus swap` });
  }
  if (p.mem_reservation !== null && p.memory_limit !== null && p.mem_reservation > p.memory_limit) {
    problems.push({ field: 'mem_reservation', message: `must not exceed memory_limit (${p.memory_limit})` });
  }
  if (p.cpu_rt_runtime !== null && p.cpu_rt_period !== null && p.cpu_rt_runtime > p.cpu_rt_period) {
    problems.push({ field: 'cpu_rt_runtime', message: `must not exceed cpu_rt_period (${p.cpu_rt_period})` });
  }
  if (p.oom_kill_disable && p.memory_limit === null) {
    problems.push({ field: 'oom_kill_disable', message: 'needs memory_limit (without it the host can run out of memory)' });
  }
  p.cap_drop.forEach((cap, i) => {
    if (cap !== 'ALL' && p.cap_add.includes(cap)) problems.push({ field: 'cap_drop', path: [i], message: `"${cap}" is also in cap_add` });
  });
  const mountedAt = new Map<string, string>();
  p.volumes.forEach((volume, i) => {
    const earlier = mountedAt.get(volume.target);
    if (earlier) problems.push({ field: 'volumes', path: [i], message: `target "${volume.target}" is already mounted by ${earlier}` });
    else mountedAt.set(volume.target, `volumes[${i}]`);
  });
  p.mounts.forEach((mount, i) => {
    const earlier = mountedAt.get(mount.target);
    if (earlier) problems.push({ field: 'mounts', path: [i], message: `target "${mount.target}" is already mounted by ${earlier}` });
    else mountedAt.set(mount.target, `mounts[${i}]`);
  });
  for (const path of Object.keys(p.tmpfs)) {
    const earlier = mountedAt.get(path);
    if (earlier) problems.push({ field: 'tmpfs', path: [path], message: `"${path}" is already mounted by ${earlier}` });
  }
  const stepMounts = steps.mountsOf(p);
  for (const path of Object.keys(p.files)) {
    const problem = steps.fileTargetProblem(path, stepMounts, p.read_only);
    if (problem) problems.push({ field: 'files', path: [path], message: problem });
  }
  if (p.result_path !== null && stepMounts.some((m) => m.target === p.result_path)) {
    problems.push({ field: 'result_path', message: `"${p.result_path}" is a mount point; name a file` });
  }
  if (p.services.length > 0) {
    // The job joins the first service's network namespace: what sets up a network is not the job's.
    const refused = {
      network: p.network !== null, ports: p.ports.length > 0, publish_all_ports: p.publish_all_ports, hostname: p.hostname !== null, dns: p.dns.length > 0,
      dns_search: p.dns_search.length > 0, dns_opt: p.dns_opt.length > 0, extra_hosts: p.extra_hosts.length > 0, mac_address: p.mac_address !== null,
      network_mode: p.network_mode?.startsWith('container:') ?? false,
    };
    for (const [name, isSet] of Object.entries(refused) as [ParameterName, boolean][]) {
      if (isSet) problems.push({ field: name, message: 'cannot be set with services (the job joins the network namespace of its first service)' });
    }
  }
  if (p.result_path === null && (p.result_format !== 'json' || p.max_result_bytes !== steps.DEFAULT_MAX_RESULT_BYTES)) {
    // Not an error worth refusing a run for? It is: a setting that does nothing hides a missing result_path.
    problems.push({ field: p.result_format !== 'json' ? 'result_format' : 'max_result_bytes', message: 'needs result_path (the file to read)' });
  }
  return problems;
}

/** Validates and normalizes run parameters. Parse with `parseRunParams` to get a ValidationError. */
export const runParamsSchema = z.strictObject(parameterShape).transform((p, ctx) => {
  for (const problem of contradictions(p)) {
    ctx.addIssue({ code: 'custom', path: [problem.field, ...(problem.path ?? [])], message: problem.message });
  }
  // The secure default: no network unless the caller asks for one.
  return { ...p, network_mode: p.network === null ? (p.network_mode ?? 'none') : null };
});

export type RunParamsInput = z.input<typeof runParamsSchema>;
export type RunSpec = z.output<typeof runParamsSchema>;

type Issue = { field: string; message: string };

/** docker-py's `stdout`/`stderr` choose which streams run() returns; the result always has both, separately. */
const STREAM_SELECTORS = ['stdout', 'stderr'];

/**
 * docker-py's names for the original parameters (`mem_limit`, `nano_cpus`, `remove`) under the
 * original names, and docker-py's `stdout`/`stderr` (true: what the result has anyway) taken out.
 * Giving both names of one setting is an issue naming both.
 */
function fromDockerPy(input: unknown): { params: unknown; issues: Issue[]; renamed: Record<string, string> } {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return { params: input, issues: [], renamed: {} };
  const params: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  const issues: Issue[] = [];
  const renamed: Record<string, string> = {};
  for (const [alias, original] of Object.entries(ALIASES)) {
    if (!(alias in params)) continue;
    const value = params[alias];
    delete params[alias];
    if (original in params && params[original] != null && value != null) {
      issues.push({ field: alias, message: `and ${original} set the same thing (${alias} is docker-py's name for ${original}); give only one` });
      continue;
    }
    if (value == null) continue;
    if (alias === 'nano_cpus') {
      const parsed = host.nanoCpus.safeParse(value);
      if (!parsed.success) issues.push({ field: alias, message: parsed.error.issues[0]!.message });
      else params[original] = parsed.data / 1e9;
    } else {
      params[original] = value;
      renamed[original] = alias;
    }
  }
  for (const name of STREAM_SELECTORS) {
    if (!(name in params)) continue;
    const value = params[name];
    delete params[name];
    if (value === true || value == null) continue;
    issues.push({
      field: name,
      message:
        value === false
          ? `the result always carries stdout and stderr, separately; ignore the one you do not need and drop ${name}: false`
          : 'must be true (the result always carries stdout and stderr, separately)',
    });
  }
  return { params, issues, renamed };
}

/** Validates caller input; throws ValidationError naming each offending field (e.g. `volumes[0]`, `ulimits.nofile.soft`). */
export function parseRunParams(input: unknown): RunSpec {
  const { params, issues, renamed } = fromDockerPy(input);
  const result = runParamsSchema.safeParse(params);
  if (result.success && issues.length === 0) return result.data;
  // An error in a value given under docker-py's name names that name, as the caller wrote it.
  const asGiven = (i: z.core.$ZodIssue): z.core.$ZodIssue => {
    const [name, ...rest] = i.path;
    return typeof name === 'string' && renamed[name] ? { ...i, path: [renamed[name]!, ...rest] } : i;
  };
  throw new ValidationError([...issues, ...(result.success ? [] : result.error.issues.map(asGiven).flatMap(fieldIssues))]);
}

serviceParser = (params) => parseRunParams(params) as unknown as Record<string, unknown>;

function fieldIssues(issue: z.core.$ZodIssue): { field: string; message: string }[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ field: formatPath([...issue.path, key]), message: unknownParameterMessage(key) }));
  }
  if (issue.path.length === 0) return [{ field: '(params)', message: 'parameters must be an object' }];
  const [name] = issue.path;
  const parameter = typeof name === 'string' && name in PARAMETERS ? PARAMETERS[name as ParameterName] : undefined;
  // zod's own wording for a wrong type at the top of a parameter says less than the shapes it accepts.
  const generic = issue.code === 'invalid_type' || issue.code === 'invalid_union' || issue.code === 'invalid_value';
  const message =
    generic && issue.path.length === 1 && parameter && !/^must |^is required/.test(issue.message)
      ? `expected ${parameter.accepts}`
      : issue.message.replace(/^Invalid input: /, '');
  return [{ field: formatPath(issue.path), message }];
}

function unknownParameterMessage(key: string): string {
  const refused = REFUSED_ARGUMENTS[key];
  if (refused !== undefined) return `is not offered: ${refused}`;
  const suggestion = PARAMETER_NAMES.find((name) => editDistance(name, key.toLowerCase()) <= 2);
  return `is not a parameter${suggestion ? `; did you mean ${suggestion}?` : ''}`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
