import type { Pool } from '../db/pool.js';
import type { IntentRow } from '../model.js';

type PsRow = Pick<
  IntentRow,
  'id' | 'short_id' | 'tenant_id' | 'image' | 'status' | 'stop_reason' | 'exit_code' | 'duration_ms' | 'created_at' | 'removed_at' | 'worker_id' | 'reconciler_id' | 'pending_reason'
>;

/** `highway-docker ps`: live intents (with --all, also removed ones, newest first). */
export async function ps(pool: Pool, opts: { all?: boolean; json?: boolean; limit?: number }): Promise<string> {
  // Two statements, not `WHERE $1 OR removed_at IS NULL`: each is planned for its own index (the
  // live intents by docker_containers_live_idx; all of them newest first by docker_containers_created_idx).
  const res = await pool.query<PsRow>(
    `SELECT id, short_id, tenant_id, image, status, stop_reason, exit_code, duration_ms, created_at, removed_at, worker_id, reconciler_id, pending_reason
       FROM highway.docker_containers
      ${opts.all === true ? '' : 'WHERE removed_at IS NULL'}
      ORDER BY created_at DESC
      LIMIT $1`,
    [opts.limit ?? 200],
  );
  if (opts.json) return JSON.stringify(res.rows, null, 2) + '\n';
  const header = ['INTENT', 'CONTAINER', 'TENANT', 'IMAGE', 'STATUS', 'EXIT', 'DURATION', 'CREATED', 'HOST'];
  const lines = res.rows.map((r) => [
    r.id,
    r.short_id ?? '-',
    r.tenant_id,
    r.image,
    r.stop_reason ? `${r.status} (${r.stop_reason})` : r.status,
    r.exit_code === null ? '-' : String(r.exit_code),
    r.duration_ms === null ? '-' : `${(r.duration_ms / 1000).toFixed(1)}s`,
    r.created_at.toISOString(),
    // The host it runs on, or why it still waits for one.
    r.reconciler_id ?? (r.pending_reason ? `- (${r.pending_reason})` : '-'),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(header), ...lines.map(fmt)].join('\n') + '\n';
}
