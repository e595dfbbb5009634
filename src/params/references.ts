/**
 * Parameters that name another container (`network_mode`, `pid_mode`, `ipc_mode`
 * "container:<name or id>", `volumes_from`) may only name a container of the caller's own
 * tenant: any other container, managed by highway-docker or not, is "not found", exactly as
 * another tenant's container is for every other tool. Checked by the reconciler right before
 * the create, where the daemon can be asked.
 */
import { TerminalError } from '../errors.js';
import { containerOfMode } from './host-fields.js';
import type { RunSpec } from './schema.js';

/** The containers `spec` refers to, each with the field that names it. */
export function containerReferences(spec: RunSpec): { field: string; container: string }[] {
  const refs: { field: string; container: string }[] = [];
  for (const field of ['network_mode', 'pid_mode', 'ipc_mode'] as const) {
    const container = containerOfMode(spec[field]);
    if (container !== null) refs.push({ field, container });
  }
  spec.volumes_from.forEach((entry, i) => refs.push({ field: `volumes_from[${i}]`, container: entry.split(':')[0]! }));
  return refs;
}

/**
 * Throws a TerminalError (code `not_found`) naming the field when a referenced container does not
 * exist or is not `tenantId`'s. `labelsOf` gives a container's labels by name or id, or null.
 */
export async function checkContainerReferences(
  spec: RunSpec,
  tenantId: string,
  labelsOf: (nameOrId: string) => Promise<Record<string, string> | null>,
): Promise<void> {
  for (const { field, container } of containerReferences(spec)) {
    const labels = await labelsOf(container);
    if (labels === null || labels['highway.tenant_id'] !== tenantId) {
      throw new TerminalError('not_found', `${field}: container "${container}" not found`);
    }
  }
}
