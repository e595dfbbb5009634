import { expect } from 'chai';
import { EXIT, exitCodeFor } from '../../../src/cli/exit-codes.js';
import { INTENT_STATUSES, STOP_REASONS, type IntentStatus } from '../../../src/model.js';
import type { DockerRunResult } from '../../../src/tools/docker-run.js';

function result(status: IntentStatus, more: Partial<DockerRunResult> = {}): DockerRunResult {
  return {
    intent_id: '0b6f3e2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b',
    container_id: 'c'.repeat(64),
    short_id: 'c'.repeat(12),
    status,
    exit_code: null,
    stdout: '',
    stderr: '',
    duration_ms: 10,
    image: 'alpine:3.20',
    logs_truncated: false,
    oom_killed: false,
    stop_reason: null,
    error: null,
    result: null,
    result_error: null,
    error_code: null,
    warnings: [],
    ...more,
  };
}

describe('cli/exitCodeFor', () => {
  it('the documented codes: 125 highway-docker could not run it, 124 timeout (as GNU timeout), 130 cancelled', () => {
    expect(EXIT).to.deep.equal({ tool: 125, timeout: 124, cancelled: 130 });
  });

  it('exited: 0', () => expect(exitCodeFor(result('exited', { exit_code: 0 }))).to.equal(0));

  for (const code of [1, 2, 42, 126, 127, 137, 143, 255]) {
    it(`failed with exit code ${code}: ${code}, as docker run`, () => {
      expect(exitCodeFor(result('failed', { exit_code: code, oom_killed: code === 137 }))).to.equal(code);
    });
  }

  it('failed before the container ran (pull, create or start error; no exit code): 125', () => {
    expect(exitCodeFor(result('failed', { exit_code: null, container_id: null, error: 'pull_failed: manifest unknown' }))).to.equal(EXIT.tool);
  });

  it('failed with exit code 0 (killed for OOM yet reporting 0): not 0, a failure must not look like success', () => {
    expect(exitCodeFor(result('failed', { exit_code: 0, oom_killed: true }))).to.not.equal(0);
  });

  it('timeout: 124, whatever the container\'s exit code', () => {
    expect(exitCodeFor(result('timeout', { exit_code: 137 }))).to.equal(EXIT.timeout);
    expect(exitCodeFor(result('timeout', { exit_code: 0 }))).to.equal(EXIT.timeout);
  });

  for (const reason of STOP_REASONS) {
    it(`cancelled (${reason}): 130, whatever the container's exit code`, () => {
      expect(exitCodeFor(result('cancelled', { stop_reason: reason, exit_code: 143 }))).to.equal(EXIT.cancelled);
    });
  }

  it('lost: 125', () => expect(exitCodeFor(result('lost', { error: 'container disappeared' }))).to.equal(EXIT.tool));

  for (const status of ['pending', 'pulling', 'created'] as const) {
    it(`${status} (never got running): 125`, () => expect(exitCodeFor(result(status))).to.equal(EXIT.tool));
  }

  // `run --params` accepts detach: true; the tool then returns as soon as the container runs.
  // Like `docker run -d`, a container that was started is a success, not "could not run the container".
  it('running (detach: true, the container was started): 0, as docker run -d', () => {
    expect(exitCodeFor(result('running'))).to.equal(0);
  });

  it('covers every status', () => {
    for (const status of INTENT_STATUSES) {
      const code = exitCodeFor(result(status, { exit_code: status === 'failed' ? 3 : null }));
      expect(code, status).to.be.a('number').within(0, 255);
    }
  });
});
