/** The tools' row waiter recovers when its LISTEN connection could not be started, or a read fails transiently. */
import { expect } from 'chai';
import sinon from 'sinon';
import { pino } from 'pino';
import { PgListener } from '../../../src/db/listener.js';
import { CompletionWaiter, INTENT_WAIT } from '../../../src/tools/completion.js';
import { RowWaiter } from '../../../src/tools/row-waiter.js';
import { HighwayError } from '../../../src/errors.js';
import type { Pool } from '../../../src/db/pool.js';

describe('tools/CompletionWaiter', () => {
  afterEach(() => sinon.restore());

  it('a LISTEN that cannot start for a moment (the database restarts) is retried: the wait gets its result', async () => {
    const start = sinon.stub(PgListener.prototype, 'start');
    start.onCall(0).rejects(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    start.onCall(1).resolves();
    sinon.stub(PgListener.prototype, 'stop').resolves();
    const row = { id: 'i1', status: 'exited', removed_at: new Date() };
    const pool = { query: sinon.stub().resolves({ rows: [row] }) } as unknown as Pool;
    const rows = new RowWaiter('postgres://nowhere', pino({ level: 'silent' }), { [INTENT_WAIT.channel]: INTENT_WAIT.safetyPollMs });
    const waiter = new CompletionWaiter(pool, rows);

    const first = await waiter.wait('i1', (r) => r.status === 'exited');
    expect(first.status).to.equal('exited');
    expect(start.callCount).to.equal(2);
    await rows.stop();
  });

  it('a LISTEN that cannot start within its retry time is an error for that wait (database_unavailable), and the next wait connects again', async function () {
    this.timeout(10_000);
    const start = sinon.stub(PgListener.prototype, 'start');
    start.rejects(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    sinon.stub(PgListener.prototype, 'stop').resolves();
    const row = { id: 'i1', status: 'exited', removed_at: new Date() };
    const pool = { query: sinon.stub().resolves({ rows: [row] }) } as unknown as Pool;
    const rows = new RowWaiter('postgres://nowhere', pino({ level: 'silent' }), { [INTENT_WAIT.channel]: INTENT_WAIT.safetyPollMs }, { connectRetryMs: 500 });
    const waiter = new CompletionWaiter(pool, rows);

    const first = await waiter.wait('i1', () => true).catch((e: unknown) => e);
    expect(first).to.be.instanceOf(HighwayError);
    expect((first as HighwayError).code).to.equal('database_unavailable');
    const failedStarts = start.callCount;
    expect(failedStarts).to.be.above(1);

    start.resolves();
    const second = await waiter.wait('i1', (r) => r.status === 'exited');
    expect(second.status).to.equal('exited');
    expect(start.callCount).to.equal(failedStarts + 1);
    await rows.stop();
  });

  it('a read that fails transiently (a stale prepared statement) is read again shortly, with no notification', async () => {
    sinon.stub(PgListener.prototype, 'start').resolves();
    sinon.stub(PgListener.prototype, 'stop').resolves();
    const row = { id: 'i1', status: 'exited', removed_at: new Date() };
    const query = sinon.stub();
    query.onCall(0).rejects(Object.assign(new Error('cached plan must not change result type'), { code: '0A000' }));
    query.resolves({ rows: [row] });
    // Safety poll far away: only the quick retry can end this wait in time.
    const rows = new RowWaiter('postgres://nowhere', pino({ level: 'silent' }), { [INTENT_WAIT.channel]: 60_000 });
    const waiter = new CompletionWaiter({ query } as unknown as Pool, rows);
    const t0 = Date.now();
    const got = await waiter.wait('i1', (r) => r.status === 'exited');
    expect(got.status).to.equal('exited');
    expect(query.callCount).to.equal(2);
    expect(Date.now() - t0).to.be.lessThan(2_000);
    await rows.stop();
  });

  it('a read that fails for good is not retried in a loop: it waits for the next wake', async () => {
    sinon.stub(PgListener.prototype, 'start').resolves();
    sinon.stub(PgListener.prototype, 'stop').resolves();
    const query = sinon.stub().rejects(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const rows = new RowWaiter('postgres://nowhere', pino({ level: 'silent' }), { [INTENT_WAIT.channel]: 60_000 });
    const waiter = new CompletionWaiter({ query } as unknown as Pool, rows);
    const abort = new AbortController();
    const waiting = waiter.wait('i1', () => true, { signal: abort.signal }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(query.callCount, 'the first read and three quick retries').to.equal(4);
    abort.abort();
    expect(await waiting).to.be.instanceOf(HighwayError);
    await rows.stop();
  });
});
