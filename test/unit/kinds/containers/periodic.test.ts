import { expect } from 'chai';
import { periodicKeys } from '../../../../src/kinds/containers/periodic.js';
import { decide } from '../../../../src/kinds/containers/decide.js';
import type { IntentSurroundings, ReconcileState } from '../../../../src/kinds/containers/queries/load-reconcile-state.js';
import type { ContainerSummary } from '../../../../src/docker/client.js';
import { LABELS, type IntentRow } from '../../../../src/model.js';
import { CONTAINER_ID, INTENT_ID, NOW, SECOND, MINUTE, at, containerState, intentRow, pendingIntent, surroundings } from '../../../support/fixtures.js';

const RECONCILER = 'reconciler-1';
const CLUSTER = 'cluster-1';
const WORKER_TIMEOUT_MS = 30 * SECOND;
const OTHER_ID = '1b6f3e2a-1c4d-4e5f-8a9b-0c1d2e3f4a5c';

const state = (intent: Partial<IntentRow> = {}, around: Partial<IntentSurroundings> = {}): ReconcileState => ({
  intent: intentRow(intent),
  around: surroundings(around),
  dbNow: NOW,
});

function summary(overrides: Partial<ContainerSummary> = {}, labels: Record<string, string> = {}): ContainerSummary {
  return {
    id: CONTAINER_ID,
    names: [`highway-${INTENT_ID}`],
    state: 'running',
    createdAt: at(-90 * SECOND),
    labels: { [LABELS.managed]: 'true', [LABELS.reconcilerId]: RECONCILER, [LABELS.clusterId]: CLUSTER, [LABELS.intentId]: INTENT_ID, ...labels },
    ...overrides,
  };
}

const keys = (states: ReconcileState[], containers: ContainerSummary[]) =>
  periodicKeys({ states, containers, reconcilerId: RECONCILER, clusterId: CLUSTER, workerTimeoutMs: WORKER_TIMEOUT_MS });

describe('containers kind: the periodic resync enqueues only where rows and containers disagree', () => {
  it('skips a running intent whose container runs as recorded, nothing due (and a full pass would decide nothing)', () => {
    const s = state();
    expect(keys([s], [summary()])).to.deep.equal([]);
    // The same world, as a full pass would see it: no action.
    expect(decide({ ...s, now: s.dbNow, container: containerState(), workerTimeoutMs: WORKER_TIMEOUT_MS }).actions).to.deep.equal([]);
  });

  it('skips a paused or restarting container of a running intent', () => {
    expect(keys([state()], [summary({ state: 'paused' })])).to.deep.equal([]);
    expect(keys([state()], [summary({ state: 'restarting' })])).to.deep.equal([]);
  });

  const disagreements: Array<{ name: string; states: ReconcileState[]; containers: ContainerSummary[] }> = [
    { name: 'the row says running and Docker has no such container (a missed destroy)', states: [state()], containers: [] },
    { name: 'the row says running and the container exited (a missed die)', states: [state()], containers: [summary({ state: 'exited' })] },
    { name: 'the row says running and the container is dead', states: [state()], containers: [summary({ state: 'dead' })] },
    { name: 'the container is another one than the row records', states: [state()], containers: [summary({ id: 'f'.repeat(64) })] },
    { name: 'the row has no deadline recorded', states: [state({ deadline_at: null })], containers: [summary()] },
    { name: 'the timeout is due', states: [state({ deadline_at: at(-1) })], containers: [summary()] },
    { name: 'a stop was asked for (a missed NOTIFY)', states: [state({ desired_state: 'stopped', stop_reason: 'requested' })], containers: [summary()] },
    { name: 'the workflow run was cancelled', states: [state({}, { run_status: 'cancelled' })], containers: [summary()] },
    { name: 'the activity is gone', states: [state({}, { activity_exists: false, activity_status: null })], containers: [summary()] },
    { name: 'the activity timed out', states: [state({}, { activity_status: 'timed_out' })], containers: [summary()] },
    { name: 'the activity heartbeat expired', states: [state({}, { activity_heartbeat_timeout_s: 30, activity_heartbeat_at: at(-31 * SECOND) })], containers: [summary()] },
    { name: 'the worker is dead', states: [state({}, { worker_status: 'dead' })], containers: [summary()] },
    { name: 'the worker heartbeat expired', states: [state({}, { worker_heartbeat_at: at(-31 * SECOND) })], containers: [summary()] },
    { name: 'the intent is pending (unclaimed, not yet created)', states: [{ ...state(), intent: pendingIntent({ reconciler_id: null }) }], containers: [] },
    { name: 'the intent is created with a start claim', states: [state({ status: 'created', start_attempted_at: at(-5 * SECOND), deadline_at: null })], containers: [summary({ state: 'created' })] },
    { name: 'the intent is stopping (a grace period runs)', states: [state({ status: 'stopping', stop_requested_at: at(-5 * SECOND) })], containers: [summary()] },
    { name: 'the intent ended and its container is not removed yet', states: [state({ status: 'exited', finished_at: at(-MINUTE) })], containers: [summary({ state: 'exited' })] },
    { name: 'a container of ours has no live row of ours (a stray, a handed-back create)', states: [], containers: [summary({ state: 'created' })] },
  ];
  for (const d of disagreements) {
    it(`enqueues the key when ${d.name}`, () => {
      expect(keys(d.states, d.containers)).to.deep.equal([INTENT_ID]);
    });
  }

  it('enqueues a key once when two containers carry one intent', () => {
    expect(keys([state()], [summary(), summary({ id: 'f'.repeat(64) })])).to.deep.equal([INTENT_ID]);
  });

  it('ignores another cluster’s containers and containers without an intent label', () => {
    expect(keys([], [summary({}, { [LABELS.clusterId]: 'other-cluster' }), summary({}, { [LABELS.intentId]: 'not-a-uuid' })])).to.deep.equal([]);
  });

  it('picks the disagreeing keys out of many quiet ones', () => {
    const quiet = state();
    const exited = { ...state(), intent: intentRow({ id: OTHER_ID, container_id: 'e'.repeat(64) }) };
    const containers = [summary(), summary({ id: 'e'.repeat(64), state: 'exited' }, { [LABELS.intentId]: OTHER_ID })];
    expect(keys([quiet, exited], containers)).to.deep.equal([OTHER_ID]);
  });
});
