/** The GC's pure judgement: cluster ownership, and no false orphans for rows that just ended. */
import { expect } from 'chai';
import { judge } from '../../../src/gc/collector.js';
import type { GcRow } from '../../../src/db/queries/gc.js';
import { ownedByCluster } from '../../../src/db/queries/cluster.js';
import { LABELS } from '../../../src/model.js';

const ID = '7a1b2c3d-0000-4000-8000-0000000000aa';
const now = new Date('2026-12-04T12:00:00Z');
const limits = { creationGraceMs: 60_000, staleMaxAgeMs: 24 * 3600_000 };
const container = { createdAt: new Date(now.getTime() - 5 * 60_000), labels: { [LABELS.intentId]: ID } };
const row = (o: Partial<GcRow>): GcRow => ({ id: ID, status: 'exited', removed_at: null, gc_protected_until: null, spec: {}, activity_exists: true, changed_ms_ago: 10 * 60_000, ...o });

describe('gc: judge', () => {
  it('an intent that ended or was removed moments ago is the reconciler\'s to clean up: kept', () => {
    expect(judge(container, row({ changed_ms_ago: 4 }), now, limits)).to.deep.equal({ kind: 'keep' });
    expect(judge(container, row({ removed_at: now, changed_ms_ago: 4 }), now, limits)).to.deep.equal({ kind: 'keep' });
  });
  it('past the grace it is an orphan', () => {
    expect(judge(container, row({}), now, limits)).to.include({ kind: 'remove', reason: 'orphan' });
    expect(judge(container, row({ removed_at: now }), now, limits)).to.include({ kind: 'remove', why: 'intent already removed' });
  });
});

describe('gc: ownedByCluster', () => {
  const has = (id: string) => id === ID;
  it('labelled with this cluster: ours; with another: never, even with a row here', () => {
    expect(ownedByCluster({ [LABELS.clusterId]: 'c1', [LABELS.intentId]: 'x' }, 'c1', has)).to.equal(true);
    expect(ownedByCluster({ [LABELS.clusterId]: 'c2', [LABELS.intentId]: ID }, 'c1', has)).to.equal(false);
  });
  it('unlabelled (made before the label): ours only when its intent row is here', () => {
    expect(ownedByCluster({ [LABELS.intentId]: ID }, 'c1', has)).to.equal(true);
    expect(ownedByCluster({ [LABELS.intentId]: '7a1b2c3d-0000-4000-8000-0000000000bb' }, 'c1', has)).to.equal(false);
    expect(ownedByCluster({}, 'c1', has)).to.equal(false);
  });
});
