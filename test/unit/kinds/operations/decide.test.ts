import { expect } from 'chai';
import { ABANDONED_EXEC_ERROR, decideOperation, type OperationDecision, type OperationView } from '../../../../src/kinds/operations/decide.js';
import type { OperationKind, OperationStatus } from '../../../../src/db/queries/operations.js';
import { OPERATIONS, operationNamed } from '../../../../src/operations/registry.js';

const ME = 'reconciler-1';

describe('operations decide', () => {
  const table: Array<[OperationKind, OperationStatus, string, OperationDecision]> = [];
  for (const kind of OPERATIONS.map((d) => d.name)) {
    table.push([kind, 'pending', ME, { type: 'perform' }]);
    table.push([kind, 'running', ME, kind === 'exec' ? { type: 'abandon', error: ABANDONED_EXEC_ERROR } : { type: 'perform_again' }]);
    for (const status of ['done', 'failed', 'timeout'] as const) table.push([kind, status, ME, { type: 'none' }]);
    for (const status of ['pending', 'running'] as const) table.push([kind, status, 'another-host', { type: 'none' }]);
  }
  for (const [kind, status, host, expected] of table) {
    it(`${kind} ${status} on ${host === ME ? 'this host' : 'another host'} -> ${expected.type}`, () => {
      const op: OperationView = { status, reconciler_id: host, rerun_safe: operationNamed(kind)!.rerunSafe };
      expect(decideOperation(op, ME)).to.deep.equal(expected);
    });
  }
  it('no row -> none', () => {
    expect(decideOperation(null, ME)).to.deep.equal({ type: 'none' });
  });
  it('only exec is not rerun-safe: the reads are performed again after a crash', () => {
    expect(OPERATIONS.filter((d) => !d.rerunSafe).map((d) => d.name)).to.deep.equal(['exec']);
  });
  it('an exec in flight when the reconciler died is never run again, and says so', () => {
    expect(ABANDONED_EXEC_ERROR).to.match(/not run again/);
  });
});
