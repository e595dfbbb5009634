/**
 * Zod schemas for the individual run parameters: each accepts the shapes callers
 * write (docker-py's included) and outputs one normalized, JSON-serialisable form.
 *
 * Normalizers are plain functions that throw (a FieldProblem when the problem is
 * deeper than the value itself); `normalizedBy` turns that into a zod issue, so the
 * error names the exact path, e.g. `ulimits.nofile.soft`.
 */
import { isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import { posix } from 'node:path';
import { z } from 'zod';
import { LINUX_CAPABILITIES, normalizeCapability } from './capabilities.js';
import { BOUNDS, numberProblem, within } from './bounds.js';
import { parseDuration, parseSize, shellSplit } from './units.js';
import { forbiddenKeyProblem } from './keys.js';

type Path = (string | number)[];

/** An input problem at `path`, relative to the value being normalized. */
export class FieldProblem extends Error {
  readonly path: Path;
  constructor(message: string, path: Path = []) {
    super(message);
    this.name = 'FieldProblem';
    this.path = path;
  }
}

/** Runs `normalize` on each item, prefixing the path of any problem with the item's index or key. */
function eachAt<T, R>(key: string | number, item: T, normalize: (item: T) => R): R {
  try {
    return normalize(item);
  } catch (err) {
    if (err instanceof FieldProblem) throw new FieldProblem(err.message, [key, ...err.path]);
    throw new FieldProblem(err instanceof Error ? err.message : String(err), [key]);
  }
}

/** Adapts a throwing normalizer to a zod transform that reports the problem as an issue. */
export function normalizedBy<I, O>(normalize: (input: I) => O) {
  return (input: I, ctx: z.RefinementCtx): O => {
    try {
      return normalize(input);
    } catch (err) {
      const path = err instanceof FieldProblem ? err.path : [];
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err), path });
      return z.NEVER;
    }
  };
}

const quote = (value: unknown): string => JSON.stringify(value);

/**
 * A preprocess step renaming the Docker API's mixed-case keys that docker-py passes through
 * (`Name`, `Soft`, `Type`, ...) to this tool's snake_case names. A key given in both spellings is
 * left as it is, so the strict object refuses the duplicate by name.
 */
export function apiKeys(aliases: Readonly<Record<string, string>>) {
  return (input: unknown): unknown => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
    const record = input as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(record)) {
      const name = aliases[key];
      out[name !== undefined && !(name in record) ? name : key] = value;
    }
    return out;
  };
}

function absolutePath(value: string, what: string): string {
  if (!posix.isAbsolute(value)) throw new FieldProblem(`${what} ${quote(value)} must be an absolute path`);
  const normalized = posix.normalize(value);
  return normalized.length > 1 ? normalized.replace(/\/$/, '') : normalized;
}

// ---------------------------------------------------------------- image, command

// Docker's reference grammar (distribution/reference), simplified: [domain/]path[:tag][@digest].
const NAME_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const IMAGE_REFERENCE = new RegExp(`^(?:${DOMAIN}/)?${NAME_COMPONENT}(?:/${NAME_COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`);

/** Docker reads the first component of "a/b" as a registry only if it has a "." or ":" or is "localhost". */
export function hasRegistryDomain(ref: string): boolean {
  const slash = ref.indexOf('/');
  if (slash < 0) return false;
  const first = ref.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost';
}

export const image = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
  .transform(
    normalizedBy((ref: string) => {
      if (ref.length === 0) throw new Error('must not be empty');
      const repository = hasRegistryDomain(ref) ? ref.slice(ref.indexOf('/') + 1) : ref;
      if (ref.length > 512 || !IMAGE_REFERENCE.test(ref) || /[A-Z]/.test(repository.split(/[:@]/)[0]!)) {
        throw new Error(`${quote(ref)} is not an image reference; use e.g. "alpine", "alpine:3.20", "registry:5000/team/app@sha256:..."`);
      }
      return ref;
    }),
  );

export const commandWords = z
  .union([z.string(), z.array(z.string())], { error: 'must be a string (split like a shell) or a list of strings' })
  .transform(normalizedBy((command: string | string[]) => (typeof command === 'string' ? shellSplit(command) : command)));

// ---------------------------------------------------------------- environment, labels, user

// POSIX names, plus "." and "-" which Docker passes through and JVM-style programs read.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const SECRET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.\/-]*$/;

export const secretReference = z.strictObject({
  secret: z.string().regex(SECRET_NAME, 'must be a secret name (letters, digits, "_", ".", "-", "/")'),
});
export type SecretReference = z.output<typeof secretReference>;
export type EnvValue = string | SecretReference;

function envName(name: string): string {
  const forbidden = forbiddenKeyProblem(name);
  if (forbidden) throw new FieldProblem(forbidden);
  if (!ENV_NAME.test(name)) throw new FieldProblem(`${quote(name)} is not a valid environment variable name`);
  return name;
}

function envValue(value: string | number | boolean | SecretReference): EnvValue {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new FieldProblem(`${value} is not a finite number`);
  return typeof value === 'object' ? value : String(value);
}

function envEntry(entry: string): [string, string] {
  const eq = entry.indexOf('=');
  if (eq <= 0) throw new FieldProblem(`${quote(entry)} must be "NAME=value"`);
  return [envName(entry.slice(0, eq)), entry.slice(eq + 1)];
}

export const environment = z
  .union(
    [
      z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), secretReference])),
      z.array(z.string()),
    ],
    { error: 'must be an object of NAME: value (string, number, boolean or {"secret": "name"}) or a list of "NAME=value"' },
  )
  .transform(
    normalizedBy((env): Record<string, EnvValue> => {
      if (Array.isArray(env)) return Object.fromEntries(env.map((entry, i) => eachAt(i, entry, envEntry)));
      return Object.fromEntries(Object.entries(env).map(([name, value]) => eachAt(name, value, (v) => [envName(name), envValue(v)])));
    }),
  );

export const RESERVED_LABEL_PREFIX = 'highway.';

/** Labels as an object, or as docker-py's list of names (each with an empty value). */
export const labels = z
  .union([z.record(z.string(), z.string({ error: 'label values must be strings' })), z.array(z.string())], {
    error: 'must be an object {"name": "value"} or a list of names (empty values)',
  })
  .transform(
    normalizedBy((input: Record<string, string> | string[]) => {
      if (Array.isArray(input)) {
        input.forEach((name, i) => {
          // docker-py would make "a=b" a label *named* "a=b": refuse the ambiguity.
          if (name.includes('=')) {
            throw new FieldProblem(`${quote(name)}: a list gives label names (with empty values, as docker-py does); for a value use the object form {"name": "value"}`, [i]);
          }
        });
      }
      const userLabels: Record<string, string> = Array.isArray(input) ? Object.fromEntries(input.map((name) => [name, ''])) : input;
      for (const key of Object.keys(userLabels)) {
        if (key.length === 0) throw new FieldProblem('label keys must not be empty');
        if (key.toLowerCase().startsWith(RESERVED_LABEL_PREFIX)) {
          throw new FieldProblem(`the "${RESERVED_LABEL_PREFIX}" prefix is reserved for highway-docker's own labels`, [Array.isArray(input) ? input.indexOf(key) : key]);
        }
      }
      return userLabels;
    }),
  );

/**
 * Where a run may go: a host id, labels the host must have, or both. A host's labels come from
 * its HIGHWAY_HOST_LABELS.
 */
export const placement = z
  .strictObject({
    host: z.string().min(1, 'host must not be empty').max(256).optional(),
    labels: z.record(z.string().min(1), z.string()).optional(),
  })
  .refine((p) => p.host !== undefined || (p.labels !== undefined && Object.keys(p.labels).length > 0), 'give a host id ({"host": "<id>"}) or labels ({"labels": {"k": "v"}})');

export const workingDir = z.string().transform(normalizedBy((dir: string) => absolutePath(dir, 'working_dir')));

export const user = z.union([z.string(), z.number().int().nonnegative()], { error: 'must be a user name or uid, optionally ":group"' }).transform(
  normalizedBy((value: string | number) => {
    const text = String(value);
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/.test(text)) {
      throw new Error(`${quote(value)} is not a user; use e.g. "1000", "1000:1000", "nobody"`);
    }
    for (const id of text.split(':')) {
      const problem = /^\d+$/.test(id) ? numberProblem(Number(id), BOUNDS.uid) : null;
      if (problem) throw new Error(`uid/gid ${id} ${problem}`);
    }
    return text;
  }),
);

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const hostname = z.string().regex(HOSTNAME, 'must be a valid host name (letters, digits, "-", dot-separated)');

// ---------------------------------------------------------------- durations, sizes, limits

/** Seconds, from a number of seconds or a string such as "30s", "1m30s", "500ms". */
export const duration = z.union([z.number(), z.string()], { error: 'must be seconds or a duration string such as "30s"' }).transform(normalizedBy(parseDuration));

/** Bytes, from a number or a string such as "512m", "1g". */
export const size = z.union([z.number(), z.string()], { error: 'must be bytes or a size string such as "512m"' }).transform(normalizedBy(parseSize));

export const cpus = z
  .union([z.number(), z.string().regex(/^\d+(?:\.\d+)?$/, 'must be a number of CPUs, e.g. 0.5 or 2')], { error: 'must be a number of CPUs, e.g. 0.5 or 2' })
  .transform(Number)
  .superRefine(within(BOUNDS.cpus));

export const pidsLimit = z
  .number()
  .int()
  .refine((n) => n > 0 || n === -1, 'must be a positive number of processes, or -1 for unlimited')
  .superRefine(within(BOUNDS.pids));

// ---------------------------------------------------------------- capabilities, signals

const KNOWN_CAPABILITIES = new Set([...LINUX_CAPABILITIES, 'ALL']);

/** Capability names, normalized to upper case without "CAP_", deduplicated. */
export const capabilities = z.array(z.string()).transform(
  normalizedBy((names: string[]) => {
    const normalized = names.map((name, i) =>
      eachAt(i, name, (n) => {
        const cap = normalizeCapability(n);
        if (!KNOWN_CAPABILITIES.has(cap)) throw new Error(`${quote(n)} is not a Linux capability (e.g. "NET_ADMIN", "CAP_CHOWN", "ALL")`);
        return cap;
      }),
    );
    return [...new Set(normalized)];
  }),
);

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = osConstants.signals;
const SIGNAL_NAMES = new Map<number, string>();
for (const [name, number] of Object.entries(SIGNAL_NUMBERS)) if (!SIGNAL_NAMES.has(number)) SIGNAL_NAMES.set(number, name);

/** A signal as "SIGTERM", "TERM" or a number; normalized to its "SIG..." name. */
export const signal = z.union([z.string(), z.number().int()], { error: 'must be a signal name such as "SIGTERM" or a number' }).transform(
  normalizedBy((value: string | number) => {
    const name = typeof value === 'number' || /^\d+$/.test(value) ? SIGNAL_NAMES.get(Number(value)) : `SIG${value.toUpperCase().replace(/^SIG/, '')}`;
    if (name === undefined || !(name in SIGNAL_NUMBERS)) throw new Error(`${quote(value)} is not a signal; use e.g. "SIGTERM", "TERM" or 15`);
    return name;
  }),
);

// ---------------------------------------------------------------- mounts

// Docker's volume name pattern (volume/names.go).
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export interface VolumeMount {
  type: 'bind' | 'volume';
  source: string;
  target: string;
  mode: 'ro' | 'rw';
}

function volumeMount(source: string, target: string, mode: string | undefined): VolumeMount {
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw new FieldProblem(`mode ${quote(mode)} must be "ro" or "rw"`);
  let type: VolumeMount['type'] = 'bind';
  if (posix.isAbsolute(source)) source = absolutePath(source, 'source');
  else if (VOLUME_NAME.test(source)) type = 'volume';
  else throw new FieldProblem(`source ${quote(source)} must be an absolute host path or a volume name`);
  target = absolutePath(target, 'target');
  if (target === '/') throw new FieldProblem('target must not be "/"');
  return { type, source, target, mode: mode ?? 'rw' };
}

function volumeFromString(spec: string): VolumeMount {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw new FieldProblem(`${quote(spec)} must be "source:target" or "source:target:mode"`);
  const [source, target, mode] = parts as [string, string, string | undefined];
  return volumeMount(source, target, mode);
}

const volumeObject = z.strictObject({
  type: z.enum(['bind', 'volume']).optional(),
  source: z.string(),
  target: z.string(),
  mode: z.enum(['ro', 'rw']).optional(),
});

function volumeFromObject({ type, source, target, mode }: z.output<typeof volumeObject>): VolumeMount {
  const mount = volumeMount(source, target, mode);
  if (type !== undefined && type !== mount.type) throw new FieldProblem(`type ${quote(type)} does not match source ${quote(source)}`);
  return mount;
}

export const volumes = z
  .union(
    [
      z.record(z.string(), z.strictObject({ bind: z.string(), mode: z.string().optional() })),
      z.array(z.union([z.string(), volumeObject])),
    ],
    { error: 'must be a list of "source:target[:mode]" or an object {"/host": {"bind": "/in", "mode": "ro"}}' },
  )
  .transform(
    normalizedBy((input): VolumeMount[] => {
      if (!Array.isArray(input)) {
        return Object.entries(input).map(([source, v]) => eachAt(source, v, ({ bind, mode }) => volumeMount(source, bind, mode)));
      }
      return input.map((item, i) => eachAt(i, item, (v) => (typeof v === 'string' ? volumeFromString(v) : volumeFromObject(v))));
    }),
  );

const TMPFS_OPTIONS = /^[A-Za-z0-9_=,.:+-]*$/;

function tmpfsOptions(options: string): string {
  if (!TMPFS_OPTIONS.test(options)) throw new FieldProblem(`${quote(options)} is not a tmpfs option list such as "size=64m,mode=1777"`);
  return options;
}

/** "/run" -> ["/run", null]; "/tmp:size=64m" -> ["/tmp", "size=64m"]. */
function splitTmpfsEntry(entry: string): [string, string | null] {
  const colon = entry.indexOf(':');
  return colon < 0 ? [entry, null] : [entry.slice(0, colon), entry.slice(colon + 1)];
}

/** tmpfs mounts as Docker's HostConfig.Tmpfs wants them: container path -> mount options. */
export const tmpfs = z
  .union([z.record(z.string(), z.string().nullable()), z.array(z.string())], {
    error: 'must be an object {"/path": "size=64m"} or a list of "/path" or "/path:options"',
  })
  .transform(
    normalizedBy((input): Record<string, string> => {
      const pairs: [string, string | null][] = Array.isArray(input) ? input.map(splitTmpfsEntry) : Object.entries(input);
      return Object.fromEntries(
        pairs.map(([path, options], i) =>
          eachAt(Array.isArray(input) ? i : path, options, (o): [string, string] => [absolutePath(path, 'tmpfs path'), tmpfsOptions(o ?? '')]),
        ),
      );
    }),
  );

export interface DeviceMapping {
  host_path: string;
  container_path: string;
  permissions: string;
}

const DEVICE_PERMISSIONS = /^(?!.*(.).*\1)[rwm]{1,3}$/;

function deviceFromString(spec: string): DeviceMapping {
  const parts = spec.split(':');
  if (parts.length > 3) throw new FieldProblem(`${quote(spec)} must be "/dev/x", "/dev/x:/dev/y" or "/dev/x:/dev/y:rwm"`);
  const [host, second, third] = parts as [string, string | undefined, string | undefined];
  // "/dev/x:rwm" is Docker's short form for the same path with permissions.
  if (third === undefined && second !== undefined && !second.startsWith('/')) return device(host, host, second);
  return device(host, second ?? host, third ?? 'rwm');
}

function device(hostPath: string, containerPath: string, permissions: string): DeviceMapping {
  if (!DEVICE_PERMISSIONS.test(permissions)) throw new FieldProblem(`permissions ${quote(permissions)} must be a combination of "r", "w", "m"`);
  return { host_path: absolutePath(hostPath, 'device'), container_path: absolutePath(containerPath, 'device'), permissions };
}

const deviceObject = z.strictObject({ host_path: z.string(), container_path: z.string().optional(), permissions: z.string().optional() });

export const devices = z
  .array(z.union([z.string(), deviceObject]), { error: 'must be a list of "/dev/x", "/dev/x:/dev/y" or "/dev/x:/dev/y:rwm"' })
  .transform(
    normalizedBy((input): DeviceMapping[] =>
      input.map((item, i) =>
        eachAt(i, item, (d) => (typeof d === 'string' ? deviceFromString(d) : device(d.host_path, d.container_path ?? d.host_path, d.permissions ?? 'rwm'))),
      ),
    ),
  );

// ---------------------------------------------------------------- networking

export interface PortBinding {
  container_port: string;
  host_ip: string | null;
  host_port: string | null;
}

function portNumber(value: string | number, what: string): string {
  const text = String(value);
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new FieldProblem(`${what} ${quote(value)} must be a port between 1 and 65535`);
  return String(Number(text));
}

function containerPort(key: string): string {
  const match = /^([^/]+)(?:\/(tcp|udp|sctp))?$/.exec(key);
  if (!match) throw new FieldProblem(`${quote(key)} must be "PORT" or "PORT/tcp|udp|sctp"`);
  return `${portNumber(match[1]!, 'container port')}/${match[2] ?? 'tcp'}`;
}

function hostIp(ip: string): string {
  const bare = ip.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare) === 0) throw new FieldProblem(`host ip ${quote(ip)} is not an IP address`);
  return bare;
}

type BindingInput = number | string | [string, (number | string)?];

function binding(container_port: string, value: BindingInput): PortBinding {
  if (Array.isArray(value)) {
    const [ip, port] = value;
    return { container_port, host_ip: hostIp(ip), host_port: port === undefined ? null : portNumber(port, 'host port') };
  }
  if (typeof value === 'number' || /^\d+$/.test(value)) return { container_port, host_ip: null, host_port: portNumber(value, 'host port') };
  // "127.0.0.1:8080", "[::1]:8080", or "127.0.0.1:" (any free port on that address)
  const colon = value.lastIndexOf(':');
  if (colon < 0) throw new FieldProblem(`${quote(value)} must be a host port or "ip:port"`);
  const port = value.slice(colon + 1);
  return { container_port, host_ip: hostIp(value.slice(0, colon)), host_port: port === '' ? null : portNumber(port, 'host port') };
}

/** An array value is one [ip, port] pair when it starts with an IP address, else a list of bindings. */
function isIpPortPair(value: unknown[]): value is [string, (number | string)?] {
  return value.length <= 2 && typeof value[0] === 'string' && isIP(value[0].replace(/^\[(.*)\]$/, '$1')) !== 0;
}

const bindingInput = z.union([z.number(), z.string(), z.tuple([z.string()], z.union([z.number(), z.string()]))]);
const portObject = z.strictObject({
  container_port: z.union([z.string(), z.number()]),
  host_ip: z.string().nullish(),
  host_port: z.union([z.string(), z.number()]).nullish(),
});

export const ports = z
  .union([z.record(z.string(), z.union([z.null(), bindingInput, z.array(bindingInput)])), z.array(portObject)], {
    error: 'must be an object such as {"8080/tcp": 8080}, {"8080": "127.0.0.1:8080"}, {"8080/tcp": ["127.0.0.1", 8080]} or {"8080/tcp": null}',
  })
  .transform(
    normalizedBy((input): PortBinding[] => {
      if (Array.isArray(input)) {
        return input.map((item, i) =>
          eachAt(i, item, (p) => {
            const port = containerPort(String(p.container_port));
            return { container_port: port, host_ip: p.host_ip == null ? null : hostIp(p.host_ip), host_port: p.host_port == null ? null : portNumber(p.host_port, 'host port') };
          }),
        );
      }
      return Object.entries(input).flatMap(([key, value]) =>
        eachAt(key, value, (v) => {
          const port = containerPort(key);
          if (v === null) return [{ container_port: port, host_ip: null, host_port: null }];
          if (Array.isArray(v) && !isIpPortPair(v)) return v.map((b) => binding(port, b as BindingInput));
          return [binding(port, v as BindingInput)];
        }),
      );
    }),
  );

const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const BUILTIN_NETWORK_MODES = ['none', 'host', 'bridge', 'default'];

export const network = z.string().transform(
  normalizedBy((name: string) => {
    if (BUILTIN_NETWORK_MODES.includes(name)) throw new Error(`use network_mode: ${quote(name)} for Docker's built-in network modes`);
    if (!NETWORK_NAME.test(name)) throw new Error(`${quote(name)} is not a network name`);
    return name;
  }),
);

export const networkMode = z.string().transform(
  normalizedBy((mode: string) => {
    if (['none', 'host', 'bridge'].includes(mode)) return mode;
    if (mode.startsWith('container:') && NETWORK_NAME.test(mode.slice('container:'.length))) return mode;
    throw new Error(`${quote(mode)} must be "none", "host", "bridge" or "container:<name or id>"`);
  }),
);

export const dns = z.array(
  z.string().refine((ip) => isIP(ip) !== 0, { error: (issue) => `${quote(issue.input)} is not an IP address` }),
);

function extraHost(host: string, ip: string): string {
  if (!HOSTNAME.test(host)) throw new FieldProblem(`${quote(host)} is not a host name`);
  // "host-gateway" is Docker's placeholder for the host's own address.
  if (ip !== 'host-gateway' && isIP(ip) === 0) throw new FieldProblem(`${quote(ip)} is not an IP address (or "host-gateway")`);
  return `${host}:${ip}`;
}

/** Extra /etc/hosts entries, normalized to Docker's "host:ip" strings. */
export const extraHosts = z
  .union([z.record(z.string(), z.string()), z.array(z.string())], { error: 'must be an object {"host": "ip"} or a list of "host:ip"' })
  .transform(
    normalizedBy((input): string[] => {
      if (!Array.isArray(input)) return Object.entries(input).map(([host, ip]) => eachAt(host, ip, () => extraHost(host, ip)));
      return input.map((entry, i) =>
        eachAt(i, entry, () => {
          const colon = entry.indexOf(':');
          if (colon < 0) throw new FieldProblem(`${quote(entry)} must be "host:ip"`);
          return extraHost(entry.slice(0, colon), entry.slice(colon + 1));
        }),
      );
    }),
  );

// ---------------------------------------------------------------- ulimits, logging, health, restart

const ULIMIT_NAMES = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

// -1 is RLIM_INFINITY, as Docker's CLI accepts it ("memlock=-1:-1").
const ulimitValue = z.number().int().min(-1, 'must be a non-negative integer, or -1 for unlimited');
const ulimitLimits = z.strictObject({ soft: ulimitValue, hard: ulimitValue.optional() });

function ulimit(name: string, soft: number, hard: number = soft): Ulimit {
  if (!ULIMIT_NAMES.includes(name)) throw new FieldProblem(`${quote(name)} is not a ulimit; use one of ${ULIMIT_NAMES.join(', ')}`);
  const unlimited = (n: number) => (n === -1 ? Infinity : n);
  if (unlimited(soft) > unlimited(hard)) throw new FieldProblem(`soft limit ${soft} must not exceed the hard limit ${hard}`, ['soft']);
  return { name, soft, hard };
}

export const ulimits = z
  .union([z.record(z.string(), z.union([ulimitValue, ulimitLimits])), z.array(z.preprocess(apiKeys({ Name: 'name', Soft: 'soft', Hard: 'hard' }), z.strictObject({ name: z.string(), ...ulimitLimits.shape })))], {
    error: 'must be an object {"nofile": {"soft": 1024, "hard": 2048}} or {"nofile": 1024}, or a list of {"name", "soft", "hard"}',
  })
  .transform(
    normalizedBy((input): Ulimit[] => {
      const list = Array.isArray(input)
        ? input.map((u, i) => eachAt(i, u, () => ulimit(u.name, u.soft, u.hard)))
        : Object.entries(input).map(([name, v]) => eachAt(name, v, () => (typeof v === 'number' ? ulimit(name, v) : ulimit(name, v.soft, v.hard))));
      const seen = new Set<string>();
      list.forEach((u, i) => {
        if (seen.has(u.name)) throw new FieldProblem(`${quote(u.name)} is given twice`, Array.isArray(input) ? [i] : [u.name]);
        seen.add(u.name);
      });
      return list;
    }),
  );

/** Drivers Docker reads back natively; others are read through its dual-logging cache (Engine 20.10+). */
const READABLE_LOG_DRIVERS = ['json-file', 'local', 'journald'];

export const logConfig = z
  .preprocess(apiKeys({ Type: 'type', Config: 'config' }), z.strictObject({
    type: z.string().regex(/^[a-z0-9][a-z0-9_.\/:-]*$/, 'must be a logging driver name such as "json-file"'),
    config: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .optional()
      .nullish()
      .transform((config) => Object.fromEntries(Object.entries(config ?? {}).map(([k, v]) => [k, String(v)]))),
  }))
  .transform(({ type, config }) => ({ type, config }))
  // Output is collected through Docker's logs endpoint; a driver it cannot read from would leave
  // the intent waiting forever for output that never comes.
  .superRefine(({ type, config }, ctx) => {
    if (type === 'none') {
      ctx.addIssue({ code: 'custom', path: ['type'], message: '"none" keeps no output, and highway-docker collects the output through Docker\'s logs; use "json-file" or "local"' });
    } else if (!READABLE_LOG_DRIVERS.includes(type) && config['cache-disabled'] === 'true') {
      ctx.addIssue({ code: 'custom', path: ['config', 'cache-disabled'], message: `"${type}" cannot be read back without Docker's log cache; remove cache-disabled` });
    }
  });

const HEALTHCHECK_KINDS = ['CMD', 'CMD-SHELL', 'NONE'];

function healthcheckTest(test: string | string[]): string[] {
  if (typeof test === 'string') return ['CMD-SHELL', test]; // as docker-py does
  const [kind] = test;
  if (kind === undefined || !HEALTHCHECK_KINDS.includes(kind)) throw new Error('must start with "CMD", "CMD-SHELL" or "NONE", e.g. ["CMD", "true"]');
  if (kind === 'NONE' ? test.length !== 1 : test.length < 2) throw new Error(kind === 'NONE' ? '["NONE"] takes no arguments' : `${kind} needs a command`);
  return test;
}

/** The largest health check duration kept exact: Docker's int64 nanoseconds, limited to JavaScript's safe integers (~104 days). */
export const MAX_HEALTH_NANOSECONDS = Number.MAX_SAFE_INTEGER;

/**
 * A health check duration in nanoseconds, as docker-py has it: a number (or a string of digits) is
 * nanoseconds (`1000000000` is one second); a string with a unit (`"30s"`, `"500ms"`) is converted.
 * Docker refuses durations between 0 (inherit the image's) and 1 ms.
 */
export const healthDuration = z
  .union([z.number(), z.string()], { error: 'must be nanoseconds (docker-py: 1000000000 is 1 s) or a duration string such as "30s"' })
  .transform(
    normalizedBy((value: number | string): number => {
      let ns: number;
      if (typeof value === 'number' || /^\d+$/.test(value.trim())) {
        ns = Number(value);
        if (!Number.isInteger(ns) || ns < 0) throw new Error(`${quote(value)} is not a number of nanoseconds (docker-py: 1000000000 is 1 s); or use e.g. "30s"`);
      } else {
        ns = Math.round(parseDuration(value) * 1e9);
      }
      if (ns > MAX_HEALTH_NANOSECONDS) throw new Error(`${quote(value)} is more than ${MAX_HEALTH_NANOSECONDS} nanoseconds (about 104 days)`);
      if (ns !== 0 && ns < 1_000_000) throw new Error(`${quote(value)} must be 0 or at least 1ms (1000000 nanoseconds)`);
      return ns;
    }),
  );

export const healthcheck = z
  .preprocess(apiKeys({ Test: 'test', Interval: 'interval', Timeout: 'timeout', Retries: 'retries', StartPeriod: 'start_period' }), z.strictObject({
    test: z.union([z.string(), z.array(z.string())], { error: 'must be a shell command string or a list such as ["CMD", "true"]' }).transform(normalizedBy(healthcheckTest)),
    interval: healthDuration.nullish(),
    timeout: healthDuration.nullish(),
    retries: z.number().int().nonnegative().superRefine(within(BOUNDS.goInt)).nullish(),
    start_period: healthDuration.nullish(),
  }))
  .transform((h) => ({
    test: h.test,
    interval: h.interval ?? null,
    timeout: h.timeout ?? null,
    retries: h.retries ?? null,
    start_period: h.start_period ?? null,
  }));

const RESTART_POLICY_NAMES = ['no', 'always', 'on-failure', 'unless-stopped'] as const;
const retryCount = z.number().int().nonnegative().superRefine(within(BOUNDS.goInt));

export const restartPolicy = z
  .union(
    [
      z.strictObject({ name: z.enum(RESTART_POLICY_NAMES), maximum_retry_count: retryCount.optional() }),
      // docker-py's spelling
      z.strictObject({ Name: z.enum(RESTART_POLICY_NAMES), MaximumRetryCount: retryCount.optional() }),
    ],
    { error: `must be {"name": ${RESTART_POLICY_NAMES.map(quote).join(' | ')}, "maximum_retry_count": n}` },
  )
  .transform((policy) =>
    'name' in policy
      ? { name: policy.name, maximum_retry_count: policy.maximum_retry_count ?? 0 }
      : { name: policy.Name, maximum_retry_count: policy.MaximumRetryCount ?? 0 },
  );

// ---------------------------------------------------------------- registry credentials

/** `{"secret": "name"}`: a secret holding registry credentials, resolved on the reconciler for the pull. */
export const registryAuth = z.strictObject(
  { secret: z.string().regex(SECRET_NAME, 'must be a secret name (letters, digits, "_", ".", "-", "/")') },
  { error: 'must be {"secret": "name"}' },
);
