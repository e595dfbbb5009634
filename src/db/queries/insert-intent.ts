import { prepared, type Queryable } from '../pool.js';
import type { IntentRow } from '../../model.js';
import { HighwayError } from '../../errors.js';
import { versioned } from '../../params/versions.js';

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
 * Write an intent, idempotently per activity, in one round trip (highway.create_intent):
 * when the activity already has one, that intent is returned (`created: false`) and nothing
 * is written. The engine rows the intent refers to are created when absent, a run or activity
 * of another tenant is "not found", and the audit entry is written with the intent.
 */
export async function insertIntent(q: Queryable, intent: NewIntent): Promise<{ row: IntentRow; created: boolean }> {
  try {
    const res = await q.query<IntentRow>(prepared(`SELECT * FROM highway.create_intent($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [
      intent.id,
      intent.activity_id,
      intent.workflow_run_id,
      intent.tenant_id,
      intent.worker_id,
      intent.image,
      JSON.stringify(versioned(intent.spec as Record<string, unknown>)), // with its schema version
      JSON.stringify(intent.labels),
      JSON.stringify(intent.warnings),
    ]));
    const row = res.rows[0]!;
    return { row, created: row.id === intent.id };
  } catch (err) {
    if ((err as { code?: string }).code === 'P0002') throw new HighwayError('not_found', (err as Error).message, { cause: err });
    throw err;
  }
}
