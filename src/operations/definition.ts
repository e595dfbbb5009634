/**
 * What an operation on a container is, in one object: its parameters, what its host does, what
 * its caller gets back, whether a rerun is safe, its audit name and its command line. The
 * registry (registry.ts) lists them; the tool factory (tools/docker-ops.ts), the operations kind
 * (kinds/operations/), the command line (cli/ops.ts) and the database's list of kinds
 * (highway.docker_operation_kinds, filled at migrate time) are generic over it. See
 * docs/architecture.md, "How to add a tool".
 */
import type { z } from 'zod';
import type { OperationOutcome, OperationRow } from '../db/queries/operations.js';
import type { ErrorCode } from '../errors.js';
import type { IntentRow } from '../model.js';
import type { Policy } from '../params/policy.js';
import type { OperationContext } from '../kinds/operations/effects.js';
import type { AuditCall } from '../tools/audited.js';
import type { ActivityContext } from '../tools/registry.js';

export type { OperationContext } from '../kinds/operations/effects.js';

/** The caller: only its tenant matters to these tools (and its worker id, for the audit trail). */
export type CallerContext = Pick<ActivityContext, 'tenant_id'> & Partial<Pick<ActivityContext, 'worker_id' | 'signal'>>;

/** Options of one call of a tool (the command line's `logs --follow` polls without an audit row per poll). */
export interface CallOptions {
  audit?: boolean;
}

/** What the tool side of an operation may do, once its parameters are valid and its target resolved for the caller's tenant. */
export interface CallerSide {
  call: AuditCall;
  ctx: CallerContext;
  /** The target, an intent of the caller's tenant. */
  intent: IntentRow;
  policy: Policy;
  options: CallOptions;
  /**
   * Write the operation row for the intent's host (with its audit row unless `audit` is false)
   * and await its outcome; a host that does not answer within `timeoutMs` is a `timeout`.
   */
  operate(params: unknown, timeoutMs: number, options?: { audit?: boolean }): Promise<OperationRow>;
  /** Await the intent reaching a state (bounded). */
  waitIntent(until: (row: IntentRow) => boolean, timeoutMs: number): Promise<IntentRow>;
  /** A failed operation as the error it reports (its code and message). */
  raise(op: OperationRow): never;
}

/** One command-line option of an operation's subcommand (commander syntax). */
export interface CliOption {
  flags: string;
  description: string;
  /** Repeatable: the values collected into an array. */
  repeatable?: boolean;
}

/** What the command line gives an operation's subcommand. */
export interface CliInput {
  /** The positional arguments, in order (a variadic one as an array). */
  args: unknown[];
  /** The options (commander's camelCase names), plus `tenant` and `json`. */
  opts: Record<string, unknown> & { tenant: string; json?: boolean };
}

/** How the command line calls an operation's tool. */
export interface CliShape<R> {
  command: string;
  description: string;
  /** commander syntax: `<target>`, `<command...>`. */
  arguments: Array<{ syntax: string; description: string }>;
  options: CliOption[];
  /** Every word after the positional arguments belongs to them, dashes included (`exec TARGET sh -c ...`). */
  passThroughOptions?: boolean;
  /** The tool's parameters from the command line (the tool validates them and names the field). */
  params(input: CliInput): Record<string, unknown>;
  /** Print the result (without --json; with it, the result is printed as one JSON document). */
  print(result: R, input: CliInput): void | Promise<void>;
  /** What --json prints (default: the result); may act too (`cp` writes DEST either way). */
  json?(result: R, input: CliInput): unknown | Promise<unknown>;
  /** The exit code (default 0). */
  exitCode?(result: R): number;
  /** Instead of one call (logs --follow): call the tool as often as it likes; returns the exit code. */
  run?(invoke: (params: Record<string, unknown>, options?: CallOptions) => Promise<R>, input: CliInput, ctx: CallerContext): Promise<number> | null;
}

/**
 * One operation. `P` is its parameters after validation (always with `target`), `R` what the
 * tool returns. The name is the row's `kind`; the tool is `tools.docker.<name>`.
 */
export interface OperationDefinition<N extends string = string, P extends { target: string } = { target: string }, R = unknown> {
  name: N;
  /** The tool's name, which is also its audit operation (`tools.docker.<name>`). */
  tool: string;
  /** Its parameters (zod, strict: an unknown key is refused naming it). */
  schema: z.ZodType<P, any>;
  /**
   * May a row found `running` after its reconciler died be performed again? Reads: yes. An
   * exec: never (its `recover` collects what ended, or ends what is left of it and records it failed).
   */
  rerunSafe: boolean;
  /** The code of an unexpected failure on the host (default `internal`). */
  failureCode?: ErrorCode;
  /** Checked by the tool and again by the host (a row written past the tool meets the same policy). */
  checkPolicy?(params: P, policy: Policy): void;
  /** The tool's side: validated `params`, the resolved target; returns the tool's result. */
  call(side: CallerSide, params: P): Promise<R>;
  /** On the owning host: do it and return the outcome to record (a thrown HighwayError is recorded as a failure with its code). */
  perform(ctx: OperationContext, op: OperationRow, intent: IntentRow, params: P): Promise<OperationOutcome>;
  /**
   * Not rerun-safe only: a row found `running` after its reconciler died. Finish what can be
   * finished from what its `progress` says (an exec that ended: read its result file), else end
   * what is left of it; returns the outcome to record. Without it, the row is recorded failed.
   */
  recover?(ctx: OperationContext, op: OperationRow, intent: IntentRow, params: P): Promise<OperationOutcome>;
  /**
   * Keys of the result dropped from the row once the caller has read it (bulky content such as
   * a copied file: the row keeps what was done, not the bytes).
   */
  transientResult?: string[];
  /** The host's own audit row of the outcome, written with it (an exec's `container.exec`). */
  hostAudit?(op: OperationRow, outcome: OperationOutcome): { operation: string; detail: Record<string, unknown> };
  cli: CliShape<R>;
}

/** Any registered operation (the registry's element type). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyOperation = OperationDefinition<string, any, any>;

/** Define an operation, keeping its name's literal type (the kind union follows from the registry). */
export function defineOperation<const N extends string, S extends z.ZodType<{ target: string }, any>, R>(
  def: OperationDefinition<N, z.output<S>, R> & { schema: S },
): OperationDefinition<N, z.output<S>, R> {
  return def;
}

/** The result type of an operation's tool. */
export type ResultOf<D> = D extends OperationDefinition<string, any, infer R> ? R : never;

// ---- helpers the command-line shapes share

/** A number when the flag is one (else the text, so the tool names the field). */
export const num = (v: unknown): unknown => (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v);

/** Only the options given: `{ [param]: convert(opts[flag]) }` for each one set. */
export function given(opts: Record<string, unknown>, map: Record<string, string>, convert: (v: unknown) => unknown = (v) => v): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, param] of Object.entries(map)) if (opts[flag] !== undefined) out[param] = convert(opts[flag]);
  return out;
}
