import { createHash } from 'node:crypto';
import type { Queryable } from '../pool.js';

export interface AuditEntry {
  tenant_id?: string | null;
  actor?: string | null;
  intent_id?: string | null;
  operation: string;
  outcome: 'ok' | 'denied' | 'error';
  detail?: Record<string, unknown>;
}

/**
 * The bounds of an audit row (the table's insert trigger enforces the same, for rows written
 * in SQL): tenant_id and actor 200 characters, operation 100, each string inside detail 1024,
 * detail as a whole 8192 characters of JSON. See docs/audit.md.
 */
export const AUDIT_BOUNDS = { id: 200, operation: 100, string: 1024, detail: 8192, items: 50, depth: 6 } as const;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A string as the audit trail keeps it: NUL written `\u0000` (text cannot hold it), and cut with a marker past `max` characters. */
export function boundAuditText(value: string, max: number): string {
  const s = value.includes('\u0000') ? value.replaceAll('\u0000', '\\u0000') : value;
  if (s.length <= max) return s;
  let keep = max - 64;
  // Never split a surrogate pair.
  if (/[\uD800-\uDBFF]/.test(s[keep - 1] ?? '')) keep -= 1;
  return `${s.slice(0, keep)}...[truncated: ${s.length} chars, sha256:${sha256(s).slice(0, 16)}]`;
}

function boundValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return boundAuditText(value, AUDIT_BOUNDS.string);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value.toISOString();
  if (depth >= AUDIT_BOUNDS.depth) return '[nested too deep]';
  if (Array.isArray(value)) {
    const items = value.slice(0, AUDIT_BOUNDS.items).map((v) => boundValue(v, depth + 1));
    return value.length > AUDIT_BOUNDS.items ? [...items, `[${value.length - AUDIT_BOUNDS.items} more]`] : items;
  }
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (const key of keys.slice(0, AUDIT_BOUNDS.items)) out[boundAuditText(key, 100)] = boundValue((value as Record<string, unknown>)[key], depth + 1);
  if (keys.length > AUDIT_BOUNDS.items) out['[more keys]'] = keys.length - AUDIT_BOUNDS.items;
  return out;
}

/** An audit detail within its bounds (each string cut with a marker; the whole replaced by a digest when still too large). */
export function boundAuditDetail(detail: Record<string, unknown> | undefined): Record<string, unknown> {
  const bounded = boundValue(detail ?? {}, 0) as Record<string, unknown>;
  const text = JSON.stringify(bounded);
  if (text.length <= AUDIT_BOUNDS.detail) return bounded;
  return { truncated: true, chars: text.length, sha256: sha256(text), prefix: text.slice(0, 2048) };
}

/** An entry within the audit trail's bounds. */
export function boundAuditEntry(entry: AuditEntry): AuditEntry {
  const text = (v: string | null | undefined, max: number) => (typeof v === 'string' ? boundAuditText(v, max) : null);
  return {
    tenant_id: text(entry.tenant_id, AUDIT_BOUNDS.id),
    actor: text(entry.actor, AUDIT_BOUNDS.id),
    intent_id: entry.intent_id ?? null,
    operation: boundAuditText(entry.operation, AUDIT_BOUNDS.operation),
    outcome: entry.outcome,
    detail: boundAuditDetail(entry.detail),
  };
}

/** Append to the audit trail (the table refuses updates, deletes and TRUNCATE); every field bounded. */
export async function appendAudit(q: Queryable, entry: AuditEntry): Promise<void> {
  const e = boundAuditEntry(entry);
  await q.query(
    `INSERT INTO highway.docker_audit (tenant_id, actor, intent_id, operation, outcome, detail)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [e.tenant_id, e.actor, e.intent_id, e.operation, e.outcome, JSON.stringify(e.detail)],
  );
}

/** The operations that record a container's removal: the reconciler's and the GC's. */
export const REMOVAL_OPERATIONS = ['container.remove', 'gc.orphan_removed', 'gc.stale_removed'];

/** An audit entry written only when the trail has no row of these operations for its intent and container. */
export interface AuditOnce extends AuditEntry {
  intent_id: string;
  detail: { container_id: string } & Record<string, unknown>;
  /** Operations that already record it (default: this entry's own). */
  unless?: string[];
}

/**
 * Append entries that may have been written already (a write whose reply was lost, a second
 * path to the same fact): each only when the trail has none of its `unless` operations for
 * that intent and container, in their order. Safe to retry.
 */
export async function appendAuditOnce(q: Queryable, entries: AuditOnce[]): Promise<void> {
  if (entries.length === 0) return;
  const rows = entries.map((entry) => {
    const e = boundAuditEntry(entry);
    return { ...e, unless: entry.unless ?? [entry.operation] };
  });
  await q.query(
    `INSERT INTO highway.docker_audit (tenant_id, actor, intent_id, operation, outcome, detail)
     SELECT x.e->>'tenant_id', x.e->>'actor', (x.e->>'intent_id')::uuid, x.e->>'operation', x.e->>'outcome', x.e->'detail'
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n)
      WHERE NOT EXISTS (SELECT 1 FROM highway.docker_audit a
                         WHERE a.intent_id = (x.e->>'intent_id')::uuid
                           AND a.operation IN (SELECT jsonb_array_elements_text(x.e->'unless'))
                           AND a.detail->>'container_id' = x.e->'detail'->>'container_id')
      ORDER BY x.n`,
    [JSON.stringify(rows)],
  );
}
