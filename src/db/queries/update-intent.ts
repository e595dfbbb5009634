import { prepared, type Queryable } from '../pool.js';
import { START_CLAIM_MS, type IntentRow } from '../../model.js';
import { INTENT_COLUMNS_WITHOUT_OUTPUT, patchAssignments, TERMINAL_SQL, type IntentPatch } from './intent-columns.js';
import { boundAuditDetail, type AuditEntry } from './audit.js';

/**
 * What an update returns: the row without its output (stdout, stderr null, as the reconcile
 * read has it). The reconciler never reads output back; a collect must not get it echoed.
 */
const RETURNED = INTENT_COLUMNS_WITHOUT_OUTPUT('docker_containers');

/** What a row update records in the audit trail: one entry, or several (a create and its start). */
export type IntentAudit = AuditEntry | AuditEntry[];

/**
 * UPDATE one intent and, when `audit` is given, append the audit entries in the same statement
 * (only if the update matched): one round trip for a transition and its audit trail.
 */
async function update(q: Queryable, id: string, patch: IntentPatch, where: string, audit?: IntentAudit): Promise<IntentRow | null> {
  const { sql, values } = patchAssignments(patch, 2);
  const params: unknown[] = [id, ...values];
  let auditSql = '';
  const entries = audit === undefined ? [] : Array.isArray(audit) ? audit : [audit];
  if (entries.length) {
    const n = params.length;
    params.push(JSON.stringify(entries.map((e) => ({ actor: e.actor ?? null, operation: e.operation, outcome: e.outcome, detail: boundAuditDetail(e.detail) }))));
    auditSql = `, audit AS (
      INSERT INTO highway.docker_audit (tenant_id, actor, intent_id, operation, outcome, detail)
      SELECT u.tenant_id, a.actor, u.id, a.operation, a.outcome, a.detail
        FROM updated u CROSS JOIN ROWS FROM (jsonb_to_recordset($${n + 1}::jsonb) AS (actor text, operation text, outcome text, detail jsonb)) WITH ORDINALITY AS a(actor, operation, outcome, detail, n)
       ORDER BY a.n)`;
  }
  const res = await q.query<IntentRow>(
    prepared(
      `WITH updated AS (UPDATE highway.docker_containers SET ${sql} WHERE id = $1 ${where} RETURNING ${RETURNED})${auditSql}
     SELECT * FROM updated`,
      params,
    ),
  );
  return res.rows[0] ?? null;
}

/** Patch a live (non-terminal) intent. Returns the new row (without output), or null if it had already ended. */
export function patchLiveIntent(q: Queryable, id: string, patch: IntentPatch, audit?: IntentAudit): Promise<IntentRow | null> {
  return update(q, id, patch, `AND status NOT IN ${TERMINAL_SQL}`, audit);
}

/** Patch an intent whatever its status (bookkeeping after the end: removal, protection). */
export function patchIntent(q: Queryable, id: string, patch: IntentPatch, audit?: IntentAudit): Promise<IntentRow | null> {
  return update(q, id, patch, '', audit);
}

/**
 * Claim the start of an intent's container: succeeds for one caller only (until the claim is
 * older than START_CLAIM_MS, when the container can only still be `created` if that start never
 * reached Docker). Returns false when another process has claimed it: do not start.
 */
export async function claimStart(q: Queryable, id: string, reconcilerId?: string): Promise<boolean> {
  // With `reconcilerId`: only while the intent is still this host's (a host that handed its
  // claims back, its daemon unreachable, must not start one that another host now runs).
  const res = await q.query(
    prepared(
      `UPDATE highway.docker_containers SET start_attempted_at = clock_timestamp(), updated_at = now()
        WHERE id = $1 AND status NOT IN ${TERMINAL_SQL}
          AND ($3::text IS NULL OR reconciler_id = $3)
          AND (start_attempted_at IS NULL OR start_attempted_at < clock_timestamp() - make_interval(secs => $2))`,
      [id, START_CLAIM_MS / 1000, reconcilerId ?? null],
    ),
  );
  return res.rowCount === 1;
}

/** A start that failed before Docker could have run the container: release the claim, so a retry need not wait. */
export async function releaseStart(q: Queryable, id: string): Promise<void> {
  await q.query(`UPDATE highway.docker_containers SET start_attempted_at = NULL WHERE id = $1`, [id]);
}
