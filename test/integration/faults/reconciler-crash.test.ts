/**
 * Reconciler crash and restart (real Docker, real PostgreSQL). The reconciler runs as a child
 * process (`highway-docker up`), is SIGKILLed in a chosen phase of an intent (seen in its JSON
 * log), and a fresh one with the same id (in-process, or another `up`) takes over. Containers
 * keep running meanwhile; the new one re-attaches, restores deadlines from the rows, collects
 * the output of containers that ended meanwhile, and removes them. No intent ends twice, none
 * is lost, and no container is created or started twice (counted from the daemon's own events).
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { START_CLAIM_MS } from '../../../src/model.js';
import type { ContainerClient } from '../../../src/docker/client.js';
import { TEST_IMAGE } from '../../support/harness.js';
import { startRegistry, pushToRegistry, type LocalRegistry } from '../../support/registry.js';
import { report, sleep, watchEvents } from '../../support/fault-checks.js';
import { eventually } from '../../support/eventually.js';
import { useCrashFixture } from '../../support/fault-fixture.js';

const ENV = { HIGHWAY_WORKER_TIMEOUT_S: '2', HIGHWAY_GC_INTERVAL_S: '1', HIGHWAY_GC_CREATION_GRACE_S: '1' };

describe('faults: reconciler SIGKILLed in each phase, then restarted', function () {
  this.timeout(60_000);
  const { h, up, logs, intentIdOf, converged } = useCrashFixture({ env: ENV });
  let registry: LocalRegistry | null = null;
  after(async () => {
    await registry?.stop();
  });

  const created = (intentId: string) => logs().flat().filter((l) => l['event'] === 'container.created' && l['intent_id'] === intentId).length;
  const inspect = (id: string) => h.docker.getContainer(id).inspect();

  it('phase pending: the intent written while the reconciler is frozen, then SIGKILLed, is run once by the next one', async () => {
    const p = await up();
    p.signal('SIGSTOP'); // it can not have seen the intent
    const ctx = h.ctx();
    const call = h.run({ command: ['echo', 'after-pending'] }, ctx);
    const row = await h.waitFor(ctx.activity_id, (r) => r.status === 'pending');
    await p.kill();
    expect((await h.intent(row.id))!.status).to.equal('pending');
    await h.startReconciler();
    const r = await call;
    expect(r.status).to.equal('exited');
    expect(r.stdout).to.equal('after-pending\n');
    expect(created(r.intent_id)).to.equal(1);
    await converged([r.intent_id], logs(p));
  });

  it('phase pulling: SIGKILL during the pull; the next one pulls (again) and runs it once', async function () {
    this.timeout(START_CLAIM_MS + 60_000); // a pull that ends fast lets the SIGKILL land in a start claim (see below)
    registry ??= await startRegistry();
    const reference = (await pushToRegistry(h.docker, TEST_IMAGE, registry.address, `hw/faults:${randomUUID().slice(0, 8)}`)).reference;
    try {
      const p = await up();
      const ctx = h.ctx();
      const call = h.run({ image: reference, command: ['echo', 'pulled-once'] }, ctx);
      const pulling = await p.waitForLine((l) => l['event'] === 'image.pull_started' && l['image'] === reference, 20_000, 'image.pull_started');
      await p.kill();
      const intentId = String(pulling['intent_id']);
      const mid = await h.intent(intentId);
      expect(mid!.status).to.be.oneOf(['pulling', 'created', 'running', 'exited']);
      await h.startReconciler();
      const r = await call;
      expect(r.status).to.equal('exited');
      expect(r.stdout).to.equal('pulled-once\n');
      expect(created(r.intent_id)).to.be.at.most(1);
      await converged([r.intent_id], logs(p));
    } finally {
      await h.docker.getImage(reference).remove({ force: true }).catch(() => {});
    }
  });

  it('phase created: SIGKILL right after the create; the next one adopts the container and starts it once', async function () {
    // The SIGKILL may land between the start claim and Docker's start call; then the next one
    // waits the claim out (START_CLAIM_MS) before it starts the container (the test below makes
    // that case on purpose).
    this.timeout(START_CLAIM_MS + 60_000);
    const events = await watchEvents(h.docker, h.label);
    try {
      const p = await up();
      const ctx = h.ctx();
      const call = h.run({ command: ['sh', '-c', 'echo created-phase; sleep 1'] }, ctx);
      const ev = await p.waitForEvent('container.created', await intentIdOf(ctx), 20_000);
      await p.kill();
      const killedAt = Date.now();
      const containerId = String(ev['container_id']);
      const state = (await inspect(containerId)).State.Status;
      expect(state).to.be.oneOf(['created', 'running', 'exited']);
      await h.startReconciler();
      const r = await call;
      const claimed = (await h.intent(r.intent_id))!.started_at!.getTime() - killedAt > START_CLAIM_MS / 2;
      report(`phase created, SIGKILL to result (${claimed ? 'it landed inside the start claim' : 'no claim waited out'})`, Date.now() - killedAt);
      expect(r.status).to.equal('exited');
      expect(r.stdout).to.equal('created-phase\n');
      expect(r.container_id).to.equal(containerId);
      expect(created(r.intent_id)).to.equal(1);
      await converged([r.intent_id], logs(p));
      await eventually(async () => events.count('destroy', containerId) === 1, { what: 'the destroy event', timeoutMs: 10_000 });
      expect(events.count('start', containerId), 'starts of the container').to.equal(1);
    } finally {
      events.stop();
    }
  });

  it('a start claimed by a process that died before Docker heard of it: the next one waits the claim out, then starts the container once', async () => {
    const events = await watchEvents(h.docker, h.label);
    try {
      const dying = diesAtStart(h.client);
      await h.startReconciler({ docker: dying.client });
      const ctx = h.ctx();
      const call = h.run({ command: ['sh', '-c', 'echo claimed-once'] }, ctx);
      await dying.died; // the start is claimed in the row; the Docker call is never made
      await h.stopReconciler();
      const row = (await h.intentOfActivity(ctx.activity_id))!;
      expect(row.start_attempted_at, 'the claim').to.not.equal(null);
      const container = (await h.client.inspect(`highway-${row.id}`))!;
      expect(container.status).to.equal('created');
      // Most of the claim window passes (the row is back-dated): 3 s of it are left.
      const left = await h.db.pool.query<{ ends: Date }>(
        `UPDATE highway.docker_containers SET start_attempted_at = clock_timestamp() - make_interval(secs => $2)
          WHERE id = $1 RETURNING start_attempted_at + make_interval(secs => $3) AS ends`,
        [row.id, START_CLAIM_MS / 1000 - 3, START_CLAIM_MS / 1000],
      );
      const claimEnds = left.rows[0]!.ends.getTime();
      await h.startReconciler();
      await sleep(1_500);
      expect((await h.client.inspect(container.id))?.status ?? 'gone', 'left alone while the claim holds').to.equal('created');
      const r = await call;
      expect(r.status).to.equal('exited');
      expect(r.stdout).to.equal('claimed-once\n');
      expect(r.container_id).to.equal(container.id);
      const startedAt = (await h.intent(r.intent_id))!.started_at!; // Docker's own StartedAt
      expect(startedAt.getTime(), 'started after the claim ended').to.be.at.least(claimEnds - 50);
      await converged([r.intent_id], [h.log.lines]);
      await eventually(async () => events.count('destroy', container.id) === 1, { what: 'the destroy event', timeoutMs: 10_000 });
      expect(events.count('start', container.id), 'starts of the container').to.equal(1);
    } finally {
      events.stop();
    }
  });

  it('phase running: the container keeps running while no reconciler runs; a new `up` re-attaches and collects', async () => {
    const p = await up();
    const ctx = h.ctx();
    const call = h.run({ command: ['sh', '-c', 'echo one; sleep 3; echo two'], timeout: 60 }, ctx);
    const ev = await p.waitForEvent('container.started', await intentIdOf(ctx), 20_000);
    await p.kill();
    const containerId = String(ev['container_id']);
    const before = await h.intent(String(ev['intent_id']));
    expect(before!.status).to.equal('running');
    await sleep(1_000);
    expect((await inspect(containerId)).State.Running, 'the container survives the reconciler').to.equal(true);
    const p2 = await up();
    const r = await call;
    expect(r.status).to.equal('exited');
    expect(r.stdout).to.equal('one\ntwo\n');
    expect(r.container_id).to.equal(containerId);
    expect(created(r.intent_id)).to.equal(1);
    const after = await h.intent(r.intent_id);
    expect(after!.deadline_at!.getTime()).to.equal(before!.deadline_at!.getTime()); // the deadline comes back from the row
    await converged([r.intent_id], logs(p2));
  });

  it('phase running, deadline passing while down: the next one enforces the timeout from the row', async () => {
    const p = await up();
    const ctx = h.ctx();
    const call = h.run({ command: ['sh', '-c', 'echo timed; sleep 60'], timeout: 2 }, ctx);
    await p.waitForEvent('container.started', await intentIdOf(ctx), 20_000);
    await p.kill();
    await sleep(2_500); // past the deadline, with nobody watching
    await h.startReconciler();
    const r = await call;
    expect(r.status).to.equal('timeout');
    expect(r.stdout).to.equal('timed\n');
    expect(r.exit_code).to.equal(143);
    await converged([r.intent_id], logs(p));
  });

  it('phase stopping: SIGKILL after the stop signal; the next one SIGKILLs after the grace and records the cancellation', async () => {
    const p = await up();
    const ctx = h.ctx();
    const call = h.run({ command: ['sh', '-c', 'trap "" TERM; echo ignoring; while true; do sleep 1; done'], stop_grace_period: 2 }, ctx);
    await p.waitForEvent('container.started', await intentIdOf(ctx), 20_000);
    await sleep(300);
    await h.db.pool.query(`UPDATE highway.workflow_runs SET status = 'cancelled' WHERE id = $1`, [ctx.workflow_run_id]);
    const ev = await p.waitForEvent('container.stopping', await intentIdOf(ctx), 20_000);
    await p.kill();
    expect((await inspect(String(ev['container_id']))).State.Running).to.equal(true); // SIGTERM ignored
    await h.startReconciler();
    const r = await call;
    expect(r.status).to.equal('cancelled');
    expect(r.stop_reason).to.equal('workflow_cancelled');
    expect(r.exit_code).to.equal(137);
    expect(r.stdout).to.equal('ignoring\n');
    await converged([r.intent_id], logs(p));
  });

  it('exited while down: the output of a container that finished meanwhile is collected exactly, then it is removed', async () => {
    const p = await up();
    const ctx = h.ctx();
    const call = h.run({ command: ['sh', '-c', 'sleep 0.5; printf "line1\\nline2 no newline"; echo to-stderr >&2; exit 7'] }, ctx);
    const ev = await p.waitForEvent('container.started', await intentIdOf(ctx), 20_000);
    await p.kill();
    const containerId = String(ev['container_id']);
    await eventually(async () => (await inspect(containerId)).State.Status === 'exited', { what: 'container exited', timeoutMs: 15_000 });
    expect((await h.intent(String(ev['intent_id'])))!.status).to.equal('running'); // nobody recorded it
    await h.startReconciler();
    const r = await call;
    expect(r.status).to.equal('failed');
    expect(r.exit_code).to.equal(7);
    expect(r.stdout).to.equal('line1\nline2 no newline');
    expect(r.stderr).to.equal('to-stderr\n');
    await converged([r.intent_id], logs(p));
  });

  it('after exit, before removal: SIGKILL on container.exited; the next one removes it without ending the intent twice', async () => {
    const p = await up();
    const ctx = h.ctx();
    const call = h.run({ command: ['sh', '-c', 'echo collected; exit 0'] }, ctx);
    const ev = await p.waitForEvent('container.exited', await intentIdOf(ctx), 20_000);
    await p.kill();
    const mid = await h.intent(String(ev['intent_id']));
    expect(mid!.status).to.equal('exited'); // output recorded before the removal
    await h.startReconciler();
    const r = await call;
    expect(r.status).to.equal('exited');
    expect(r.stdout).to.equal('collected\n');
    await converged([r.intent_id], logs(p));
  });

  it('many intents in mixed phases, one SIGKILL: every intent ends exactly once, none is lost, nothing is left', async function () {
    this.timeout(START_CLAIM_MS + 60_000); // one of them may be between its start claim and Docker's start
    const p = await up();
    const ctxs = Array.from({ length: 6 }, () => h.ctx());
    const calls = ctxs.map((c, i) => h.run({ command: ['sh', '-c', `echo n${i}; sleep ${(i % 3) * 0.7}; exit ${i % 2}`] }, c));
    await p.waitForEvent('container.started', undefined, 20_000);
    await p.kill();
    await sleep(500);
    await h.startReconciler();
    const results = await Promise.all(calls);
    for (const [i, r] of results.entries()) {
      expect(r.stdout, JSON.stringify(r)).to.equal(`n${i}\n`);
      expect(r.exit_code).to.equal(i % 2);
      expect(r.status).to.equal(i % 2 ? 'failed' : 'exited');
      expect(created(r.intent_id)).to.be.at.most(1);
    }
    await converged(results.map((r) => r.intent_id), logs(p));
  });
});

/**
 * The Docker client of a process that dies right after it claimed a start: the start never
 * reaches the daemon, and no call after it does either.
 */
function diesAtStart(client: ContainerClient): { client: ContainerClient; died: Promise<void> } {
  let dead = false;
  let died!: () => void;
  const diedOnce = new Promise<void>((resolve) => (died = resolve));
  const wrapped = new Proxy(client, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || prop === 'breakerOpen') return value;
      return (...args: unknown[]) => {
        if (prop === 'start') {
          dead = true;
          died();
        }
        if (dead) return Promise.reject(new Error('this process is dead (a stand-in for SIGKILL between the start claim and the Docker call)'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { client: wrapped, died: diedOnce };
}
