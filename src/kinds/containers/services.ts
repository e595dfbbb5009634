/**
 * `services` (docs/steps.md): sidecar containers of a run, made before its container.
 * - Named `highway-<intent id>-svc-<name>`: a create repeated after a crash finds the one made
 *   before (a name conflict) and adopts it; one that exists is never started again.
 * - The first service gets the job's network mode; the other services and the job join its
 *   network namespace (`container:<id>`), as a pod's containers do.
 * - Labelled like the job (`highway.intent_id`, tenant, cluster, ...) plus `highway.service`:
 *   the GC's orphan rules (the intent ended or removed) cover them.
 * - Stopped, their output read and removed when the job's result is collected; removed with the
 *   job's container whatever ends it (the remove, finish and mark_removed effects).
 */
import type { Logger } from 'pino';
import { HighwayError, TerminalError } from '../../errors.js';
import { LABELS, type IntentRow } from '../../model.js';
import type { ContainerClient } from '../../docker/client.js';
import { toCreateOptions } from '../../params/container-config.js';
import { parseRunParams, type RunSpec } from '../../params/schema.js';
import type { ServiceSpec } from '../../params/steps.js';
import type { SecretResolver } from '../../secrets.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const SERVICE_LABEL = 'highway.service';
export const serviceContainerName = (intentId: string, name: string): string => `highway-${intentId}-svc-${name}`;

export interface ServiceOutput {
  stdout: string;
  stderr: string;
  exit_code: number | null;
  logs_truncated: boolean;
}

export interface ServiceContext {
  docker: ContainerClient;
  resolveSecret: SecretResolver;
  sharedVolumes: string[];
  logger: Logger;
}

export const servicesOf = (spec: Record<string, unknown>): ServiceSpec[] => (Array.isArray(spec['services']) ? (spec['services'] as ServiceSpec[]) : []);


async function envSecrets(ctx: ServiceContext, env: unknown, intent: IntentRow): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const value of Object.values((env ?? {}) as Record<string, unknown>)) {
    if (value && typeof value === 'object' && typeof (value as { secret?: unknown }).secret === 'string') {
      const name = (value as { secret: string }).secret;
      out[name] = await ctx.resolveSecret(name, intent);
    }
  }
  return out;
}

/** The secret values of the services' environments (masked in their output). */
export async function serviceSecretValues(ctx: Pick<ServiceContext, 'resolveSecret'>, intent: IntentRow): Promise<string[]> {
  const values: string[] = [];
  for (const s of servicesOf(intent.spec)) values.push(...Object.values(await envSecrets(ctx as ServiceContext, s.params['environment'], intent)));
  return values;
}

/**
 * Make, start and wait for the run's services; returns the id of the first (whose network
 * namespace the job joins). A service that exits, turns unhealthy or is not ready within its
 * ready_timeout (from its start) ends the run: TerminalError `service_not_ready`, naming it.
 */
export async function ensureServices(ctx: ServiceContext, intent: IntentRow, spec: RunSpec, labels: Record<string, string>): Promise<string> {
  const ids: string[] = [];
  for (const [i, service] of spec.services.entries()) {
    const svcSpec = parseRunParams(service.params);
    await ensureImage(ctx, svcSpec, service.name);
    const options = toCreateOptions(svcSpec, {
      name: serviceContainerName(intent.id, service.name),
      labels: { ...labels, [SERVICE_LABEL]: service.name },
      secrets: await envSecrets(ctx, service.params['environment'], intent),
      tenantId: intent.tenant_id,
      sharedVolumes: ctx.sharedVolumes,
    });
    options.HostConfig = { ...options.HostConfig, NetworkMode: i === 0 ? (spec.network_mode ?? 'none') : `container:${ids[0]}` };
    const made = await ctx.docker.create(options).catch((err: unknown) => {
      throw new TerminalError('service_not_ready', `service "${service.name}": ${(err as Error).message}`, { cause: err });
    });
    let id: string;
    let status: string;
    if ('conflict' in made) {
      const existing = await ctx.docker.inspect(serviceContainerName(intent.id, service.name));
      if (!existing) throw new HighwayError('create_failed', `service "${service.name}": name conflict, but no container by that name`);
      id = existing.id;
      status = existing.status;
    } else {
      id = made.id;
      status = 'created';
      ctx.logger.info({ event: 'service.created', intent_id: intent.id, service: service.name, container_id: id }, `service ${service.name} created`);
    }
    ids.push(id);
    // Started once: one that ran and stopped is not started again (it is not ready, below).
    if (status === 'created') {
      await ctx.docker.start(id).catch((err: unknown) => {
        if (err instanceof HighwayError && err.code === 'docker_unavailable') throw err;
        throw new TerminalError('service_not_ready', `service "${service.name}" could not be started: ${(err as Error).message}`, { cause: err });
      });
      ctx.logger.info({ event: 'service.started', intent_id: intent.id, service: service.name, container_id: id }, `service ${service.name} started`);
    }
  }
  for (const [i, service] of spec.services.entries()) await waitReady(ctx, intent, service, ids[i]!);
  return ids[0]!;
}

async function ensureImage(ctx: ServiceContext, spec: RunSpec, name: string): Promise<void> {
  if (spec.pull_policy !== 'always' && (await ctx.docker.imageExists(spec.image))) return;
  if (spec.pull_policy === 'never') throw new TerminalError('service_not_ready', `service "${name}": image "${spec.image}" is not present and its pull_policy is "never"`);
  await ctx.docker.pull(spec.image);
}

async function waitReady(ctx: ServiceContext, intent: IntentRow, service: ServiceSpec, id: string): Promise<void> {
  const notReady = (why: string) => new TerminalError('service_not_ready', `service "${service.name}" is not ready: ${why}`);
  for (;;) {
    const c = await ctx.docker.inspect(id);
    if (!c) throw notReady('its container disappeared');
    if (c.status === 'exited' || c.status === 'dead') throw notReady(`it exited with code ${c.exitCode}${c.error ? ` (${c.error})` : ''}`);
    if (c.health === 'unhealthy') throw notReady('its healthcheck reports unhealthy');
    if (c.status === 'running' && (c.health === null || c.health === 'healthy')) {
      ctx.logger.info({ event: 'service.ready', intent_id: intent.id, service: service.name, container_id: id, health: c.health }, `service ${service.name} ready`);
      return;
    }
    const since = c.startedAt ?? c.createdAt;
    if (Date.now() > since.getTime() + service.ready_timeout * 1000) {
      throw notReady(`not ${c.health !== null ? 'healthy' : 'running'} within its ready_timeout of ${service.ready_timeout} s (state ${c.status}${c.health ? `, health ${c.health}` : ''})`);
    }
    await sleep(200);
  }
}

/** The run's service containers that exist, by service name. */
async function serviceContainers(docker: ContainerClient, intentId: string): Promise<Map<string, string>> {
  const list = await docker.list([`${LABELS.intentId}=${intentId}`, SERVICE_LABEL]);
  return new Map(list.map((c) => [c.labels[SERVICE_LABEL] ?? c.id, c.id]));
}

/** Stop the services (SIGKILL: the job is over) and read their output, each bounded by its max_output_bytes. */
export async function collectServices(docker: ContainerClient, intent: IntentRow, secrets: readonly string[]): Promise<Record<string, ServiceOutput> | null> {
  const services = servicesOf(intent.spec);
  if (services.length === 0) return null;
  const containers = await serviceContainers(docker, intent.id);
  const out: Record<string, ServiceOutput> = {};
  for (const service of services) {
    const id = containers.get(service.name);
    if (!id) continue; // never made (the job failed first), or already removed
    await docker.kill(id, 'SIGKILL');
    let state = await docker.inspect(id);
    for (let i = 0; i < 50 && state && state.status === 'running'; i++) {
      await sleep(100);
      state = await docker.inspect(id);
    }
    const max = typeof service.params['max_output_bytes'] === 'number' ? service.params['max_output_bytes'] : 1024 * 1024;
    const logs = await docker.logs(id, max, { secrets });
    out[service.name] = { stdout: logs.stdout, stderr: logs.stderr, exit_code: state?.exitCode ?? null, logs_truncated: logs.truncated };
  }
  return out;
}

/** Remove the run's service containers (force). */
export async function removeServices(docker: ContainerClient, intent: IntentRow, logger: Logger): Promise<void> {
  if (servicesOf(intent.spec).length === 0) return;
  for (const [name, id] of await serviceContainers(docker, intent.id)) {
    await docker.remove(id);
    logger.info({ event: 'service.removed', intent_id: intent.id, service: name, container_id: id }, `service ${name} removed`);
  }
}
