/** decide(): a container its daemon killed on the way out is `lost` / `daemon_restart`, never the program's failure (pure). */
import { expect } from 'chai';
import { decide, killedByDaemon, withDiedExitCode, DAEMON_GONE_SLACK_MS, type Observation } from '../../../../src/kinds/containers/decide.js';
import { lifecycleOf, type IntentRow } from '../../../../src/model.js';
import type { ContainerState } from '../../../../src/docker/client.js';
import { NOW, SECOND, at, containerState, intentRow, surroundings } from '../../../support/fixtures.js';

const observe = (intent: IntentRow, c: ContainerState, extra: Partial<Observation> = {}): Observation => ({
  intent, around: surroundings({}), container: c, now: NOW, workerTimeoutMs: 30 * SECOND, ...extra,
});
const exited = (exitCode: number, finishedAt = at(-1 * SECOND), extra: Partial<ContainerState> = {}) => containerState({ status: 'exited', exitCode, finishedAt, ...extra });
const running = (extra: Partial<IntentRow> = {}) => intentRow({ status: 'running', deadline_at: at(3600 * SECOND), ...extra });

describe('decide: killed by its daemon (daemon_restart)', () => {
  it('a signal exit while the daemon refused new connections: lost, daemon_restart', () => {
    for (const code of [137, 143]) {
      const d = decide(observe(running(), exited(code), { daemonLeaving: true }));
      expect(d.actions[0]).to.deep.equal({ type: 'collect', status: 'lost', reason: 'daemon_restart' });
    }
  });

  it('a signal exit after the daemon was seen going away (crash, then the restart killed it): lost, daemon_restart', () => {
    const intent = running({ output_interrupted_at: at(-5 * SECOND) });
    expect(decide(observe(intent, exited(143, at(-2 * SECOND)))).actions[0]).to.deep.equal({ type: 'collect', status: 'lost', reason: 'daemon_restart' });
    // Died well before the daemon went: its own exit.
    const before = exited(143, new Date(at(-5 * SECOND).getTime() - DAEMON_GONE_SLACK_MS - 1));
    expect(decide(observe(intent, before)).actions[0]).to.deep.equal({ type: 'collect', status: 'failed', reason: null });
  });

  it('not the daemon: its own exit code, an OOM kill, a stop we asked for, or no sign the daemon went', () => {
    const life = lifecycleOf({});
    expect(killedByDaemon(observe(running(), exited(1), { daemonLeaving: true }), exited(1), life)).to.equal(false);
    expect(killedByDaemon(observe(running(), exited(0), { daemonLeaving: true }), exited(0), life)).to.equal(false);
    const oom = exited(137, at(-1 * SECOND), { oomKilled: true });
    expect(killedByDaemon(observe(running(), oom, { daemonLeaving: true }), oom, life)).to.equal(false);
    const stopping = running({ status: 'stopping', stop_reason: 'requested', stop_requested_at: at(-2 * SECOND) });
    expect(killedByDaemon(observe(stopping, exited(143), { daemonLeaving: true }), exited(143), life)).to.equal(false);
    expect(decide(observe(running(), exited(143))).actions[0]).to.deep.equal({ type: 'collect', status: 'failed', reason: null });
  });

  it('the intent\'s own stop signal counts (SIGINT: exit 130)', () => {
    const intent = running({ spec: { stop_signal: 'SIGINT' } });
    expect(killedByDaemon(observe(intent, exited(130), { daemonLeaving: true }), exited(130), lifecycleOf(intent.spec))).to.equal(true);
  });
});

describe('decide: an exit the daemon lost in its own crash (255)', () => {
  it('the die event\'s exit code wins over the 255 a restarted daemon reports (same container only)', () => {
    const c = exited(255, at(-1 * SECOND), { id: 'c1' });
    expect(withDiedExitCode(c, { containerId: 'c1', exitCode: 3 }).exitCode).to.equal(3);
    expect(withDiedExitCode(c, { containerId: 'c1', exitCode: 0 }).exitCode).to.equal(0);
    expect(withDiedExitCode(c, { containerId: 'other', exitCode: 3 }).exitCode).to.equal(255);
    expect(withDiedExitCode(c, undefined).exitCode).to.equal(255);
    // Any other code is Docker's real record: never replaced.
    const seven = exited(7, at(-1 * SECOND), { id: 'c1' });
    expect(withDiedExitCode(seven, { containerId: 'c1', exitCode: 3 }).exitCode).to.equal(7);
    // So the row says what the program did: exited, not a failure the daemon made.
    const intent = running({ output_interrupted_at: at(-5 * SECOND) });
    const fixed = withDiedExitCode(exited(255, at(-2 * SECOND), { id: 'c1' }), { containerId: 'c1', exitCode: 0 });
    expect(decide(observe(intent, fixed)).actions[0]).to.deep.equal({ type: 'collect', status: 'exited', reason: null });
  });

  it('with no die event seen, a 255 in an outage is the daemon\'s doing (lost), outside one the program\'s', () => {
    const intent = running({ output_interrupted_at: at(-5 * SECOND) });
    expect(decide(observe(intent, exited(255, at(-2 * SECOND)))).actions[0]).to.deep.equal({ type: 'collect', status: 'lost', reason: 'daemon_restart' });
    expect(decide(observe(running(), exited(255))).actions[0]).to.deep.equal({ type: 'collect', status: 'failed', reason: null });
  });
});
