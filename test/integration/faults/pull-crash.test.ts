/**
 * Reconciler SIGKILLed during an image pull (real Docker, real PostgreSQL, local registry).
 * The reconciler runs as a child process (`highway-docker up`); it is killed once its log
 * says the pull started. A fresh reconciler with the same id finishes the request: the caller
 * gets one result, the row ends once, with one audited outcome.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Harness, TEST_IMAGE } from '../../support/harness.js';
import { ensureBuilt, startUp, type CliProcess } from '../../support/processes.js';
import { pushToRegistry, startRegistry, type LocalRegistry } from '../../support/registry.js';
import type { DockerPullResult } from '../../../src/tools/docker-pull.js';

describe('faults: reconciler SIGKILLed during a pull', function () {
  this.timeout(90_000);
  let h: Harness;
  let registry: LocalRegistry;
  let child: CliProcess | null = null;
  let reference = '';

  before(async function () {
    this.timeout(180_000);
    ensureBuilt();
    [h, registry] = await Promise.all([Harness.start({ withoutReconciler: true }), startRegistry()]);
  });
  after(async () => {
    await child?.kill();
    await h?.docker.getImage(reference).remove({ force: true }).catch(() => {});
    await registry?.stop();
    await h?.stop();
  });

  it('the next reconciler pulls it; the request ends in exactly one outcome; nothing is left', async () => {
    reference = (await pushToRegistry(h.docker, TEST_IMAGE, registry.address, `hw/pull-crash:${randomUUID().slice(0, 8)}`)).reference;
    child = await startUp({ databaseUrl: h.db.url, reconcilerId: h.reconcilerId });
    // The host is known once its inventory is in the table.
    await child.waitForLine((l) => l['event'] === 'reconciler.started', 20_000, 'reconciler.started');
    for (const started = Date.now(); !(await h.db.pool.query('SELECT 1 FROM highway.docker_images WHERE reconciler_id = $1', [h.reconcilerId])).rowCount; ) {
      if (Date.now() - started > 10_000) expect.fail('the child reconciler never reported its images');
      await new Promise((r) => setTimeout(r, 20));
    }

    const call = h.registry.call<DockerPullResult>('tools.docker.pull', { image: reference }, h.ctx());
    const started = await child.waitForLine((l) => l['event'] === 'image.pull_started' && l['image'] === reference, 20_000, 'image.pull_started');
    await child.kill(); // SIGKILL
    const [pullId] = started['pull_ids'] as string[];
    const mid = await h.db.pool.query<{ status: string }>('SELECT status FROM highway.docker_pulls WHERE id = $1', [pullId]);
    // Killed mid-pull (running), or just after the pull finished and was recorded (done).
    expect(mid.rows[0]!.status).to.be.oneOf(['running', 'done']);

    await h.startReconciler();
    const result = await call;
    expect(result.results).to.have.length(1);
    expect(result.results[0]).to.deep.include({ host: h.reconcilerId, status: 'done', error: null });
    expect(result.results[0]!.digest).to.match(/^sha256:[0-9a-f]{64}$/);

    const rows = await h.db.pool.query<{ id: string; status: string }>('SELECT id, status FROM highway.docker_pulls WHERE image = $1', [reference]);
    expect(rows.rows).to.deep.equal([{ id: pullId, status: 'done' }]);
    const outcomes = await h.db.pool.query(`SELECT outcome FROM highway.docker_audit WHERE operation = 'image.pull' AND detail->>'pull_id' = $1`, [pullId]);
    expect(outcomes.rows).to.deep.equal([{ outcome: 'ok' }]);
    expect(await h.containers()).to.have.length(0);
    await h.docker.getImage(reference).inspect(); // it is there
  });
});
