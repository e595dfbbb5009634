import type { Queryable } from '../pool.js';
import type { IntentRow } from '../../model.js';
import { patchAssignments, TERMINAL_SQL, type IntentPatch } from './intent-columns.js';
import type { AuditEntry } from './audit.js';

/**
 * UPDATE one intent and, when `audit` is given, append the audit entry in the same statement
 * (only if the update matched): one round trip for a transition and its audit trail.
 */
async function update(q: Queryable, id: string, patch: IntentPatch, where: string, audit?: AuditEntry): Promise<IntentRow | null> {
  const { sql, values } = patchAssignments(patch, 2);
  const params: unknown[] = [id, ...values];
  let auditSql = '';
  if (audit) {
    const n = params.length;
    params.push(audit.actor ?? null, audit.operation, audit.outcome, JSON.stringify(audit.detail ?? {}));
    auditSql = `, audit AS (
      INSERT INTO highway.docker_audit (tenant_id, actor, intent_id, operation, outcome, detail)
      SELECT tenant_id, $${n + 1}, id, $${n + 2}, $${n + 3}, $${n + 4} FROM updated)`;
  }
  const res = await q.query<IntentRow>(
    `WITH updated AS (UPDATE highway.docker_containers SET ${sql} WHERE id = $1 ${where} RETURNING *)${auditSql}
     SELECT * FROM updated`,
    params,
  );
  return res.rows[0] ?? null;
}

/** Patch a live (non-terminal) intent. Returns the new row, or null if it had already ended. */
export function patchLiveIntent(q: Queryable, id: string, patch: IntentPatch, audit?: AuditEntry): Promise<IntentRow | null> {
  return update(q, id, patch, `AND status NOT IN ${TERMINAL_SQL}`, audit);
}

/** Patch an intent whatever its status (bookkeeping after the end: removal, protection). */
export function patchIntent(q: Queryable, id: string, patch: IntentPatch, audit?: AuditEntry): Promise<IntentRow | null> {
  return update(q, id, patch, '', audit);
}
