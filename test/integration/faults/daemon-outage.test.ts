/**
 * A host's Docker daemon goes away (issue 15, items 3 and 4), with real PostgreSQL, the main
 * daemon (host A) and a SECOND dockerd of this file's own (`hw-clusters`, host B): the main
 * daemon is never stopped. Both hosts register, and a leader records pending reasons.
 *  - B's daemon restarts under a running container: the intent ends `lost` with stop_reason
 *    `daemon_restart` (not `failed`, exit 143 as the program's own failure), its output kept
 *    and flagged incomplete.
 *  - B's daemon freezes: B stops claiming, hands back what it claimed but did not start (A
 *    runs it), an intent only B may take says why it waits, and B takes work again once its
 *    daemon answers.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import type Docker from 'dockerode';
import { createDockerClient } from '../../../src/docker/client.js';
import { Reconciler } from '../../../src/reconciler.js';
import { ToolRegistry, type ActivityContext } from '../../../src/tools/registry.js';
import { registerDockerTools, type DockerTools } from '../../../src/tools/docker-tools.js';
import type { DockerRunResult } from '../../../src/tools/docker-run.js';
import { HostRegistry } from '../../../src/hosts/registry.js';
import { ClusterDuties } from '../../../src/hosts/cluster-duties.js';
import { runKinds, type RunningKinds } from '../../../src/runtime/periodic.js';
import { hosts, type HostJson } from '../../../src/cli/hosts.js';
import { LABELS } from '../../../src/model.js';
import { LogCapture, TEST_IMAGE } from '../../support/harness.js';
import { connectDocker, removeByLabel } from '../../support/docker-env.js';
import { ensureTestImage } from '../../support/test-image.js';
import { freshDatabase, type TestDatabase } from '../../support/postgres.js';
import { startSecondDaemon, type SecondDaemon } from '../../support/second-daemon.js';
import { expectConverged, intentRows, report } from '../../support/fault-checks.js';
import { eventually } from '../../support/eventually.js';

export const CLUSTERS_DAEMON = 'hw-clusters';

/**
 * dockerd's containerd dies with it (SIGKILL as its parent dies) but may stay a zombie where
 * nothing reaps orphans; its pidfile then names a "live" process and the next dockerd waits
 * on its dead socket until it gives up. Forget that pidfile, so dockerd starts a fresh
 * containerd (which finds the running containers through their shims), as after a host crash.
 */
function forgetDeadContainerd(): void {
  const pidfile = `/run/${CLUSTERS_DAEMON}/containerd/containerd.pid`;
  try {
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    if (state !== 'Z') return;
  } catch {
    // no pidfile, or no such process: nothing stale to forget
  }
  rmSync(pidfile, { force: true });
}

describe('faults: a host\'s Docker daemon goes away (second daemon)', function () {
  this.timeout(90_000);
  let daemon: SecondDaemon;
  let mainDocker: Docker;
  let db: TestDatabase;
  let tools: DockerTools;
  let reconcilerA: Reconciler | null = null;
  let reconcilerB: Reconciler | null = null;
  let duties: RunningKinds;
  const hostRegistries: HostRegistry[] = [];
  const registry = new ToolRegistry();
  const logA = new LogCapture();
  const logB = new LogCapture();
  const run = randomUUID().slice(0, 8);
  const idA = `do-a-${run}`;
  const idB = `do-b-${run}`;
  const labelA = `${LABELS.reconcilerId}=${idA}`;
  const labelB = `${LABELS.reconcilerId}=${idB}`;

  const thaw = () => {
    const pid = daemon?.pid();
    if (pid) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
  };
  const startA = async () => {
    reconcilerA = await Reconciler.create({ pool: db.pool, databaseUrl: db.url, docker: createDockerClient({ logger: logA.logger, docker: mainDocker }), logger: logA.logger, reconcilerId: idA, resyncIntervalMs: 5_000 });
    await reconcilerA.start();
  };

  before(async function () {
    this.timeout(120_000);
    daemon = await startSecondDaemon(40_000, CLUSTERS_DAEMON);
    mainDocker = await connectDocker();
    await ensureTestImage(mainDocker);
    db = await freshDatabase();
    tools = registerDockerTools(registry, { databaseUrl: db.url, pool: db.pool, logger: logA.logger });
    for (const [id, docker] of [[idA, mainDocker], [idB, daemon.docker]] as const) {
      const r = new HostRegistry({ pool: db.pool, id, daemon: async () => ({ id: `d-${id}`, version: 'test' }), hostTimeoutS: 30 });
      await r.beat();
      hostRegistries.push(r);
      void docker;
    }
    duties = runKinds([new ClusterDuties({ pool: db.pool, logger: logA.logger, isLeader: () => true, hostTimeoutS: 30, intervalMs: 300, idleMs: 1_000 }).kind()], logA.logger);
    await startA();
    reconcilerB = await Reconciler.create({ pool: db.pool, databaseUrl: db.url, docker: createDockerClient({ logger: logB.logger, docker: daemon.docker }), logger: logB.logger, reconcilerId: idB, resyncIntervalMs: 5_000 });
    await reconcilerB.start();
  });
  after(async function () {
    this.timeout(90_000);
    thaw();
    await duties?.stop();
    await reconcilerA?.stop().catch(() => {});
    await reconcilerB?.stop().catch(() => {});
    for (const r of hostRegistries) await r.stop();
    await tools?.close().catch(() => {});
    if (daemon) {
      await daemon.startDaemon().catch(() => {}); // in case a test left it down
      for (const l of [labelA, labelB]) await removeByLabel(daemon.docker, l).catch(() => {});
      await daemon.stop();
    }
    for (const l of [labelA, labelB]) await removeByLabel(mainDocker, l).catch(() => {});
    await db?.drop().catch(() => {});
  });

  const ctx = (): ActivityContext => ({ tenant_id: 't-do', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null });
  const call = (params: Record<string, unknown>, c: ActivityContext = ctx()) => registry.call<DockerRunResult>('tools.docker.run', { image: TEST_IMAGE, ...params }, c);
  const rowOf = async (c: ActivityContext) => (await intentRows(db.pool, { column: 'activity_id', value: c.activity_id }))[0];

  it('a container killed by its daemon\'s restart ends lost with stop_reason daemon_restart, output kept and flagged; the program\'s own exit 143 stays failed', async () => {
    const own = await call({ command: ['sh', '-c', 'echo mine; exit 143'], placement: { host: idB } });
    expect(own).to.include({ status: 'failed', exit_code: 143, stop_reason: null });

    const c = ctx();
    const pending = call({ command: ['sh', '-c', 'echo before-restart; sleep 60'], placement: { host: idB } }, c);
    await eventually(async () => (await rowOf(c))?.status === 'running', { what: 'running', timeoutMs: 20_000 });
    await daemon.restart();
    const r = await pending;
    expect(r.status).to.equal('lost');
    expect(r.stop_reason).to.equal('daemon_restart');
    expect(r.exit_code).to.equal(143);
    expect(r.stdout).to.equal('before-restart\n');
    expect(r.logs_truncated).to.equal(true);
    expect(r.error).to.match(/Docker daemon/);
    expect(r.warnings.some((w) => /daemon went away/.test(w)), JSON.stringify(r.warnings)).to.equal(true);
    await expectConverged({ docker: daemon.docker, label: labelB, pool: db.pool, intentIds: [own.intent_id, r.intent_id], logs: [logA.lines, logB.lines] });
  });

  it('a daemon that crashed (SIGKILL) and kills the container it finds running when it starts again: lost, daemon_restart, output kept and flagged', async () => {
    const c = ctx();
    const pending = call({ command: ['sh', '-c', 'echo before-crash; sleep 60'], placement: { host: idB } }, c);
    await eventually(async () => (await rowOf(c))?.status === 'running', { what: 'running', timeoutMs: 20_000 });
    await daemon.killDaemon();
    await new Promise((r) => setTimeout(r, 1_000));
    forgetDeadContainerd();
    await daemon.startDaemon();
    const r = await pending;
    expect(r, JSON.stringify({ ...r, warnings: undefined })).to.include({ status: 'lost', stop_reason: 'daemon_restart', stdout: 'before-crash\n', logs_truncated: true });
    expect(r.exit_code).to.be.oneOf([137, 143]);
    await expectConverged({ docker: daemon.docker, label: labelB, pool: db.pool, intentIds: [r.intent_id], logs: [logA.lines, logB.lines] });
  });

  it('a container that ends while its daemon is down (SIGKILL): whatever it is recorded as, output written meanwhile is never passed off as complete (soak finding 11)', async () => {
    const c = ctx();
    // It prints, then prints again after the daemon is gone, and ends before the daemon is back:
    // nothing copies that second line into Docker's log.
    const pending = call({ command: ['sh', '-c', 'echo out-before; sleep 1.5; echo err-during >&2; exit 0'], placement: { host: idB } }, c);
    await eventually(async () => (await rowOf(c))?.status === 'running', { what: 'running', timeoutMs: 20_000 });
    await daemon.killDaemon();
    await new Promise((r) => setTimeout(r, 3_000));
    forgetDeadContainerd();
    await daemon.startDaemon();
    const r = await pending;
    const seen = JSON.stringify({ ...r, warnings: undefined });
    expect(r.stdout, seen).to.equal('out-before\n');
    expect(r.logs_truncated, `output read as complete: ${seen}`).to.equal(true);
    expect(r.warnings.some((w) => /daemon went away/.test(w)), JSON.stringify(r.warnings)).to.equal(true);
    await expectConverged({ docker: daemon.docker, label: labelB, pool: db.pool, intentIds: [r.intent_id], logs: [logA.lines, logB.lines] });
  });

  it('a host whose daemon froze hands back what it claimed but did not start (another host runs it), stops claiming, and says why its own work waits', async () => {
    // B has its daemon back from the tests before (its host row says so).
    await eventually(async () => (JSON.parse(await hosts(db.pool, { json: true })) as HostJson[]).find((h) => h.id === idB)?.docker_unreachable_since === null, { what: 'B reaches its daemon', timeoutMs: 20_000 });
    // Only B claims while A is down; then B's daemon freezes under its claims.
    await reconcilerA!.stop();
    reconcilerA = null;
    const pid = daemon.pid()!;
    process.kill(pid, 'SIGSTOP');
    const t0 = Date.now();
    const cs = [ctx(), ctx(), ctx()];
    const calls = cs.map((c, i) => call({ command: ['echo', `ran-${i}`] }, c));
    await eventually(async () => (await Promise.all(cs.map(rowOf))).every((r) => r?.reconciler_id === idB), { what: 'B claimed all three', timeoutMs: 10_000 }).catch(async (err: Error) => {
      const rows = (await Promise.all(cs.map(rowOf))).map((r) => [r?.status, r?.reconciler_id, r?.pending_reason]);
      const events = logB.lines.filter((l) => /^(host|docker)\./.test(String(l['event']))).map((l) => [l['event'], l['reason'] ?? l['err'] ?? '']);
      throw new Error(`${err.message}: ${JSON.stringify(rows)} ${JSON.stringify(events)}`);
    });
    await startA();
    const results = await Promise.all(calls);
    const handedBackMs = Date.now() - t0;
    report('frozen daemon: claims handed back and run on another host (submit -> all results)', handedBackMs);
    for (const [i, r] of results.entries()) {
      expect(r.status).to.equal('exited');
      expect(r.stdout).to.equal(`ran-${i}\n`);
      expect((await rowOf(cs[i]!))!.reconciler_id).to.equal(idA);
    }
    const released = logB.events('host.claims_released');
    expect(released.length).to.be.at.least(1);
    expect(released.reduce((n, l) => n + Number(l['intents']), 0)).to.equal(3);

    // While it cannot reach its daemon, B takes nothing, and what only B may run says why it waits.
    const hostsJson = JSON.parse(await hosts(db.pool, { json: true })) as HostJson[];
    const b = hostsJson.find((h) => h.id === idB)!;
    expect(b.alive).to.equal(true);
    expect(b.docker_unreachable_since).to.be.a('string');
    const c = ctx();
    const placed = call({ command: ['echo', 'on-b'], placement: { host: idB } }, c);
    const waiting = await eventually(async () => {
      const row = await rowOf(c);
      return row?.pending_reason ? row : null;
    }, { what: 'a pending reason', timeoutMs: 10_000 });
    expect(waiting.status).to.equal('pending');
    expect(waiting.reconciler_id).to.equal(null);
    expect(waiting.pending_reason).to.match(new RegExp(`no matching host can reach its Docker daemon: ${idB}`));

    // Its daemon answers again: B claims and runs it.
    process.kill(pid, 'SIGCONT');
    const r = await placed;
    expect(r.status).to.equal('exited');
    expect(r.stdout).to.equal('on-b\n');
    expect((await rowOf(c))!.reconciler_id).to.equal(idB);
    expect(logB.events('host.docker_reachable').length).to.be.at.least(1);
    const after = (JSON.parse(await hosts(db.pool, { json: true })) as HostJson[]).find((h) => h.id === idB)!;
    expect(after.docker_unreachable_since).to.equal(null);
  });
});
