#!/usr/bin/env node
import { Command, Option } from 'commander';
import { createRequire } from 'node:module';
import { settingsFromEnv } from '../config.js';
import { createPool } from '../db/pool.js';
import { migrate } from '../db/migrate.js';
import { HighwayError, errorMessage } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import { resolveDatabaseUrl } from './database.js';
import { EXIT } from './exit-codes.js';
import type { RunOptions } from './run.js';
import { registerOpsCommands } from './ops.js';
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
    .addOption(new Option('--database-url <url>', 'PostgreSQL URL').env('DATABASE_URL'));
  const dbUrl = () => program.opts<{ databaseUrl?: string }>().databaseUrl;

  program
    .command('up')
    .description('migrate, then run the reconciler (embedded PostgreSQL when no database URL is given)')
    .action(async () => {
      const url = dbUrl();
      const { up } = await import('./up.js');
      await up(url ? { databaseUrl: url } : {}, settings, createLogger());
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
    .passThroughOptions()
    .action(async (image: string | undefined, command: string[], opts: Omit<RunOptions, 'databaseUrl'>) => {
      const logger = createLogger({ level: process.env['HIGHWAY_LOG_LEVEL'] ?? 'error', destination: 2 });
      const databaseUrl = await resolveDatabaseUrl(dbUrl());
      const { run } = await import('./run.js');
      process.exitCode = await run(image, command, { ...opts, databaseUrl }, settings, logger);
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
    .command('cancel')
    .description('cancel a workflow run: its containers are stopped and removed')
    .argument('<workflow-run-id>')
    .action(async (runId: string) => {
      const n = await withPool(dbUrl(), async (pool) => {
        const res = await pool.query(`UPDATE highway.workflow_runs SET status = 'cancelled', updated_at = now() WHERE id = $1`, [runId]);
        return res.rowCount ?? 0;
      });
      if (!n) throw new HighwayError('not_found', `workflow run ${runId} not found`);
      process.stdout.write(`cancelled ${runId}\n`);
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

  registerOpsCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`highway-docker: ${errorMessage(err)}\n`);
    process.exitCode = EXIT.tool;
  }
}

await main(process.argv);
