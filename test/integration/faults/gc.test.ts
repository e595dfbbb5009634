/**
 * DockerGarbageCollector (real Docker, real PostgreSQL), inside `up`, as `gc --once` and the `gc` service, and in
 * process: orphans (no row, removed row, no valid intent id) after a creation grace, stale
 * containers (max age), gc_protected_until, and rows whose container vanished (lost).
 * Every removal is an event in the log.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import { TEST_IMAGE } from '../../support/harness.js';
import { spawnCli } from '../../support/processes.js';
import { DockerGarbageCollector } from '../../../src/gc/collector.js';
import { LABELS } from '../../../src/model.js';
import { readClusterId } from '../../../src/db/queries/cluster.js';
import { report, sleep, waitContainerGone } from '../../support/fault-checks.js';
import { eventually } from '../../support/eventually.js';
import { useCrashFixture } from '../../support/fault-fixture.js';

describe('faults: garbage collection', function () {
  this.timeout(60_000);
  const { h, up, track, converged } = useCrashFixture();

  /** A container made behind the reconciler's back, with highway labels (this cluster's: see clusters.test.ts for the others). */
  async function rogue(labels: Record<string, string>, cmd = ['sleep', '60']): Promise<Docker.Container> {
    const c = await h.docker.createContainer({
      Image: TEST_IMAGE,
      Cmd: cmd,
      Labels: { [LABELS.managed]: 'true', [LABELS.reconcilerId]: h.reconcilerId, [LABELS.clusterId]: await readClusterId(h.db.pool), ...labels },
      HostConfig: { NetworkMode: 'none', Init: true },
    });
    await c.start();
    return c;
  }

  const gc = (extra: Partial<ConstructorParameters<typeof DockerGarbageCollector>[0]> = {}) =>
    new DockerGarbageCollector({ pool: h.db.pool, docker: h.client, logger: h.log.logger, reconcilerId: h.reconcilerId, creationGraceMs: 1_000, ...extra });

  it('inside `up`: a container started behind its back with highway labels and no row is removed after the creation grace', async () => {
    const p = await up({ HIGHWAY_GC_INTERVAL_S: '1', HIGHWAY_GC_CREATION_GRACE_S: '1' });
    const t0 = Date.now();
    const noRow = await rogue({ [LABELS.intentId]: randomUUID() });
    const noId = await rogue({ [LABELS.intentId]: 'not-a-uuid' });
    const goneA = await waitContainerGone(h.docker, noRow.id, 20_000);
    const goneB = await waitContainerGone(h.docker, noId.id, 20_000);
    report('orphan (no row) cleanup by the GC inside `up` (start -> removed; grace 1 s, interval 1 s)', Math.max(goneA, goneB) - t0);
    // (Docker reports creation times in whole seconds, so the grace is only checked to that precision; see gc --once below.)
    const removed = await p.waitForLine((l) => l['event'] === 'gc.orphan_removed' && l['container_id'] === noId.id, 5_000, 'gc.orphan_removed');
    expect(removed['why']).to.equal('no valid intent id label');
    const other = await p.waitForLine((l) => l['event'] === 'gc.orphan_removed' && l['container_id'] === noRow.id, 5_000, 'gc.orphan_removed');
    expect(other['why']).to.equal('no intent row');
    const audit = await h.db.pool.query(`SELECT count(*)::int AS n FROM highway.docker_audit WHERE operation = 'gc.orphan_removed'`);
    expect(audit.rows[0].n).to.be.at.least(2);
    expect(await h.containers()).to.have.length(0);
  });

  it('`highway-docker gc --once`: removes orphans past the grace (row missing or already removed), keeps a young one, prints its report', async () => {
    // A finished, removed intent, and a stray container that claims it (a create that raced).
    await h.startReconciler();
    const done = await h.run({ command: ['true'] });
    await h.stopReconciler();
    const strayOfRemoved = await rogue({ [LABELS.intentId]: done.intent_id });
    const noRow = await rogue({ [LABELS.intentId]: randomUUID() });
    await sleep(6_200);
    const young = await rogue({ [LABELS.intentId]: randomUUID() });
    const cli = track(spawnCli(['gc', '--once'], { databaseUrl: h.db.url, reconcilerId: h.reconcilerId, env: { HIGHWAY_GC_CREATION_GRACE_S: '6' } })); // the young one must stay young while the CLI starts
    const exit = await cli.waitExit(30_000);
    expect(exit.code, cli.stderr).to.equal(0);
    const sweep = JSON.parse(cli.stdout.trim()) as Record<string, unknown>;
    expect(sweep).to.deep.equal({ skipped: false, orphansRemoved: 2, staleRemoved: 0, stopsRequested: 0, markedLost: 0 });
    const left = (await h.containers()).map((c) => c.Id);
    expect(left).to.deep.equal([young.id]);
    for (const c of [strayOfRemoved, noRow]) {
      expect(cli.lines.some((l) => l['event'] === 'gc.orphan_removed' && l['container_id'] === c.id), `event for ${c.id}`).to.equal(true);
    }
  });

  it('`highway-docker gc` (the service): sweeps on the controller runtime every HIGHWAY_GC_INTERVAL_S, and SIGTERM ends it cleanly', async () => {
    const cli = track(spawnCli(['gc'], { databaseUrl: h.db.url, reconcilerId: h.reconcilerId, env: { HIGHWAY_GC_INTERVAL_S: '1', HIGHWAY_GC_CREATION_GRACE_S: '1' } }));
    await cli.waitForEvent('gc.started', undefined, 30_000);
    // Made after the service started: only a later sweep (not the first) can remove them.
    const first = await rogue({ [LABELS.intentId]: randomUUID() });
    await waitContainerGone(h.docker, first.id, 20_000);
    const second = await rogue({ [LABELS.intentId]: randomUUID() });
    await waitContainerGone(h.docker, second.id, 20_000);
    for (const c of [first, second]) await cli.waitForLine((l) => l['event'] === 'gc.orphan_removed' && l['container_id'] === c.id, 5_000, 'gc.orphan_removed');
    cli.signal('SIGTERM');
    const exit = await cli.waitExit(20_000);
    expect(exit.code, cli.stderr).to.equal(0);
  });

  it('stale: older than the max age is removed (a kept one) or stopped through the reconciler (a live one); gc_protected_until wins', async () => {
    await h.startReconciler();
    const kept = await h.run({ command: ['echo', 'kept'], auto_remove: false });
    const protectedRun = await h.run({ command: ['echo', 'protected'], auto_remove: false, gc_protect_seconds: 600 });
    const liveCtx = h.ctx();
    const live = h.run({ command: ['sh', '-c', 'echo live; sleep 60'] }, liveCtx);
    await h.waitFor(liveCtx.activity_id, (r) => r.status === 'running');
    await sleep(2_100);
    const report1 = await gc({ staleMaxAgeMs: 2_000 }).sweep();
    expect(report1).to.include({ skipped: false, staleRemoved: 1, stopsRequested: 1 });
    // The kept one is gone, as stale, with an event; the protected one stays.
    await waitContainerGone(h.docker, kept.container_id!, 5_000);
    expect(h.log.events('gc.stale_removed').map((l) => l['container_id'])).to.deep.equal([kept.container_id]);
    expect((await h.docker.getContainer(protectedRun.container_id!).inspect()).State.Status).to.equal('exited');
    // The live one was stopped by the reconciler, with its output kept.
    const l = await live;
    expect(l.status).to.equal('cancelled');
    expect(l.stop_reason).to.equal('stale');
    expect(l.stdout).to.equal('live\n');
    // Protection over: the next sweep removes it.
    await h.db.pool.query(`UPDATE highway.docker_containers SET gc_protected_until = now() - interval '1 second' WHERE id = $1`, [protectedRun.intent_id]);
    await gc({ staleMaxAgeMs: 2_000 }).sweep();
    await waitContainerGone(h.docker, protectedRun.container_id!, 10_000);
    await converged([l.intent_id], [h.log.lines]);
  });

  it('a row that claims a container which no longer exists becomes lost (GC sweep, reconciler down), and its caller gets it', async () => {
    await h.startReconciler();
    const ctx = h.ctx();
    const call = h.run({ command: ['sleep', '60'] }, ctx);
    const row = await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
    await h.stopReconciler();
    await h.docker.getContainer(row.container_id!).remove({ force: true });
    const sweep = await gc().sweep();
    expect(sweep.markedLost).to.equal(1);
    const r = await call;
    expect(r.status).to.equal('lost');
    expect(r.error).to.match(/disappeared/);
    expect(h.log.events('intent.lost', row.id)).to.have.length(1);
    await converged([row.id], [h.log.lines]);
  });

  it('a container whose activity no longer exists is stopped through the reconciler (activity_gone)', async () => {
    await h.startReconciler();
    const ctx = h.ctx();
    const call = h.run({ command: ['sh', '-c', 'echo orphaned-activity; sleep 60'] }, ctx);
    await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
    await h.stopReconciler(); // the reconciler does not see the deletion
    await h.db.pool.query('DELETE FROM highway.activities WHERE id = $1', [ctx.activity_id]);
    const sweep = await gc({ creationGraceMs: 0 }).sweep(); // the container is younger than any grace here

    expect(sweep.stopsRequested).to.equal(1);
    await h.startReconciler();
    const r = await call;
    expect(r.status).to.equal('cancelled');
    expect(r.stop_reason).to.equal('activity_gone');
    expect(r.stdout).to.equal('orphaned-activity\n');
    await eventually(async () => h.log.events('gc.stop_requested').length > 0, { what: 'gc.stop_requested logged', timeoutMs: 1_000 });
    await converged([r.intent_id], [h.log.lines]);
  });
});
