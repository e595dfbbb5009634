import type { Queryable } from '../pool.js';
import { LABELS } from '../../model.js';

/**
 * This database's identity (made once, at migrate time: migration 014). Every container of the
 * cluster carries it as the label `highway.cluster_id`.
 */
export async function readClusterId(q: Queryable): Promise<string> {
  const res = await q.query<{ id: string }>('SELECT id FROM highway.cluster');
  const id = res.rows[0]?.id;
  if (!id) throw new Error('highway.cluster has no row: run `highway-docker migrate` (migration 014 makes the cluster identity)');
  return id;
}

/**
 * Is a container of this cluster? Labelled with our id: yes. Labelled with another: never.
 * Unlabelled (made before the label existed): only when `knownHere` says its intent row is in
 * this database (intent ids are UUIDs: a row here means this cluster made it).
 */
export function ownedByCluster(labels: Record<string, string>, clusterId: string, knownHere: (intentId: string) => boolean): boolean {
  const label = labels[LABELS.clusterId];
  if (label !== undefined) return label === clusterId;
  const intentId = labels[LABELS.intentId];
  return !!intentId && knownHere(intentId);
}
