/**
 * An audit row that rides on the row write after a Docker effect is not lost when that write
 * fails and the next pass finds the effect done (soak findings 1 and 3): the pass that finds a
 * container the row does not know of records it at once, even when it has nothing else to do;
 * the pass that finds a removed container gone writes its missing `container.remove` row, once.
 * The crash is simulated: the row and the container written by hand, then a reconciler started.
 * Real Docker, real PostgreSQL.
 */
import { expect } from 'chai';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { insertIntent } from '../../src/db/queries/insert-intent.js';
import { highwayLabels } from '../../src/kinds/containers/effects.js';
import { readClusterId } from '../../src/db/queries/cluster.js';
import { containerName, type IntentRow } from '../../src/model.js';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { eventually } from '../support/eventually.js';
import { DockerGarbageCollector } from '../../src/gc/collector.js';

interface AuditRow {
  actor: string | null;
  operation: string;
  detail: Record<string, unknown>;
}

describe('audit: a row write lost after a Docker effect is made good by the next pass (real Docker, real PostgreSQL)', function () {
  this.timeout(90_000);
  let h: Harness;
  const made: string[] = [];

  before(async () => {
    h = await Harness.start({ withoutReconciler: true });
  });
  afterEach(async () => {
    await h.stopReconciler();
    for (const id of made.splice(0)) await h.docker.getContainer(id).remove({ force: true }).catch(() => {});
  });
  after(async () => {
    await h?.stop();
  });

  const auditOf = async (id: string): Promise<AuditRow[]> =>
    (await h.db.pool.query<AuditRow>(`SELECT actor, operation, detail FROM highway.docker_audit WHERE intent_id = $1 ORDER BY id`, [id])).rows;

  async function intentOfThisHost(command: string[]): Promise<{ row: IntentRow; activity: string }> {
    const ctx = h.ctx({ tenant_id: 'tenant-late' });
    const { row } = await insertIntent(h.db.pool, {
      id: randomUUID(),
      activity_id: ctx.activity_id,
      workflow_run_id: ctx.workflow_run_id,
      tenant_id: ctx.tenant_id,
      worker_id: null,
      image: TEST_IMAGE,
      spec: { image: TEST_IMAGE, command },
      labels: {},
      warnings: [],
    });
    await h.db.pool.query(`UPDATE highway.docker_containers SET reconciler_id = $2 WHERE id = $1`, [row.id, h.reconcilerId]);
    return { row, activity: ctx.activity_id };
  }

  async function createByHand(row: IntentRow, command: string[]) {
    const container = await h.docker.createContainer({
      name: containerName(row.id),
      Image: TEST_IMAGE,
      Cmd: command,
      Labels: highwayLabels(row, h.reconcilerId, await readClusterId(h.db.pool)),
      HostConfig: { NetworkMode: 'none' },
    });
    made.push(container.id);
    return container;
  }

  it('Docker removed the container, the row write failed: the next pass records removed_at and one container.remove row', async () => {
    const { row, activity } = await intentOfThisHost(['true']);
    const container = await createByHand(row, ['true']);
    // Collected and then removed by Docker; the write of removed_at + container.remove was lost.
    await h.db.pool.query(
      `UPDATE highway.docker_containers SET status = 'exited', exit_code = 0, container_id = $2, short_id = left($2, 12),
              started_at = now(), finished_at = now() WHERE id = $1`,
      [row.id, container.id],
    );
    await container.remove({ force: true });

    await h.startReconciler();
    const done = await h.waitFor(activity, (r) => r.removed_at !== null);
    expect(done).to.include({ status: 'exited', container_id: container.id });
    const removes = (await auditOf(row.id)).filter((r) => r.operation === 'container.remove');
    expect(removes).to.have.length(1);
    expect(removes[0]!.detail).to.deep.include({ container_id: container.id, recorded_late: true });
    expect(removes[0]!.actor).to.equal(h.reconcilerId);
  });

  it('a container.remove row already written (only the removed_at write lost): no second one', async () => {
    const { row, activity } = await intentOfThisHost(['true']);
    const container = await createByHand(row, ['true']);
    await h.db.pool.query(
      `UPDATE highway.docker_containers SET status = 'exited', exit_code = 0, container_id = $2, short_id = left($2, 12),
              started_at = now(), finished_at = now() WHERE id = $1`,
      [row.id, container.id],
    );
    await h.db.pool.query(
      `INSERT INTO highway.docker_audit (tenant_id, actor, intent_id, operation, outcome, detail)
       VALUES ('tenant-late', $2, $1, 'container.remove', 'ok', jsonb_build_object('container_id', $3::text))`,
      [row.id, h.reconcilerId, container.id],
    );
    await container.remove({ force: true });

    await h.startReconciler();
    await h.waitFor(activity, (r) => r.removed_at !== null);
    const removes = (await auditOf(row.id)).filter((r) => r.operation === 'container.remove');
    expect(removes).to.have.length(1);
    expect(removes[0]!.detail['recorded_late']).to.equal(undefined);
  });

  it('created, its start claimed by a pass that died: the container id and its create row are recorded at once, not after the claim expires', async () => {
    const { row, activity } = await intentOfThisHost(['echo', 'claimed']);
    // The pass that created it claimed the start and died before the row write: the claim
    // holds for START_CLAIM_MS (60 s), and the pass waits it out before starting.
    await h.db.pool.query(`UPDATE highway.docker_containers SET start_attempted_at = now() WHERE id = $1`, [row.id]);
    const container = await createByHand(row, ['echo', 'claimed']);

    await h.startReconciler();
    const seen = await h.waitFor(activity, (r) => r.container_id !== null, 15_000);
    expect(seen.container_id).to.equal(container.id);
    const creates = (await auditOf(row.id)).filter((r) => r.operation === 'container.create');
    expect(creates).to.have.length(1);
    expect(creates[0]!.detail).to.deep.include({ container_id: container.id, recorded_late: true });
    // Not started meanwhile (the claim still holds): still one container, `created`.
    expect((await container.inspect()).State.Status).to.equal('created');
    // End it: the stop removes the container.
    await h.db.pool.query(`UPDATE highway.docker_containers SET desired_state = 'stopped', stop_reason = 'requested' WHERE id = $1`, [row.id]);
    await h.db.pool.query(`SELECT pg_notify('highway_docker_intent', $1 || ' stop')`, [row.id]);
    await h.waitFor(activity, (r) => r.removed_at !== null);
    expect(await h.containerGone(container.id)).to.equal(true);
  });

  it('a created, never-started container of an intent handed back to another host: removed when this host lists it, with its create and remove rows', async () => {
    const { row, activity } = await intentOfThisHost(['echo', 'handed back']);
    const container = await createByHand(row, ['echo', 'handed back']);
    // This host lost its daemon (or database) between the create and the start and handed the
    // intent back; another host claimed it (and runs its own container on its own daemon).
    await h.db.pool.query(`UPDATE highway.docker_containers SET reconciler_id = 'another-host', status = 'pending' WHERE id = $1`, [row.id]);

    await h.startReconciler();
    await eventually(() => h.containerGone(container.id), { what: 'the handed-back container removed', timeoutMs: 15_000, everyMs: 100 });
    // Its rows are written once Docker's removal is done: wait for them too (and then check exactly which).
    const rows: AuditRow[] = await eventually(async () => (await auditOf(row.id)).filter((r) => r.detail['container_id'] === container.id), {
      what: 'two audit rows of the handed-back container',
      timeoutMs: 15_000,
      everyMs: 100,
      until: (rs) => rs.length >= 2,
      describe: (rs) => JSON.stringify(rs.map((r) => r.operation)),
    });
    expect(rows.map((r) => r.operation)).to.deep.equal(['container.create', 'container.remove']);
    expect(rows[0]!.detail['recorded_late']).to.equal(true);
    expect(String(rows[1]!.detail['why'])).to.match(/never started.*another-host/);
    // The row is the other host's: untouched.
    expect(await h.intentOfActivity(activity)).to.include({ reconciler_id: 'another-host', status: 'pending', container_id: null });
    await h.db.pool.query(`UPDATE highway.docker_containers SET status = 'cancelled', removed_at = now() WHERE id = $1`, [row.id]);
  });

  it('a handed-back container\'s rows are written even when their first write fails after Docker\'s removal (soak seed 2030)', async () => {
    const { row } = await intentOfThisHost(['echo', 'handed back, write fails']);
    const container = await createByHand(row, ['echo', 'handed back, write fails']);
    await h.db.pool.query(`UPDATE highway.docker_containers SET reconciler_id = 'another-host', status = 'pending' WHERE id = $1`, [row.id]);
    // The first write of this intent's audit rows fails as a database blip does (a transient
    // SQLSTATE); a sequence counts the tries, as it is not rolled back with the failed insert.
    const tag = row.id.replace(/-/g, '_');
    await h.db.pool.query(`CREATE SEQUENCE highway.t_${tag}`);
    await h.db.pool.query(
      `CREATE FUNCTION highway.f_${tag}() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.intent_id = '${row.id}' AND nextval('highway.t_${tag}') = 1 THEN
           RAISE EXCEPTION 'injected: the connection went away' USING ERRCODE = '40001';
         END IF;
         RETURN NEW;
       END $$`,
    );
    await h.db.pool.query(`CREATE TRIGGER t_${tag} BEFORE INSERT ON highway.docker_audit FOR EACH ROW EXECUTE FUNCTION highway.f_${tag}()`);
    try {
      await h.startReconciler();
      const deadline = Date.now() + 20_000;
      let rows: AuditRow[] = [];
      while ((rows = (await auditOf(row.id)).filter((r) => r.detail['container_id'] === container.id)).length < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await h.containerGone(container.id)).to.equal(true);
      expect(rows.map((r) => r.operation)).to.deep.equal(['container.create', 'container.remove']);
      const tries = await h.db.pool.query<{ n: string }>(`SELECT last_value AS n FROM highway.t_${tag}`);
      expect(Number(tries.rows[0]!.n)).to.be.greaterThan(1); // the first write failed, a retry wrote them
    } finally {
      await h.db.pool.query(`DROP TRIGGER IF EXISTS t_${tag} ON highway.docker_audit`);
      await h.db.pool.query(`DROP FUNCTION IF EXISTS highway.f_${tag}()`);
      await h.db.pool.query(`DROP SEQUENCE IF EXISTS highway.t_${tag}`);
      await h.db.pool.query(`UPDATE highway.docker_containers SET status = 'cancelled', removed_at = now() WHERE id = $1`, [row.id]);
    }
  });
  it('created by this pass, its start claimed elsewhere: the create row is written then, once, and the container recorded on the row (soak finding 13)', async () => {
    const { row, activity } = await intentOfThisHost(['echo', 'claim lost']);
    // Another process holds the start claim and there is no container yet: this pass creates
    // one, loses the claim and leaves it alone. Its create row must not wait for a start.
    await h.db.pool.query(`UPDATE highway.docker_containers SET start_attempted_at = now() WHERE id = $1`, [row.id]);
    await h.startReconciler();
    const seen = await h.waitFor(activity, (r) => r.container_id !== null, 15_000);
    made.push(seen.container_id!);
    const creates = (await auditOf(row.id)).filter((r) => r.operation === 'container.create');
    expect(creates, JSON.stringify(creates)).to.have.length(1);
    expect(creates[0]!.detail).to.deep.include({ container_id: seen.container_id, image: TEST_IMAGE });
    expect(creates[0]!.detail['recorded_late']).to.equal(undefined); // written by the pass that made it
    expect((await h.docker.getContainer(seen.container_id!).inspect()).State.Status).to.equal('created');
    await h.db.pool.query(`UPDATE highway.docker_containers SET desired_state = 'stopped', stop_reason = 'requested' WHERE id = $1`, [row.id]);
    await h.db.pool.query(`SELECT pg_notify('highway_docker_intent', $1 || ' stop')`, [row.id]);
    await h.waitFor(activity, (r) => r.removed_at !== null);
    expect((await auditOf(row.id)).filter((r) => r.operation === 'container.create')).to.have.length(1);
  });

  it('a container whose create was never recorded, its intent ended and removed: the GC writes the create row with its removal (once)', async () => {
    const gc = new DockerGarbageCollector({ pool: h.db.pool, docker: h.client, logger: h.log.logger, reconcilerId: h.reconcilerId, creationGraceMs: 0 });
    const ended = async (command: string[]) => {
      const { row } = await intentOfThisHost(command);
      const container = await createByHand(row, command);
      // The pass that created it lost the row write, and its intent was ended and marked removed
      // by a pass that did not know of it: only the GC will ever see this container.
      await h.db.pool.query(`UPDATE highway.docker_containers SET status = 'cancelled', finished_at = now(), removed_at = now() WHERE id = $1`, [row.id]);
      return { row, container };
    };
    const lost = await ended(['echo', 'unrecorded']);
    const known = await ended(['echo', 'recorded']);
    await h.db.pool.query(
      `INSERT INTO highway.docker_audit (tenant_id, actor, intent_id, operation, outcome, detail)
       VALUES ('tenant-late', $2, $1, 'container.create', 'ok', jsonb_build_object('container_id', $3::text))`,
      [known.row.id, h.reconcilerId, known.container.id],
    );
    await gc.sweep();
    expect(await h.containerGone(lost.container.id)).to.equal(true);
    expect(await h.containerGone(known.container.id)).to.equal(true);
    const lostRows = (await auditOf(lost.row.id)).filter((r) => r.operation !== 'tools.docker.run');
    expect(lostRows.map((r) => r.operation)).to.deep.equal(['container.create', 'gc.orphan_removed']);
    expect(lostRows[0]!.detail).to.deep.include({ container_id: lost.container.id, recorded_late: true });
    expect(lostRows[0]!.actor).to.equal(`gc:${h.reconcilerId}`);
    expect(lostRows[1]!.detail).to.deep.include({ container_id: lost.container.id, why: 'intent already removed' });
    expect((await auditOf(known.row.id)).filter((r) => r.operation !== 'tools.docker.run').map((r) => `${r.operation}${r.detail['recorded_late'] ? ' (late)' : ''}`)).to.deep.equal(['container.create', 'gc.orphan_removed']);
  });
  it('a `created` container that an unrecorded start already ran (its daemon died mid-start) is not started again: lost, with what it printed (soak finding 12)', async () => {
    // What a daemon killed in the middle of a start leaves: the container ran and printed, the
    // daemon died before it saved the container as started, and after its restart the container
    // is `created` again with the output in its log. Made here by writing that log as dockerd does.
    const ran = await intentOfThisHost(['echo', 'once']);
    const ranContainer = await createByHand(ran.row, ['echo', 'once']);
    // A created container's LogPath is empty until its start; Docker reads the json-file log at
    // its usual place under the daemon's root (this test's daemon is local: .ci/run starts it).
    const root = ((await h.docker.info()) as { DockerRootDir: string }).DockerRootDir;
    const logPath = join(root, 'containers', ranContainer.id, `${ranContainer.id}-json.log`);
    const at = new Date().toISOString();
    await appendFile(logPath, `${JSON.stringify({ log: 'once\n', stream: 'stdout', time: at })}\n`);
    // And one that never ran (an empty log): started as usual.
    const fresh = await intentOfThisHost(['echo', 'fresh']);
    const freshContainer = await createByHand(fresh.row, ['echo', 'fresh']);
    for (const [row, c] of [[ran.row, ranContainer], [fresh.row, freshContainer]] as const) {
      await h.db.pool.query(`UPDATE highway.docker_containers SET container_id = $2, short_id = left($2, 12), status = 'created' WHERE id = $1`, [row.id, c.id]);
    }
    const since = Math.floor(Date.now() / 1000) - 1;

    await h.startReconciler();
    const lost = await h.waitFor(ran.activity, (r) => r.removed_at !== null);
    expect(lost).to.include({ status: 'lost', stop_reason: 'daemon_restart', error_code: 'daemon_restarted', exit_code: null, stdout: 'once\n', logs_truncated: true });
    expect(lost.error).to.match(/earlier start .* not started again/);
    const done = await h.waitFor(fresh.activity, (r) => r.removed_at !== null);
    expect(done).to.include({ status: 'exited', exit_code: 0, stdout: 'fresh\n' });
    // Docker's own log: the fresh one started once, the other never.
    const events = await h.client.docker.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { type: ['container'], event: ['start'] } });
    const text = await new Promise<string>((resolve, reject) => {
      let acc = '';
      events.on('data', (b: Buffer) => (acc += b.toString()));
      events.on('end', () => resolve(acc));
      events.on('error', reject);
    });
    const starts = text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);
    expect(starts.filter((x) => x === freshContainer.id)).to.have.length(1);
    expect(starts).to.not.include(ranContainer.id);
  });
});
