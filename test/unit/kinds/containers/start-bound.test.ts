/**
 * Issue 16 item 6: a failure that looks transient is retried, but an intent still on its way to
 * a running container stops retrying once its own placement_timeout + timeout have passed.
 */
import { expect } from 'chai';
import { notYetRunning, startBoundAt } from '../../../../src/kinds/containers/decide.js';
import { INTENT_STATUSES } from '../../../../src/model.js';
import { SECOND, at, intentRow } from '../../../support/fixtures.js';

describe('containers: the start bound (how long a failing start is retried)', () => {
  it('is the timeout from creation, plus placement_timeout when set', () => {
    const created = at(0);
    expect(startBoundAt(intentRow({ created_at: created, spec: { image: 'alpine', timeout: 2 } })).getTime()).to.equal(created.getTime() + 2 * SECOND);
    expect(startBoundAt(intentRow({ created_at: created, spec: { image: 'alpine', timeout: 2, placement_timeout: 60 } })).getTime()).to.equal(created.getTime() + 62 * SECOND);
    expect(startBoundAt(intentRow({ created_at: created, spec: { image: 'alpine' } })).getTime()).to.equal(created.getTime() + 3600 * SECOND);
  });

  it('is a valid date whatever the row says (values written past the tool)', () => {
    for (const spec of [{ timeout: 1e30 }, { timeout: 1e30, placement_timeout: 1e30 }, { placement_timeout: 'x' }, { timeout: null }]) {
      const bound = startBoundAt(intentRow({ created_at: at(0), spec: { image: 'alpine', ...spec } }));
      expect(Number.isNaN(bound.getTime()), JSON.stringify(spec)).to.equal(false);
      expect(bound.getTime() - at(0).getTime()).to.be.at.most(8 * 24 * 3600 * SECOND);
    }
  });

  it('applies only before the container runs: pending, pulling, created', () => {
    expect(INTENT_STATUSES.filter((status) => notYetRunning(intentRow({ status })))).to.deep.equal(['pending', 'pulling', 'created']);
  });
});
