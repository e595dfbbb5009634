/**
 * tools.docker.exec: run a command in a running container, on its host, with its timeout
 * enforced inside the container. Not rerun-safe: an exec in flight when its reconciler died is
 * never run again; its processes are ended and it is recorded failed, saying why.
 */
import { EXIT } from '../cli/exit-codes.js';
import { HighwayError, errorMessage } from '../errors.js';
import { ABANDONED_EXEC_ERROR, ABANDONED_EXEC_ERROR_UNKILLED } from '../kinds/operations/decide.js';
import { findRunningExec, killExecProcesses, performExec } from '../kinds/operations/effects.js';
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
  duration_ms: number;
  logs_truncated: boolean;
  error: string | null;
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
    const r = op.result as Omit<ExecResult, 'operation_id' | 'intent_id' | 'container_id' | 'error'>;
    return { operation_id: op.id, intent_id: intent.id, container_id: intent.container_id, ...r, error: op.error };
  },

  perform: (ctx, op, intent) => performExec(ctx, op, intent),

  async abandon(ctx, op, intent, spec) {
    if (!intent.container_id) return ABANDONED_EXEC_ERROR;
    const containerId = intent.container_id;
    const kill = await (async () => {
      // Its Docker exec, found by command and user: its session is then known as the host sees it.
      const execId = await findRunningExec(ctx, containerId, spec).catch(() => null);
      return killExecProcesses(ctx, containerId, op.id, spec.user, ctx.logger, execId ? { execId } : undefined);
    })().catch((err: unknown) => ({ complete: false, summary: errorMessage(err) }));
    return kill.complete ? ABANDONED_EXEC_ERROR : `${ABANDONED_EXEC_ERROR_UNKILLED}: ${kill.summary}`;
  },

  hostAudit(op, outcome) {
    const result = outcome.result as { exit_code?: number | null } | null | undefined;
    return {
      operation: 'container.exec',
      detail: { operation_id: op.id, status: outcome.status, exit_code: result?.exit_code ?? null, error: outcome.error ?? null, code: outcome.error_code ?? null },
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
    ],
    passThroughOptions: true,
    params: ({ args: [target, command], opts }) => {
      const env = (opts['env'] ?? []) as string[];
      return {
        target,
        command,
        ...given(opts, { user: 'user', workdir: 'working_dir' }),
        ...(env.length ? { environment: envObject(env) } : {}),
        ...given(opts, { timeout: 'timeout' }, num),
      };
    },
    print(r) {
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      if (r.logs_truncated) process.stderr.write('highway-docker: output was truncated (max_output_bytes)\n');
      if (r.status === 'timeout') process.stderr.write(`highway-docker: timeout: ${r.error}\n`);
    },
    exitCode: (r) => (r.status === 'timeout' ? EXIT.timeout : (r.exit_code ?? EXIT.tool)),
  },
});
