/**
 * Every tool call leaves one audit row with its tenant, actor and outcome, through the one
 * wrapper every tool goes through: allowed, refused (invalid input, another tenant's target,
 * `not_ended`, `not_running`) or failed. The reconciler records each container's create and
 * start; a container Docker made and started before a crash kept the row from knowing it is
 * recorded by the next pass, its id on the row and its audit rows. Real Docker, real PostgreSQL.
 */
import { expect } from 'chai';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { insertIntent } from '../../src/db/queries/insert-intent.js';
import { highwayLabels } from '../../src/kinds/containers/effects.js';
import { readClusterId } from '../../src/db/queries/cluster.js';
import { containerName, type IntentRow } from '../../src/model.js';
import { HighwayError, ValidationError } from '../../src/errors.js';
import { TEST_IMAGE } from '../support/harness.js';
import { runCli } from '../support/processes.js';
import { useHarness } from '../support/fixture.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

interface AuditRow {
  tenant_id: string | null;
  actor: string | null;
  intent_id: string | null;
  operation: string;
  outcome: string;
  detail: Record<string, unknown>;
}

describe('audit: every tool call, allowed, refused or failed, leaves one row (real Docker, real PostgreSQL)', function () {
  this.timeout(90_000);
  const h = useHarness();

  const rowsOf = async (actor: string): Promise<AuditRow[]> =>
    (await h.db.pool.query<AuditRow>(`SELECT tenant_id, actor, intent_id, operation, outcome, detail FROM highway.docker_audit WHERE actor = $1 ORDER BY id`, [actor])).rows;
  const rowsOfIntent = async (id: string): Promise<AuditRow[]> =>
    (await h.db.pool.query<AuditRow>(`SELECT tenant_id, actor, intent_id, operation, outcome, detail FROM highway.docker_audit WHERE intent_id = $1 ORDER BY id`, [id])).rows;
  const fails = (p: Promise<unknown>) => p.then(() => expect.fail('expected a failure'), (e: unknown) => e as HighwayError);

  /** A running container of tenant-a (detached). */
  async function runningOfA(): Promise<IntentRow> {
    const ctx = h.ctx({ tenant_id: 'tenant-a' });
    const r = await h.run({ command: ['sleep', '60'], detach: true, timeout: 120 }, ctx);
    expect(r.status).to.equal('running');
    return (await h.intent(r.intent_id))!;
  }

  it("another tenant's exec, stop, remove, inspect, logs and wait: \"not found\" to the caller, one denied row each naming the attempt", async () => {
    const a = await runningOfA();
    const ops = h.tools.operations;
    const worker = `w-b-${randomUUID()}`;
    const ctx = { tenant_id: 'tenant-b', worker_id: worker };
    for (const target of [a.id, a.short_id!]) {
      const calls = [
        ops.exec({ target, command: ['true'] }, ctx),
        ops.stop({ target }, ctx),
        ops.remove({ target, force: true }, ctx),
        ops.inspect({ target }, ctx),
        ops.logs({ target }, ctx),
        ops.wait({ target, timeout: 5 }, ctx),
      ];
      for (const err of await Promise.all(calls.map(fails))) expect(err).to.include({ code: 'not_found' });
    }
    const rows = await rowsOf(worker);
    expect(rows.map((r) => r.operation)).to.have.members(
      ['exec', 'stop', 'remove', 'inspect', 'logs', 'wait', 'exec', 'stop', 'remove', 'inspect', 'logs', 'wait'].map((t) => `tools.docker.${t}`),
    );
    for (const r of rows) {
      expect(r).to.include({ tenant_id: 'tenant-b', actor: worker, intent_id: null, outcome: 'denied' });
      expect(r.detail).to.include({ code: 'not_found', cross_tenant: true });
      expect([a.id, a.short_id]).to.include(r.detail['target']);
    }
    // Tenant A's container is untouched.
    expect((await h.intent(a.id))!.status).to.equal('running');
    await ops.stop({ target: a.id }, { tenant_id: 'tenant-a' });
  });

  it('refusals are rows too: remove of a running container (not_ended), exec on an ended one (not_running); the stop between is ok', async () => {
    const a = await runningOfA();
    const worker = `w-a-${randomUUID()}`;
    const ctx = { tenant_id: 'tenant-a', worker_id: worker };
    expect(await fails(h.tools.operations.remove({ target: a.id }, ctx))).to.include({ code: 'not_ended' });
    await h.tools.operations.stop({ target: a.id }, ctx);
    expect(await fails(h.tools.operations.exec({ target: a.id, command: ['true'] }, ctx))).to.include({ code: 'not_running' });
    const rows = await rowsOf(worker);
    expect(rows.map((r) => [r.operation, r.outcome, r.detail['code'] ?? null, r.intent_id, r.tenant_id])).to.deep.equal([
      ['tools.docker.remove', 'denied', 'not_ended', a.id, 'tenant-a'],
      ['tools.docker.stop', 'ok', null, a.id, 'tenant-a'],
      ['tools.docker.exec', 'denied', 'not_running', a.id, 'tenant-a'],
    ]);
  });

  it('a stop and its row are one transaction: when the row cannot be written, the stop does not happen either', async () => {
    const a = await runningOfA();
    // Fault injection (this test's database only): the audit refuses this stop's row.
    await h.db.pool.query(`CREATE FUNCTION highway.test_refuse_stop_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.operation = 'tools.docker.stop' AND NEW.outcome = 'ok' THEN RAISE EXCEPTION 'audit: injected failure'; END IF; RETURN NEW; END $$`);
    await h.db.pool.query(`CREATE TRIGGER test_refuse_stop_row BEFORE INSERT ON highway.docker_audit FOR EACH ROW EXECUTE FUNCTION highway.test_refuse_stop_row()`);
    try {
      const err = await fails(h.tools.operations.stop({ target: a.id }, { tenant_id: 'tenant-a' }));
      expect((err as Error).message).to.contain('injected failure');
      expect((await h.intent(a.id))!).to.include({ desired_state: 'running', status: 'running' });
    } finally {
      await h.db.pool.query(`DROP TRIGGER test_refuse_stop_row ON highway.docker_audit`);
      await h.db.pool.query(`DROP FUNCTION highway.test_refuse_stop_row()`);
    }
    await h.tools.operations.stop({ target: a.id }, { tenant_id: 'tenant-a' });
  });

  it('images is audited (ok, and invalid input denied), with its tenant and actor', async () => {
    const worker = `w-i-${randomUUID()}`;
    const images = (params: unknown) => h.registry.call('tools.docker.images', params, { tenant_id: 'tenant-a', worker_id: worker, workflow_run_id: '', activity_id: '' });
    await images({ reference: 'highway-test/*' });
    expect(await fails(images({ reference: 'no spaces allowed' }))).to.be.instanceOf(ValidationError);
    const rows = await rowsOf(worker);
    expect(rows.map((r) => [r.operation, r.outcome, r.tenant_id, r.detail['reference']])).to.deep.equal([
      ['tools.docker.images', 'ok', 'tenant-a', 'highway-test/*'],
      ['tools.docker.images', 'denied', 'tenant-a', undefined],
    ]);
    expect(rows[1]!.detail).to.include({ code: 'invalid_params', field: 'reference' });
  });

  it('a run leaves its rows in order: the call, the create, the start, the removal', async () => {
    const worker = `w-r-${randomUUID()}`;
    const r = await h.run({ command: ['echo', 'hi'] }, h.ctx({ worker_id: worker }));
    expect(r.status).to.equal('exited');
    const rows = await rowsOfIntent(r.intent_id);
    expect(rows.map((x) => [x.operation, x.outcome, x.tenant_id])).to.deep.equal([
      ['tools.docker.run', 'ok', 'tenant-a'],
      ['container.create', 'ok', 'tenant-a'],
      ['container.start', 'ok', 'tenant-a'],
      ['container.remove', 'ok', 'tenant-a'],
    ]);
    expect(rows[0]!.actor).to.equal(worker);
    for (const x of rows.slice(1)) expect(x).to.include({ actor: h.reconcilerId });
    expect(rows[2]!.detail).to.include({ container_id: r.container_id });
  });

  it('a 20 MB tenant id is refused naming ctx.tenant_id; its row holds a bounded view of it, never the whole', async () => {
    const worker = `w-t-${randomUUID()}`;
    const huge = 'x'.repeat(20 * 1024 * 1024);
    const err = await fails(h.tools.operations.stop({ target: randomUUID() }, { tenant_id: huge, worker_id: worker }));
    expect(err).to.be.instanceOf(ValidationError);
    expect((err as ValidationError).field).to.equal('ctx.tenant_id');
    const res = await h.db.pool.query(`SELECT tenant_id, outcome, detail, pg_column_size(detail) AS bytes FROM highway.docker_audit WHERE actor = $1`, [worker]);
    expect(res.rows).to.have.length(1);
    const row = res.rows[0];
    expect(row).to.include({ tenant_id: null, outcome: 'denied' });
    expect(row.detail.tenant_given).to.include({ chars: 20 * 1024 * 1024, head: 'x'.repeat(64) });
    expect(row.detail.tenant_given.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(row.bytes).to.be.below(2048);
  });

  it('the command line acts as cli:<user>@<hostname>: its calls are rows with that actor', async () => {
    const r = await runCli(['images', '--tenant', 'tenant-cli', '--json'], { DATABASE_URL: h.db.url }, undefined, ['--import', 'tsx', MAIN]);
    expect(r.code, r.stderr).to.equal(0);
    const n = await runCli(['inspect', '--tenant', 'tenant-cli', '--json', randomUUID()], { DATABASE_URL: h.db.url }, undefined, ['--import', 'tsx', MAIN]);
    expect(n.code).to.equal(125);
    const rows = (await h.db.pool.query<AuditRow>(`SELECT actor, operation, outcome FROM highway.docker_audit WHERE tenant_id = 'tenant-cli' ORDER BY id`)).rows;
    const actor = `cli:${os.userInfo().username}@${os.hostname()}`;
    expect(rows).to.deep.equal([
      { actor, operation: 'tools.docker.images', outcome: 'ok' },
      { actor, operation: 'tools.docker.inspect', outcome: 'denied' },
    ]);
  });

  it('cron changes from the command line: a refusal is a row too (cron.pause of a missing schedule, cron.create of a bad expression)', async () => {
    const env = { DATABASE_URL: h.db.url };
    const pause = await runCli(['cron', 'pause', '--tenant', 'tenant-cron', 'nope'], env, undefined, ['--import', 'tsx', MAIN]);
    expect(pause.code).to.not.equal(0);
    const add = await runCli(['cron', 'add', '--tenant', 'tenant-cron', '--schedule', 'not a schedule', 'nightly', TEST_IMAGE], env, undefined, ['--import', 'tsx', MAIN]);
    expect(add.code).to.not.equal(0);
    const rows = (await h.db.pool.query<AuditRow>(`SELECT actor, operation, outcome, detail FROM highway.docker_audit WHERE tenant_id = 'tenant-cron' ORDER BY id`)).rows;
    const actor = `cli:${os.userInfo().username}@${os.hostname()}`;
    expect(rows.map((r) => [r.actor, r.operation, r.outcome, r.detail['code']])).to.deep.equal([
      [actor, 'cron.pause', 'denied', 'not_found'],
      [actor, 'cron.create', 'denied', 'invalid_params'],
    ]);
  });
});

describe('audit: a container Docker made and started before a crash kept the row from knowing it (real Docker, real PostgreSQL)', function () {
  this.timeout(90_000);
  const h = useHarness({ withoutReconciler: true });

  // Where the reconciler died: after Docker's create (no start claimed yet); after the start
  // claim and the create (the claim long expired); after Docker's start.
  const phases = [
    { phase: 'created, no start claimed', claim: null, start: false, late: [] as string[] },
    { phase: 'created, start claimed long ago', claim: '10 minutes', start: false, late: ['container.create'] },
    { phase: 'started', claim: '0 seconds', start: true, late: ['container.create', 'container.start'] },
  ];
  for (const { phase, claim, start, late } of phases) {
    it(`${phase}: the row ends with its container id and one create and one start row each, then it is collected`, async () => {
      await h.stopReconciler();
      // The state a reconciler leaves when it dies there: the container made (and started),
      // the row knowing nothing of it.
      const ctx = h.ctx({ tenant_id: 'tenant-crash' });
      const { row } = await insertIntent(h.db.pool, {
        id: randomUUID(),
        activity_id: ctx.activity_id,
        workflow_run_id: ctx.workflow_run_id,
        tenant_id: ctx.tenant_id,
        worker_id: null,
        image: TEST_IMAGE,
        spec: { image: TEST_IMAGE, command: ['echo', 'made before the crash'] },
        labels: {},
        warnings: [],
      });
      await h.db.pool.query(
        `UPDATE highway.docker_containers SET reconciler_id = $2, start_attempted_at = now() - $3::interval WHERE id = $1`,
        [row.id, h.reconcilerId, claim],
      );
      const container = await h.docker.createContainer({
        name: containerName(row.id),
        Image: TEST_IMAGE,
        Cmd: ['echo', 'made before the crash'],
        Labels: highwayLabels(row, h.reconcilerId, await readClusterId(h.db.pool)),
        HostConfig: { NetworkMode: 'none' },
      });
      if (start) await container.start();
      expect((await h.intent(row.id))!.container_id).to.equal(null);

      await h.startReconciler();
      const done = await h.waitSettled(ctx.activity_id);
      expect(done).to.include({ status: 'exited', container_id: container.id, stdout: 'made before the crash\n' });
      const rows = (await h.db.pool.query<AuditRow>(`SELECT actor, operation, outcome, detail FROM highway.docker_audit WHERE intent_id = $1 ORDER BY id`, [row.id])).rows;
      expect(rows.map((r) => r.operation)).to.deep.equal(['tools.docker.run', 'container.create', 'container.start', 'container.remove']);
      for (const r of rows.slice(1, 3)) {
        expect(r.detail).to.include({ container_id: container.id });
        expect(r.detail['recorded_late'] === true, `${r.operation} recorded_late`).to.equal(late.includes(r.operation));
      }
      expect(await h.containerGone(container.id)).to.equal(true);
    });
  }
});
