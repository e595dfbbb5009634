/**
 * The container-targeted subcommands: `stop`, `rm`, `wait`, and one per registered operation
 * (src/operations/registry.ts: `exec`, `logs`, `inspect`, ...), its shape from its definition.
 * Each calls its library tool (tools.docker.<name>) with the same parameters; TARGET is an
 * intent id or a container id (full or short). All take `--tenant T` (default `default`) and
 * `--json` (the result as one JSON document on stdout, errors too). Errors exit 125 (124 for a
 * timeout).
 */
import { cliActor } from './actor.js';
import type { Command } from 'commander';
import type { AnyOperation, CliInput } from '../operations/definition.js';
import { OPERATIONS } from '../operations/registry.js';
import { reportError } from './output.js';
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

/** Register the container-targeted subcommands on the program. */
export function registerOpsCommands(program: Command): void {
  const common = (c: Command) => c.option('--tenant <tenant>', 'tenant id', 'default').option('--json', 'print the result (or the error) as one JSON document');

  for (const def of OPERATIONS) registerOperationCommand(program, def as AnyOperation, common);

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

/** An operation's subcommand, from its definition's command-line shape. */
function registerOperationCommand(program: Command, def: AnyOperation, common: (c: Command) => Command): void {
  const shape = def.cli;
  const c = program.command(shape.command).description(shape.description);
  for (const a of shape.arguments) c.argument(a.syntax, a.description);
  for (const o of shape.options) {
    if (o.repeatable) c.option(o.flags, o.description, collect, [] as string[]);
    else c.option(o.flags, o.description);
  }
  common(c);
  if (shape.passThroughOptions) c.passThroughOptions();
  c.action(
    action(program, async (t, ...rest: unknown[]) => {
      const input: CliInput = { args: rest.slice(0, -2), opts: rest[rest.length - 2] as CliInput['opts'] };
      const invoke = (params: Record<string, unknown>, options?: { audit?: boolean }) => t.tools.operations.call(def, params, ctx(input.opts), options);
      const ran = shape.run?.(invoke, input, ctx(input.opts));
      if (ran) return ran;
      const r = await invoke(shape.params(input));
      if (input.opts.json) json(shape.json ? await shape.json(r, input) : r);
      else await shape.print(r, input);
      return shape.exitCode?.(r) ?? 0;
    }),
  );
}
