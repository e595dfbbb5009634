import { HighwayError } from '../errors.js';

/** How this reconciler presents itself to the others sharing the database, from the environment. */
export interface HostSettings {
  /** HIGHWAY_HOST_LABELS (`k=v,k=v`), for placement. */
  labels: Record<string, string>;
  /** HIGHWAY_MAX_CONTAINERS: how many containers this host runs at once; null = no limit. */
  capacity: number | null;
  /** HIGHWAY_HOST_TIMEOUT_S (default 30): a host whose heartbeat is older is not alive. It beats every third of it. */
  hostTimeoutS: number;
  /** HIGHWAY_HTTP_ADDR (default 127.0.0.1:9464): where `up` serves /metrics, /healthz, /readyz. */
  httpAddr: ListenAddress;
}

export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_HTTP_ADDR = '127.0.0.1:9464';
export const DEFAULT_HOST_TIMEOUT_S = 30;

const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9._/:-]*$/;

function invalid(variable: string, message: string): HighwayError {
  return new HighwayError('invalid_params', `${variable}: ${message}`);
}

/**
 * `k=v,k=v` into an object. Blanks around entries are ignored and an empty (or unset) variable
 * is no labels; everything else that is not a well-formed, unique `key=value` is an error that
 * names the variable and the entry.
 */
export function parseHostLabels(raw: string | undefined, variable = 'HIGHWAY_HOST_LABELS'): Record<string, string> {
  const labels: Record<string, string> = {};
  if (raw === undefined || raw.trim() === '') return labels;
  const example = 'use e.g. "zone=eu-1,gpu=true"';
  for (const [i, entry] of raw.split(',').entries()) {
    const item = entry.trim();
    if (item === '') throw invalid(variable, `entry ${i + 1} is empty in "${raw}"; ${example}`);
    const eq = item.indexOf('=');
    if (eq < 0) throw invalid(variable, `"${item}" is not key=value; ${example}`);
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (!LABEL_KEY.test(key)) {
      throw invalid(variable, `"${key}" in "${item}" is not a label key (letters, digits, ".", "_", "-", "/"; starting and ending with a letter or digit); ${example}`);
    }
    if (!LABEL_VALUE.test(value)) {
      throw invalid(variable, `the value "${value}" of "${key}" may hold only letters, digits, ".", "_", "-", "/", ":"; ${example}`);
    }
    if (Object.hasOwn(labels, key)) throw invalid(variable, `"${key}" is given twice in "${raw}"; give each key once`);
    labels[key] = value;
  }
  return labels;
}

/** A whole number >= 1, or null when unset or empty. */
export function parseCapacity(raw: string | undefined, variable = 'HIGHWAY_MAX_CONTAINERS'): number | null {
  if (raw === undefined || raw.trim() === '') return null;
  const s = raw.trim();
  if (!/^\d+$/.test(s) || Number(s) < 1 || !Number.isSafeInteger(Number(s))) {
    throw invalid(variable, `"${raw}" is not a positive whole number of containers (unset it for no limit)`);
  }
  return Number(s);
}

export function parsePositiveSeconds(raw: string | undefined, variable: string, fallback: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.trim());
  if (!Number.isFinite(n) || n <= 0) throw invalid(variable, `"${raw}" is not a positive number of seconds`);
  return n;
}

/** `host:port`, `[v6]:port` or `:port` (all interfaces); port 0 picks a free one. */
export function parseListenAddress(raw: string | undefined, variable = 'HIGHWAY_HTTP_ADDR'): ListenAddress {
  const s = raw === undefined || raw.trim() === '' ? DEFAULT_HTTP_ADDR : raw.trim();
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65_535) throw invalid(variable, `"${raw}" is not host:port; use e.g. "${DEFAULT_HTTP_ADDR}" or "0.0.0.0:9464"`);
  const host = m[1] ?? (m[2] || '0.0.0.0');
  return { host, port };
}

export function hostSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): HostSettings {
  return {
    labels: parseHostLabels(env['HIGHWAY_HOST_LABELS']),
    capacity: parseCapacity(env['HIGHWAY_MAX_CONTAINERS']),
    hostTimeoutS: parsePositiveSeconds(env['HIGHWAY_HOST_TIMEOUT_S'], 'HIGHWAY_HOST_TIMEOUT_S', DEFAULT_HOST_TIMEOUT_S),
    httpAddr: parseListenAddress(env['HIGHWAY_HTTP_ADDR']),
  };
}
