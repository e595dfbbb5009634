/**
 * The container-targeted subcommands: `exec`, `stop`, `rm`, `logs`, `inspect`, `wait`. Each
 * calls its library tool (tools.docker.<name>) with the same parameters; TARGET is an intent
 * id or a container id (full or short). All take `--tenant T` (default `default`) and `--json`
 * (the result as one JSON document on stdout, errors too). Errors exit 125 (124 for a timeout).
 */
import { cliActor } from './actor.js';
import type { Command } from 'commander';
import { errorMessage } from '../errors.js';
import { reportError } from './output.js';
import { envPair } from '../params/keys.js';
import { EXIT } from './exit-codes.js';

interface Common {
  tenant: string;
  json?: boolean;
}

type Tools = Awaited<ReturnType<typeof openTools>>;

async function openTools(databaseUrlFlag: string | undefined) {
  const [{ resolveDatabaseUrl }, { createPool }, { registerDockerTools }, { ToolRegistry }, { loadPolicy }, { settingsFromEnv }, { createLogger }] = await Promise.all([
    import('./database.js'),
    import('../db/pool.js'),
    import('../tools/docker-tools.js'),
    import('../tools/registry.js'),
    import('../params/policy.js'),
    import('../config.js'),
    import('../observability/logger.js'),
  ]);
  const databaseUrl = await resolveDatabaseUrl(databaseUrlFlag);
  const pool = createPool(databaseUrl, { max: 3, applicationName: 'highway-docker-cli' });
  const registry = new ToolRegistry();
  const logger = createLogger({ level: process.env['HIGHWAY_LOG_LEVEL'] ?? 'error', destination: 2 });
  const tools = registerDockerTools(registry, { databaseUrl, pool, logger, policy: loadPolicy(settingsFromEnv().policyFile) });
  return {
    registry,
    tools,
    async close() {
      await tools.close();
      await pool.end();
    },
  };
}

/** Run one subcommand: open the tools, act, print errors (as JSON with --json), set the exit code. */
function action<A extends unknown[]>(program: Command, fn: (t: Tools, ...args: A) => Promise<number>) {
  return async (...args: A) => {
    const opts = args[args.length - 2] as Common;
    let t: Tools | null = null;
    try {
      t = await openTools(program.opts<{ databaseUrl?: string }>().databaseUrl);
      process.exitCode = await fn(t, ...args);
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'internal';
      reportError(err, opts.json === true);
      process.exitCode = code === 'timeout' ? EXIT.timeout : EXIT.tool;
    } finally {
      await t?.close().catch(() => {});
    }
  };
}

const ctx = (opts: Common) => ({ tenant_id: opts.tenant, worker_id: cliActor() });
const collect = (v: string, acc: string[]) => [...acc, v];
/** A number when the flag is one (else the text, so the tool names the field). */
const num = (v: string | undefined) => (v === undefined ? undefined : Number.isFinite(Number(v)) && v.trim() !== '' ? Number(v) : v);
const json = (value: unknown) => process.stdout.write(JSON.stringify(value, null, 2) + '\n');

function envObject(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const [name, value] = envPair(pair);
    env[name] = value;
  }
  return env;
}

/** Register the container-targeted subcommands on the program. */
export function registerOpsCommands(program: Command): void {
  const common = (c: Command) => c.option('--tenant <tenant>', 'tenant id', 'default').option('--json', 'print the result (or the error) as one JSON document');

  common(
    program
      .command('exec')
      .description("run a command in a running container (on its host); exits with the command's exit code")
      .argument('<target>', 'intent id or container id (full or short)')
      .argument('<command...>', 'the command: every word after TARGET, dashes included')
      .option('-u, --user <user>', 'user (and group) to run as')
      .option('-w, --workdir <dir>', 'working directory inside the container')
      .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collect, [] as string[])
      .option('--timeout <seconds>', 'kill the command past this many seconds (default 60)'),
  )
    .passThroughOptions()
    .action(
      action(program, async (t, target: string, command: string[], opts: Common & { user?: string; workdir?: string; env: string[]; timeout?: string }) => {
        const { EXIT: codes } = await import('./exit-codes.js');
        const params = {
          target,
          command,
          ...(opts.user !== undefined ? { user: opts.user } : {}),
          ...(opts.workdir !== undefined ? { working_dir: opts.workdir } : {}),
          ...(opts.env.length ? { environment: envObject(opts.env) } : {}),
          ...(opts.timeout !== undefined ? { timeout: num(opts.timeout) } : {}),
        };
        const r = await t.tools.operations.exec(params, ctx(opts));
        if (opts.json) json(r);
        else {
          process.stdout.write(r.stdout);
          process.stderr.write(r.stderr);
          if (r.logs_truncated) process.stderr.write('highway-docker: output was truncated (max_output_bytes)\n');
          if (r.status === 'timeout') process.stderr.write(`highway-docker: timeout: ${r.error}\n`);
        }
        return r.status === 'timeout' ? codes.timeout : (r.exit_code ?? codes.tool);
      }),
    );

  common(
    program
      .command('stop')
      .description('stop a container (stop_reason requested) and print its final result')
      .argument('<target>', 'intent id or container id (full or short)')
      .option('-t, --time <seconds>', "grace period before SIGKILL (default: the run's stop_grace_period)"),
  ).action(
    action(program, async (t, target: string, opts: Common & { time?: string }) => {
      const r = await t.tools.operations.stop({ target, ...(opts.time !== undefined ? { time: num(opts.time) } : {}) }, ctx(opts));
      if (opts.json) json(r);
      else process.stdout.write(`${r.intent_id} ${r.status}${r.stop_reason ? ` (${r.stop_reason})` : ''}\n`);
      return 0;
    }),
  );

  common(
    program
      .command('rm')
      .description('remove a kept container (its output stays in the row); --force stops a running one first')
      .argument('<target>', 'intent id or container id (full or short)')
      .option('-f, --force', 'stop (requested) and remove a running container'),
  ).action(
    action(program, async (t, target: string, opts: Common & { force?: boolean }) => {
      const r = await t.tools.operations.remove({ target, force: opts.force === true }, ctx(opts));
      if (opts.json) json(r);
      else process.stdout.write(`${r.intent_id}\n`);
      return 0;
    }),
  );

  common(
    program
      .command('logs')
      .description("a container's logs: a running one's from its host, an ended one's from its row")
      .argument('<target>', 'intent id or container id (full or short)')
      .option('-n, --tail <lines>', 'only the last N lines (default all)')
      .option('--since <time>', 'only lines since: RFC 3339, unix seconds, or a duration back such as 10m')
      .option('--until <time>', 'only lines before: RFC 3339, unix seconds, or a duration back')
      .option('-t, --timestamps', "prefix each line with Docker's timestamp")
      .option('-f, --follow', 'keep printing new output until the container ends'),
  ).action(
    action(program, async (t, target: string, opts: Common & { tail?: string; since?: string; until?: string; timestamps?: boolean; follow?: boolean }) => {
      const params = {
        target,
        ...(opts.tail !== undefined ? { tail: opts.tail === 'all' ? 'all' : num(opts.tail) } : {}),
        ...(opts.since !== undefined ? { since: opts.since } : {}),
        ...(opts.until !== undefined ? { until: opts.until } : {}),
        ...(opts.timestamps ? { timestamps: true } : {}),
      } as { target: string; tail?: number | 'all'; since?: string; until?: string; timestamps?: boolean };
      if (opts.follow) {
        const { followLogs } = await import('../tools/logs-follow.js');
        const abort = new AbortController();
        process.once('SIGINT', () => abort.abort());
        // The reader went away (`logs -f | head -1`): stop following, and end cleanly.
        const readerGone = (err: NodeJS.ErrnoException) => {
          if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') abort.abort();
        };
        process.stdout.on('error', readerGone);
        const out = (text: string) => {
          if (!abort.signal.aborted) process.stdout.write(text);
        };
        try {
          await followLogs(t.tools.operations, params, ctx(opts), (c) => {
            if (opts.json) out(JSON.stringify(c.gap ? { gap: c.gap } : c) + '\n');
            else if (c.gap) process.stderr.write(`highway-docker: gap in the log${c.gap.after ? ` after ${c.gap.after}` : ''}${c.gap.before ? ` before ${c.gap.before}` : ''}: ${c.gap.reason}\n`);
            else {
              const text = opts.timestamps && c.timestamp ? `${c.timestamp} ${c.text}` : c.text;
              if (c.stream === 'stderr') process.stderr.write(text);
              else out(text);
            }
          }, { signal: abort.signal });
        } finally {
          process.stdout.off('error', readerGone);
        }
        return 0;
      }
      const r = await t.tools.operations.logs(params, ctx(opts));
      if (opts.json) json(r);
      else {
        process.stdout.write(r.stdout);
        process.stderr.write(r.stderr);
      }
      return 0;
    }),
  );

  common(
    program
      .command('inspect')
      .description('the intent and, while it exists, the live container from its host (secret values redacted), as JSON')
      .argument('<target>', 'intent id or container id (full or short)'),
  ).action(
    action(program, async (t, target: string, opts: Common) => {
      json(await t.tools.operations.inspect({ target }, ctx(opts)));
      return 0;
    }),
  );

  common(
    program
      .command('wait')
      .description("await a container's end; prints its exit code (or the result with --json)")
      .argument('<target>', 'intent id or container id (full or short)')
      .option('--timeout <seconds>', 'give up after this many seconds (default 3600)'),
  ).action(
    action(program, async (t, target: string, opts: Common & { timeout?: string }) => {
      const r = await t.tools.operations.wait({ target, ...(opts.timeout !== undefined ? { timeout: num(opts.timeout) } : {}) }, ctx(opts));
      if (opts.json) json(r);
      else process.stdout.write(`${r.exit_code ?? r.status}\n`);
      return 0;
    }),
  );
}
