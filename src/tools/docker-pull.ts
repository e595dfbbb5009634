/**
 * tools.docker.pull: pull an image on one host or on every host. Each (request, host) is a row
 * of highway.docker_pulls that the host's reconciler pulls (`pulls` kind); the tool writes the
 * rows and awaits their completion, and never talks to Docker itself.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Pool } from '../db/pool.js';
import { audited, type AuditCall } from './audited.js';
import { HighwayError, PolicyError, ValidationError, type ErrorCode } from '../errors.js';
import { classifyPullError } from '../docker/pull-errors.js';
import { knownHosts } from '../kinds/pulls/queries/target-hosts.js';
import { expirePendingPulls, insertPulls, type PullStatus } from '../kinds/pulls/queries/pull-rows.js';
import * as field from '../params/fields.js';
import { checkImagePolicy, type Policy } from '../params/policy.js';
import { formatPath } from '../params/schema.js';
import type { PullWaiter } from './pull-completion.js';
import { validationErrorOf } from '../params/issues.js';

const MAX_PULL_TIMEOUT_S = 3600;

export const pullParamsSchema = z.strictObject({
  image: field.image,
  host: z.string({ error: 'must be a host id (a reconciler id)' }).min(1, 'must not be empty').max(200).nullish(),
  all_hosts: z.boolean({ error: 'must be a boolean' }).nullish(),
  registry_auth: field.registryAuth.nullish(),
  timeout: field.duration.refine((s) => s > 0 && s <= MAX_PULL_TIMEOUT_S, 'must be more than 0 and at most 3600 seconds').nullish(),
});
export type PullParams = z.output<typeof pullParamsSchema>;

/** The caller: only the tenant matters to a pull (it is audited with it); the rest is optional. */
export interface PullContext {
  tenant_id: string;
  worker_id?: string | null;
  signal?: AbortSignal;
}

export interface HostPullResult {
  host: string;
  status: PullStatus;
  digest: string | null;
  duration_ms: number | null;
  error: string | null;
  /** The stable code of `error`: `image_not_found`, `pull_failed`, `timeout` (no answer in time), `internal`; null when none. */
  error_code: ErrorCode | null;
}

export interface DockerPullResult {
  image: string;
  results: HostPullResult[];
}

export interface PullDeps {
  pool: Pool;
  waiter: PullWaiter;
  logger: Logger;
  policy: Policy;
}

/** Validate pull parameters; a ValidationError names each offending field. */
export function parsePullParams(params: unknown): PullParams {
  const result = pullParamsSchema.safeParse(params);
  if (result.success) {
    if (result.data.host && result.data.all_hosts) throw new ValidationError([{ field: 'all_hosts', message: 'cannot be combined with host; give one' }]);
    return result.data;
  }
  throw validationErrorOf(result.error, { unknownKey: 'is not a parameter of tools.docker.pull (image, host, all_hosts, registry_auth, timeout)' });
}

/** Which hosts: the one asked for (it must be known), every known host, or the only one. */
export async function resolveTargets(pool: Pool, params: Pick<PullParams, 'host' | 'all_hosts'>): Promise<string[]> {
  const hosts = await knownHosts(pool);
  if (params.host) {
    if (!hosts.includes(params.host)) {
      throw new HighwayError('not_found', `host: "${params.host}" is not a known Docker host (known: ${hosts.join(', ') || 'none'})`);
    }
    return [params.host];
  }
  if (params.all_hosts || hosts.length === 1) {
    if (hosts.length === 0) throw new HighwayError('not_found', 'no Docker host is known yet: start a reconciler (`highway-docker up`)');
    return hosts;
  }
  if (hosts.length === 0) throw new HighwayError('not_found', 'no Docker host is known yet: start a reconciler (`highway-docker up`)');
  throw new ValidationError([{ field: 'host', message: `is required when several hosts are known (${hosts.join(', ')}); or set all_hosts: true` }]);
}

export function createDockerPull(deps: PullDeps) {
  return (params: unknown, ctx: PullContext): Promise<DockerPullResult> => audited(deps, 'tools.docker.pull', ctx, (call) => pull(params, ctx, call));

  async function pull(params: unknown, ctx: PullContext, call: AuditCall): Promise<DockerPullResult> {
    const tenant = ctx.tenant_id;
    const log = deps.logger.child({ tenant_id: tenant });
    let spec: PullParams;
    try {
      spec = parsePullParams(params);
      checkImagePolicy(spec.image, deps.policy);
    } catch (err) {
      if (err instanceof ValidationError || err instanceof PolicyError) {
        const denied = err instanceof PolicyError;
        log.warn({ event: denied ? 'pull.denied' : 'pull.invalid', field: err.field, ...(denied ? { rule: err.rule } : {}), error: err.message }, err.message);
      }
      throw err;
    }
    call.note({ image: spec.image });

    const hosts = await resolveTargets(deps.pool, spec);
    const pulls = hosts.map((host) => ({ id: randomUUID(), reconciler_id: host }));
    await insertPulls(deps.pool, {
      tenant_id: tenant,
      actor: ctx.worker_id ?? null,
      image: spec.image,
      registry_auth: spec.registry_auth?.secret ?? null,
      pulls,
    });
    call.recorded(); // the request's audit row is written with its rows
    log.info({ event: 'pull.requested', image: spec.image, hosts, pull_ids: pulls.map((p) => p.id) }, `pull of ${spec.image} requested`);

    const timeoutS = spec.timeout ?? 600;
    const timeout = AbortSignal.timeout(timeoutS * 1000);
    const signal = ctx.signal ? AbortSignal.any([timeout, ctx.signal]) : timeout;
    const ids = pulls.map((p) => p.id);
    let rows = await deps.waiter.wait(ids, signal);
    if (ctx.signal?.aborted && !timeout.aborted) {
      // The caller stopped waiting; the requests stand (their hosts still pull), as a run's intent does.
      throw new HighwayError('shutdown', `stopped waiting for the pull of ${spec.image}`, { cause: ctx.signal.reason });
    }
    if (rows.some((r) => r.status === 'pending')) {
      // No host took it in time: such a pull ends here (a pull already running is left to finish).
      await expirePendingPulls(deps.pool, ids, `no answer from the host within ${timeoutS} s (is its reconciler running?)`);
      rows = await deps.waiter.wait(ids, AbortSignal.abort());
    }
    const byId = new Map(rows.map((r) => [r.id, r]));
    return {
      image: spec.image,
      results: pulls.map(({ id, reconciler_id }) => {
        const r = byId.get(id);
        const error = r?.error ?? (r && (r.status === 'pending' || r.status === 'running') ? `still pulling after ${timeoutS} s` : r ? null : 'pull request vanished');
        return {
          host: reconciler_id,
          status: r?.status ?? 'failed',
          digest: r?.digest ?? null,
          duration_ms: r?.duration_ms ?? null,
          error,
          error_code: pullErrorCode(r, error),
        };
      }),
    };
  }
}

/** The code of a host's pull failure, from its row (the daemon's message, or why it had no answer). */
function pullErrorCode(r: { status: string; error: string | null } | undefined, error: string | null): ErrorCode | null {
  if (error === null) return null;
  if (!r) return 'internal';
  if (r.status === 'pending' || r.status === 'running' || (r.error ?? '').startsWith('no answer from the host')) return 'timeout';
  return classifyPullError(error) === 'not_found' ? 'image_not_found' : 'pull_failed';
}
