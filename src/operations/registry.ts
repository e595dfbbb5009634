/**
 * The registry of operations on a container: one line per operation. The operation-kind
 * union, the tools (tools.docker.<name>), the host's dispatch, the command line and the
 * database's list of kinds (highway.docker_operation_kinds, filled at migrate time) all follow
 * from this list. To add one, see docs/architecture.md, "How to add a tool".
 */
import type { Queryable } from '../db/pool.js';
import type { AnyOperation, ResultOf } from './definition.js';
import { cpOperation } from './cp.js';
import { execOperation } from './exec.js';
import { inspectOperation } from './inspect.js';
import { logsOperation } from './logs.js';

export const OPERATIONS = [execOperation, logsOperation, inspectOperation, cpOperation] as const;

export type RegisteredOperation = (typeof OPERATIONS)[number];
/** The `kind` of a row of highway.docker_operations. */
export type OperationKind = RegisteredOperation['name'];
/** What the tool of an operation returns: `OperationResult<'cp'>` is tools.docker.cp's result. */
export type OperationResult<K extends OperationKind> = ResultOf<Extract<RegisteredOperation, { name: K }>>;

const BY_NAME = new Map<string, AnyOperation>(OPERATIONS.map((d) => [d.name, d as AnyOperation]));

/** The operation of this kind, or null (a row of a kind this build does not know). */
export function operationNamed(name: string): AnyOperation | null {
  return BY_NAME.get(name) ?? null;
}

/**
 * Record the registry in the database (at migrate time): a row's kind must be one of these
 * (a foreign key). Kinds are only ever added; one a newer build added stays.
 */
export async function syncOperationKinds(q: Queryable): Promise<void> {
  await q.query(
    `INSERT INTO highway.docker_operation_kinds (name, tool, rerun_safe)
     SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[])
     ON CONFLICT (name) DO UPDATE SET tool = EXCLUDED.tool, rerun_safe = EXCLUDED.rerun_safe`,
    [OPERATIONS.map((d) => d.name), OPERATIONS.map((d) => d.tool), OPERATIONS.map((d) => d.rerunSafe)],
  );
}
