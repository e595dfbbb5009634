/**
 * tools.docker.exec: run a command in a running container, on its host, with its timeout
 * enforced inside the container; with `result_path`, a file read back after it ends (docs/steps.md).
 * Not rerun-safe: an exec in flight when its reconciler died is never run again; its processes
 * are ended and it is recorded failed, saying why. With `result_path` its end is recorded before
 * the file is read, so one that ended is collected by the next reconciler.
 */
import { EXIT } from '../cli/exit-codes.js';
import type { OperationOutcome } from '../db/queries/operations.js';
import { HighwayError, errorMessage, type ErrorCode } from '../errors.js';
import type { ResultError } from '../model.js';
import { ABANDONED_EXEC_ERROR, ABANDONED_EXEC_ERROR_UNKILLED } from '../kinds/operations/decide.js';
import { findRunningExec, killExecProcesses, performExec, recoverExec, type ExecProgress } from '../kinds/operations/effects.js';
import { execParamsSchema } from '../params/exec.js';
import { checkExecPolicy } from '../params/policy.js';
import { envPair } from '../params/keys.js';
import { defineOperation, given, num } from './definition.js';

export interface ExecResult {
  operation_id: string;
  intent_id: string;
  container_id: string;
  /** `exited` (the command ended; see exit_code) or `timeout` (ran past its timeout: killed). */
  status: 'exited' | 'timeout';
  exit_code: number | null;
  stdout: string;
  stderr: string;
  /** Null when unknown (it ended while no reconciler ran). */
  duration_ms: number | null;
  logs_truncated: boolean;
  error: string | null;
  /**
   * Why it did not succeed, for programs (docs/exec-and-logs.md): `nonzero_exit`, `timeout`,
   * `output_unavailable` (it ended while no reconciler ran: exit code and result known, output
   * not); null when it exited 0. A failure to run it at all is thrown, with the same codes.
   */
  error_code: ErrorCode | null;
  /** The `result_path` file: parsed JSON, or text with result_format "text"; null without one (docs/steps.md). */
  result: unknown;
  /** Why there is no result ({code, message}, the codes of a run's); null when there is one, or no result_path. */
  result_error: ResultError | null;
  /**
   * A timeout only: what ending the exec's processes achieved. `complete` false means something
   * could not be ended (`left` says what); the error says the same.
   */
  kill?: { killed: number; complete: boolean; left: string[] };
}

const LIVE = new Set(['running', 'stopping']);

/** `-e NAME=value` words, by the one rule for names (no __proto__, constructor, prototype). */
function envObject(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const [name, value] = envPair(pair);
    env[name] = value;
  }
  return env;
}

export const execOperation = defineOperation({
  name: 'exec',
  tool: 'tools.docker.exec',
  schema: execParamsSchema,
  rerunSafe: false,
  failureCode: 'exec_failed',
  checkPolicy: checkExecPolicy,

  async call({ intent, operate, raise }, spec): Promise<ExecResult> {
    if (!LIVE.has(intent.status) || !intent.container_id) {
      throw new HighwayError('not_running', `container of intent ${intent.id} is not running (it is ${intent.status})`);
    }
    const op = await operate(spec, (spec.timeout + 30) * 1000);
    if (op.status === 'failed') raise(op);
    const r = op.result as Omit<ExecResult, 'operation_id' | 'intent_id' | 'container_id' | 'error' | 'error_code'>;
    return {
      operation_id: op.id,
      intent_id: intent.id,
      container_id: intent.container_id,
      ...r,
      result: r.result ?? null,
      result_error: r.result_error ?? null,
      error: op.error,
      error_code: (op.error_code as ErrorCode | null) ?? null,
    };
  },

  perform: (ctx, op, intent) => performExec(ctx, op, intent),

  async recover(ctx, op, intent, spec) {
    // With a result file: an exec that ended is collected (its end recorded, or learnt from Docker).
    const collected = await recoverExec(ctx, op, intent, spec);
    if (collected) return collected;
    const failed = (error: string): OperationOutcome => ({ status: 'failed', error, error_code: 'exec_failed' });
    if (!intent.container_id) return failed(ABANDONED_EXEC_ERROR);
    const containerId = intent.container_id;
    const kill = await (async () => {
      // Its Docker exec, found by command and user: its session is then known as the host sees it.
      const execId = (op.progress as ExecProgress | null)?.exec_id ?? (await findRunningExec(ctx, containerId, spec).catch(() => null));
      return killExecProcesses(ctx, containerId, op.id, spec.user, ctx.logger, execId ? { execId } : undefined);
    })().catch((err: unknown) => ({ complete: false, summary: errorMessage(err) }));
    return failed(kill.complete ? ABANDONED_EXEC_ERROR : `${ABANDONED_EXEC_ERROR_UNKILLED}: ${kill.summary}`);
  },

  hostAudit(op, outcome) {
    const result = outcome.result as { exit_code?: number | null; result_error?: ResultError | null } | null | undefined;
    return {
      operation: 'container.exec',
      detail: {
        operation_id: op.id,
        status: outcome.status,
        exit_code: result?.exit_code ?? null,
        error: outcome.error ?? null,
        code: outcome.error_code ?? null,
        ...(result?.result_error ? { result_error: result.result_error.code } : {}),
      },
    };
  },

  cli: {
    command: 'exec',
    description: "run a command in a running container (on its host); exits with the command's exit code",
    arguments: [
      { syntax: '<target>', description: 'intent id or container id (full or short)' },
      { syntax: '<command...>', description: 'the command: every word after TARGET, dashes included' },
    ],
    options: [
      { flags: '-u, --user <user>', description: 'user (and group) to run as' },
      { flags: '-w, --workdir <dir>', description: 'working directory inside the container' },
      { flags: '-e, --env <KEY=VALUE>', description: 'environment variable (repeatable)', repeatable: true },
      { flags: '--timeout <seconds>', description: 'kill the command past this many seconds (default 60)' },
      { flags: '--result <path>', description: "read this file of the container after the command ends: stdout carries it as JSON, the command's stdout goes to stderr" },
    ],
    passThroughOptions: true,
    params: ({ args: [target, command], opts }) => {
      const env = (opts['env'] ?? []) as string[];
      return {
        target,
        command,
        ...given(opts, { user: 'user', workdir: 'working_dir', result: 'result_path' }),
        ...(env.length ? { environment: envObject(env) } : {}),
        ...given(opts, { timeout: 'timeout' }, num),
      };
    },
    print(r, { opts }) {
      if (opts['result'] !== undefined) {
        // As `run --result`: stdout is the result, the command's own stdout goes to stderr.
        process.stderr.write(r.stdout);
        process.stdout.write(JSON.stringify(r.result ?? null) + '\n');
        if (r.result_error) process.stderr.write(`highway-docker: result: ${r.result_error.code}: ${r.result_error.message}\n`);
      } else process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      if (r.error_code === 'output_unavailable') process.stderr.write(`highway-docker: ${r.error}\n`);
      if (r.logs_truncated) process.stderr.write('highway-docker: output was truncated (max_output_bytes)\n');
      if (r.status === 'timeout') process.stderr.write(`highway-docker: timeout: ${r.error}\n`);
    },
    // A command that exited 0 without the result it was asked for did not do its job (as `run --result`).
    exitCode: (r) => (r.status === 'timeout' ? EXIT.timeout : r.exit_code === 0 && r.result_error ? EXIT.tool : (r.exit_code ?? EXIT.tool)),
  },
});
