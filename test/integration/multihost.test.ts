/**
 * Many hosts on one database, end to end: two Docker daemons on this machine (the main one and
 * a second dockerd of this file's own) and two `highway-docker up` processes, one per daemon,
 * on one test database. Placement by host id and by labels (checked with each daemon's API),
 * capacity under a burst of 40 intents (both daemons sampled while it runs), an intent no live
 * host can take (its pending reason, then `failed` after placement_timeout), and SIGKILL of one
 * host's `up`: its unstarted intents run on the other within HIGHWAY_HOST_TIMEOUT_S + 2 s, its
 * running one ends `lost` naming the host, the `cluster` leader lock moves, `hosts --json` says
 * it is dead, and when it restarts its leftover container is removed from its daemon.
 *
 * Host B is started first, so it holds the `cluster` lock until it is killed.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import { ToolRegistry, type ActivityContext } from '../../src/tools/registry.js';
import { registerDockerTools, type DockerTools } from '../../src/tools/docker-tools.js';
import type { DockerRunResult } from '../../src/tools/docker-run.js';
import { LABELS, type IntentRow } from '../../src/model.js';
import { connectDocker, removeByLabel } from '../support/docker-env.js';
import { ensureTestImage, TEST_IMAGE } from '../support/test-image.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { startSecondDaemon, type SecondDaemon } from '../support/second-daemon.js';
import { ensureBuilt, spawnCli, startUp, type CliProcess } from '../support/processes.js';
import { sleep } from '../support/fault-checks.js';
import { eventually } from '../support/eventually.js';

const HOST_TIMEOUT_S = 3;
const CAPACITY_A = 2;
const CAPACITY_B = 3;
/** A daemon of this file's own (its own socket and data root), so no other test file stops it under us. */
export const MULTIHOST_DAEMON = 'hw-multihost-docker';

describe('many hosts: two daemons, two `up` processes, one database', function () {
  this.timeout(60_000);
  const run = randomUUID().slice(0, 8);
  const idA = `mh-a-${run}`;
  const idB = `mh-b-${run}`;
  const testLabel = `highway-test.multihost=${run}`;
  let db: TestDatabase;
  let dockerA: Docker;
  let daemonB: SecondDaemon;
  let upA: CliProcess | null = null;
  let upB: CliProcess | null = null;
  const registry = new ToolRegistry();
  let tools: DockerTools;
  const pending: Array<Promise<unknown>> = [];

  const envOf = (which: 'a' | 'b') => ({
    DOCKER_HOST: which === 'a' ? 'unix:///var/run/docker.sock' : `unix://${daemonB.socketPath}`,
    HIGHWAY_HOST_LABELS: which === 'a' ? 'zone=a,pool=shared' : 'zone=b,pool=shared',
    HIGHWAY_MAX_CONTAINERS: String(which === 'a' ? CAPACITY_A : CAPACITY_B),
    HIGHWAY_HOST_TIMEOUT_S: String(HOST_TIMEOUT_S),
    HIGHWAY_GC_INTERVAL_S: '3600',
  });
  const startHost = (which: 'a' | 'b') => startUp({ databaseUrl: db.url, reconcilerId: which === 'a' ? idA : idB, env: envOf(which) });

  const cleanup = async () => {
    // A frozen daemon answers nothing: thaw it first (by its PID).
    const pid = daemonB?.pid();
    if (pid) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    for (const docker of [dockerA, daemonB?.docker]) {
      if (!docker) continue;
      for (const label of [`${LABELS.reconcilerId}=${idA}`, `${LABELS.reconcilerId}=${idB}`, testLabel]) {
        await removeByLabel(docker, label).catch(() => {});
      }
    }
  };

  before(async function () {
    this.timeout(120_000);
    ensureBuilt();
    dockerA = await connectDocker();
    await ensureTestImage(dockerA);
    daemonB = await startSecondDaemon(40_000, MULTIHOST_DAEMON);
    db = await freshDatabase();
    tools = registerDockerTools(registry, { databaseUrl: db.url, pool: db.pool });
    upB = await startHost('b');
    upA = await startHost('a');
  });

  after(async function () {
    this.timeout(60_000);
    await cleanup();
    await Promise.all([upA?.kill(), upB?.kill()]);
    await Promise.allSettled(pending);
    await cleanup();
    await tools?.close().catch(() => {});
    await db?.drop().catch(() => {});
    await daemonB?.stop().catch(() => {});
  });

  const ctx = (): ActivityContext => ({ tenant_id: 't-multihost', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null });
  /** A run through the tool (writes the intent, awaits the result); its intent id is the row of its activity. */
  const start = (params: Record<string, unknown>) => {
    const c = ctx();
    const result = registry.call<DockerRunResult>('tools.docker.run', { image: TEST_IMAGE, labels: { 'highway-test.multihost': run }, ...params }, c);
    pending.push(result.catch(() => {}));
    return { c, result };
  };
  const rowOfActivity = async (activityId: string): Promise<IntentRow | undefined> =>
    (await db.pool.query<IntentRow>('SELECT * FROM highway.docker_containers WHERE activity_id = $1', [activityId])).rows[0];
  const rowById = async (id: string): Promise<IntentRow> =>
    (await db.pool.query<IntentRow>('SELECT * FROM highway.docker_containers WHERE id = $1', [id])).rows[0]!;
  const hostsJson = async () => {
    const p = spawnCli(['hosts', '--json'], { databaseUrl: db.url, reconcilerId: 'mh-cli', env: { HIGHWAY_HOST_TIMEOUT_S: String(HOST_TIMEOUT_S) } });
    const exit = await p.waitExit(20_000);
    expect(exit.code, p.stderr).to.equal(0);
    return JSON.parse(p.stdout) as Array<{ id: string; alive: boolean; labels: Record<string, string>; capacity: number | null; running: number; heartbeat_at: string }>;
  };
  /** The daemon (A or B) that has a container of this intent, by its label; both are asked. */
  const daemonsWith = async (intentId: string) => {
    const filters = { label: [`${LABELS.intentId}=${intentId}`] };
    const [onA, onB] = await Promise.all([dockerA.listContainers({ all: true, filters }), daemonB.docker.listContainers({ all: true, filters })]);
    return { a: onA.length, b: onB.length };
  };

  it('hosts --json lists both hosts alive, with their labels and capacity', async () => {
    const hosts = (await hostsJson()).filter((h) => h.id === idA || h.id === idB);
    expect(hosts.map((h) => [h.id, h.alive, h.labels, h.capacity])).to.deep.equal([
      [idA, true, { zone: 'a', pool: 'shared' }, CAPACITY_A],
      [idB, true, { zone: 'b', pool: 'shared' }, CAPACITY_B],
    ]);
  });

  it('placement by host id and by labels: each container runs on the daemon of the host asked for', async () => {
    const cases = [
      { placement: { host: idB }, want: 'b', host: idB },
      { placement: { host: idA }, want: 'a', host: idA },
      { placement: { labels: { zone: 'b' } }, want: 'b', host: idB },
      { placement: { labels: { zone: 'a', pool: 'shared' } }, want: 'a', host: idA },
    ] as const;
    const runs = cases.map((k) => ({ ...k, ...start({ command: ['sh', '-c', 'sleep 2; echo placed'], placement: k.placement }) }));
    for (const r of runs) {
      const row = await eventually(async () => {
        const x = await rowOfActivity(r.c.activity_id);
        return x?.status === 'running' ? x : null;
      }, { what: `running: ${JSON.stringify(r.placement)}`, timeoutMs: 30_000 });
      expect(row.reconciler_id, JSON.stringify(r.placement)).to.equal(r.host);
      // The daemon's own API: the container is there, and not on the other daemon.
      const where = await daemonsWith(row.id);
      expect(where, JSON.stringify(r.placement)).to.deep.equal(r.want === 'a' ? { a: 1, b: 0 } : { a: 0, b: 1 });
      const inspect = await (r.want === 'a' ? dockerA : daemonB.docker).getContainer(row.container_id!).inspect();
      expect(inspect.Config.Labels[LABELS.reconcilerId]).to.equal(r.host);
    }
    for (const r of runs) {
      const res = await r.result;
      expect(res.status).to.equal('exited');
      expect(res.stdout).to.equal('placed\n');
    }
  });

  it('capacity: a burst of 40 intents never has more live containers on a host than its capacity', async function () {
    this.timeout(120_000);
    let sampling = true;
    const max = { a: 0, b: 0, rowsA: 0, rowsB: 0 };
    const seen = { a: 0, b: 0 };
    const sampler = (async () => {
      while (sampling) {
        const [onA, onB, rows] = await Promise.all([
          dockerA.listContainers({ all: true, filters: { label: [testLabel, `${LABELS.reconcilerId}=${idA}`] } }),
          daemonB.docker.listContainers({ all: true, filters: { label: [testLabel, `${LABELS.reconcilerId}=${idB}`] } }),
          db.pool.query<{ host: string; n: number }>(
            `SELECT reconciler_id AS host, count(*)::int AS n FROM highway.docker_containers
              WHERE reconciler_id IN ($1, $2) AND removed_at IS NULL
                AND status IN ('pending', 'pulling', 'created', 'running', 'stopping')
              GROUP BY reconciler_id`,
            [idA, idB],
          ),
        ]);
        // Live containers: an exited one waiting for (or in) its removal (its intent already ended, its
        // slot already free) runs nothing; Docker lists one being removed as `removing`.
        const live = (cs: Array<{ State: string }>) => cs.filter((c) => !['exited', 'dead', 'removing'].includes(c.State)).length;
        max.a = Math.max(max.a, live(onA));
        max.b = Math.max(max.b, live(onB));
        for (const r of rows.rows) {
          if (r.host === idA) max.rowsA = Math.max(max.rowsA, r.n);
          else max.rowsB = Math.max(max.rowsB, r.n);
        }
        await sleep(25);
      }
    })();
    try {
      const runs = Array.from({ length: 40 }, (_, i) => start({ command: ['sh', '-c', `sleep 0.3; echo burst-${i}`] }));
      const results = await Promise.all(runs.map((r) => r.result));
      for (const [i, res] of results.entries()) {
        expect(res.status, res.error ?? '').to.equal('exited');
        expect(res.stdout).to.equal(`burst-${i}\n`);
        const row = await rowById(res.intent_id);
        if (row.reconciler_id === idA) seen.a++;
        else if (row.reconciler_id === idB) seen.b++;
      }
    } finally {
      sampling = false;
      await sampler;
    }
    console.log(`      burst of 40: ran ${seen.a} on A (capacity ${CAPACITY_A}), ${seen.b} on B (capacity ${CAPACITY_B}); at most ${max.a} / ${max.b} containers and ${max.rowsA} / ${max.rowsB} live rows at once`);
    expect(seen.a + seen.b).to.equal(40);
    expect(seen.a, 'both hosts took part').to.be.greaterThan(0);
    expect(seen.b, 'both hosts took part').to.be.greaterThan(0);
    expect(max.a).to.be.at.most(CAPACITY_A);
    expect(max.b).to.be.at.most(CAPACITY_B);
    expect(max.rowsA).to.be.at.most(CAPACITY_A);
    expect(max.rowsB).to.be.at.most(CAPACITY_B);
    // The sampler saw the hosts busy (else the bounds above prove nothing).
    expect(max.a + max.b).to.be.at.least(2);
  });

  it('an intent no live host can take waits with a visible reason, then ends failed after placement_timeout', async () => {
    const { c, result } = start({ command: ['true'], placement: { labels: { zone: 'nowhere' } }, placement_timeout: 4 });
    const waiting = await eventually(async () => {
      const x = await rowOfActivity(c.activity_id);
      return x?.pending_reason ? x : null;
    }, { what: 'a pending reason', timeoutMs: 10_000 });
    expect(waiting.status).to.equal('pending');
    expect(waiting.reconciler_id).to.equal(null);
    expect(waiting.pending_reason).to.equal('no live host matches placement {"labels": {"zone": "nowhere"}}');
    // `ps` shows why it waits.
    const ps = spawnCli(['ps', '--json'], { databaseUrl: db.url, reconcilerId: 'mh-cli' });
    expect((await ps.waitExit()).code, ps.stderr).to.equal(0);
    const listed = (JSON.parse(ps.stdout) as Array<{ id: string; pending_reason: string | null }>).find((r) => r.id === waiting.id);
    expect(listed?.pending_reason).to.equal(waiting.pending_reason);

    const res = await result;
    expect(res.status).to.equal('failed');
    expect(res.error).to.equal(`placement_timeout: no live host took it within 4 s (${waiting.pending_reason})`);
    const row = await rowById(res.intent_id);
    expect(row.removed_at).to.not.equal(null);
    expect(await daemonsWith(row.id)).to.deep.equal({ a: 0, b: 0 });
  });

  it('SIGKILL of a host: its unstarted intents run on the other, its running one ends lost, the cluster lock moves; on restart its leftover container is removed', async function () {
    this.timeout(90_000);
    expect(upB!.lines.some((l) => l['event'] === 'leader.acquired' && l['election'] === 'cluster'), 'B leads the cluster first').to.equal(true);

    // B runs one long container...
    const long = start({ command: ['sleep', '60'], placement: { host: idB } });
    const longRow = await eventually(async () => {
      const x = await rowOfActivity(long.c.activity_id);
      return x?.status === 'running' ? x : null;
    }, { what: 'the long container running on B', timeoutMs: 20_000 });
    expect(await daemonsWith(longRow.id)).to.deep.equal({ a: 0, b: 1 });

    // ...and claims two more it cannot start: its daemon is frozen (so the claim happens, the
    // Docker calls hang), and A is frozen meanwhile so that B, not A, claims them.
    const daemonPid = daemonB.pid()!;
    process.kill(daemonPid, 'SIGSTOP');
    upA!.signal('SIGSTOP');
    const moved: Array<ReturnType<typeof start>> = [];
    try {
      moved.push(...[0, 1].map((i) => start({ command: ['sh', '-c', `echo moved-${i}`], placement: { labels: { pool: 'shared' } } })));
      const claimed = await eventually(async () => {
        const rows = await Promise.all(moved.map((m) => rowOfActivity(m.c.activity_id)));
        return rows.every((r) => r?.reconciler_id === idB) ? (rows as IntentRow[]) : null;
      }, { what: 'B claimed both', timeoutMs: 5_000 });
      for (const r of claimed) {
        expect(r.status).to.equal('pending');
        expect(r.start_attempted_at).to.equal(null);
      }
    } finally {
      upA!.signal('SIGCONT');
    }

    const killedAt = Date.now();
    await upB!.kill();
    process.kill(daemonPid, 'SIGCONT');

    // Its unstarted intents run on A, within the host timeout + 2 s.
    for (const m of moved) {
      const res = await m.result;
      expect(res.status, res.error ?? '').to.equal('exited');
      const row = await rowById(res.intent_id);
      expect(row.reconciler_id).to.equal(idA);
      const after = row.started_at!.getTime() - killedAt;
      console.log(`      released intent running on A ${after} ms after the SIGKILL of B`);
      expect(after).to.be.at.most((HOST_TIMEOUT_S + 2) * 1000);
    }

    // Its running intent ends lost, naming the host, not before its heartbeat is HOST_TIMEOUT_S old.
    const longRes = await long.result;
    expect(longRes.status).to.equal('lost');
    expect(longRes.error).to.contain(`host ${idB} stopped answering`);
    const lostRow = await rowById(longRes.intent_id);
    const lastBeat = (await db.pool.query<{ heartbeat_at: Date }>('SELECT heartbeat_at FROM highway.hosts WHERE id = $1', [idB])).rows[0]!.heartbeat_at;
    expect(lostRow.finished_at!.getTime() - lastBeat.getTime()).to.be.at.least(HOST_TIMEOUT_S * 1000);
    expect(lostRow.removed_at, 'removed only once B is back').to.equal(null);
    expect(await daemonsWith(lostRow.id), 'the container still runs on B').to.deep.equal({ a: 0, b: 1 });

    // The cluster lock moved to A.
    await upA!.waitForLine((l) => l['event'] === 'leader.acquired' && l['election'] === 'cluster', 10_000, 'A leads the cluster');
    expect(upA!.lines.some((l) => l['event'] === 'host.failover' && l['host'] === idB)).to.equal(true);

    // hosts --json: A alive, B dead.
    const hosts = (await hostsJson()).filter((h) => h.id === idA || h.id === idB);
    expect(hosts.map((h) => [h.id, h.alive])).to.deep.equal([
      [idA, true],
      [idB, false],
    ]);

    // B comes back: the container of its lost intent is removed from its daemon, and said so.
    upB = await startHost('b');
    await eventually(async () => (await rowById(lostRow.id)).removed_at !== null, { what: 'the lost intent removed', timeoutMs: 20_000 });
    expect(await daemonsWith(lostRow.id)).to.deep.equal({ a: 0, b: 0 });
    expect(upB.events('container.removed', lostRow.id)).to.have.length(1);
    expect((await rowById(lostRow.id)).status).to.equal('lost');
  });
});
