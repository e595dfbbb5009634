/**
 * Containers as workflow steps under reconciler crashes (real Docker, real PostgreSQL): the
 * reconciler runs as a child process (`highway-docker up`) and is SIGKILLed between two steps;
 * the next one converges. `files` are written and the container started once; the
 * `result_path` of a container that exited while no reconciler ran is collected.
 */
import { expect } from 'chai';
import { START_CLAIM_MS } from '../../../src/model.js';
import { TEST_IMAGE } from '../../support/harness.js';
import { watchEvents } from '../../support/fault-checks.js';
import { eventually } from '../../support/eventually.js';
import { useCrashFixture } from '../../support/fault-fixture.js';

const ENV = { HIGHWAY_WORKER_TIMEOUT_S: '2', HIGHWAY_GC_INTERVAL_S: '1', HIGHWAY_GC_CREATION_GRACE_S: '1' };

describe('faults: steps (files, result_path) with the reconciler SIGKILLed between steps', function () {
  this.timeout(60_000);
  const { h, up, intentIdOf, converged } = useCrashFixture({ env: ENV });

  it('exited while no reconciler ran: the next one reads result_path before removing the container', async () => {
    const p = await up();
    const ctx = h.ctx();
    const call = h.run({ result_path: '/out/r.json', command: ['sh', '-c', 'sleep 0.5; mkdir /out; echo \'{"answer": 42}\' > /out/r.json; echo wrote; exit 5'] }, ctx);
    const ev = await p.waitForEvent('container.started', await intentIdOf(ctx), 20_000);
    await p.kill();
    const containerId = String(ev['container_id']);
    await eventually(async () => (await h.docker.getContainer(containerId).inspect()).State.Status === 'exited', { what: 'container exited', timeoutMs: 15_000 });
    const mid = await h.intent(String(ev['intent_id']));
    expect(mid!.status).to.equal('running'); // exited, not collected: nobody ran
    expect(mid!.result ?? null).to.equal(null);
    await h.startReconciler();
    const r = await call;
    expect(r.status).to.equal('failed');
    expect(r.exit_code).to.equal(5);
    expect(r.stdout).to.equal('wrote\n');
    expect(r.result).to.deep.equal({ answer: 42 });
    expect(r.result_error).to.equal(null);
    await converged([r.intent_id], [h.log.lines, p.lines]);
  });

  it('SIGKILL right after the create: the next one writes the files and starts the container once', async function () {
    this.timeout(START_CLAIM_MS + 60_000);
    const events = await watchEvents(h.docker, h.label);
    try {
      const p = await up();
      const ctx = h.ctx();
      const call = h.run({ files: { '/in/once.txt': 'exactly this\n' }, command: ['sh', '-c', 'cat /in/once.txt; wc -c < /in/once.txt'] }, ctx);
      const ev = await p.waitForEvent('container.created', await intentIdOf(ctx), 20_000);
      await p.kill();
      const containerId = String(ev['container_id']);
      await h.startReconciler();
      const r = await call;
      expect(r.status, r.error ?? '').to.equal('exited');
      expect(r.stdout).to.equal('exactly this\n13\n');
      expect(r.container_id).to.equal(containerId);
      await converged([r.intent_id], [h.log.lines, p.lines]);
      await eventually(async () => events.count('destroy', containerId) === 1, { what: 'the destroy event', timeoutMs: 10_000 });
      expect(events.count('create', containerId), 'creates of the container').to.equal(1);
      expect(events.count('start', containerId), 'starts of the container').to.equal(1);
    } finally {
      events.stop();
    }
  });

  const web = {
    name: 'web',
    image: TEST_IMAGE,
    command: ['sh', '-c', 'mkdir -p /www; echo served > /www/index.html; echo web-up; exec httpd -f -p 127.0.0.1:8080 -h /www'],
    healthcheck: { test: ['CMD-SHELL', 'wget -qO- http://127.0.0.1:8080/ >/dev/null'], interval: '200ms', retries: 50 },
  };
  const ofIntent = (id: string) => h.docker.listContainers({ all: true, filters: { label: [`highway.intent_id=${id}`] } });

  it('services: SIGKILL right after a service started: the next one adopts it (started once), starts the job, and removes both', async function () {
    this.timeout(START_CLAIM_MS + 60_000);
    const events = await watchEvents(h.docker, h.label);
    try {
      const p = await up();
      const ctx = h.ctx();
      const call = h.run({ services: [web], command: ['sh', '-c', 'sleep 1; wget -qO- http://127.0.0.1:8080/'] }, ctx);
      const ev = await p.waitForEvent('service.started', await intentIdOf(ctx), 20_000);
      await p.kill();
      const serviceId = String(ev['container_id']);
      await h.startReconciler();
      const r = await call;
      expect(r.status, r.error ?? '').to.equal('exited');
      expect(r.stdout).to.equal('served\n');
      expect(r.services?.['web']?.stdout).to.include('web-up');
      await converged([r.intent_id], [h.log.lines, p.lines]);
      await eventually(async () => (await ofIntent(r.intent_id)).length === 0, { what: 'the job and its service removed', timeoutMs: 15_000 });
      expect(events.count('create', serviceId), 'creates of the service').to.equal(1);
      expect(events.count('start', serviceId), 'starts of the service').to.equal(1);
    } finally {
      events.stop();
    }
  });

  it('services: SIGKILL while the job and its service run, the job ending meanwhile: the next one collects both and removes them', async () => {
    const p = await up();
    const ctx = h.ctx();
    const call = h.run({ services: [web], command: ['sh', '-c', 'sleep 1; wget -qO- http://127.0.0.1:8080/; exit 3'] }, ctx);
    const ev = await p.waitForEvent('container.started', await intentIdOf(ctx), 40_000);
    await p.kill();
    await eventually(async () => (await h.docker.getContainer(String(ev['container_id'])).inspect()).State.Status === 'exited', { what: 'job exited', timeoutMs: 15_000 });
    await h.startReconciler();
    const r = await call;
    expect(r.status).to.equal('failed');
    expect(r.exit_code).to.equal(3);
    expect(r.stdout).to.equal('served\n');
    expect(r.services?.['web']?.stdout).to.include('web-up');
    await eventually(async () => (await ofIntent(r.intent_id)).length === 0, { what: 'the job and its service removed', timeoutMs: 15_000 });
  });

  it('services: the worker dies while the job runs: worker_lost, the job and its service removed', async () => {
    await h.startReconciler();
    const workerId = `steps-worker-${Date.now()}`;
    await h.db.pool.query(`INSERT INTO highway.workers (id, heartbeat_at, status) VALUES ($1, now(), 'alive')`, [workerId]);
    const ctx = h.ctx({ worker_id: workerId });
    const call = h.run({ services: [web], command: ['sleep', '60'] }, ctx);
    await h.waitFor(ctx.activity_id, (row) => row.status === 'running', 40_000);
    await h.db.pool.query(`UPDATE highway.workers SET status = 'dead' WHERE id = $1`, [workerId]);
    const r = await call;
    expect(r.status).to.equal('cancelled');
    expect(r.stop_reason).to.equal('worker_lost');
    await eventually(async () => (await ofIntent(r.intent_id)).length === 0, { what: 'the job and its service removed', timeoutMs: 15_000 });
  });
});
