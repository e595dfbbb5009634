/**
 * The pulls kind: image pull requests (rows of highway.docker_pulls) addressed to this host.
 *
 * Keys are image references: the work queue runs one reconcile per image at a time, so the
 * requests for one image on this host share one Docker pull (those that arrive while it runs
 * get its result too, as Docker itself would join them to the running pull). Requests with
 * different credentials (registry_auth secrets) pull separately.
 */
import { EMPTY, catchError, from, mergeMap, type Observable } from 'rxjs';
import { resolveRegistryAuth } from '../../docker/registry-auth.js';
import { PolicyError, TerminalError, errorMessage } from '../../errors.js';
import { checkImagePolicy, defaultPolicy } from '../../params/policy.js';
import { envSecretResolver } from '../../secrets.js';
import type { Kind, Sources } from '../../runtime/controller.js';
import type { ReconcileResult } from '../../runtime/workqueue.js';
import { claimPulls, finishPulls, livePullImage, livePullImages, type PullOutcome, type PullRow } from './queries/pull-rows.js';
import { UUID } from '../../ids.js';
import type { HostKindOptions } from '../host-kind-options.js';

export const PULL_CHANNELS = { pull: 'highway_docker_pull', done: 'highway_docker_pull_done' } as const;

/** The policy is checked again here: a row written past the tool meets the same image patterns. */
export type PullsKindOptions = HostKindOptions;

export class PullsKind implements Kind {
  readonly name = 'pulls';
  readonly channels = [PULL_CHANNELS.pull];
  readonly concurrency = 4;

  constructor(private readonly options: PullsKindOptions) {}

  fields(image: string) {
    return { image };
  }

  watch(sources: Sources): Observable<string> {
    const { pool, reconcilerId, logger } = this.options;
    return sources.notifications$.pipe(
      mergeMap((signal) => {
        if (signal.type !== 'notification' || signal.channel !== PULL_CHANNELS.pull || !UUID.test(signal.payload)) return EMPTY;
        return from(livePullImage(pool, signal.payload, reconcilerId)).pipe(
          mergeMap((image) => (image ? [image] : [])),
          catchError((err) => {
            logger.warn({ event: 'reconciler.lookup_error', err: errorMessage(err) }, 'could not map pull notification');
            return EMPTY;
          }),
        );
      }),
    );
  }

  list(): Promise<string[]> {
    return livePullImages(this.options.pool, this.options.reconcilerId);
  }

  async reconcile(image: string): Promise<ReconcileResult> {
    const { pool, reconcilerId } = this.options;
    const rows = await claimPulls(pool, reconcilerId, image);
    if (rows.length === 0) return {};
    // One pull per set of credentials; most often there is one set.
    const groups = new Map<string | null, PullRow[]>();
    for (const row of rows) groups.set(row.registry_auth, [...(groups.get(row.registry_auth) ?? []), row]);
    for (const [auth, group] of groups) await this.pullFor(image, auth, group);
    return {};
  }

  private async pullFor(image: string, authSecret: string | null, rows: PullRow[]): Promise<void> {
    const { pool, docker, reconcilerId, logger } = this.options;
    const first = rows[0]!;
    const log = logger.child({ image, pull_ids: rows.map((r) => r.id) });
    log.info({ event: 'image.pull_started', requests: rows.length }, `pulling ${image}`);
    const started = Date.now();
    let outcome: PullOutcome;
    try {
      checkImagePolicy(image, this.options.policy ?? defaultPolicy);
      const auth = await resolveRegistryAuth(authSecret === null ? null : { secret: authSecret }, image, this.options.resolveSecret ?? envSecretResolver, first);
      const { digest } = await docker.pull(image, auth);
      outcome = { status: 'done', digest, duration_ms: Date.now() - started, error: null };
    } catch (err) {
      // The daemon unreachable: retried with backoff (the rows stay running). Anything else is this pull's answer.
      if (!(err instanceof TerminalError) && !(err instanceof PolicyError)) throw err;
      outcome = { status: 'failed', digest: null, duration_ms: Date.now() - started, error: err.message };
    }
    const finished = await finishPulls(pool, reconcilerId, image, authSecret, outcome);
    const fields = { event: outcome.status === 'done' ? 'image.pull_done' : 'image.pull_failed', requests: finished.length, digest: outcome.digest, duration_ms: outcome.duration_ms };
    if (outcome.status === 'done') log.info(fields, `pulled ${image}`);
    else log.warn({ ...fields, error: outcome.error }, outcome.error ?? 'pull failed');
  }
}
