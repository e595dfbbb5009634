import { expect } from 'chai';
import { decide, stopWanted, type Action, type Decision, type Observation, type StopWanted } from '../../../../src/kinds/containers/decide.js';
import { INTENT_STATUSES, STOP_REASONS, TERMINAL_STATUSES, type IntentRow, type IntentStatus } from '../../../../src/model.js';
import type { IntentSurroundings } from '../../../../src/kinds/containers/queries/load-reconcile-state.js';
import type { ContainerState } from '../../../../src/docker/client.js';
import {
  CONTAINERS,
  HOUR,
  MINUTE,
  NOW,
  SECOND,
  at,
  containerState,
  intentRow,
  pendingIntent,
  surroundings,
  type ContainerName,
} from '../../../support/fixtures.js';

const WORKER_TIMEOUT_MS = 30 * SECOND;
const GRACE_MS = 10 * SECOND; // the default stop_grace_period

function observe(
  intent: IntentRow,
  container: ContainerState | null,
  around: Partial<IntentSurroundings> = {},
  now: Date = NOW,
): Observation {
  return { intent, around: surroundings(around), container, now, workerTimeoutMs: WORKER_TIMEOUT_MS };
}

const LOST_ERROR = Symbol('any error saying the container disappeared');
type Expected = { actions: Array<Action | { type: 'finish'; status: 'lost'; reason: null; error: typeof LOST_ERROR }>; requeueAfterMs?: number };

/** Compare, accepting any wording of a `lost` error that says the container disappeared. */
function expectDecision(actual: Decision, expected: Expected): void {
  const normalized = {
    ...actual,
    actions: actual.actions.map((a) => {
      if (a.type === 'finish' && a.status === 'lost') {
        expect(a.error, 'a lost intent says why').to.be.a('string').and.match(/disappeared|gone|vanished/i);
        return { ...a, error: LOST_ERROR };
      }
      return a;
    }),
  };
  expect(normalized).to.deep.equal(expected);
}

const remove: Action = { type: 'remove' };
const finish = (s: StopWanted): Action => ({ type: 'finish', status: s.status, reason: s.reason, error: null });
const collect = (status: IntentStatus, reason: StopWanted['reason'] = null): Action => ({ type: 'collect', status, reason });
const lost = { type: 'finish', status: 'lost', reason: null, error: LOST_ERROR } as const;
const cancelled = (reason: (typeof STOP_REASONS)[number]): StopWanted => ({ status: 'cancelled', reason });
const TIMEOUT: StopWanted = { status: 'timeout', reason: null };

/** A reason to stop (or a near miss that is not one), as the intent row and its surroundings show it. */
interface Cause {
  name: string;
  intent?: Partial<IntentRow>;
  around?: Partial<IntentSurroundings>;
  stop: StopWanted | null;
  /** With no stop: when to look again, for an intent with (true) or without (false) its one-hour deadline. Default: the worker's expiry, 30 s. */
  requeue?: (hasDeadline: boolean) => number | undefined;
}

const DEADLINE_IN = -1 * MINUTE + HOUR; // intentRow()'s deadline, from NOW

const CAUSES: Cause[] = [
  { name: 'no stop cause', stop: null },
  ...STOP_REASONS.map(
    (reason): Cause => ({ name: `desired_state stopped (${reason})`, intent: { desired_state: 'stopped', stop_reason: reason }, stop: cancelled(reason) }),
  ),
  { name: 'desired_state stopped with no reason recorded', intent: { desired_state: 'stopped', stop_reason: null }, stop: cancelled('requested') },
  { name: 'workflow run cancelled', around: { run_status: 'cancelled' }, stop: cancelled('workflow_cancelled') },
  {
    name: 'activity row absent',
    around: { activity_exists: false, activity_status: null, activity_created_at: null },
    stop: cancelled('activity_gone'),
  },
  { name: 'activity status timed_out', around: { activity_status: 'timed_out' }, stop: cancelled('activity_timeout') },
  {
    name: 'activity heartbeat expired',
    around: { activity_heartbeat_timeout_s: 30, activity_heartbeat_at: at(-31 * SECOND) },
    stop: cancelled('activity_timeout'),
  },
  {
    name: 'activity never heartbeat, created longer ago than its heartbeat timeout',
    around: { activity_heartbeat_timeout_s: 30, activity_heartbeat_at: null, activity_created_at: at(-31 * SECOND) },
    stop: cancelled('activity_timeout'),
  },
  {
    name: 'activity never heartbeat, no activity created_at, intent created longer ago than the timeout',
    intent: { created_at: at(-31 * SECOND) },
    around: { activity_heartbeat_timeout_s: 30, activity_heartbeat_at: null, activity_created_at: null },
    stop: cancelled('activity_timeout'),
  },
  { name: 'worker dead', around: { worker_status: 'dead' }, stop: cancelled('worker_lost') },
  { name: 'worker heartbeat expired', around: { worker_heartbeat_at: at(-31 * SECOND) }, stop: cancelled('worker_lost') },
  { name: 'worker heartbeat expired exactly now', around: { worker_heartbeat_at: at(-WORKER_TIMEOUT_MS) }, stop: cancelled('worker_lost') },
  { name: 'deadline passed', intent: { deadline_at: at(-1) }, stop: TIMEOUT },
  { name: 'deadline reached exactly now', intent: { deadline_at: NOW }, stop: TIMEOUT },
  // Near misses: nothing to stop yet, but a look again when it would be.
  {
    name: 'worker row absent (no liveness tracking)',
    around: { worker_exists: false, worker_status: null, worker_heartbeat_at: null },
    stop: null,
    requeue: (hasDeadline) => (hasDeadline ? DEADLINE_IN : undefined),
  },
  {
    name: 'activity heartbeat 1 s from expiry',
    around: { activity_heartbeat_timeout_s: 30, activity_heartbeat_at: at(-29 * SECOND) },
    stop: null,
    requeue: () => 1 * SECOND,
  },
  {
    name: 'activity never heartbeat, created 2 s before its timeout',
    around: { activity_heartbeat_timeout_s: 30, activity_heartbeat_at: null, activity_created_at: at(-28 * SECOND) },
    stop: null,
    requeue: () => 2 * SECOND,
  },
  { name: 'worker heartbeat 3 s from expiry', around: { worker_heartbeat_at: at(-27 * SECOND) }, stop: null, requeue: () => 3 * SECOND },
  { name: 'deadline 5 ms away', intent: { deadline_at: at(5) }, stop: null, requeue: () => 5 },
];

const CONTAINER_NAMES = Object.keys(CONTAINERS) as ContainerName[];

/** Intents that have not ended and were not asked to stop yet, in each status decide can see. */
const LIVE_BASES: Record<'pending' | 'pulling' | 'created' | 'running', () => IntentRow> = {
  pending: () => pendingIntent(),
  pulling: () => pendingIntent({ status: 'pulling' }),
  created: () => intentRow({ status: 'created', started_at: null, deadline_at: null }),
  running: () => intentRow(),
};

/** What a user is promised, from the lifecycle in DESIGN.md, for an intent that was not signalled yet. */
function expectedForLive(status: keyof typeof LIVE_BASES, container: ContainerName, cause: Cause): Expected {
  const stop = cause.stop;
  switch (container) {
    case 'absent':
      if (status === 'pending' || status === 'pulling') {
        return { actions: stop ? [finish(stop)] : [{ type: 'ensure_image' }, { type: 'create' }, { type: 'start' }] };
      }
      return { actions: [lost] };
    case 'created':
      return { actions: stop ? [finish(stop), remove] : [{ type: 'start' }] };
    case 'running':
    case 'restarting': {
      if (stop) return { actions: [{ type: 'signal', signal: 'SIGTERM', reason: stop.reason }], requeueAfterMs: GRACE_MS };
      const hasDeadline = status === 'running' || cause.intent?.deadline_at != null;
      const requeueAfterMs = cause.requeue ? cause.requeue(hasDeadline) : WORKER_TIMEOUT_MS;
      const actions: Action[] = status === 'running' ? [] : [{ type: 'record_running' }];
      return requeueAfterMs === undefined ? { actions } : { actions, requeueAfterMs };
    }
    // Not signalled yet: whatever stop was wanted, the exit is the container's own result.
    case 'exited 0':
      return { actions: [collect('exited'), remove] };
    case 'exited 2':
    case 'exited OOM':
    case 'dead':
      return { actions: [collect('failed'), remove] };
  }
}

describe('reconciler/decide', () => {
  describe('stopWanted: every stop cause', () => {
    for (const cause of CAUSES) {
      it(`${cause.name} -> ${cause.stop ? `${cause.stop.status}${cause.stop.reason ? ` (${cause.stop.reason})` : ''}` : 'no stop'}`, () => {
        const o = observe(intentRow(cause.intent), CONTAINERS.running, cause.around);
        expect(stopWanted(o)).to.deep.equal(cause.stop);
      });
    }

    it('the first recorded reason wins over a later cause (worker shutdown, then the run is cancelled)', () => {
      const o = observe(intentRow({ desired_state: 'stopped', stop_reason: 'worker_shutdown' }), CONTAINERS.running, {
        run_status: 'cancelled',
        activity_status: 'timed_out',
      });
      expect(stopWanted(o)).to.deep.equal(cancelled('worker_shutdown'));
    });

    it('a worker heartbeat is not checked for an intent without a worker', () => {
      const o = observe(intentRow({ worker_id: null }), CONTAINERS.running, { worker_heartbeat_at: at(-HOUR) });
      expect(stopWanted(o)).to.equal(null);
    });
  });

  describe('live intents: status x container x stop cause', () => {
    for (const status of Object.keys(LIVE_BASES) as Array<keyof typeof LIVE_BASES>) {
      describe(`intent ${status}`, () => {
        for (const container of CONTAINER_NAMES) {
          for (const cause of CAUSES) {
            const expected = expectedForLive(status, container, cause);
            const label = expected.actions.map((a) => ('status' in a ? `${a.type}:${a.status}` : a.type)).join(', ') || 'nothing';
            it(`container ${container}, ${cause.name} -> ${label}${expected.requeueAfterMs !== undefined ? ` (look again in ${expected.requeueAfterMs} ms)` : ''}`, () => {
              const intent = { ...LIVE_BASES[status](), ...cause.intent };
              expectDecision(decide(observe(intent, CONTAINERS[container], cause.around)), expected);
            });
          }
        }
      });
    }
  });

  describe('stopping: an intent that was signalled', () => {
    const STOP_CAUSES: Array<{ name: string; intent: Partial<IntentRow>; around?: Partial<IntentSurroundings>; ended: StopWanted }> = [
      ...STOP_REASONS.map((reason) => ({
        name: `cancelled (${reason})`,
        intent: { desired_state: 'stopped' as const, stop_reason: reason },
        ended: cancelled(reason),
      })),
      { name: 'timeout', intent: { deadline_at: at(-5 * SECOND) }, ended: TIMEOUT },
    ];
    const stopping = (intent: Partial<IntentRow>, signalledAgoMs: number, more: Partial<IntentRow> = {}): IntentRow =>
      intentRow({ status: 'stopping', stop_requested_at: at(-signalledAgoMs), ...intent, ...more });

    for (const cause of STOP_CAUSES) {
      describe(cause.name, () => {
        for (const container of ['running', 'restarting'] as const) {
          it(`${container}, 3 s into the grace period: wait for the rest of it`, () => {
            expectDecision(decide(observe(stopping(cause.intent, 3 * SECOND), CONTAINERS[container], cause.around)), {
              actions: [],
              requeueAfterMs: 7 * SECOND,
            });
          });
          it(`${container}, grace period just over: SIGKILL`, () => {
            expectDecision(decide(observe(stopping(cause.intent, GRACE_MS), CONTAINERS[container], cause.around)), {
              actions: [{ type: 'kill' }],
              requeueAfterMs: 1 * SECOND,
            });
          });
          it(`${container}, long past the grace period: SIGKILL again`, () => {
            expectDecision(decide(observe(stopping(cause.intent, 5 * MINUTE), CONTAINERS[container], cause.around)), {
              actions: [{ type: 'kill' }],
              requeueAfterMs: 1 * SECOND,
            });
          });
        }

        for (const container of ['exited 0', 'exited 2', 'exited OOM', 'dead'] as const) {
          it(`${container} after the signal: collected as ${cause.ended.status}${cause.ended.reason ? ` (${cause.ended.reason})` : ''}, then removed`, () => {
            expectDecision(decide(observe(stopping(cause.intent, 2 * SECOND), CONTAINERS[container], cause.around)), {
              actions: [collect(cause.ended.status, cause.ended.reason), remove],
            });
          });
        }

        it(`created (never started): finished as ${cause.ended.status} and removed`, () => {
          expectDecision(decide(observe(stopping(cause.intent, 2 * SECOND), CONTAINERS.created, cause.around)), {
            actions: [finish(cause.ended), remove],
          });
        });

        it('container gone before its output was collected: lost', () => {
          expectDecision(decide(observe(stopping(cause.intent, 2 * SECOND), null, cause.around)), { actions: [lost] });
        });
      });
    }

    it('a custom stop signal and grace period are used', () => {
      const spec = { image: 'alpine:3.20', stop_signal: 'SIGINT', stop_grace_period: 30 };
      const signalled = decide(observe(intentRow({ spec, deadline_at: at(-1) }), CONTAINERS.running));
      expectDecision(signalled, { actions: [{ type: 'signal', signal: 'SIGINT', reason: null }], requeueAfterMs: 30 * SECOND });
      const waiting = decide(observe(intentRow({ spec, status: 'stopping', deadline_at: at(-1), stop_requested_at: at(-12 * SECOND) }), CONTAINERS.running));
      expectDecision(waiting, { actions: [], requeueAfterMs: 18 * SECOND });
      const killing = decide(observe(intentRow({ spec, status: 'stopping', deadline_at: at(-1), stop_requested_at: at(-30 * SECOND) }), CONTAINERS.running));
      expectDecision(killing, { actions: [{ type: 'kill' }], requeueAfterMs: 1 * SECOND });
    });

    it('auto_remove false: the stopped container is collected and kept', () => {
      const intent = intentRow({ spec: { image: 'alpine:3.20', auto_remove: false }, status: 'stopping', desired_state: 'stopped', stop_reason: 'requested', stop_requested_at: at(-1 * SECOND) });
      expectDecision(decide(observe(intent, CONTAINERS['exited 0'])), { actions: [collect('cancelled', 'requested')] });
    });

    it('a timeout exit is a timeout even with exit code 0 (the container was stopped, it did not finish)', () => {
      const intent = intentRow({ status: 'stopping', deadline_at: at(-10 * SECOND), stop_requested_at: at(-9 * SECOND) });
      expectDecision(decide(observe(intent, CONTAINERS['exited 0'])), { actions: [collect('timeout'), remove] });
    });
  });

  describe('exit while a stop is wanted but not yet signalled: the container finished by itself', () => {
    const cases: Array<[ContainerName, IntentStatus]> = [
      ['exited 0', 'exited'],
      ['exited 2', 'failed'],
      ['exited OOM', 'failed'],
      ['dead', 'failed'],
    ];
    for (const [container, status] of cases) {
      it(`workflow cancelled, container ${container} -> ${status} with its own result, no stop reason`, () => {
        expectDecision(decide(observe(intentRow(), CONTAINERS[container], { run_status: 'cancelled' })), {
          actions: [collect(status), remove],
        });
      });
      it(`deadline passed, container ${container} -> ${status}, not timeout`, () => {
        expectDecision(decide(observe(intentRow({ deadline_at: at(-1) }), CONTAINERS[container])), { actions: [collect(status), remove] });
      });
    }

    it('an OOM kill is a failure even when the exit code says 0', () => {
      const c = containerState({ status: 'exited', exitCode: 0, oomKilled: true });
      expectDecision(decide(observe(intentRow(), c)), { actions: [collect('failed'), remove] });
    });

    it('exit code 137 without the OOM flag is a plain failure, still collected (OOM comes from inspect, not the code)', () => {
      const c = containerState({ status: 'exited', exitCode: 137, oomKilled: false });
      expectDecision(decide(observe(intentRow(), c)), { actions: [collect('failed'), remove] });
    });

    it('auto_remove false: collected, the container is kept', () => {
      const intent = intentRow({ spec: { image: 'alpine:3.20', auto_remove: false } });
      expectDecision(decide(observe(intent, CONTAINERS['exited 2'])), { actions: [collect('failed')] });
    });
  });

  describe('terminal intents: output recorded, the container goes unless kept', () => {
    const terminal = [...TERMINAL_STATUSES];
    const causes = CAUSES.filter((c) => ['no stop cause', 'workflow run cancelled', 'deadline passed'].includes(c.name));
    for (const status of terminal) {
      for (const container of CONTAINER_NAMES) {
        for (const cause of causes) {
          const expected: Expected = { actions: container === 'absent' ? [{ type: 'mark_removed' }] : [remove] };
          it(`${status}, container ${container}, ${cause.name} -> ${expected.actions[0]!.type}`, () => {
            const intent = intentRow({ status, finished_at: at(-5 * SECOND), ...cause.intent });
            expectDecision(decide(observe(intent, CONTAINERS[container], cause.around)), expected);
          });
        }
      }

      for (const container of ['created', 'exited 0', 'exited 2', 'exited OOM', 'dead'] as const) {
        it(`${status}, container ${container}, gc_protected_until in 90 s: kept, look again when protection ends`, () => {
          const intent = intentRow({ status, gc_protected_until: at(90 * SECOND) });
          expectDecision(decide(observe(intent, CONTAINERS[container])), { actions: [], requeueAfterMs: 90 * SECOND });
        });
        it(`${status}, container ${container}, gc_protected_until passed: removed`, () => {
          const intent = intentRow({ status, gc_protected_until: at(-1) });
          expectDecision(decide(observe(intent, CONTAINERS[container])), { actions: [remove] });
        });
        it(`${status}, container ${container}, auto_remove false: kept, nothing to look at again`, () => {
          const intent = intentRow({ status, spec: { image: 'alpine:3.20', auto_remove: false } });
          expectDecision(decide(observe(intent, CONTAINERS[container])), { actions: [] });
        });
        it(`${status}, container ${container}, auto_remove false and protected: look again when protection ends`, () => {
          const intent = intentRow({ status, spec: { image: 'alpine:3.20', auto_remove: false }, gc_protected_until: at(2 * MINUTE) });
          expectDecision(decide(observe(intent, CONTAINERS[container])), { actions: [], requeueAfterMs: 2 * MINUTE });
        });
      }

      for (const container of ['created', 'exited 0', 'exited 2', 'dead'] as const) {
        it(`${status}, container ${container}, auto_remove false and protected, removal requested: removed`, () => {
          const intent = intentRow({ status, spec: { image: 'alpine:3.20', auto_remove: false }, gc_protected_until: at(2 * MINUTE), remove_requested_at: at(-1) });
          expectDecision(decide(observe(intent, CONTAINERS[container])), { actions: [remove] });
        });
      }
      it(`${status}, container absent, removal requested: marked removed`, () => {
        const intent = intentRow({ status, spec: { image: 'alpine:3.20', auto_remove: false }, remove_requested_at: at(-1) });
        expectDecision(decide(observe(intent, null)), { actions: [{ type: 'mark_removed' }] });
      });

      it(`${status}, a running container is removed even when auto_remove is false`, () => {
        const intent = intentRow({ status, spec: { image: 'alpine:3.20', auto_remove: false } });
        expectDecision(decide(observe(intent, CONTAINERS.running)), { actions: [remove] });
      });
    }
  });

  describe('gc_protect_seconds: the finished container is kept for debugging', () => {
    for (const container of ['exited 0', 'exited 2', 'exited OOM'] as const) {
      it(`running, container ${container}: collected but not removed in the same pass`, () => {
        const intent = intentRow({ status: 'running', spec: { image: 'alpine:3.20', gc_protect_seconds: 60 } });
        const decision = decide(observe(intent, CONTAINERS[container]));
        expect(decision.actions.map((a) => a.type)).to.deep.equal(['collect']);
      });
    }
  });

  describe('removed intents', () => {
    for (const status of INTENT_STATUSES) {
      for (const container of CONTAINER_NAMES) {
        const expected: Expected = { actions: container === 'absent' ? [] : [remove] };
        it(`${status}, removed, container ${container} -> ${container === 'absent' ? 'nothing' : 'remove the stray container'}`, () => {
          const intent = intentRow({ status, removed_at: at(-1 * SECOND), gc_protected_until: at(HOUR) });
          expectDecision(decide(observe(intent, CONTAINERS[container], { run_status: 'cancelled' })), expected);
        });
      }
    }
  });

  describe('restart policies', () => {
    const withPolicy = (policy: Record<string, unknown> | undefined, more: Partial<IntentRow> = {}) =>
      intentRow({ spec: { image: 'alpine:3.20', auto_remove: false, ...(policy ? { restart_policy: policy } : {}) }, ...more });
    const exited = (exitCode: number, restartCount: number, restartPolicy = 'on-failure') =>
      containerState({ status: 'exited', exitCode, restartCount, restartPolicy, finishedAt: at(-1) });
    const WAIT: Expected = { actions: [], requeueAfterMs: 1 * SECOND };

    it('on-failure with retries left: wait for Docker to restart it', () => {
      expectDecision(decide(observe(withPolicy({ name: 'on-failure', maximum_retry_count: 3 }), exited(1, 2))), WAIT);
    });
    it('on-failure with retries exhausted: collected as failed', () => {
      expectDecision(decide(observe(withPolicy({ name: 'on-failure', maximum_retry_count: 3 }), exited(1, 3))), { actions: [collect('failed')] });
    });
    it('on-failure with exit code 0: collected as exited (Docker does not restart a success)', () => {
      expectDecision(decide(observe(withPolicy({ name: 'on-failure', maximum_retry_count: 3 }), exited(0, 0))), { actions: [collect('exited')] });
    });
    it('on-failure without a maximum retries forever: wait', () => {
      expectDecision(decide(observe(withPolicy({ name: 'on-failure' }), exited(1, 50))), WAIT);
    });
    for (const name of ['always', 'unless-stopped']) {
      for (const code of [0, 1]) {
        it(`${name}, exit ${code}: wait`, () => {
          expectDecision(decide(observe(withPolicy({ name }), exited(code, 4, name))), WAIT);
        });
      }
    }
    it('no policy in the spec: the container\'s own policy decides', () => {
      expectDecision(decide(observe(withPolicy(undefined), exited(1, 0, 'always'))), WAIT);
      expectDecision(decide(observe(withPolicy(undefined), exited(1, 0, 'no'))), { actions: [collect('failed')] });
    });
    it('"no": collected at once', () => {
      expectDecision(decide(observe(withPolicy({ name: 'no' }), exited(1, 0, 'no'))), { actions: [collect('failed')] });
    });
    it('always, but a stop is wanted: collected, not waited for', () => {
      expectDecision(decide(observe(withPolicy({ name: 'always' }), exited(0, 1, 'always'), { run_status: 'cancelled' })), {
        actions: [collect('exited')],
      });
    });
    it('always, after we signalled it: collected as cancelled', () => {
      const intent = withPolicy({ name: 'always' }, { status: 'stopping', desired_state: 'stopped', stop_reason: 'workflow_cancelled', stop_requested_at: at(-1 * SECOND) });
      expectDecision(decide(observe(intent, exited(143, 0, 'always'), { run_status: 'cancelled' })), {
        actions: [collect('cancelled', 'workflow_cancelled')],
      });
    });
    it('a dead container is not restarted by Docker: collected as failed', () => {
      const c = containerState({ status: 'dead', exitCode: 255, restartPolicy: 'always' });
      expectDecision(decide(observe(withPolicy({ name: 'always' }), c)), { actions: [collect('failed')] });
    });
    it('restarting between attempts is still running: no record, the usual requeue', () => {
      const c = containerState({ status: 'restarting', restartCount: 1, restartPolicy: 'on-failure' });
      expectDecision(decide(observe(withPolicy({ name: 'on-failure', maximum_retry_count: 3 }), c)), { actions: [], requeueAfterMs: WORKER_TIMEOUT_MS });
    });
  });

  describe('requeueAfterMs: the earliest moment a stop could become due', () => {
    const noWorker: Partial<IntentSurroundings> = { worker_exists: false, worker_status: null, worker_heartbeat_at: null };
    const recorded = (deadlineInMs: number) => intentRow({ deadline_at: at(deadlineInMs) });

    it('only a deadline: look again at the deadline', () => {
      expectDecision(decide(observe(recorded(45 * MINUTE), CONTAINERS.running, noWorker)), { actions: [], requeueAfterMs: 45 * MINUTE });
    });
    it('the activity heartbeat expires first', () => {
      const around = { ...noWorker, activity_heartbeat_timeout_s: 60, activity_heartbeat_at: at(-20 * SECOND) };
      expectDecision(decide(observe(recorded(45 * MINUTE), CONTAINERS.running, around)), { actions: [], requeueAfterMs: 40 * SECOND });
    });
    it('an activity that never heartbeat expires from its creation', () => {
      const around = { ...noWorker, activity_heartbeat_timeout_s: 60, activity_heartbeat_at: null, activity_created_at: at(-45 * SECOND) };
      expectDecision(decide(observe(recorded(45 * MINUTE), CONTAINERS.running, around)), { actions: [], requeueAfterMs: 15 * SECOND });
    });
    it('an activity that never heartbeat and has no created_at expires from the intent\'s creation', () => {
      const around = { ...noWorker, activity_heartbeat_timeout_s: 60, activity_heartbeat_at: null, activity_created_at: null };
      const intent = intentRow({ created_at: at(-50 * SECOND), deadline_at: at(45 * MINUTE) });
      expectDecision(decide(observe(intent, CONTAINERS.running, around)), { actions: [], requeueAfterMs: 10 * SECOND });
    });
    it('the worker heartbeat expires first', () => {
      const around = { activity_heartbeat_timeout_s: 60, activity_heartbeat_at: at(-20 * SECOND), worker_heartbeat_at: at(-10 * SECOND) };
      expectDecision(decide(observe(recorded(45 * MINUTE), CONTAINERS.running, around)), { actions: [], requeueAfterMs: 20 * SECOND });
    });
    it('the deadline comes first', () => {
      const around = { activity_heartbeat_timeout_s: 60, activity_heartbeat_at: NOW, worker_heartbeat_at: NOW };
      expectDecision(decide(observe(recorded(7 * SECOND), CONTAINERS.running, around)), { actions: [], requeueAfterMs: 7 * SECOND });
    });
    it('no deadline, no heartbeats to watch: a running container to record, no clock to wait for', () => {
      const intent = intentRow({ status: 'created', deadline_at: null });
      expectDecision(decide(observe(intent, CONTAINERS.running, noWorker)), { actions: [{ type: 'record_running' }] });
    });
  });

  describe('recording a running container', () => {
    it('a container adopted under another id is recorded', () => {
      const intent = intentRow({ container_id: 'f'.repeat(64) });
      expectDecision(decide(observe(intent, CONTAINERS.running)), { actions: [{ type: 'record_running' }], requeueAfterMs: WORKER_TIMEOUT_MS });
    });
    it('a running intent without a deadline is recorded (so its timeout starts)', () => {
      const intent = intentRow({ deadline_at: null });
      expectDecision(decide(observe(intent, CONTAINERS.running)), { actions: [{ type: 'record_running' }], requeueAfterMs: WORKER_TIMEOUT_MS });
    });
    it('a recorded running intent needs nothing', () => {
      expectDecision(decide(observe(intentRow(), CONTAINERS.running)), { actions: [], requeueAfterMs: WORKER_TIMEOUT_MS });
    });
  });

  describe('a container is started at most once', () => {
    const created = () => intentRow({ status: 'created', started_at: null, deadline_at: null });
    it('a created container with no start claimed is started', () => {
      expectDecision(decide(observe(created(), CONTAINERS.created)), { actions: [{ type: 'start' }] });
    });
    it('a start claimed 5 s ago (by another process, or a pass that died) is waited out, not repeated', () => {
      const intent = { ...created(), start_attempted_at: at(-5 * SECOND) };
      expectDecision(decide(observe(intent, CONTAINERS.created)), { actions: [], requeueAfterMs: 55 * SECOND });
    });
    it('a claim older than the claim window, on a container still `created`, never reached Docker: start it', () => {
      const intent = { ...created(), start_attempted_at: at(-61 * SECOND) };
      expectDecision(decide(observe(intent, CONTAINERS.created)), { actions: [{ type: 'start' }] });
    });
    it('an exited container is never started again, whatever the row says', () => {
      for (const status of ['created', 'running'] as const) {
        const intent = intentRow({ status, start_attempted_at: null });
        for (const c of ['exited 0', 'exited 2', 'dead'] as const) {
          const d = decide(observe(intent, CONTAINERS[c]));
          expect(d.actions.map((a) => a.type), `${status} / ${c}`).to.not.include('start');
        }
      }
    });
  });

  describe('level-triggered: the decision depends on the world, not on history', () => {
    it('the same observation always yields the same decision', () => {
      const o = observe(intentRow({ status: 'stopping', desired_state: 'stopped', stop_reason: 'requested', stop_requested_at: at(-4 * SECOND) }), CONTAINERS.running);
      expect(decide(o)).to.deep.equal(decide(o));
    });
    it('decide does not modify what it is given', () => {
      const o = observe(intentRow({ deadline_at: at(-1) }), CONTAINERS.running);
      const before = structuredClone(o);
      decide(o);
      expect(o).to.deep.equal(before);
    });
  });
});
