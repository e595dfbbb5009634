/**
 * Durable cron under faults (the test): three `highway-docker up`
 * processes on one database, a schedule every second for 60 s, one of them SIGKILLed and
 * restarted every few seconds. Every scheduled second has exactly one tick row, each tick at
 * most one container, and nothing is left.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import split2 from 'split2';
import { Harness, TEST_IMAGE } from '../../support/harness.js';
import { removeByLabel } from '../../support/docker-env.js';
import { ensureBuilt, startUp, type CliProcess } from '../../support/processes.js';
import { LABELS } from '../../../src/model.js';
import { putSchedule, validateSchedule } from '../../../src/kinds/schedules/operations.js';
import { defaultPolicy } from '../../../src/params/policy.js';
import { eventually } from '../../support/eventually.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('faults: durable cron with a scheduler SIGKILLed and restarted', function () {
  this.timeout(240_000);
  let h: Harness;
  const ids = [0, 1, 2].map(() => `test-${randomUUID()}`);
  const procs: Array<CliProcess | null> = [null, null, null];
  const SECONDS = 60;

  before(async () => {
    ensureBuilt();
    h = await Harness.start({ withoutReconciler: true });
  });
  after(async () => {
    for (const p of procs) await p?.kill();
    for (const id of ids) await removeByLabel(h.docker, `${LABELS.reconcilerId}=${id}`).catch(() => {});
    await h?.stop();
  });

  it('every second exactly one tick row, at most one container per tick, none left', async () => {
    const start = (i: number) => startUp({ databaseUrl: h.db.url, reconcilerId: ids[i]!, env: { HIGHWAY_LOG_LEVEL: 'info' } });
    for (const i of [0, 1, 2]) procs[i] = await start(i);

    // Count container creations per intent, straight from the daemon.
    const creates = new Map<string, number>();
    const stream = (await h.docker.getEvents({ filters: { type: ['container'], event: ['create'], label: [`${LABELS.managed}=true`] } })) as NodeJS.ReadableStream;
    stream.pipe(split2()).on('data', (line: string) => {
      if (!line.trim()) return;
      const e = JSON.parse(line) as { Actor?: { Attributes?: Record<string, string> } };
      const intent = e.Actor?.Attributes?.[LABELS.intentId];
      const owner = e.Actor?.Attributes?.[LABELS.reconcilerId];
      if (intent && owner && ids.includes(owner)) creates.set(intent, (creates.get(intent) ?? 0) + 1);
    });

    const name = `fault-${randomUUID().slice(0, 8)}`;
    const begin = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000);
    const end = new Date(begin.getTime() + SECONDS * 1000);
    const def = validateSchedule(
      { name, schedule: '* * * * * *', overlap: 'allow_all', start_at: begin.toISOString(), end_at: end.toISOString(), params: { image: TEST_IMAGE, command: ['true'] } },
      defaultPolicy,
    );
    const { schedule } = await putSchedule(h.db.pool, { tenant_id: 'tenant-a' }, def, 'add');

    // Kill one scheduler every ~3 s (in turn, the leader among them), restart it right away.
    let victim = 0;
    while (Date.now() < end.getTime()) {
      await sleep(2_500 + Math.random() * 1_000);
      await procs[victim]!.kill();
      procs[victim] = await start(victim);
      victim = (victim + 1) % 3;
    }

    // Every tick's run ends and its container is removed.
    type Tick = { scheduled_time: Date; status: string; intent_id: string | null; removed_at: Date | null; intent_status: string | null };
    const rows = await eventually(
      async () =>
        (
          await h.db.pool.query<Tick>(
            `SELECT t.scheduled_time, t.status, t.intent_id, c.removed_at, c.status AS intent_status
               FROM highway.docker_schedule_ticks t LEFT JOIN highway.docker_containers c ON c.id = t.intent_id
              WHERE t.schedule_id = $1 ORDER BY t.scheduled_time`,
            [schedule.id],
          )
        ).rows,
      {
        what: `all ${SECONDS} ticks run and removed`,
        timeoutMs: 60_000,
        everyMs: 250,
        until: (rs) => rs.length === SECONDS && rs.every((r) => r.removed_at),
        describe: (rs) => JSON.stringify(rs.map((r) => [r.status, r.intent_status, !!r.removed_at])),
      },
    );
    (stream as unknown as { destroy(): void }).destroy();

    const expected = Array.from({ length: SECONDS }, (_, i) => new Date(begin.getTime() + i * 1000).toISOString());
    expect(rows.map((r) => r.scheduled_time.toISOString())).to.deep.equal(expected);
    expect(rows.map((r) => r.status)).to.deep.equal(expected.map(() => 'started'));
    expect(rows.map((r) => r.intent_status)).to.deep.equal(expected.map(() => 'exited'));
    for (const r of rows) expect(creates.get(r.intent_id!) ?? 0, `containers for ${r.scheduled_time.toISOString()}`).to.be.at.most(1);
    expect([...creates.keys()].every((id) => rows.some((r) => r.intent_id === id))).to.equal(true);
    // Docker ANDs label filters: one query per scheduler.
    for (const id of ids) {
      const left = await h.docker.listContainers({ all: true, filters: { label: [`${LABELS.reconcilerId}=${id}`] } });
      expect(left, `containers of ${id}`).to.have.length(0);
    }
    expect(creates.size, 'containers seen').to.equal(SECONDS);
  });
});
