#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { settingsFromEnv } from '../config.js';
import { createPool } from '../db/pool.js';
import { migrate } from '../db/migrate.js';
import { HighwayError, ValidationError, errorMessage } from '../errors.js';
import { tenantIdProblem } from '../params/tenant.js';
import { createLogger } from '../observability/logger.js';
import { redactCredentials } from '../observability/redact.js';
import { resolveDatabaseUrl } from './database.js';
import { CALLER_DB_RETRY_MS } from '../db/retry.js';
import { EXIT } from './exit-codes.js';
import { guardOutput, reportError, wantsJson } from './output.js';
import type { RunOptions } from './run.js';
import { registerCronCommands } from './cron.js';
import { registerImageCommands } from './images.js';
import { registerOpsCommands } from './ops.js';
import { UUID } from '../ids.js';
// Subcommands are imported when they run: a command that does not talk to Docker does not load its client.

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

async function withPool<T>(databaseUrl: string | undefined, fn: (pool: ReturnType<typeof createPool>) => Promise<T>): Promise<T> {
  const pool = createPool(await resolveDatabaseUrl(databaseUrl), { max: 2, applicationName: 'highway-docker-cli' });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

export function buildProgram(): Command {
  const settings = settingsFromEnv();
  const program = new Command('highway-docker')
    .description('Durable Docker activities for Highway workflows')
    .version(pkg.version)
    .enablePositionalOptions()
    .addOption(new Option('--database-url <url>', 'PostgreSQL URL').env('DATABASE_URL'))
    // Usage errors throw (exit 125, see main); with --json, main reports them as JSON instead of this text.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => (wantsJson(process.argv) ? undefined : write(text)) });
  const dbUrl = () => program.opts<{ databaseUrl?: string }>().databaseUrl;

  program
    .command('up')
    .description('migrate, then run the reconciler (embedded PostgreSQL when no database URL is given)')
    .action(async () => {
      const url = dbUrl();
      const { up, StartupError } = await import('./up.js');
      const logger = createLogger();
      try {
        await up(url ? { databaseUrl: url } : {}, settings, logger);
      } catch (err) {
        // A fatal error of the main job: one event line (JSON under HIGHWAY_LOG_FORMAT=json)
        // naming the dependency, then exit at once: nothing half-started lingers.
        const dependency = err instanceof StartupError ? err.dependency : null;
        const message = redactCredentials(errorMessage(err), url);
        logger.fatal({ event: 'up.failed', dependency, err: message }, `highway-docker up cannot run: ${message}`);
        logger.flush();
        await sleep(50);
        process.exit(EXIT.tool);
      }
    });

  program
    .command('migrate')
    .description('apply the SQL migrations')
    .action(async () => {
      const result = await withPool(dbUrl(), (pool) => migrate(pool));
      process.stdout.write(`applied: ${result.applied.join(', ') || 'none'}; already applied: ${result.skipped.length}\n`);
    });

  program
    .command('run')
    .description('run a container as an activity (an activity worker in a box) and exit with its exit code')
    .argument('[image]', 'image to run (or give it in --params)')
    .argument('[command...]', 'the container command: every word after IMAGE, dashes included')
    .option('--json', 'print the result as JSON')
    .option('--params <file>', 'full tool parameters as JSON (a file, or - for standard input)')
    .option('--tenant <tenant>', 'tenant id', 'default')
    .option('--workflow-run <uuid>', 'workflow run id (created when absent)')
    .option('--activity <uuid>', 'activity id (created when absent; the same id re-attaches)')
    .option('--timeout <seconds>', 'container timeout in seconds')
    .option('--pull <policy>', 'pull policy: always, if_not_present, never')
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--file <IN_PATH=LOCAL_FILE>', 'write a local file into the container at IN_PATH before it starts (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--result <path>', 'read this file of the container after it exits; print it (JSON) on stdout')
    .passThroughOptions()
    .action(async (image: string | undefined, command: string[], opts: Omit<RunOptions, 'databaseUrl'>) => {
      // With --json, stderr carries JSON lines only (never pretty-printed logs).
      const logger = createLogger({ level: process.env['HIGHWAY_LOG_LEVEL'] ?? 'error', destination: 2, ...(opts.json ? { pretty: false } : {}) });
      checkTenant(opts.tenant);
      const { run } = await import('./run.js');
      process.exitCode = await run(image, command, { ...opts, databaseUrl: () => resolveDatabaseUrl(dbUrl(), { retryMs: CALLER_DB_RETRY_MS }) }, settings, logger);
    });

  program
    .command('ps')
    .description('list intents and their containers')
    .option('-a, --all', 'include removed ones')
    .option('--json', 'JSON output')
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      const { ps } = await import('./ps.js');
      process.stdout.write(await withPool(dbUrl(), (pool) => ps(pool, opts)));
    });

  program
    .command('hosts')
    .description('the reconcilers (Docker hosts) sharing the database: alive or not, labels, capacity, running')
    .option('--json', 'JSON output')
    .action(async (opts: { json?: boolean }) => {
      const { hosts } = await import('./hosts.js');
      process.stdout.write(await withPool(dbUrl(), (pool) => hosts(pool, opts)));
    });

  program
    .command('cancel')
    .description('cancel a workflow run: its containers are stopped and removed')
    .argument('<workflow-run-id>', 'the run to cancel (a UUID)')
    .option('--tenant <tenant>', "only this tenant's run (another tenant's run is \"not found\"); without it, any run")
    .option('--json', 'print the outcome (or the error) as JSON')
    .action(async (runId: string, opts: { tenant?: string; json?: boolean }) => {
      if (!UUID.test(runId)) {
        throw new ValidationError([{ field: 'WORKFLOW_RUN_ID', message: `${JSON.stringify(runId.slice(0, 80))} is not a UUID` }]);
      }
      if (opts.tenant !== undefined) checkTenant(opts.tenant);
      const { Engine } = await import('../engine/engine.js');
      await withPool(dbUrl(), (pool) => new Engine({ pool }).cancelWorkflowRun(runId, opts.tenant !== undefined ? { tenant: opts.tenant } : {}));
      process.stdout.write(opts.json ? `${JSON.stringify({ cancelled: runId })}\n` : `cancelled ${runId}\n`);
    });

  program
    .command('gc')
    .description('run the garbage collector (orphaned, stale and vanished containers) as a service')
    .option('--once', 'one sweep, print its report as JSON, and exit')
    .action(async (opts: { once?: boolean }) => {
      const { gcCommand } = await import('./gc.js');
      const report = await gcCommand(await resolveDatabaseUrl(dbUrl()), opts, settings, createLogger({ destination: opts.once ? 2 : 1 }));
      if (report) process.stdout.write(JSON.stringify(report) + '\n');
    });

  registerCronCommands(program);
  registerImageCommands(program);
  registerOpsCommands(program);
  acceptGlobalOptionsAnywhere(program);
  return program;
}

/**
 * The global options work before the subcommand (`highway-docker --database-url X ps`) and
 * after it (`highway-docker ps --database-url X`, `cron ls --database-url X`): every
 * subcommand declares them too, and the value given nearest the action wins. As with
 * `docker run`, words after IMAGE (`run`) or TARGET CMD (`exec`) belong to the container.
 */
function acceptGlobalOptionsAnywhere(program: Command): void {
  const add = (command: Command) => {
    for (const sub of command.commands) {
      sub.addOption(new Option('--database-url <url>', 'PostgreSQL URL (default DATABASE_URL; also accepted before the subcommand)'));
      add(sub);
    }
  };
  add(program);
  program.hook('preAction', (_root, action) => {
    for (let c: Command | null = action; c && c !== program; c = c.parent) {
      const url = c.getOptionValue('databaseUrl') as string | undefined;
      if (url !== undefined) {
        program.setOptionValueWithSource('databaseUrl', url, 'cli');
        return;
      }
    }
  });
}


function checkTenant(tenant: string): void {
  const problem = tenantIdProblem(tenant);
  if (problem) throw new ValidationError([{ field: '--tenant', message: problem }]);
}

export async function main(argv: string[]): Promise<void> {
  guardOutput();
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too (exit code 0); a usage error is the tool's failure: 125.
      if (err.exitCode === 0) return;
      if (wantsJson(argv)) reportError(usageError(err), true);
      process.exitCode = EXIT.tool;
      return;
    }
    reportError(err, wantsJson(argv));
    process.exitCode = EXIT.tool;
  }
}

/** A commander error as the project's error: code usage, commander's message without its "error: " prefix. */
function usageError(err: CommanderError): HighwayError {
  const message = err.message.replace(/^error: /, '');
  return new HighwayError('usage', message, { cause: err });
}

await main(process.argv);
