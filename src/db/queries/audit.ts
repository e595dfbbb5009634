import type { Queryable } from '../pool.js';

export interface AuditEntry {
  tenant_id?: string | null;
  actor?: string | null;
  intent_id?: string | null;
  operation: string;
  outcome: 'ok' | 'denied' | 'error';
  detail?: Record<string, unknown>;
}

/** Append to the audit trail (the table refuses updates and deletes). */
export async function appendAudit(q: Queryable, entry: AuditEntry): Promise<void> {
  await q.query(
    `INSERT INTO highway.docker_audit (tenant_id, actor, intent_id, operation, outcome, detail)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      entry.tenant_id ?? null,
      entry.actor ?? null,
      entry.intent_id ?? null,
      entry.operation,
      entry.outcome,
      JSON.stringify(entry.detail ?? {}),
    ],
  );
}
