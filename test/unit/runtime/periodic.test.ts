/** Periodic work on the controller runtime (src/runtime/periodic.ts), with a fake run: no Docker, no database. */
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { periodicKind, runKinds } from '../../../src/runtime/periodic.js';

const logger = pino({ level: 'silent' });

describe('runtime/periodicKind', () => {
  it('runs at once, then after what each run returns; stop() waits for the run in flight and ends the runs', async () => {
    const runs: number[] = [];
    let inFlight = false;
    let overlapped = false;
    const kind = periodicKind({
      name: 'tick',
      minIntervalMs: 10,
      run: async () => {
        overlapped ||= inFlight;
        inFlight = true;
        runs.push(Date.now());
        await sleep(5);
        inFlight = false;
        return 20;
      },
    });
    const running = runKinds([kind], logger);
    await sleep(300);
    await running.stop();
    expect(inFlight, 'stop() returned with a run in flight').to.equal(false);
    expect(overlapped).to.equal(false);
    expect(runs.length).to.be.within(3, 40); // about one every 25 ms; generous for a loaded machine
    const after = runs.length;
    await sleep(100);
    expect(runs.length, 'runs after stop()').to.equal(after);
  });

  it('a hint between runs asks for one no sooner than minIntervalMs after the last', async () => {
    let runs = 0;
    const kind = periodicKind({ name: 'tick', minIntervalMs: 60_000, run: async () => (runs++, 60_000) });
    expect(await kind.reconcile('tick')).to.deep.equal({ requeueAfterMs: 60_000 });
    const early = await kind.reconcile('tick'); // e.g. a relist on a reconnect
    expect(runs).to.equal(1);
    expect(early.requeueAfterMs).to.be.within(1, 60_000);
    expect(await kind.list('periodic')).to.deep.equal(['tick']);
  });

  it('a run that throws is retried on the runtime\'s backoff, not after minIntervalMs', async () => {
    let calls = 0;
    const kind = periodicKind({
      name: 'flaky',
      minIntervalMs: 60_000,
      run: async () => {
        if (++calls === 1) throw new Error('database down');
        return 60_000;
      },
    });
    const running = runKinds([kind], logger);
    const deadline = Date.now() + 10_000;
    while (calls < 2 && Date.now() < deadline) await sleep(20);
    await running.stop();
    expect(calls).to.equal(2);
  });
});
