/**
 * Zod schemas of the parameters docker-py's `containers.run()` offers beyond the original
 * request's: resources (CPU, memory, block IO), namespaces, kernel settings, mounts, device
 * requests. Same conventions as fields.ts: each accepts docker-py's shapes (also the Docker
 * API's mixed-case keys where docker-py passes those through) and outputs one normalized,
 * JSON-serialisable form. Every number has a lower and an upper bound Docker accepts.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import { apiKeys, FieldProblem, normalizedBy } from './fields.js';
import { parseSize } from './units.js';

const quote = (value: unknown): string => JSON.stringify(value);

/** An integer in [min, max], with both bounds in the message. */
export function intBetween(min: number, max: number, what = 'an integer') {
  return z
    .number({ error: `must be ${what} from ${min} to ${max}` })
    .refine((n) => Number.isInteger(n) && n >= min && n <= max, { error: `must be ${what} from ${min} to ${max}` });
}

/** `schema`, reading the Docker API's mixed-case keys (`Path`, `DeviceIDs`, ...) as their snake_case names. */
export function acceptingApiKeys<S extends z.ZodType>(aliases: Readonly<Record<string, string>>, schema: S) {
  return z.preprocess(apiKeys(aliases), schema);
}

function absolute(value: string, what: string): string {
  if (!posix.isAbsolute(value)) throw new FieldProblem(`${what} ${quote(value)} must be an absolute path`);
  const normalized = posix.normalize(value);
  return normalized.length > 1 ? normalized.replace(/\/$/, '') : normalized;
}

// ---------------------------------------------------------------- CPU

/** Docker's cgroup v1 bounds: shares 2..262144 (0 means the default, 1024). */
export const cpuShares = z.number().refine((n) => Number.isInteger(n) && (n === 0 || (n >= 2 && n <= 262144)), 'must be an integer from 2 to 262144 (relative weight; 1024 is the default), or 0 for the default');
/** CFS period in microseconds: the kernel accepts 1 ms to 1 s. */
export const cpuPeriod = intBetween(1000, 1_000_000, 'microseconds');
/** The kernel's largest CFS quota is 2^44-1 microseconds; -1 is unlimited. */
export const MAX_CPU_QUOTA_US = 2 ** 44 - 1;
export const cpuQuota = z.number().refine((n) => Number.isInteger(n) && (n === -1 || (n >= 1000 && n <= MAX_CPU_QUOTA_US)), `must be microseconds from 1000 to ${MAX_CPU_QUOTA_US}, or -1 for unlimited`);
/** Real-time scheduler period and runtime, microseconds (at most 1 s). */
export const cpuRealtime = intBetween(0, 1_000_000, 'microseconds');

const CPU_SET = /^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$/;
/** A cpuset list such as "0-3", "0,2" (CPUs or memory nodes); each index at most 4095. */
export const cpuSet = z.string().transform(
  normalizedBy((set: string) => {
    if (!CPU_SET.test(set)) throw new Error(`${quote(set)} is not a list such as "0-3" or "0,2"`);
    for (const part of set.split(',')) {
      const [from, to = from] = part.split('-').map(Number) as [number, number?];
      if (from > 4095 || to! > 4095 || from > to!) throw new Error(`${quote(part)} is not a range of indexes from 0 to 4095`);
    }
    return set;
  }),
);

/** nano_cpus: CPUs in units of 1e-9 (docker-py's `nano_cpus`), at least 0.01 CPUs. */
export const nanoCpus = z.number().refine((n) => Number.isSafeInteger(n) && n >= 10_000_000, 'must be an integer number of 1e-9 CPUs, at least 10000000 (0.01 CPUs)');

// ---------------------------------------------------------------- memory

/** Bytes (a number or "512m"), at least 6 MiB as Docker requires of memory limits. */
export const memoryBytes = z.union([z.number(), z.string()], { error: 'must be bytes or a size string such as "512m"' }).transform(normalizedBy(parseSize));
/** memswap_limit: memory plus swap, bytes or a size; -1 is unlimited swap. */
export const memorySwap = z
  .union([z.literal(-1), z.number(), z.string()], { error: 'must be bytes, a size string such as "1g", or -1 for unlimited swap' })
  .transform(normalizedBy((v: number | string) => (v === -1 || v === '-1' ? -1 : parseSize(v))));
export const memSwappiness = intBetween(0, 100, 'a percentage');
export const oomScoreAdj = intBetween(-1000, 1000);

// ---------------------------------------------------------------- block IO

export const blkioWeight = z.number().refine((n) => Number.isInteger(n) && (n === 0 || (n >= 10 && n <= 1000)), 'must be an integer from 10 to 1000 (0 for the default)');

const devicePath = z.string().transform(normalizedBy((p: string) => absolute(p, 'device')));

export const blkioWeightDevice = z.array(
  acceptingApiKeys({ Path: 'path', Weight: 'weight' }, z.strictObject({ path: devicePath, weight: intBetween(10, 1000) })),
  { error: 'must be a list of {"Path": "/dev/sda", "Weight": 10..1000}' },
);

/** Rates in bytes (or a size string) per second; docker-py's `{"Path", "Rate"}`. */
export const deviceBps = z.array(
  acceptingApiKeys(
    { Path: 'path', Rate: 'rate' },
    z.strictObject({
      path: devicePath,
      rate: z.union([z.number(), z.string()]).transform(normalizedBy(parseSize)),
    }),
  ),
  { error: 'must be a list of {"Path": "/dev/sda", "Rate": bytes or "1mb"}' },
);

export const deviceIops = z.array(
  acceptingApiKeys({ Path: 'path', Rate: 'rate' }, z.strictObject({ path: devicePath, rate: intBetween(0, Number.MAX_SAFE_INTEGER, 'operations per second') })),
  { error: 'must be a list of {"Path": "/dev/sda", "Rate": operations per second}' },
);

// ---------------------------------------------------------------- devices

const DEVICE_CGROUP_RULE = /^[abc] (?:\*|\d+):(?:\*|\d+) [rwm]{1,3}$/;
export const deviceCgroupRules = z.array(
  z.string().regex(DEVICE_CGROUP_RULE, 'must be a device cgroup rule such as "c 1:3 mr" or "b *:* rwm"'),
);

export interface DeviceRequest {
  driver: string;
  count: number;
  device_ids: string[];
  capabilities: string[][];
  options: Record<string, string>;
}

/** docker-py's DeviceRequest (`driver`, `count`, `device_ids`, `capabilities`, `options`; also `Driver`, `DeviceIDs`, ...). */
export const deviceRequests = z.array(
  acceptingApiKeys(
    { Driver: 'driver', Count: 'count', DeviceIDs: 'device_ids', Capabilities: 'capabilities', Options: 'options' },
    z
      .strictObject({
        driver: z.string().max(256).optional(),
        count: z.number().refine((n) => n === -1 || (Number.isInteger(n) && n >= 0 && n <= 1024), 'must be a number of devices from 0 to 1024, or -1 for all').optional(),
        device_ids: z.array(z.string().min(1).max(256)).optional(),
        capabilities: z.array(z.array(z.string().min(1).max(256))).optional(),
        options: z.record(z.string(), z.string()).optional(),
      })
      .transform(
        normalizedBy((r): DeviceRequest => {
          if (r.count !== undefined && r.count !== 0 && r.device_ids !== undefined && r.device_ids.length > 0) {
            throw new FieldProblem('set count or device_ids, not both', ['count']);
          }
          return { driver: r.driver ?? '', count: r.count ?? 0, device_ids: r.device_ids ?? [], capabilities: r.capabilities ?? [], options: r.options ?? {} };
        }),
      ),
  ),
  { error: 'must be a list of {"driver", "count", "device_ids", "capabilities": [["gpu"]], "options"}' },
);

// ---------------------------------------------------------------- namespaces

const CONTAINER_REF = /^container:([a-zA-Z0-9][a-zA-Z0-9_.-]*)$/;

/** A namespace mode: one of `modes`, or "container:<name or id>" when `container` is true. */
function namespaceMode(name: string, modes: readonly string[], container: boolean) {
  const shapes = [...modes.map(quote), ...(container ? ['"container:<name or id>"'] : [])].join(', ');
  return z.string({ error: `must be one of ${shapes}` }).refine((mode) => modes.includes(mode) || (container && CONTAINER_REF.test(mode)), {
    error: (issue) => `${quote(issue.input)} is not a ${name} mode; use one of ${shapes}`,
  });
}

export const pidMode = namespaceMode('PID', ['host'], true);
export const ipcMode = namespaceMode('IPC', ['private', 'shareable', 'none', 'host'], true);
export const utsMode = namespaceMode('UTS', ['host'], false);
export const usernsMode = namespaceMode('user namespace', ['host'], false);
export const cgroupnsMode = namespaceMode('cgroup namespace', ['private', 'host'], false);

/** The container a "container:<x>" mode refers to, or null. */
export function containerOfMode(mode: string | null): string | null {
  return mode === null ? null : (CONTAINER_REF.exec(mode)?.[1] ?? null);
}

const CONTAINER_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** volumes_from: ["name or id", "name:ro"] */
export const volumesFrom = z.array(
  z.string().transform(
    normalizedBy((entry: string) => {
      const [name, mode, ...rest] = entry.split(':');
      if (!CONTAINER_NAME.test(name ?? '') || rest.length > 0 || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
        throw new Error(`${quote(entry)} must be "<container name or id>" or "<container>:ro|rw"`);
      }
      return entry.replace(/^\//, '');
    }),
  ),
);

// ---------------------------------------------------------------- kernel, DNS, identity

const SYSCTL_NAME = /^[a-z0-9_]+(?:[./][a-z0-9_*-]+)+$/;
export const sysctls = z.record(z.string(), z.union([z.string(), z.number()])).transform(
  normalizedBy((input: Record<string, string | number>) => {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(input)) {
      if (!SYSCTL_NAME.test(name)) throw new FieldProblem(`${quote(name)} is not a kernel parameter name such as "net.ipv4.ip_forward"`, [name]);
      out[name] = String(value);
    }
    return out;
  }),
);

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;
export const dnsSearch = z.array(z.string().regex(DNS_NAME, 'must be a DNS domain such as "example.com"'));
export const dnsOptions = z.array(z.string().regex(/^[a-z0-9_-]+(?::[0-9]+)?$/i, 'must be a resolv.conf option such as "ndots:2" or "rotate"'));
export const domainname = z.string().regex(DNS_NAME, 'must be a DNS domain such as "example.com"');

export const groupAdd = z.array(z.union([z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'must be a group name or gid'), z.number().int().nonnegative().max(2 ** 32 - 2)]).transform(String));

export const macAddress = z.string().regex(/^(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'must be a MAC address such as "02:42:ac:11:00:02"');

const SECURITY_OPT = /^(?:no-new-privileges(?:[:=](?:true|false))?|seccomp[:=].+|apparmor[:=][^\s]+|label[:=].+|systempaths[:=]unconfined)$/s;
export const securityOpt = z.array(
  z.string().regex(SECURITY_OPT, 'must be "no-new-privileges[:true|false]", "seccomp=<profile JSON|unconfined>", "apparmor=<profile>", "label=<option>" or "systempaths=unconfined"'),
);

export const runtime = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'must be a runtime name such as "runc"');
export const cgroupParent = z.string().regex(/^[A-Za-z0-9_./:@-]+$/, 'must be a cgroup path such as "/highway" or a systemd slice');
export const volumeDriver = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.\/:-]*$/, 'must be a volume driver name');
export const storageOpt = z.record(z.string().regex(/^[a-z0-9_.-]+$/i, 'must be a storage option name such as "size"'), z.string());

// ---------------------------------------------------------------- mounts

export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind), volume name (volume; null for an anonymous volume), null (tmpfs). */
  source: string | null;
  target: string;
  read_only: boolean;
  /** bind: rprivate, private, rshared, shared, rslave, slave. */
  propagation: string | null;
  /** volume: do not copy the image's content into a new volume. */
  no_copy: boolean;
  /** volume: labels of a volume Docker creates. */
  labels: Record<string, string>;
  /** volume: a volume driver and its options (the operator policy decides). */
  driver_config: { name: string; options: Record<string, string> } | null;
  /** tmpfs: size in bytes, and mode (permission bits). */
  tmpfs_size: number | null;
  tmpfs_mode: number | null;
  /** Docker Desktop's file sharing consistency (ignored by Linux engines, kept as the CLI keeps it). */
  consistency: string | null;
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const PROPAGATIONS = ['rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave'];

const mountObject = acceptingApiKeys(
  {
    Type: 'type',
    Source: 'source',
    Target: 'target',
    ReadOnly: 'read_only',
    Consistency: 'consistency',
    BindOptions: 'bind_options',
    VolumeOptions: 'volume_options',
    TmpfsOptions: 'tmpfs_options',
  },
  z.strictObject({
    type: z.enum(['bind', 'volume', 'tmpfs'], { error: 'must be "bind", "volume" or "tmpfs" ("npipe" is Windows only)' }).optional(),
    source: z.string().nullish(),
    target: z.string(),
    read_only: z.boolean().optional(),
    consistency: z.enum(['default', 'consistent', 'cached', 'delegated']).nullish(),
    // docker-py's Mount() keyword arguments
    propagation: z.enum(PROPAGATIONS).nullish(),
    no_copy: z.boolean().optional(),
    labels: z.record(z.string(), z.string()).nullish(),
    driver_config: z.unknown().optional(),
    tmpfs_size: z.union([z.number(), z.string()]).nullish(),
    tmpfs_mode: intBetween(0, 0o7777, 'permission bits').nullish(),
    // the Docker API's nested options, as a serialized docker-py Mount carries them
    bind_options: acceptingApiKeys({ Propagation: 'propagation' }, z.strictObject({ propagation: z.enum(PROPAGATIONS).optional() })).optional(),
    volume_options: acceptingApiKeys(
      { NoCopy: 'no_copy', Labels: 'labels', DriverConfig: 'driver_config' },
      z.strictObject({ no_copy: z.boolean().optional(), labels: z.record(z.string(), z.string()).optional(), driver_config: z.unknown().optional() }),
    ).optional(),
    tmpfs_options: acceptingApiKeys(
      { SizeBytes: 'size_bytes', Mode: 'mode' },
      z.strictObject({ size_bytes: z.union([z.number(), z.string()]).optional(), mode: intBetween(0, 0o7777, 'permission bits').optional() }),
    ).optional(),
  }),
);

const driverConfig = acceptingApiKeys(
  { Name: 'name', Options: 'options' },
  z.strictObject({ name: z.string().min(1), options: z.record(z.string(), z.string()).optional() }),
);

function mountFrom(m: z.output<typeof mountObject>): MountSpec {
  const type = m.type ?? 'volume'; // docker-py's default
  const target = absolute(m.target, 'target');
  if (target === '/') throw new FieldProblem('target must not be "/"', ['target']);
  const propagation = m.propagation ?? m.bind_options?.propagation ?? null;
  const noCopy = m.no_copy ?? m.volume_options?.no_copy ?? false;
  const labels = m.labels ?? m.volume_options?.labels ?? {};
  const rawDriver = m.driver_config ?? m.volume_options?.driver_config;
  const sizeInput = m.tmpfs_size ?? m.tmpfs_options?.size_bytes ?? null;
  const mode = m.tmpfs_mode ?? m.tmpfs_options?.mode ?? null;
  const misplaced = (what: string, set: boolean, allowed: string) => {
    if (set) throw new FieldProblem(`${what} only applies to ${allowed} mounts, not "${type}"`);
  };
  misplaced('propagation', propagation !== null && type !== 'bind', 'bind');
  misplaced('no_copy, labels and driver_config', (noCopy || Object.keys(labels).length > 0 || rawDriver != null) && type !== 'volume', 'volume');
  misplaced('tmpfs_size and tmpfs_mode', (sizeInput !== null || mode !== null) && type !== 'tmpfs', 'tmpfs');
  let source: string | null = m.source ?? null;
  if (source === '') source = null;
  if (type === 'bind') {
    if (source === null) throw new FieldProblem('a bind mount needs a source (an absolute host path)', ['source']);
    source = absolute(source, 'source');
  } else if (type === 'volume') {
    if (source !== null && !VOLUME_NAME.test(source)) throw new FieldProblem(`source ${quote(source)} is not a volume name`, ['source']);
  } else if (source !== null) {
    throw new FieldProblem('a tmpfs mount has no source', ['source']);
  }
  let driver: MountSpec['driver_config'] = null;
  if (rawDriver != null) {
    const parsed = driverConfig.safeParse(rawDriver);
    if (!parsed.success) throw new FieldProblem('driver_config must be {"name": "driver", "options": {...}}', ['driver_config']);
    driver = { name: parsed.data.name, options: parsed.data.options ?? {} };
  }
  return {
    type,
    source,
    target,
    read_only: m.read_only ?? false,
    propagation,
    no_copy: noCopy,
    labels,
    driver_config: driver,
    tmpfs_size: sizeInput === null ? null : parseSize(sizeInput),
    tmpfs_mode: mode,
    consistency: m.consistency ?? null,
  };
}

const MOUNT_MODES = ['ro', 'rw'];
/** docker-py's Mount.parse_mount_string: "source:target[:ro|rw]" (a bind when the source is absolute). */
function mountFromString(spec: string): MountSpec {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || (parts[2] !== undefined && !MOUNT_MODES.includes(parts[2]))) {
    throw new FieldProblem(`${quote(spec)} must be "source:target" or "source:target:ro|rw"`);
  }
  const [source, target, mode] = parts as [string, string, string | undefined];
  return mountFrom({ type: source.startsWith('/') ? 'bind' : 'volume', source, target, read_only: mode === 'ro' });
}

export const mounts = z
  .array(z.union([z.string(), mountObject]), {
    error: 'must be a list of docker-py Mounts: {"type": "bind"|"volume"|"tmpfs", "source", "target", "read_only", ...} (or {"Type", "Source", "Target", "ReadOnly", ...}), or "source:target[:ro]"',
  })
  .transform(
    normalizedBy((input): MountSpec[] =>
      input.map((item, i) => {
        try {
          return typeof item === 'string' ? mountFromString(item) : mountFrom(item);
        } catch (err) {
          if (err instanceof FieldProblem) throw new FieldProblem(err.message, [i, ...err.path]);
          throw new FieldProblem(err instanceof Error ? err.message : String(err), [i]);
        }
      }),
    ),
  );
