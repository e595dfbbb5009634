import type { Queryable } from '../pool.js';

/** Register (or revive) a worker and record its first heartbeat. */
export async function registerWorker(q: Queryable, id: string): Promise<void> {
  await q.query(
    `INSERT INTO highway.workers (id, status, heartbeat_at) VALUES ($1, 'alive', now())
     ON CONFLICT (id) DO UPDATE SET status = 'alive', heartbeat_at = now()`,
    [id],
  );
}

export async function heartbeatWorker(q: Queryable, id: string): Promise<void> {
  await q.query(`UPDATE highway.workers SET heartbeat_at = now() WHERE id = $1`, [id]);
}

export async function setWorkerStatus(q: Queryable, id: string, status: 'alive' | 'stopped' | 'dead'): Promise<void> {
  await q.query(`UPDATE highway.workers SET status = $2 WHERE id = $1`, [id, status]);
}
