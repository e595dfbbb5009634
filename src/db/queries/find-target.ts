import type { Queryable } from '../pool.js';
import type { IntentRow } from '../../model.js';
import { HighwayError, ValidationError } from '../../errors.js';
import { UUID } from '../../ids.js';


/**
 * The intent a TARGET names, for a tenant: an intent id, or its container's id (full, or a
 * unique prefix). Another tenant's intent or container is "not found", worded exactly as a
 * target that does not exist at all, so nothing hints that it exists.
 */
export async function findTarget(q: Queryable, tenantId: string, target: string): Promise<IntentRow> {
  const t = target.toLowerCase();
  const res = UUID.test(t)
    ? await q.query<IntentRow>(`SELECT * FROM highway.docker_containers WHERE tenant_id = $1 AND id = $2::uuid`, [tenantId, t])
    : await q.query<IntentRow>(
        `SELECT * FROM highway.docker_containers
          WHERE tenant_id = $1 AND container_id LIKE $2 || '%'
          ORDER BY created_at DESC LIMIT 2`,
        [tenantId, t],
      );
  if (res.rows.length === 0) throw new HighwayError('not_found', `no such container or intent: ${target}`);
  if (res.rows.length > 1) {
    throw new ValidationError([{ field: 'target', message: `"${target}" matches several containers; give more of the container id` }]);
  }
  return res.rows[0]!;
}

/**
 * Does TARGET name an intent or container of another tenant? Only for the audit trail (a
 * cross-tenant attempt is recorded as such); the caller is told "not found" either way.
 */
export async function existsForAnotherTenant(q: Queryable, tenantId: string, target: string): Promise<boolean> {
  const t = target.toLowerCase();
  if (!UUID.test(t) && !/^[0-9a-f]{1,64}$/.test(t)) return false;
  const res = UUID.test(t)
    ? await q.query(`SELECT 1 FROM highway.docker_containers WHERE tenant_id <> $1 AND id = $2::uuid`, [tenantId, t])
    : await q.query(`SELECT 1 FROM highway.docker_containers WHERE tenant_id <> $1 AND container_id LIKE $2 || '%' LIMIT 1`, [tenantId, t]);
  return (res.rowCount ?? 0) > 0;
}
