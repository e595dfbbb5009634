/**
 * Tenant isolation where the intent is written (highway.create_intent, migration 003) and the
 * tenant id grammar of the activity context. No reconciler: every case is decided at the write.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { insertIntent } from '../../src/db/queries/insert-intent.js';
import { HighwayError, ValidationError } from '../../src/errors.js';
import { TEST_IMAGE } from '../support/harness.js';
import { useHarness } from '../support/fixture.js';

describe('tenants: intents are written only for the caller\'s own run and activity', function () {
  this.timeout(60_000);
  const h = useHarness({ withoutReconciler: true });

  /** A run of `tenant` with one activity and no intent yet, as the engine writes them. */
  async function engineRun(tenant: string): Promise<{ run: string; activity: string }> {
    const run = randomUUID();
    const activity = randomUUID();
    await h.db.pool.query('INSERT INTO highway.workflow_runs (id, tenant_id) VALUES ($1, $2)', [run, tenant]);
    await h.db.pool.query('INSERT INTO highway.activities (id, workflow_run_id) VALUES ($1, $2)', [activity, run]);
    return { run, activity };
  }

  const write = (tenant: string, run: string, activity: string) =>
    insertIntent(h.db.pool, {
      id: randomUUID(),
      activity_id: activity,
      workflow_run_id: run,
      tenant_id: tenant,
      worker_id: null,
      image: TEST_IMAGE,
      spec: { image: TEST_IMAGE },
      labels: {},
      warnings: [],
    });

  async function notFound(promise: Promise<unknown>): Promise<HighwayError> {
    const err = await promise.then(
      () => expect.fail('expected "not found"'),
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(HighwayError);
    expect(err).to.include({ code: 'not_found' });
    return err as HighwayError;
  }

  const intentsOf = async (activity: string) =>
    (await h.db.pool.query('SELECT 1 FROM highway.docker_containers WHERE activity_id = $1', [activity])).rowCount;

  it("tenant B cannot take tenant A's activity (no intent yet) by naming a run of its own; nothing is written", async () => {
    const a = await engineRun('tenant-a');
    const bRun = randomUUID();
    const err = await notFound(write('tenant-b', bRun, a.activity));
    expect(err.message).to.equal(`activity_id: activity ${a.activity} not found for this tenant`);
    expect(await intentsOf(a.activity)).to.equal(0);
    // The whole write was rolled back: not even B's run row is left.
    expect((await h.db.pool.query('SELECT 1 FROM highway.workflow_runs WHERE id = $1', [bRun])).rowCount).to.equal(0);
    // Tenant A can still run it.
    const { created } = await write('tenant-a', a.run, a.activity);
    expect(created).to.equal(true);
  });

  it("an existing activity is \"not found\" just like an unknown one: the answer does not tell it exists", async () => {
    const a = await engineRun('tenant-a');
    const unknownActivity = randomUUID();
    const bRun = randomUUID();
    // An unknown activity is created for B's own run, so compare with what B sees for A's activity.
    const existing = await notFound(write('tenant-b', bRun, a.activity));
    expect(existing.message.replace(a.activity, 'X')).to.equal(`activity_id: activity X not found for this tenant`);
    expect((await write('tenant-b', randomUUID(), unknownActivity)).created).to.equal(true);
  });

  it("tenant B naming tenant A's run is \"not found\"", async () => {
    const a = await engineRun('tenant-a');
    await notFound(write('tenant-b', a.run, a.activity));
    await notFound(write('tenant-b', a.run, randomUUID()));
    expect(await intentsOf(a.activity)).to.equal(0);
  });

  it("within one tenant, an activity of another run is \"not found\" (an intent is keyed on its run's activity)", async () => {
    const first = await engineRun('tenant-a');
    const second = await engineRun('tenant-a');
    await notFound(write('tenant-a', second.run, first.activity));
    expect(await intentsOf(first.activity)).to.equal(0);
  });

  it("once A's activity has an intent, B gets \"not found\", and A re-attaches to the same intent", async () => {
    const a = await engineRun('tenant-a');
    const first = await write('tenant-a', a.run, a.activity);
    await notFound(write('tenant-b', randomUUID(), a.activity));
    await notFound(write('tenant-a', randomUUID(), a.activity));
    const again = await write('tenant-a', a.run, a.activity);
    expect(again).to.deep.include({ created: false });
    expect(again.row.id).to.equal(first.row.id);
  });

  it("through tools.docker.run: B's call for A's activity is refused as not found, nothing stored", async () => {
    const a = await engineRun('tenant-a');
    const ctx = { tenant_id: 'tenant-b', workflow_run_id: randomUUID(), activity_id: a.activity, worker_id: null };
    const err = await h.registry.call('tools.docker.run', { image: TEST_IMAGE }, ctx).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(HighwayError);
    expect(err).to.include({ code: 'not_found' });
    expect(await intentsOf(a.activity)).to.equal(0);
  });

  describe('the tenant id grammar (1-128 of [A-Za-z0-9._-])', () => {
    for (const [what, tenant, says] of [
      ['empty', '', /^ctx\.tenant_id: is empty/],
      ['a newline', 'acme\nevil', /^ctx\.tenant_id: contains U\+000A/],
      ['U+FFFD (invalid UTF-8 decoded)', 'acme\uFFFD', /^ctx\.tenant_id: contains U\+FFFD/],
      ['a NUL', 'acme\u0000', /^ctx\.tenant_id: contains U\+0000/],
      ['129 characters', 't'.repeat(129), /^ctx\.tenant_id: is 129 characters long/],
    ] as const) {
      it(`refuses a tenant id with ${what}, naming ctx.tenant_id; the refusal is audited, nothing stored`, async () => {
        const ctx = h.ctx({ tenant_id: tenant, worker_id: `w-${randomUUID()}` });
        const err = await h.registry.call('tools.docker.run', { image: TEST_IMAGE }, ctx).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(ValidationError);
        expect((err as ValidationError).field).to.equal('ctx.tenant_id');
        expect((err as Error).message).to.match(says);
        expect(await intentsOf(ctx.activity_id)).to.equal(0);
        expect((await h.db.pool.query('SELECT 1 FROM highway.workflow_runs WHERE id = $1', [ctx.workflow_run_id])).rowCount).to.equal(0);
        const audit = await h.db.pool.query(`SELECT tenant_id, outcome, detail->>'field' AS field FROM highway.docker_audit WHERE actor = $1`, [ctx.worker_id]);
        expect(audit.rows).to.deep.equal([{ tenant_id: null, outcome: 'denied', field: 'ctx.tenant_id' }]);
      });
    }
  });
});
