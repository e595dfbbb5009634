/**
 * `highway-docker pull [--host H | --all-hosts] IMAGE` and `highway-docker images [--host H] [REFERENCE]`:
 * the library tools tools.docker.pull and tools.docker.images behind a command line. Both take
 * `--tenant T` (default `default`) and `--json` (the result, or the error, as one JSON document
 * on stdout). `pull` exits 0 when every host pulled, 125 otherwise.
 */
import { cliActor } from './actor.js';
import type { Command } from 'commander';
import { errorMessage } from '../errors.js';
import { silentLogger } from '../observability/logger.js';
import { resolveDatabaseUrl } from './database.js';
import { reportError } from './output.js';
import { EXIT } from './exit-codes.js';
import type { DockerPullResult } from '../tools/docker-pull.js';
import type { DockerImagesResult } from '../tools/docker-images.js';
import type { ActivityContext } from '../tools/registry.js';

interface Common {
  tenant: string;
  json?: boolean;
}

export function registerImageCommands(program: Command): void {
  const dbUrl = () => program.opts<{ databaseUrl?: string }>().databaseUrl;

  program
    .command('pull')
    .description('pull an image on one Docker host or on every host')
    .argument('<image>', 'image reference')
    .option('--host <host>', 'the host (reconciler id) to pull on')
    .option('--all-hosts', 'pull on every known host')
    .option('--registry-auth <secret>', 'secret holding the registry credentials (resolved on the hosts)')
    .option('--timeout <seconds>', 'how long to wait for the hosts (default 600)')
    .option('--tenant <tenant>', 'tenant id', 'default')
    .option('--json', 'print the result as JSON')
    .action(async (image: string, opts: Common & { host?: string; allHosts?: boolean; registryAuth?: string; timeout?: string }) => {
      const params: Record<string, unknown> = { image };
      if (opts.host !== undefined) params['host'] = opts.host;
      if (opts.allHosts) params['all_hosts'] = true;
      if (opts.registryAuth !== undefined) params['registry_auth'] = { secret: opts.registryAuth };
      if (opts.timeout !== undefined) params['timeout'] = Number.isNaN(Number(opts.timeout)) ? opts.timeout : Number(opts.timeout);
      const result = await callTool<DockerPullResult>(dbUrl(), 'tools.docker.pull', params, opts);
      if (!result) return;
      const ok = result.results.every((r) => r.status === 'done');
      if (opts.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else process.stdout.write(formatPull(result));
      process.exitCode = ok ? 0 : EXIT.tool;
    });

  program
    .command('images')
    .description("list each Docker host's images (from the inventory the hosts keep; no Docker call)")
    .argument('[reference]', 'only images matching repo[:tag] (with * wildcards) or repo@digest')
    .option('--host <host>', 'only this host (reconciler id)')
    .option('--tenant <tenant>', 'tenant id', 'default')
    .option('--json', 'print the result as JSON')
    .action(async (reference: string | undefined, opts: Common & { host?: string }) => {
      const params: Record<string, unknown> = {};
      if (reference !== undefined) params['reference'] = reference;
      if (opts.host !== undefined) params['host'] = opts.host;
      const result = await callTool<DockerImagesResult>(dbUrl(), 'tools.docker.images', params, opts);
      if (!result) return;
      process.stdout.write(opts.json ? JSON.stringify(result, null, 2) + '\n' : formatImages(result));
    });
}

/** Run one tool; on error print it (as JSON with --json) and set the exit code; returns undefined then. */
async function callTool<R>(databaseUrl: string | undefined, name: string, params: Record<string, unknown>, opts: Common): Promise<R | undefined> {
  const [{ ToolRegistry }, { registerDockerTools }, { createPool }, { loadPolicy }] = await Promise.all([
    import('../tools/registry.js'),
    import('../tools/docker-tools.js'),
    import('../db/pool.js'),
    import('../params/policy.js'),
  ]);
  let tools: { close(): Promise<void> } | null = null;
  let pool: ReturnType<typeof createPool> | null = null;
  try {
    const url = await resolveDatabaseUrl(databaseUrl);
    pool = createPool(url, { max: 2, applicationName: 'highway-docker-cli' });
    const registry = new ToolRegistry();
    tools = registerDockerTools(registry, { databaseUrl: url, pool, logger: silentLogger, policy: loadPolicy(process.env['HIGHWAY_POLICY_FILE']) });
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once('SIGINT', onSignal);
    try {
      // pull and images need only the caller's tenant (no workflow run or activity).
      const ctx = { tenant_id: opts.tenant, worker_id: cliActor(), signal: controller.signal } as Partial<ActivityContext> as ActivityContext;
      return await registry.call<R>(name, params, ctx);
    } finally {
      process.off('SIGINT', onSignal);
    }
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'internal';
    reportError(err, opts.json === true);
    process.exitCode = EXIT.tool;
    return undefined;
  } finally {
    await tools?.close().catch(() => {});
    await pool?.end().catch(() => {});
  }
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n') + '\n';
}

export function formatPull(result: DockerPullResult): string {
  return table(
    ['HOST', 'STATUS', 'DIGEST', 'DURATION', 'ERROR'],
    result.results.map((r) => [
      r.host,
      r.status,
      r.digest ?? '-',
      r.duration_ms === null ? '-' : `${(r.duration_ms / 1000).toFixed(1)}s`,
      r.error ?? '',
    ]),
  );
}

export function formatImages(result: DockerImagesResult): string {
  const rows: string[][] = [];
  for (const { host, images } of result.hosts) {
    for (const image of images) {
      const names = image.tags.length ? image.tags : ['<none>:<none>'];
      for (const name of names) {
        rows.push([host, name, image.id.replace(/^sha256:/, '').slice(0, 12), image.created ?? '-', humanSize(image.size)]);
      }
    }
  }
  return table(['HOST', 'IMAGE', 'ID', 'CREATED', 'SIZE'], rows);
}

function humanSize(bytes: number): string {
  if (bytes < 1000) return `${bytes}B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)}${units[unit]}`;
}
