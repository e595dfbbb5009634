/**
 * Property: every generated invalid parameter set (test/support/invalid-params.ts: a valid
 * base with exactly one defect) sent through tools.docker.run on the real stack is rejected
 * with a ValidationError naming the offending parameter, logged and audited as such, and
 * leaves no intent row, no workflow run row and no container behind.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { ValidationError } from '../../../src/errors.js';
import { PARAMETER_NAMES } from '../../../src/params/schema.js';
import { ALIASES } from '../../../src/params/refused.js';
import { abusiveParamsArbitrary, extremeInvalidParamsArbitrary, extremeValidParamsArbitrary, invalidParamsArbitrary, type InvalidParamsCase } from '../../support/invalid-params.js';
import { isTerminal } from '../../../src/model.js';
import { removeByLabel } from '../../support/docker-env.js';
import { expectNoContainers, PARAMS_IMAGE } from './helpers.js';
import { useHarness } from '../../support/fixture.js';

const RUNS = 520;
const ABUSE_RUNS = 500;
const EXTREME_INVALID_RUNS = 200;
const EXTREME_VALID_RUNS = 24;
/** What a run may take past its own timeout: the stop, the grace of a process that obeys SIGTERM, a retry's backoff. */
const SLACK_MS = 30_000;

/** "ulimits.nofile.soft" -> "ulimits", "volumes[0]" -> "volumes", 'tmpfs["/x"]' -> "tmpfs". */
function topLevel(field: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*/.exec(field)?.[0] ?? field;
}

/**
 * The generated set, made harmless should the tool ever accept it: the local test image
 * (unless the image is the defect) and no pull, so nothing can reach a registry.
 */
function harmless({ params, field }: InvalidParamsCase): Record<string, unknown> {
  return {
    ...params,
    ...(field === 'image' ? {} : { image: PARAMS_IMAGE }),
    ...(field === 'pull_policy' || 'pull_policy' in params ? {} : { pull_policy: 'never' }),
  };
}

describe('params: generated invalid parameter sets (property, real stack)', function () {
  this.timeout(180_000);
  const h = useHarness();

  /** Rejected through the tool naming its field, logged and audited; nothing stored. */
  async function expectRejected(testCase: InvalidParamsCase): Promise<void> {
    const params = harmless(testCase);
    const ctx = h.ctx({ tenant_id: `prop-${randomUUID()}` });
    let error: unknown = null;
    try {
      await h.registry.call('tools.docker.run', params, ctx);
    } catch (err) {
      error = err;
    }
    const shown = JSON.stringify(params);
    expect(error, `accepted ${shown}`).to.be.instanceOf(ValidationError);
    const { field, message, code } = error as ValidationError;
    expect(code).to.equal('invalid_params');
    expect([...PARAMETER_NAMES, ...Object.keys(ALIASES)], `${field} for ${shown}`).to.include(topLevel(field));
    expect(topLevel(field), `${message} for ${shown}`).to.equal(testCase.field);
    expect(message.startsWith(`${field}: `), message).to.equal(true);

    const stored = await h.db.pool.query<{ intents: number; runs: number; denied: number; field: string | null }>(
      `SELECT (SELECT count(*)::int FROM highway.docker_containers WHERE activity_id = $1) AS intents,
              (SELECT count(*)::int FROM highway.workflow_runs WHERE id = $2) AS runs,
              (SELECT count(*)::int FROM highway.docker_audit WHERE tenant_id = $3 AND outcome = 'denied') AS denied,
              (SELECT detail->>'field' FROM highway.docker_audit WHERE tenant_id = $3 LIMIT 1) AS field`,
      [ctx.activity_id, ctx.workflow_run_id, ctx.tenant_id],
    );
    expect(stored.rows[0]).to.deep.equal({ intents: 0, runs: 0, denied: 1, field });
    const logged = h.log.events('intent.invalid').filter((e) => e['activity_id'] === ctx.activity_id);
    expect(logged.map((e) => e['field'])).to.deep.equal([field]);
  }

  async function expectNothingAnywhere(): Promise<void> {
    const total = await h.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM highway.docker_containers');
    expect(total.rows[0]!.n).to.equal(0);
    expect(h.log.events('intent.created')).to.deep.equal([]);
    expect(h.log.events('container.created')).to.deep.equal([]);
    await expectNoContainers(h);
    const all = await h.docker.listContainers({ all: true, filters: { label: [`highway.reconciler_id=${h.reconcilerId}`] } });
    expect(all).to.deep.equal([]);
  }

  it(`${RUNS} invalid sets: each rejected naming its field; no row, no container`, async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(invalidParamsArbitrary, async (testCase) => {
        await expectRejected(testCase);
        seen.add(testCase.field);
      }),
      { numRuns: RUNS },
    );

    // Across all of them: not one intent, not one create, not one container.
    await expectNothingAnywhere();
    // The generator reached a good share of the parameters.
    expect(seen.size).to.be.at.least(25);
  });

  it(`${EXTREME_INVALID_RUNS} sets with a huge, NaN-producing or past-the-bound number: each rejected naming its field; nothing stored`, async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(extremeInvalidParamsArbitrary, async (testCase) => {
        await expectRejected(testCase);
        seen.add(testCase.field);
      }),
      { numRuns: EXTREME_INVALID_RUNS },
    );
    await expectNothingAnywhere();
    expect(seen.size).to.be.at.least(14);
  });

  it(`${ABUSE_RUNS} abusive sets (20 MB strings, NUL, lone surrogates, __proto__ keys, huge maps, deep nesting): each rejected naming its field; nothing stored`, async () => {
    const kinds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(abusiveParamsArbitrary, async (testCase) => {
        await expectRejected(testCase);
        kinds.add(testCase.kind);
      }),
      { numRuns: ABUSE_RUNS },
    );
    await expectNothingAnywhere();
    expect([...kinds].sort()).to.deep.equal(['huge_map', 'huge_string', 'lone_surrogate', 'nul', 'prototype_key', 'too_deep']);
  });
});

describe('params: valid sets at the numeric bounds (property, real reconciler)', function () {
  this.timeout(600_000);
  const h = useHarness();

  it(`${EXTREME_VALID_RUNS} valid sets at the numeric bounds, on the real reconciler: each refused naming its field, or terminal within its timeout + ${SLACK_MS / 1000} s`, async () => {
    let ran = 0;
    try {
      await fc.assert(
        fc.asyncProperty(extremeValidParamsArbitrary, async (generated) => {
          const params: Record<string, unknown> = { ...generated, image: PARAMS_IMAGE, pull_policy: 'never' };
          const ctx = h.ctx({ tenant_id: `prop-${randomUUID()}` });
          const timeoutS = typeof params.timeout === 'number' ? params.timeout : 1.5;
          const started = Date.now();
          const outcome = await Promise.race([
            h.registry.call<{ status: string; error: string | null }>('tools.docker.run', params, ctx).then(
              (result) => ({ result }),
              (error: unknown) => ({ error }),
            ),
            new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), timeoutS * 1000 + SLACK_MS).unref()),
          ]);
          const shown = JSON.stringify(params);
          expect(outcome, `not terminal within ${timeoutS} s + ${SLACK_MS / 1000} s: ${shown}`).to.not.equal('hung');
          if (outcome === 'hung') return;
          if ('error' in outcome) {
            expect(outcome.error, shown).to.be.instanceOf(ValidationError);
            return;
          }
          ran++;
          expect(isTerminal(outcome.result.status as never), `${outcome.result.status} for ${shown}`).to.equal(true);
          const row = await h.intentOfActivity(ctx.activity_id);
          expect(isTerminal(row!.status), `row ${row!.status} for ${shown}`).to.equal(true);
          expect(Date.now() - started).to.be.below(timeoutS * 1000 + SLACK_MS);
        }),
        { numRuns: EXTREME_VALID_RUNS },
      );
    } finally {
      // Kept containers (auto_remove false, gc_protect_seconds) go with the test.
      await removeByLabel(h.docker, h.label).catch(() => {});
    }
    expect(ran, 'most valid extreme sets reach Docker').to.be.at.least(EXTREME_VALID_RUNS / 2);
  });
});
