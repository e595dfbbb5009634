/**
 * The intent write of tools.docker.run survives a PostgreSQL that restarts under it: a
 * transient failure (57P01 admin shutdown, 08xxx, 40001, 40P01) is retried, idempotently per
 * activity; any other failure is the caller's at once. The pool is a sinon stub here.
 */
import { expect } from 'chai';
import sinon from 'sinon';
import { pino } from 'pino';
import { randomUUID } from 'node:crypto';
import type { Pool } from '../../../src/db/pool.js';
import { isTransientPgError } from '../../../src/db/retry.js';
import { HighwayError } from '../../../src/errors.js';
import type { IntentRow } from '../../../src/model.js';
import { defaultPolicy } from '../../../src/params/policy.js';
import type { CompletionWaiter } from '../../../src/tools/completion.js';
import { createDockerRun } from '../../../src/tools/docker-run.js';

const logger = pino({ level: 'silent' });
const pgError = (code: string, message = `pg error ${code}`) => Object.assign(new Error(message), { code });

function setup() {
  const query = sinon.stub();
  const pool = { query } as unknown as Pool;
  const wait = sinon.stub().callsFake(async (id: string) => finished(id));
  const waiter = { wait, listening: async () => {} } as unknown as CompletionWaiter;
  const run = createDockerRun({ pool, waiter, logger, policy: defaultPolicy, databaseRetryMs: 1_500 });
  const ctx = { tenant_id: 'acme', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: 'w1' };
  /** The parameters of the n-th query (a prepared statement's config, or text and values). */
  const createIntentCall = (n: number) => valuesOf(query.getCall(n).args);
  return { query, wait, run, ctx, createIntentCall };
}

function finished(id: string): IntentRow {
  return {
    id,
    status: 'exited',
    exit_code: 0,
    stdout: 'hi\n',
    stderr: '',
    image: 'highway-test/busybox:latest',
    removed_at: new Date(),
    spec: {},
    logs_truncated: false,
  } as unknown as IntentRow;
}

/** A query's text and values, whether given as (text, values) or as one config object. */
const textOf = (args: unknown[]): string => (typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string }).text));
const valuesOf = (args: unknown[]): unknown[] => (args[1] as unknown[] | undefined) ?? ((args[0] as { values?: unknown[] }).values ?? []);
const createIntentQuery = (args: unknown[]) => textOf(args).includes('highway.create_intent');
/** Answers create_intent with the finished row of the intent id it was given (`patch` over it). */
const answer = (patch: Partial<IntentRow> = {}) => async (...args: unknown[]) => ({ rows: [{ ...finished(valuesOf(args)[0] as string), ...patch }] });

describe('tools/docker-run: the intent write retries transient PostgreSQL errors', () => {
  it('a 57P01 (admin shutdown) then success: the run gets its result, the retry writes the same intent id', async () => {
    const { query, run, ctx, createIntentCall } = setup();
    query.onCall(0).rejects(pgError('57P01', 'terminating connection due to administrator command'));
    query.onCall(1).callsFake(answer({ status: 'pending', removed_at: null }));

    const result = await run({ image: 'highway-test/busybox:latest', command: ['echo', 'hi'] }, ctx);

    expect(result).to.include({ status: 'exited', exit_code: 0, stdout: 'hi\n' });
    expect(query.callCount).to.equal(2);
    expect(createIntentQuery(query.getCall(0).args) && createIntentQuery(query.getCall(1).args)).to.equal(true);
    // Same intent id and activity on both attempts: a write that did commit is found, not doubled.
    expect(createIntentCall(1).slice(0, 2)).to.deep.equal(createIntentCall(0).slice(0, 2));
    expect(result.intent_id).to.equal(createIntentCall(0)[0]);
  });

  for (const code of ['08006', '08001', '40001', '40P01', 'ECONNRESET']) {
    it(`retries ${code}`, async () => {
      const { query, run, ctx } = setup();
      query.onCall(0).rejects(pgError(code));
      query.onCall(1).rejects(pgError(code));
      query.onCall(2).callsFake(answer());
      const result = await run({ image: 'highway-test/busybox:latest' }, ctx);
      expect(result.status).to.equal('exited');
      expect(query.callCount).to.equal(3);
    });
  }

  it('does not retry a permanent error: "not found for this tenant" reaches the caller after one attempt', async () => {
    const { query, run, ctx, wait } = setup();
    query.onCall(0).rejects(pgError('P0002', 'activity_id: activity x not found for this tenant'));
    const err = await run({ image: 'highway-test/busybox:latest' }, ctx).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(HighwayError);
    expect(err).to.include({ code: 'not_found' });
    expect(query.getCalls().filter((c) => createIntentQuery(c.args)).length).to.equal(1);
    expect(wait.called).to.equal(false);
  });

  it('gives up after its retry time while the database stays down, with the database error', async function () {
    this.timeout(20_000);
    const { query, run, ctx } = setup();
    query.rejects(pgError('57P01', 'terminating connection due to administrator command'));
    const t0 = Date.now();
    const err = await run({ image: 'highway-test/busybox:latest' }, ctx).catch((e: unknown) => e);
    expect((err as Error).message).to.contain('administrator command');
    // Attempts at the intent for databaseRetryMs (1.5 s); then the failure's audit row is tried (and fails too).
    expect(query.getCalls().filter((c) => createIntentQuery(c.args)).length).to.be.above(2);
    expect(Date.now() - t0).to.be.within(1_000, 5_000);
  });

  it('classifies errors', () => {
    expect(['57P01', '57P02', '08000', '08003', '08006', '40001', '40P01'].every((c) => isTransientPgError(pgError(c)))).to.equal(true);
    expect(isTransientPgError(new Error('Connection terminated unexpectedly'))).to.equal(true);
    expect(['23505', '22P02', 'P0002', '42P01'].some((c) => isTransientPgError(pgError(c)))).to.equal(false);
    expect(isTransientPgError(new Error('boom'))).to.equal(false);
  });
});
