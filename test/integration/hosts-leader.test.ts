/**
 * Leader election by a session advisory lock on a real PostgreSQL: exactly one leader; when the
 * leader's session dies the other takes over within seconds; a stop hands over at once; a
 * server restart drops leadership at once and it comes back.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LeaderElector } from '../../src/runtime/leader.js';
import { freshDatabase, startOwnPostgres, type TestDatabase } from '../support/postgres.js';
import { eventually } from '../support/eventually.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait for a state of the electors, polled every 20 ms; bounded by `timeoutMs` (a hang, not a speed check). */
const until = (what: string, fn: () => boolean | Promise<boolean>, timeoutMs: number) => eventually(fn, { what, timeoutMs, everyMs: 20 });

describe('runtime/LeaderElector (real PostgreSQL)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  const electors: LeaderElector[] = [];
  const elector = (name: string, id: string, retryMs = 250) => {
    const e = new LeaderElector({ connectionString: db.url, name, id, retryMs });
    electors.push(e);
    return e;
  };

  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db?.drop();
  });
  afterEach(async () => {
    await Promise.all(electors.splice(0).map((e) => e.stop()));
  });

  it('two electors on one database (default 1 s retry): exactly one leader; killing its session hands over within 3 s', async () => {
    const a = elector('cron', 'a', 1000);
    const b = elector('cron', 'b', 1000);
    const seenA: boolean[] = [];
    a.leader$.subscribe((v) => seenA.push(v));
    await Promise.all([a.start(), b.start()]);
    await until('a leader', () => a.isLeader || b.isLeader, 3000);
    for (let i = 0; i < 10; i++) {
      expect([a.isLeader, b.isLeader].filter(Boolean), `check ${i}`).to.have.length(1);
      await sleep(100);
    }
    const [leader, other] = a.isLeader ? [a, b] : [b, a];
    const leaderId = leader === a ? 'a' : 'b';

    // The leader's session dies (as when its process is killed or its connection breaks).
    const killed = await db.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
      [`highway-docker-leader:cron:${leaderId}`],
    );
    expect(killed.rowCount).to.equal(1);
    await until('the old leader to step down', () => !leader.isLeader, 3000);
    await until('the other to take over', () => other.isLeader, 3000);
    // The old one competes again but does not become a second leader.
    await sleep(800);
    expect([a.isLeader, b.isLeader].filter(Boolean)).to.have.length(1);
    expect(other.isLeader).to.equal(true);
    if (leader === a) expect(seenA).to.deep.equal([false, true, false]);
  });

  it('a process that dies holding leadership (SIGKILL) frees it for the other within 3 s', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import { LeaderElector } from ${JSON.stringify(fileURLToPath(new URL('../../src/runtime/leader.ts', import.meta.url)))};
         const e = new LeaderElector({ connectionString: process.env.DB_URL, name: 'gc', id: 'child', retryMs: 250 });
         e.leader$.subscribe((v) => { if (v) console.log('LEADER'); });
         await e.start();
         setInterval(() => {}, 1000);`,
      ],
      { env: { ...process.env, DB_URL: db.url }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await until('the child to lead', () => out.includes('LEADER'), 20_000);
      const b = elector('gc', 'b');
      await b.start();
      await sleep(600);
      expect(b.isLeader).to.equal(false);
      child.kill('SIGKILL');
      await until('b to take over from the dead process', () => b.isLeader, 3000);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('stop() releases at once (the other takes over), is idempotent, and completes leader$', async () => {
    const a = elector('stop-test', 'a');
    await a.start();
    expect(a.isLeader).to.equal(true);
    const b = elector('stop-test', 'b');
    await b.start();
    expect(b.isLeader).to.equal(false);
    let completed = false;
    const values: boolean[] = [];
    a.leader$.subscribe({ next: (v) => values.push(v), complete: () => (completed = true) });
    await Promise.all([a.stop(), a.stop()]);
    await a.stop();
    expect(a.isLeader).to.equal(false);
    expect(values).to.deep.equal([true, false]);
    expect(completed).to.equal(true);
    await until('b to take over after the stop', () => b.isLeader, 5_000);
    const sessions = await db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'highway-docker-leader:stop-test:a'`);
    expect(sessions.rows[0].n).to.equal(0);
  });

  it('a follower waits for the lock inside PostgreSQL (no polling statements) and takes over the moment the leader lets go', async () => {
    const leader = elector('waiting', 'leader');
    await leader.start();
    // A retry pace far longer than the bound on the takeover below: the takeover cannot come from polling.
    const follower = new LeaderElector({ connectionString: db.url, name: 'waiting', id: 'follower', retryMs: 60_000 });
    electors.push(follower);
    await follower.start();
    expect([leader.isLeader, follower.isLeader]).to.deep.equal([true, false]);
    const session = async () =>
      (
        await db.pool.query<{ pid: number; state: string; wait_event: string | null; query_start: Date; query: string }>(
          `SELECT pid, state, wait_event, query_start, query FROM pg_stat_activity WHERE application_name = $1`,
          ['highway-docker-leader:waiting:follower'],
        )
      ).rows;
    await until('the follower waits', async () => (await session())[0]?.query.includes('pg_advisory_lock(') ?? false, 3_000);
    const first = await session();
    await sleep(1_500);
    const later = await session();
    expect(first).to.have.length(1);
    expect(first[0]!.query).to.contain('pg_advisory_lock(');
    expect(first[0]!.wait_event).to.equal('advisory');
    // The same statement still waiting: nothing else was sent meanwhile.
    expect(later.map((r) => [r.pid, r.state, r.query_start.getTime()])).to.deep.equal(first.map((r) => [r.pid, 'active', r.query_start.getTime()]));
    await leader.stop();
    await until('follower leads (well before its 60 s retry)', () => follower.isLeader, 20_000);
    // A stopped follower ends its waiting session.
    const other = new LeaderElector({ connectionString: db.url, name: 'waiting', id: 'other' });
    await other.start();
    expect(other.isLeader).to.equal(false);
    await other.stop();
    await until('its session gone', async () => (await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'highway-docker-leader:waiting:other'`)).rowCount === 0, 5_000);
  });

  it('different election names do not exclude each other', async () => {
    const cron = elector('names-cron', 'x');
    const gc = elector('names-gc', 'x');
    await Promise.all([cron.start(), gc.start()]);
    expect(cron.isLeader && gc.isLeader).to.equal(true);
  });

  it('a PostgreSQL restart drops leadership at once, and it is re-acquired when the server is back', async function () {
    this.timeout(90_000);
    const own = await startOwnPostgres();
    const e = new LeaderElector({ connectionString: own.url, name: 'restart', retryMs: 250 });
    const values: boolean[] = [];
    e.leader$.subscribe((v) => values.push(v));
    try {
      await e.start();
      expect(e.isLeader).to.equal(true);
      await own.stopServer();
      await until('leadership dropped', () => !e.isLeader, 3000);
      await sleep(600); // a few failed attempts while the server is down
      expect(e.isLeader).to.equal(false);
      await own.start();
      await until('leadership re-acquired', () => e.isLeader, 10_000);
      expect(values).to.deep.equal([false, true, false, true]);
    } finally {
      await e.stop();
      await own.stop();
    }
  });
});
