/** The one mapping from how an intent ended to its stable error_code (the row, the result and the log line use it). */
import { expect } from 'chai';
import { endingErrorCode } from '../../../src/errors.js';

describe('endingErrorCode', () => {
  it('names each bad ending, and none for a good one', () => {
    const cases: Array<[Parameters<typeof endingErrorCode>[0], string | null]> = [
      [{ status: 'exited', error: null }, null],
      [{ status: 'cancelled', stop_reason: 'workflow_cancelled', error: null }, null],
      [{ status: 'timeout', error: 'ran past its timeout of 1 s' }, 'timeout'],
      [{ status: 'lost', stop_reason: 'daemon_restart', error: 'killed by its Docker daemon' }, 'daemon_restarted'],
      [{ status: 'failed', oom_killed: true, error: 'out of memory' }, 'oom_killed'],
      [{ status: 'failed', oom_killed: false, error: 'exited with code 3' }, 'nonzero_exit'],
      [{ status: 'lost', error: 'container disappeared before its result was collected' }, 'container_lost'],
      [{ status: 'exited', error: 'output unavailable: gone', outputUnavailable: true }, 'output_unavailable'],
      [{ status: 'cancelled', error: 'something else' }, 'internal'],
    ];
    for (const [ending, code] of cases) expect(endingErrorCode(ending), JSON.stringify(ending)).to.equal(code);
  });
});
