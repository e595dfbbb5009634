import type { Pool } from '../db/pool.js';
import { listHosts, type HostInfo } from '../db/queries/hosts.js';
import { DEFAULT_HOST_TIMEOUT_S, parsePositiveSeconds } from '../hosts/settings.js';

/** One host as `hosts --json` prints it (the contract: id, alive, labels, capacity, running, heartbeat_at). */
export interface HostJson {
  id: string;
  alive: boolean;
  labels: Record<string, string>;
  capacity: number | null;
  running: number;
  heartbeat_at: string;
  hostname: string;
  docker_id: string | null;
  docker_version: string | null;
  started_at: string;
  stopped_at: string | null;
  /** The host's own liveness timeout (null: recorded before hosts said theirs). */
  timeout_s: number | null;
  /** Since when the host cannot reach its Docker daemon (null: it can). */
  docker_unreachable_since: string | null;
  docker_error: string | null;
}

export function hostJson(h: HostInfo): HostJson {
  return {
    id: h.id,
    alive: h.alive,
    labels: h.labels,
    capacity: h.capacity,
    running: h.running,
    heartbeat_at: h.heartbeat_at.toISOString(),
    hostname: h.hostname,
    docker_id: h.docker_id,
    docker_version: h.docker_version,
    started_at: h.started_at.toISOString(),
    stopped_at: h.stopped_at?.toISOString() ?? null,
    timeout_s: h.timeout_s,
    docker_unreachable_since: h.docker_unreachable_since?.toISOString() ?? null,
    docker_error: h.docker_error,
  };
}

function ago(at: Date, now: number): string {
  const s = Math.max(0, Math.round((now - at.getTime()) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172_800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

/**
 * `highway-docker hosts [--json]`: the reconcilers (Docker hosts) sharing the database. Each host
 * is judged by the timeout it recorded in its row; HIGHWAY_HOST_TIMEOUT_S (default 30), or
 * `hostTimeoutS`, only for rows that predate that.
 */
export async function hosts(pool: Pool, opts: { json?: boolean; hostTimeoutS?: number; now?: number } = {}): Promise<string> {
  const timeoutS = opts.hostTimeoutS ?? parsePositiveSeconds(process.env['HIGHWAY_HOST_TIMEOUT_S'], 'HIGHWAY_HOST_TIMEOUT_S', DEFAULT_HOST_TIMEOUT_S);
  const rows = await listHosts(pool, timeoutS);
  if (opts.json) return JSON.stringify(rows.map(hostJson), null, 2) + '\n';
  const now = opts.now ?? Date.now();
  const header = ['HOST', 'STATE', 'RUNNING', 'LABELS', 'HOSTNAME', 'DOCKER', 'HEARTBEAT'];
  const lines = rows.map((h) => [
    h.id,
    h.alive ? (h.docker_unreachable_since ? 'no-docker' : 'alive') : h.stopped_at ? 'stopped' : 'dead',
    `${h.running}/${h.capacity ?? '-'}`,
    Object.entries(h.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-',
    h.hostname,
    h.docker_version ?? '-',
    ago(h.heartbeat_at, now),
  ]);
  const widths = header.map((t, i) => Math.max(t.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(header), ...lines.map(fmt)].join('\n') + '\n';
}
