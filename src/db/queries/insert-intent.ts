import type { PoolClient } from '../pool.js';
import type { IntentRow } from '../../model.js';
import { HighwayError } from '../../errors.js';

export interface NewIntent {
  id: string;
  activity_id: string;
  workflow_run_id: string;
  tenant_id: string;
  worker_id: string | null;
  image: string;
  spec: unknown;
  labels: Record<string, string>;
  warnings: string[];
}

/**
 * Insert an intent, idempotently per activity: when the activity already has one, that
 * intent is returned (`created: false`) and nothing is written. The engine rows the intent
 * refers to are created when absent, and a run that belongs to another tenant is refused.
 * Run inside a transaction.
 */
export async function insertIntent(client: PoolClient, intent: NewIntent): Promise<{ row: IntentRow; created: boolean }> {
  await client.query(
    `INSERT INTO highway.workflow_runs (id, tenant_id) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
    [intent.workflow_run_id, intent.tenant_id],
  );
  const run = await client.query<{ tenant_id: string }>(`SELECT tenant_id FROM highway.workflow_runs WHERE id = $1`, [
    intent.workflow_run_id,
  ]);
  if (run.rows[0]?.tenant_id !== intent.tenant_id) {
    throw new HighwayError('not_found', `workflow_run_id: run ${intent.workflow_run_id} not found for this tenant`);
  }
  await client.query(
    `INSERT INTO highway.activities (id, workflow_run_id) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
    [intent.activity_id, intent.workflow_run_id],
  );
  const inserted = await client.query<IntentRow>(
    `INSERT INTO highway.docker_containers
       (id, activity_id, workflow_run_id, tenant_id, worker_id, image, spec, labels, warnings)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (activity_id) DO NOTHING
     RETURNING *`,
    [
      intent.id,
      intent.activity_id,
      intent.workflow_run_id,
      intent.tenant_id,
      intent.worker_id,
      intent.image,
      JSON.stringify(intent.spec),
      JSON.stringify(intent.labels),
      JSON.stringify(intent.warnings),
    ],
  );
  if (inserted.rows[0]) return { row: inserted.rows[0], created: true };
  const existing = await client.query<IntentRow>(`SELECT * FROM highway.docker_containers WHERE activity_id = $1`, [
    intent.activity_id,
  ]);
  const row = existing.rows[0];
  if (!row || row.tenant_id !== intent.tenant_id) {
    throw new HighwayError('not_found', `activity_id: activity ${intent.activity_id} not found for this tenant`);
  }
  return { row, created: false };
}
