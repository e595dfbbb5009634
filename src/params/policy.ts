/**
 * The operator policy: what callers may ask for. Checked after validation and before
 * anything is stored or sent to Docker; a violation is a PolicyError naming a stable rule.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { z } from 'zod';
import { PolicyError } from '../errors.js';
import { DOCKER_DEFAULT_CAPABILITIES, effectiveCapabilities, normalizeCapability } from './capabilities.js';
import { hasRegistryDomain } from './fields.js';
import { DEFAULT_INPUT_LIMITS, formatBytes } from './bounds.js';
import { formatPath, parseRunParams, type RunSpec } from './schema.js';
import { DEFAULT_MAX_RESULT_BYTES, fileBytes as stepFileBytes } from './steps.js';

export type PolicyRule =
  | 'privileged'
  | 'capabilities'
  | 'host_network'
  | 'container_network'
  | 'bind_mounts'
  | 'devices'
  | 'images'
  | 'max_memory'
  | 'max_cpus'
  | 'max_pids'
  | 'require_limits'
  | 'oom_kill_disable'
  | 'max_output_bytes'
  | 'max_files_bytes'
  | 'max_result_bytes'
  | 'exec_root'
  | 'security_opt'
  | 'host_namespaces'
  | 'container_namespaces'
  | 'sysctls'
  | 'cgroup_parent'
  | 'device_requests'
  | 'device_cgroup_rules'
  | 'runtime'
  | 'volume_driver'
  | 'storage_opt'
  | 'group_add'
  | 'oom_score_adj'
  | 'cpu_realtime';

/**
 * The namespaced kernel parameters a container may set without affecting the host or other
 * containers: Kubernetes' "safe" sysctls (a pattern ends in "*" to match a prefix).
 */
export const SAFE_SYSCTLS: readonly string[] = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
];

/** jsonb values are limited to 255 MB; keep well below. */
const MAX_STORABLE_BYTES = 64 * 1024 * 1024;

const capabilityList = z.array(z.string().min(1)).transform((caps) => caps.map(normalizeCapability));
const absolutePaths = z.array(z.string().refine((p) => posix.isAbsolute(p), 'must be an absolute path'));

const policySchema = z.strictObject({
  /** May a container run privileged? */
  allow_privileged: z.boolean(),
  /** Capabilities a container may end up with (after cap_drop and cap_add); "ALL" allows every one. */
  allowed_capabilities: capabilityList,
  /** May a container use network_mode "host"? */
  allow_host_network: z.boolean(),
  /** May a container join another container's network (network_mode "container:<name>")? That container may be another tenant's. */
  allow_container_network: z.boolean(),
  bind_mounts: z.strictObject({
    /** Host paths that may not be mounted, nor anything beneath them, nor any directory containing them. */
    denied_paths: absolutePaths,
    /** When set, bind mounts must be at or beneath one of these host paths. */
    allowed_paths: absolutePaths.nullable(),
  }),
  /** Host device paths a container may use (glob patterns); empty denies all devices. */
  allowed_devices: z.array(z.string().min(1)),
  /**
   * Named volumes every tenant shares under their plain name. Any other named volume is private
   * to its tenant: Docker gets a name of the tenant's own (see tenantVolumeName).
   */
  shared_volumes: z.array(z.string().min(1)),
  images: z.strictObject({
    /** Glob patterns an image must match ("*" matches anything, also "/"). */
    allow: z.array(z.string().min(1)),
    /** Glob patterns an image must not match; deny wins over allow. */
    deny: z.array(z.string().min(1)),
  }),
  max_memory_bytes: z.number().int().positive().nullable(),
  max_cpus: z.number().positive().nullable(),
  max_pids: z.number().int().positive().nullable(),
  /** Refuse runs without memory, CPU and pids limits (otherwise they are only warned about). */
  require_limits: z.boolean(),
  allow_oom_kill_disable: z.boolean(),
  /** Ceiling on a run's max_output_bytes (output kept per stream). */
  max_output_bytes: z.number().int().nonnegative(),
  /** Input limits (src/params/bounds.ts): the whole parameter set as JSON, labels and environment. */
  max_params_bytes: z.number().int().positive().max(MAX_STORABLE_BYTES),
  max_labels: z.number().int().nonnegative(),
  max_labels_bytes: z.number().int().nonnegative(),
  max_environment: z.number().int().nonnegative(),
  max_environment_bytes: z.number().int().nonnegative(),
  /** `files`: bytes written, all files together (decoded), and how many. */
  max_files_bytes: z.number().int().nonnegative().max(MAX_STORABLE_BYTES),
  max_files: z.number().int().nonnegative(),
  /** Ceiling on a run's max_result_bytes (the result_path file read back). */
  max_result_bytes: z.number().int().positive().max(MAX_STORABLE_BYTES),
  /** May tools.docker.exec run a command as root? When false, an exec must name a non-root `user`. */
  allow_exec_root: z.boolean(),
  /** May security_opt turn off seccomp (or load a custom profile), AppArmor, SELinux labels, no-new-privileges or masked paths? */
  allow_unconfined: z.boolean(),
  /** May pid_mode, ipc_mode, uts_mode, userns_mode or cgroupns be "host"? */
  allow_host_namespaces: z.boolean(),
  /** May pid_mode or ipc_mode join another container's namespace (always only the tenant's own containers)? */
  allow_container_namespaces: z.boolean(),
  /** sysctls a container may set (exact names, or a prefix ending in "*"). */
  allowed_sysctls: z.array(z.string().min(1)),
  allow_cgroup_parent: z.boolean(),
  /** May a container ask for device requests (GPUs)? */
  allow_device_requests: z.boolean(),
  allow_device_cgroup_rules: z.boolean(),
  /** OCI runtimes a container may use. */
  allowed_runtimes: z.array(z.string().min(1)),
  /** Volume drivers (volume_driver, and driver_config of volume mounts) a container may use. */
  allowed_volume_drivers: z.array(z.string().min(1)),
  allow_storage_opt: z.boolean(),
  allow_group_add: z.boolean(),
  /** May oom_score_adj be negative (protected from the OOM killer at the host's expense)? */
  allow_negative_oom_score_adj: z.boolean(),
  /** May a container use the real-time scheduler (cpu_rt_runtime, cpu_rt_period)? */
  allow_cpu_realtime: z.boolean(),
});

export type Policy = z.output<typeof policySchema>;

export const defaultPolicy: Policy = {
  allow_privileged: false,
  allowed_capabilities: DOCKER_DEFAULT_CAPABILITIES.filter((cap) => cap !== 'NET_RAW' && cap !== 'MKNOD'),
  allow_host_network: false,
  allow_container_network: false,
  shared_volumes: [],
  bind_mounts: {
    denied_paths: ['/var/run/docker.sock', '/run/docker.sock', '/etc', '/proc', '/sys', '/var/lib/docker', '/boot', '/dev'],
    allowed_paths: null,
  },
  allowed_devices: [],
  images: { allow: ['*'], deny: [] },
  max_memory_bytes: null,
  max_cpus: null,
  max_pids: null,
  require_limits: false,
  allow_oom_kill_disable: false,
  max_output_bytes: 64 * 1024 * 1024,
  max_result_bytes: 16 * 1024 * 1024,
  ...DEFAULT_INPUT_LIMITS,
  allow_exec_root: true,
  allow_unconfined: false,
  allow_host_namespaces: false,
  allow_container_namespaces: false,
  allowed_sysctls: [...SAFE_SYSCTLS],
  allow_cgroup_parent: false,
  allow_device_requests: false,
  allow_device_cgroup_rules: false,
  allowed_runtimes: ['runc'],
  allowed_volume_drivers: [],
  allow_storage_opt: false,
  allow_group_add: false,
  allow_negative_oom_score_adj: false,
  allow_cpu_realtime: false,
};

// A policy file may set any subset of the fields; nested objects merge one level deep.
const policyFileSchema = policySchema.extend({
  bind_mounts: policySchema.shape.bind_mounts.partial(),
  images: policySchema.shape.images.partial(),
}).partial();

/** The default policy, or the JSON file at `path` merged over it. Throws an Error naming the file and field. */
export function loadPolicy(path?: string): Policy {
  if (path === undefined || path === '') return defaultPolicy;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`policy file ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const result = policyFileSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.code === 'unrecognized_keys' ? formatPath([...issue.path, issue.keys[0]!]) : formatPath(issue.path) || '(top level)';
    throw new Error(`policy file ${path}: ${where}: ${issue.code === 'unrecognized_keys' ? 'is not a policy field' : issue.message}`);
  }
  const file = result.data;
  return {
    ...defaultPolicy,
    ...file,
    bind_mounts: { ...defaultPolicy.bind_mounts, ...file.bind_mounts },
    images: { ...defaultPolicy.images, ...file.images },
  };
}

/** Throws a PolicyError for the first rule `spec` violates. */
export function checkPolicy(spec: RunSpec, policy: Policy): void {
  for (const check of CHECKS) check(spec, policy);
  // Each service meets the same policy, as a run of its own (its network is the job's, checked above).
  spec.services.forEach((service, i) => {
    try {
      for (const check of CHECKS) check(parseRunParams(service.params), policy);
    } catch (err) {
      if (err instanceof PolicyError) throw new PolicyError(err.rule, `services[${i}].${err.field}`, err.message.slice(err.message.indexOf(': denied by policy rule') + `: denied by policy rule "${err.rule}": `.length));
      throw err;
    }
  });
}

/** Throws a PolicyError (rule `images`, field `image`) when the policy's image patterns refuse `image`; run and pull both check it. */
export function checkImagePolicy(image: string, policy: Policy): void {
  const names = imageNames(image);
  const denied = policy.images.deny.find((pattern) => names.some((name) => globMatches(pattern, name)));
  if (denied) throw new PolicyError('images', 'image', `"${image}" matches the denied pattern "${denied}"`);
  if (!policy.images.allow.some((pattern) => names.some((name) => globMatches(pattern, name)))) {
    throw new PolicyError('images', 'image', `"${image}" matches none of the allowed patterns ${JSON.stringify(policy.images.allow)}`);
  }
}

/**
 * The policy for tools.docker.exec: the rules of run that apply to an exec (privileged), and
 * `allow_exec_root` (false: the exec must name a user that is not root). Throws a PolicyError.
 */
export function checkExecPolicy(spec: { privileged: boolean; user: string | null; max_output_bytes?: number; max_result_bytes?: number | null }, policy: Policy): void {
  outputCeiling('max_output_bytes', spec.max_output_bytes, policy);
  // Null is the default, capped to the ceiling where the file is read; an explicit larger value is refused (as for a run).
  if (spec.max_result_bytes != null && spec.max_result_bytes > policy.max_result_bytes) {
    throw new PolicyError('max_result_bytes', 'max_result_bytes', `${spec.max_result_bytes} exceeds the maximum of ${policy.max_result_bytes} (${formatBytes(policy.max_result_bytes)})`);
  }
  if (spec.privileged && !policy.allow_privileged) throw new PolicyError('privileged', 'privileged', 'privileged execs are not allowed');
  if (!policy.allow_exec_root) {
    if (spec.user === null) throw new PolicyError('exec_root', 'user', 'execs as root are not allowed: name a non-root user, e.g. "1000" or "nobody"');
    const name = spec.user.split(':')[0];
    if (name === 'root' || name === '0') throw new PolicyError('exec_root', 'user', `execs as root are not allowed ("${spec.user}"): name a non-root user`);
  }
}

/** A logs read's byte cap meets the same ceiling as the output kept of a run or an exec. */
export function checkLogsPolicy(spec: { max_bytes: number }, policy: Policy): void {
  outputCeiling('max_bytes', spec.max_bytes, policy);
}

/** Output held in memory (per stream) is bounded by the policy's max_output_bytes. */
function outputCeiling(field: string, value: number | undefined, policy: Policy): void {
  if (value !== undefined && value > policy.max_output_bytes) {
    throw new PolicyError('max_output_bytes', field, `${value} exceeds the maximum of ${policy.max_output_bytes} (${formatBytes(policy.max_output_bytes)})`);
  }
}

/** One warning per resource that has no limit. */
export function resourceWarnings(spec: RunSpec): string[] {
  return missingLimits(spec).map(({ field, resource }) => `no ${field} set: the container may use all of the host's ${resource}`);
}

function missingLimits(spec: RunSpec): { field: 'memory_limit' | 'cpu_limit' | 'pids_limit'; resource: string }[] {
  const missing: { field: 'memory_limit' | 'cpu_limit' | 'pids_limit'; resource: string }[] = [];
  if (spec.memory_limit === null) missing.push({ field: 'memory_limit', resource: 'memory' });
  if (spec.cpu_limit === null) missing.push({ field: 'cpu_limit', resource: 'CPUs' });
  if (spec.pids_limit === null || spec.pids_limit === -1) missing.push({ field: 'pids_limit', resource: 'process slots' });
  return missing;
}

type Check = (spec: RunSpec, policy: Policy) => void;

const CHECKS: readonly Check[] = [
  function images(spec, policy) {
    checkImagePolicy(spec.image, policy);
  },
  function privileged(spec, policy) {
    if (spec.privileged && !policy.allow_privileged) throw new PolicyError('privileged', 'privileged', 'privileged containers are not allowed');
  },
  function capabilities(spec, policy) {
    // Privileged containers get every capability; the privileged rule governs them.
    if (spec.privileged || policy.allowed_capabilities.includes('ALL')) return;
    const allowed = new Set(policy.allowed_capabilities);
    for (const cap of effectiveCapabilities(spec.cap_add, spec.cap_drop)) {
      if (allowed.has(cap)) continue;
      const field = spec.cap_add.includes(cap) || spec.cap_add.includes('ALL') ? 'cap_add' : 'cap_drop';
      const hint = field === 'cap_add' ? 'remove it from cap_add' : 'add it to cap_drop (or drop "ALL")';
      throw new PolicyError('capabilities', field, `capability ${cap} is not allowed; ${hint}`);
    }
  },
  function hostNetwork(spec, policy) {
    if (spec.network_mode === 'host' && !policy.allow_host_network) {
      throw new PolicyError('host_network', 'network_mode', 'the host network is not allowed');
    }
    if (spec.network_mode?.startsWith('container:') && !policy.allow_container_network) {
      throw new PolicyError('container_network', 'network_mode', "joining another container's network is not allowed");
    }
  },
  function bindMounts(spec, policy) {
    spec.volumes.forEach((volume, i) => {
      if (volume.type !== 'bind') return;
      const problem = bindMountProblem(volume.source, policy.bind_mounts);
      if (problem) throw new PolicyError('bind_mounts', `volumes[${i}]`, problem);
    });
    // docker-py mounts of type bind follow exactly the same host-path rules.
    spec.mounts.forEach((mount, i) => {
      if (mount.type !== 'bind' || mount.source === null) return;
      const problem = bindMountProblem(mount.source, policy.bind_mounts);
      if (problem) throw new PolicyError('bind_mounts', `mounts[${i}]`, problem);
    });
  },
  function securityOpt(spec, policy) {
    if (policy.allow_unconfined) return;
    spec.security_opt.forEach((opt, i) => {
      const weakening = weakeningSecurityOpt(opt);
      if (weakening) throw new PolicyError('security_opt', `security_opt[${i}]`, `${weakening} is not allowed`);
    });
  },
  function namespaces(spec, policy) {
    const modes = { pid_mode: spec.pid_mode, ipc_mode: spec.ipc_mode, uts_mode: spec.uts_mode, userns_mode: spec.userns_mode, cgroupns: spec.cgroupns };
    for (const [field, mode] of Object.entries(modes)) {
      if (mode === 'host' && !policy.allow_host_namespaces) throw new PolicyError('host_namespaces', field, `the host's ${field.replace(/_mode$|ns$/, '')} namespace is not allowed`);
      if (mode?.startsWith('container:') && !policy.allow_container_namespaces) {
        throw new PolicyError('container_namespaces', field, "joining another container's namespace is not allowed");
      }
    }
  },
  function sysctls(spec, policy) {
    for (const name of Object.keys(spec.sysctls)) {
      if (!policy.allowed_sysctls.some((pattern) => (pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern))) {
        throw new PolicyError('sysctls', `sysctls.${name}`, `"${name}" is not in the allowed set ${JSON.stringify(policy.allowed_sysctls)}`);
      }
    }
  },
  function hostControls(spec, policy) {
    if (spec.cgroup_parent !== null && !policy.allow_cgroup_parent) throw new PolicyError('cgroup_parent', 'cgroup_parent', 'choosing the parent cgroup is not allowed');
    if (spec.device_requests.length > 0 && !policy.allow_device_requests) throw new PolicyError('device_requests', 'device_requests', 'device requests (GPUs) are not allowed');
    if (spec.device_cgroup_rules.length > 0 && !policy.allow_device_cgroup_rules) {
      throw new PolicyError('device_cgroup_rules', 'device_cgroup_rules', 'device cgroup rules are not allowed');
    }
    if (spec.runtime !== null && !policy.allowed_runtimes.includes(spec.runtime)) {
      throw new PolicyError('runtime', 'runtime', `"${spec.runtime}" is not one of the allowed runtimes ${JSON.stringify(policy.allowed_runtimes)}`);
    }
    if (spec.volume_driver !== null && !policy.allowed_volume_drivers.includes(spec.volume_driver)) {
      throw new PolicyError('volume_driver', 'volume_driver', `"${spec.volume_driver}" is not one of the allowed volume drivers ${JSON.stringify(policy.allowed_volume_drivers)}`);
    }
    spec.mounts.forEach((mount, i) => {
      if (mount.driver_config !== null && !policy.allowed_volume_drivers.includes(mount.driver_config.name)) {
        throw new PolicyError('volume_driver', `mounts[${i}].driver_config`, `"${mount.driver_config.name}" is not one of the allowed volume drivers ${JSON.stringify(policy.allowed_volume_drivers)}`);
      }
    });
    if (Object.keys(spec.storage_opt).length > 0 && !policy.allow_storage_opt) throw new PolicyError('storage_opt', 'storage_opt', 'storage driver options are not allowed');
    if (spec.group_add.length > 0 && !policy.allow_group_add) throw new PolicyError('group_add', 'group_add', 'supplementary groups are not allowed (a group such as "disk" can reach host devices)');
    if (spec.oom_score_adj !== null && spec.oom_score_adj < 0 && !policy.allow_negative_oom_score_adj) {
      throw new PolicyError('oom_score_adj', 'oom_score_adj', 'a negative value (shielding the container from the OOM killer at the host\'s expense) is not allowed');
    }
    for (const field of ['cpu_rt_runtime', 'cpu_rt_period'] as const) {
      if (spec[field] !== null && !policy.allow_cpu_realtime) throw new PolicyError('cpu_realtime', field, 'the real-time scheduler is not allowed');
    }
  },
  function devices(spec, policy) {
    spec.devices.forEach((device, i) => {
      if (!policy.allowed_devices.some((pattern) => globMatches(pattern, device.host_path))) {
        throw new PolicyError('devices', `devices[${i}]`, `device ${device.host_path} is not allowed`);
      }
    });
  },
  function oomKillDisable(spec, policy) {
    if (spec.oom_kill_disable && !policy.allow_oom_kill_disable) {
      throw new PolicyError('oom_kill_disable', 'oom_kill_disable', 'disabling the OOM killer is not allowed');
    }
  },
  function requireLimits(spec, policy) {
    const [missing] = missingLimits(spec);
    if (policy.require_limits && missing) throw new PolicyError('require_limits', missing.field, `a ${missing.field} is required`);
  },
  function ceilings(spec, policy) {
    ceiling('max_memory', 'memory_limit', spec.memory_limit, policy.max_memory_bytes);
    ceiling('max_cpus', 'cpu_limit', spec.cpu_limit, policy.max_cpus);
    ceiling('max_pids', 'pids_limit', spec.pids_limit === -1 ? null : spec.pids_limit, policy.max_pids);
    if (spec.max_output_bytes > policy.max_output_bytes) {
      throw new PolicyError('max_output_bytes', 'max_output_bytes', `${spec.max_output_bytes} exceeds the maximum of ${policy.max_output_bytes} (${formatBytes(policy.max_output_bytes)})`);
    }
    // The default (1 MiB) is capped to the ceiling where it is read; an explicit larger value is refused.
    if (spec.result_path !== null && spec.max_result_bytes > policy.max_result_bytes && spec.max_result_bytes !== DEFAULT_MAX_RESULT_BYTES) {
      throw new PolicyError('max_result_bytes', 'max_result_bytes', `${spec.max_result_bytes} exceeds the maximum of ${policy.max_result_bytes} (${formatBytes(policy.max_result_bytes)})`);
    }
    const fileBytes = Object.values(spec.files).reduce((sum, entry) => sum + stepFileBytes(entry), 0);
    if (fileBytes > policy.max_files_bytes) {
      throw new PolicyError('max_files_bytes', 'files', `${fileBytes} bytes together exceed the maximum of ${policy.max_files_bytes} (${formatBytes(policy.max_files_bytes)})`);
    }
    const fileCount = Object.keys(spec.files).length;
    if (fileCount > policy.max_files) throw new PolicyError('max_files_bytes', 'files', `${fileCount} files exceed the maximum of ${policy.max_files}`);
  },
];

/** What `opt` turns off, or null when it weakens nothing. */
function weakeningSecurityOpt(opt: string): string | null {
  const [key, value = ''] = opt.split(/[:=]/, 2) as [string, string?];
  const rest = opt.slice(key.length + 1);
  if (key === 'no-new-privileges') return value === 'false' ? 'turning off no-new-privileges' : null;
  if (key === 'seccomp') return rest === 'unconfined' ? 'turning off seccomp' : 'a custom seccomp profile (it can allow any system call)';
  if (key === 'apparmor') return value === 'unconfined' ? 'turning off AppArmor' : null;
  if (key === 'label') return value === 'disable' ? 'turning off SELinux labels' : null;
  if (key === 'systempaths') return 'unmasking /proc and /sys paths (systempaths=unconfined)';
  return null;
}

/** A run without a limit exceeds any ceiling. */
function ceiling(rule: PolicyRule, field: string, value: number | null, max: number | null): void {
  if (max === null) return;
  if (value === null) throw new PolicyError(rule, field, `a ${field} of at most ${max} is required`);
  if (value > max) throw new PolicyError(rule, field, `${value} exceeds the maximum of ${max}`);
}

/**
 * Why a bind mount of `source` is refused, or null. A path is refused when it is a
 * denied path, lies beneath one, or contains one (mounting "/var" would expose
 * "/var/lib/docker"; this is also why "/" itself is refused). Both the path as
 * written and its real path (symlinks resolved) are checked.
 */
function bindMountProblem(source: string, rules: Policy['bind_mounts']): string | null {
  for (const path of new Set([posix.resolve(source), realPath(source)])) {
    const denied = rules.denied_paths.find((d) => isWithin(path, d) || isWithin(d, path));
    if (denied) return `host path ${source}${path === source ? '' : ` (${path})`} is or overlaps the protected path ${denied}`;
    if (rules.allowed_paths && !rules.allowed_paths.some((allowed) => isWithin(path, allowed))) {
      return `host path ${source}${path === source ? '' : ` (${path})`} is not under an allowed path ${JSON.stringify(rules.allowed_paths)}`;
    }
  }
  return null;
}

/** Is `path` equal to `ancestor` or beneath it? */
function isWithin(path: string, ancestor: string): boolean {
  const base = posix.resolve(ancestor);
  return path === base || path.startsWith(base === '/' ? '/' : `${base}/`);
}

/** The real path of `path`; for a path that does not exist yet, that of its nearest existing ancestor plus the rest. */
function realPath(path: string): string {
  const resolved = posix.resolve(path);
  if (existsSync(resolved)) return realpathSync(resolved);
  const parent = posix.dirname(resolved);
  return parent === resolved ? resolved : posix.join(realPath(parent), posix.basename(resolved));
}

/**
 * The names a policy pattern may match for `image`: as written, with the implied
 * ":latest" tag, and fully qualified as Docker resolves it ("docker.io/library/alpine:latest").
 */
function imageNames(image: string): string[] {
  const lastComponent = image.slice(image.lastIndexOf('/') + 1);
  const tagged = lastComponent.includes(':') || image.includes('@') ? image : `${image}:latest`;
  const qualified = hasRegistryDomain(tagged) ? tagged : `docker.io/${tagged.includes('/') ? '' : 'library/'}${tagged}`;
  return [...new Set([image, tagged, qualified])];
}

/** Glob match where "*" matches any run of characters (including "/") and "?" one character. */
function globMatches(pattern: string, text: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${source}$`).test(text);
}
