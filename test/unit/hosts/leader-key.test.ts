import { expect } from 'chai';
import { leaderLockKey, LEADER_LOCK_CLASS } from '../../../src/runtime/leader.js';

describe('runtime/leaderLockKey', () => {
  it('is a stable signed 32-bit key per election name (FNV-1a)', () => {
    expect(leaderLockKey('')).to.equal(0x811c9dc5 | 0);
    expect(leaderLockKey('a')).to.equal(0xe40c292c | 0); // the published FNV-1a test vector
    expect(leaderLockKey('cron')).to.equal(leaderLockKey('cron'));
    expect(leaderLockKey('cron')).to.not.equal(leaderLockKey('gc'));
    for (const name of ['cron', 'gc', 'failover', 'ünïcode']) {
      const k = leaderLockKey(name);
      expect(Number.isInteger(k) && k >= -(2 ** 31) && k < 2 ** 31, name).to.equal(true);
    }
    expect(LEADER_LOCK_CLASS).to.be.lessThan(2 ** 31);
  });
});
