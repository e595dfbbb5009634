import type { Queryable } from '../pool.js';
import { TERMINAL_SQL } from './intent-columns.js';

/** What a reconciler says about itself when it registers and on every heartbeat. */
export interface HostIdentity {
  id: string;
  hostname: string;
  dockerId: string | null;
  dockerVersion: string | null;
  labels: Record<string, string>;
  capacity: number | null;
  /** This host's own liveness timeout (HIGHWAY_HOST_TIMEOUT_S): every reader judges it by this, not by its own setting. */
  timeoutS: number;
}

/**
 * Register (or start again): a new `started_at`, a fresh heartbeat, `stopped_at` cleared.
 * A restarted reconciler with the same id takes its row over.
 */
export async function registerHost(q: Queryable, h: HostIdentity): Promise<void> {
  await q.query(
    `INSERT INTO highway.hosts (id, hostname, docker_id, docker_version, labels, capacity, timeout_s, started_at, heartbeat_at, stopped_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now(), NULL)
     ON CONFLICT (id) DO UPDATE SET
       hostname = EXCLUDED.hostname, docker_id = EXCLUDED.docker_id, docker_version = EXCLUDED.docker_version,
       labels = EXCLUDED.labels, capacity = EXCLUDED.capacity, timeout_s = EXCLUDED.timeout_s,
       started_at = now(), heartbeat_at = now(), stopped_at = NULL,
       docker_unreachable_since = NULL, docker_error = NULL`,
    [h.id, h.hostname, h.dockerId, h.dockerVersion, JSON.stringify(h.labels), h.capacity, h.timeoutS],
  );
}

/**
 * A heartbeat. An upsert, so a row deleted by hand (or never written because the database was
 * down at start) comes back; it keeps `started_at` and refreshes what may have changed (the
 * daemon's version after a Docker upgrade). Daemon fields already known are kept when null is given.
 */
export async function heartbeatHost(q: Queryable, h: HostIdentity): Promise<void> {
  await q.query(
    `INSERT INTO highway.hosts (id, hostname, docker_id, docker_version, labels, capacity, timeout_s, started_at, heartbeat_at, stopped_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now(), NULL)
     ON CONFLICT (id) DO UPDATE SET
       hostname = EXCLUDED.hostname,
       docker_id = COALESCE(EXCLUDED.docker_id, highway.hosts.docker_id),
       docker_version = COALESCE(EXCLUDED.docker_version, highway.hosts.docker_version),
       labels = EXCLUDED.labels, capacity = EXCLUDED.capacity, timeout_s = EXCLUDED.timeout_s,
       heartbeat_at = now(), stopped_at = NULL`,
    [h.id, h.hostname, h.dockerId, h.dockerVersion, JSON.stringify(h.labels), h.capacity, h.timeoutS],
  );
}

/**
 * The host can (error null) or cannot reach its Docker daemon: recorded in its row, so the
 * leader's pending reasons name it and `hosts` shows it. Keeps the first `since` of an outage.
 */
export async function setDaemonReachability(q: Queryable, id: string, error: string | null): Promise<void> {
  await q.query(
    `UPDATE highway.hosts
        SET docker_unreachable_since = CASE WHEN $2::text IS NULL THEN NULL ELSE COALESCE(docker_unreachable_since, now()) END,
            docker_error = $2
      WHERE id = $1`,
    [id, error],
  );
}

/** A graceful stop: the host is not alive from now on, whatever its last heartbeat. */
export async function markHostStopped(q: Queryable, id: string): Promise<void> {
  await q.query(`UPDATE highway.hosts SET stopped_at = now() WHERE id = $1 AND stopped_at IS NULL`, [id]);
}

export interface HostInfo {
  id: string;
  /** Heartbeat younger than the host timeout, and not stopped. */
  alive: boolean;
  labels: Record<string, string>;
  capacity: number | null;
  /** Its intents in pulling, created, running or stopping. */
  running: number;
  heartbeat_at: Date;
  hostname: string;
  docker_id: string | null;
  docker_version: string | null;
  started_at: Date;
  stopped_at: Date | null;
  /** The host's own liveness timeout, as it recorded it (null: a row written before migration 014; the reader's setting applies). */
  timeout_s: number | null;
  /** Since when the host cannot reach its Docker daemon (it claims nothing meanwhile), and why; null when it can. */
  docker_unreachable_since: Date | null;
  docker_error: string | null;
}

/**
 * SQL: is host `h` alive? Not stopped, and its heartbeat younger than its own recorded timeout
 * (`fallback`, the reader's setting, only for rows written before hosts recorded theirs).
 */
export const hostAliveSql = (h: string, fallback: string): string =>
  `(${h}.stopped_at IS NULL AND ${h}.heartbeat_at > now() - make_interval(secs => COALESCE(${h}.timeout_s, ${fallback})))`;
/** SQL: when host `h` is (or was) dead by the clock: its heartbeat plus its own timeout. */
export const hostExpirySql = (h: string, fallback: string): string => `(${h}.heartbeat_at + make_interval(secs => COALESCE(${h}.timeout_s, ${fallback})))`;

const HOSTS_WITH_RUNNING = `
  SELECT h.id, h.hostname, h.docker_id, h.docker_version, h.labels, h.capacity,
         h.started_at, h.heartbeat_at, h.stopped_at, h.timeout_s, h.docker_unreachable_since, h.docker_error,
         ${hostAliveSql('h', '$1')} AS alive,
         COALESCE(c.running, 0)::int AS running
    FROM highway.hosts h
    LEFT JOIN (
      SELECT reconciler_id, count(*) AS running
        FROM highway.docker_containers
       WHERE status IN ('pulling', 'created', 'running', 'stopping') AND reconciler_id IS NOT NULL
       GROUP BY reconciler_id
    ) c ON c.reconciler_id = h.id`;

/** Every registered host with its liveness (by its own recorded timeout; `timeoutS` for rows without one) and its running count, by id. */
export async function listHosts(q: Queryable, timeoutS: number): Promise<HostInfo[]> {
  const res = await q.query<HostInfo>(`${HOSTS_WITH_RUNNING} ORDER BY h.id`, [timeoutS]);
  return res.rows;
}

/**
 * Hosts that are not alive: stopped, or silent for longer than `timeoutS`; the longest silent first.
 * `withWork`: only those that still own live intents (what failover must take over or mark lost):
 * also intents claimed and still `pending` (not counted in `running`), which go back to the pool.
 * `heartbeatOnly`: a graceful stop does not count until the heartbeat is older than the timeout too.
 * Failover wants this: a reconciler stopped for a restart re-attaches to its containers when it
 * comes back, so giving its work away at once would turn a rolling restart into lost work.
 */
export async function deadHosts(q: Queryable, timeoutS: number, opts: { withWork?: boolean; heartbeatOnly?: boolean } = {}): Promise<HostInfo[]> {
  const res = await q.query<HostInfo>(
    `SELECT * FROM (${HOSTS_WITH_RUNNING}) x
      WHERE NOT x.alive
        AND (NOT $2 OR EXISTS (
              SELECT 1 FROM highway.docker_containers c
               WHERE c.reconciler_id = x.id AND c.removed_at IS NULL AND c.status NOT IN ${TERMINAL_SQL}))
        AND (NOT $3 OR ${hostExpirySql('x', '$1')} <= now())
      ORDER BY x.heartbeat_at, x.id`,
    [timeoutS, opts.withWork === true, opts.heartbeatOnly === true],
  );
  return res.rows;
}
