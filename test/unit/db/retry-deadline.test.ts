/** withPgRetry with a deadline: a caller's database step always ends by it, even one that hangs. */
import { expect } from 'chai';
import { withPgRetry } from '../../../src/db/retry.js';

describe('withPgRetry: the retry deadline bounds every attempt', () => {
  it('an attempt that never settles ends with an error at the deadline', async () => {
    const t0 = Date.now();
    const err = await withPgRetry('hung.step', () => new Promise<never>(() => {}), { maxRetryTime: 300 }).catch((e: unknown) => e);
    expect((err as Error).message).to.include('hung.step: no answer from the database within the retry deadline');
    expect(Date.now() - t0).to.be.below(2_000);
  });

  it('a transient failure is retried until the step succeeds within the deadline', async () => {
    let tries = 0;
    const r = await withPgRetry('flaky.step', async () => {
      if (++tries < 3) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
      return 'ok';
    }, { maxRetryTime: 5_000, minTimeout: 10 });
    expect(r).to.equal('ok');
    expect(tries).to.equal(3);
  });
});
