/**
 * Two clusters (two databases) on one Docker daemon, with the same reconciler id (the default
 * one is the daemon's id, so two `up`s on one daemon share it). Each database has its own
 * identity (migration 014); every container carries it (`highway.cluster_id`); a cluster's GC
 * judges only its own containers. Unlabelled containers (made before the label) are judged by
 * their row: ours when this database has it, otherwise kept. And the GC never calls a
 * container an orphan while the reconciler is removing it (issue 15, items 1 and 30).
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { removeByLabel } from '../support/docker-env.js';
import { DockerGarbageCollector } from '../../src/gc/collector.js';
import { readClusterId } from '../../src/db/queries/cluster.js';
import { LABELS } from '../../src/model.js';
import { sleep } from '../support/fault-checks.js';
import { eventually } from '../support/eventually.js';

describe('clusters sharing a Docker daemon', function () {
  this.timeout(60_000);
  let a: Harness;
  let b: Harness;
  let clusterA: string;
  let clusterB: string;

  before(async function () {
    this.timeout(120_000);
    a = await Harness.start();
    // Cluster B: its own database, the same reconciler id as A (as two `up`s on one daemon by default).
    b = await Harness.start({ reconciler: { reconcilerId: a.reconcilerId } });
    clusterA = await readClusterId(a.db.pool);
    clusterB = await readClusterId(b.db.pool);
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
  });
  afterEach(async () => {
    await removeByLabel(a.docker, a.label).catch(() => {});
  });

  const gcOf = (h: Harness) =>
    new DockerGarbageCollector({ pool: h.db.pool, docker: h.client, logger: h.log.logger, reconcilerId: a.reconcilerId, creationGraceMs: 500 });

  /** A container made behind the reconcilers' backs with highway labels (no cluster label: made by an older version). */
  async function legacy(labels: Record<string, string>): Promise<Docker.Container> {
    const c = await a.docker.createContainer({
      Image: TEST_IMAGE,
      Cmd: ['sleep', '60'],
      Labels: { [LABELS.managed]: 'true', [LABELS.reconcilerId]: a.reconcilerId, ...labels },
      HostConfig: { NetworkMode: 'none', Init: true },
    });
    await c.start();
    return c;
  }

  it('each database has its own identity, made at migrate time, and it cannot be changed', async () => {
    expect(clusterA).to.be.a('string').and.not.equal('');
    expect(clusterA).to.not.equal(clusterB);
    const err = await a.db.pool.query(`UPDATE highway.cluster SET id = 'x'`).catch((e: Error) => e);
    expect(String(err)).to.match(/written once/);
    expect(await readClusterId(a.db.pool)).to.equal(clusterA);
  });

  it("the other cluster's GC never removes a running container of this one (same reconciler id, same daemon)", async () => {
    const ctx = a.ctx();
    const call = a.run({ command: ['sh', '-c', 'sleep 3; echo kept'] }, ctx);
    const row = await a.waitFor(ctx.activity_id, (r) => r.status === 'running', 20_000);
    const info = await a.docker.getContainer(row.container_id!).inspect();
    expect(info.Config.Labels[LABELS.clusterId]).to.equal(clusterA);
    await sleep(1_200); // past B's creation grace
    const report = await gcOf(b).sweep();
    expect(report.orphansRemoved).to.equal(0);
    expect(b.log.events('gc.orphan_removed')).to.have.length(0);
    const r = await call;
    expect(r.status).to.equal('exited');
    expect(r.stdout).to.equal('kept\n');
    expect(await a.containerGone(row.container_id)).to.equal(true);
  });

  it('an unlabelled container (made before the cluster label): ours when this database has its row, kept by the other cluster, and kept when nobody has it', async () => {
    // An intent of A that ended long ago, and a stray unlabelled container that claims it.
    const done = await a.run({ command: ['true'] });
    const stray = await legacy({ [LABELS.intentId]: done.intent_id });
    await a.db.pool.query(`UPDATE highway.docker_containers SET updated_at = now() - interval '1 hour' WHERE id = $1`, [done.intent_id]);
    // An unlabelled orphan no database here knows: it may be another cluster's.
    const unknown = await legacy({ [LABELS.intentId]: randomUUID() });
    await sleep(1_200);
    const fromB = await gcOf(b).sweep();
    expect(fromB.orphansRemoved).to.equal(0);
    expect(await a.containerGone(stray.id)).to.equal(false);
    const fromA = await gcOf(a).sweep();
    expect(fromA.orphansRemoved).to.equal(1);
    expect(await a.containerGone(stray.id)).to.equal(true);
    expect(await a.containerGone(unknown.id)).to.equal(false);
    expect(a.log.events('gc.unlabelled_kept').some((l) => l['container_id'] === unknown.id)).to.equal(true);
    // A labelled orphan of this cluster (no row) is still collected.
    const mine = await legacy({ [LABELS.intentId]: randomUUID(), [LABELS.clusterId]: clusterA });
    await sleep(1_200);
    expect((await gcOf(b).sweep()).orphansRemoved).to.equal(0);
    expect((await gcOf(a).sweep()).orphansRemoved).to.equal(1);
    expect(await a.containerGone(mine.id)).to.equal(true);
  });

  it('no false orphan: a container whose intent ended moments ago is the reconciler\'s to remove, not the GC\'s', async () => {
    const ctx = a.ctx();
    const call = a.run({ command: ['sleep', '30'] }, ctx);
    const row = await a.waitFor(ctx.activity_id, (r) => r.status === 'running', 20_000);
    await a.stopReconciler(); // the container keeps running
    await sleep(700); // past the creation grace
    // The reconciler's collect has just ended the row; its removal is about to follow.
    await a.db.pool.query(
      `UPDATE highway.docker_containers SET status = 'cancelled', stop_reason = 'requested', finished_at = now(), updated_at = now() WHERE id = $1`,
      [row.id],
    );
    const report = await gcOf(a).sweep();
    expect(report.orphansRemoved).to.equal(0);
    const falseOrphans = () => a.log.events('gc.orphan_removed', row.id);
    expect(falseOrphans()).to.have.length(0);
    await a.startReconciler();
    const r = await call;
    expect(r.status).to.equal('cancelled');
    await eventually(async () => a.containerGone(row.container_id), { what: 'container removed by the reconciler', timeoutMs: 15_000 });
    expect(a.log.events('container.removed', row.id)).to.have.length.at.least(1);
    expect(falseOrphans()).to.have.length(0);
  });
});
