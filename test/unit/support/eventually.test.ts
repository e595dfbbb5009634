/** The tests' polling helper: it returns the accepted answer, and a timeout names what it awaited and what it last saw. */
import { expect } from 'chai';
import { eventually, EventuallyTimeout } from '../../support/eventually.js';

describe('support/eventually', () => {
  it('returns the first accepted answer (truthy by default)', async () => {
    let n = 0;
    const v = await eventually(() => (++n >= 3 ? { n } : null), { what: 'a third ask', timeoutMs: 5_000, everyMs: 1 });
    expect(v).to.deep.equal({ n: 3 });
  });

  it('with `until`, a falsy answer can be accepted', async () => {
    let n = 3;
    expect(await eventually(() => --n, { what: 'zero', timeoutMs: 5_000, everyMs: 1, until: (x) => x === 0 })).to.equal(0);
  });

  it('a timeout names what was awaited and the last answer seen', async () => {
    const err = await eventually(() => ({ status: 'running' }), { what: 'the intent to end', timeoutMs: 30, everyMs: 5, until: (r) => r.status === 'exited' }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(EventuallyTimeout);
    expect((err as Error).message).to.match(/timed out after \d+ ms waiting for the intent to end; last seen: \{"status":"running"\}/);
    expect((err as EventuallyTimeout).last).to.deep.equal({ status: 'running' });
  });

  it('`describe` writes the last answer', async () => {
    const err = await eventually(() => [1, 2], { what: 'none left', timeoutMs: 0, until: (l) => l.length === 0, describe: (l) => `${l.length} left` }).catch((e: unknown) => e);
    expect((err as Error).message).to.match(/waiting for none left; last seen: 2 left$/);
  });

  it('a probe that throws ends the wait with its error at once', async () => {
    const t0 = Date.now();
    const err = await eventually(() => Promise.reject(new Error('exited early')), { what: 'x', timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect((err as Error).message).to.equal('exited early');
    expect(Date.now() - t0).to.be.below(5_000); // not after the 10 s deadline
  });
});
