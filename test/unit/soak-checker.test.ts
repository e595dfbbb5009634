/**
 * The soak's checker on hand-made histories: a clean one passes every invariant, and each broken
 * promise (a second start, two runs of one fire time, a caller told something the row does not
 * say, a create without its audit row, a lie about a failure) is reported with its intent.
 */
import { expect } from 'chai';
import type { IntentRow } from '../../src/model.js';
import { check, type CheckInput } from '../soak/checker.js';
import type { DockerEventRecord } from '../soak/docker-events.js';
import type { Caller } from '../soak/workload.js';

const ID = '11111111-1111-4111-8111-111111111111';
const CID = 'c0ffee'.padEnd(64, '0');
const at = new Date('2026-12-05T00:00:00Z');

function row(over: Partial<IntentRow> = {}): IntentRow {
  return {
    id: ID, container_id: CID, short_id: CID.slice(0, 12), activity_id: 'a1', workflow_run_id: 'w1', tenant_id: 't1', worker_id: null,
    reconciler_id: 'h', image: 'img', spec: { command: ['sh'] }, status: 'exited', desired_state: 'running', stop_reason: null,
    stop_requested_at: null, start_attempted_at: at, pending_reason: null, output_interrupted_at: null, error: null, exit_code: 0,
    oom_killed: false, stdout: 'out-1\n', stderr: 'err-1\n', logs_truncated: false, duration_ms: 10, warnings: [], labels: {},
    created_at: at, started_at: at, finished_at: at, removed_at: at, deadline_at: null, gc_protected_until: null, updated_at: at,
    ...over,
  };
}

function ev(action: string, over: Partial<DockerEventRecord> = {}): DockerEventRecord {
  return { daemon: 'main', action, id: CID, name: `highway-${ID}`, timeNano: at.getTime() * 1e6, attributes: { 'highway.intent_id': ID, 'highway.activity_id': 'a1' }, ...over };
}

function caller(over: Partial<Caller> = {}): Caller {
  const r = row();
  return {
    n: 1, op: 'run_ok', tenant: 't1', via: 'tool', activity_id: 'a1', workflow_run_id: 'w1', intent_id: ID, placement: null,
    expect: { stdout: 'out-1\n', stderr: 'err-1\n', exit_code: 0 },
    received: { kind: 'result', result: { intent_id: ID, container_id: CID, short_id: null, status: 'exited', exit_code: 0, stdout: r.stdout!, stderr: r.stderr!, duration_ms: 10, image: 'img', logs_truncated: false, oom_killed: false, stop_reason: null, error: null, error_code: null, result: null, result_error: null, warnings: [] } },
    steps: [], faults: [], started_at: at.toISOString(), ended_at: at.toISOString(), done: Promise.resolve(), ...over,
  };
}

function input(over: Partial<CheckInput> = {}): CheckInput {
  return {
    rows: [row()],
    audit: [
      { id: '1', at, tenant_id: 't1', actor: 'h', intent_id: ID, operation: 'container.create', outcome: 'ok', detail: { container_id: CID } },
      { id: '2', at, tenant_id: 't1', actor: 'h', intent_id: ID, operation: 'container.remove', outcome: 'ok', detail: { container_id: CID } },
    ],
    ticks: [], schedules: [],
    events: [ev('create'), ev('start'), ev('die'), ev('destroy')],
    callers: [caller()],
    leftovers: [], bystanders: [{ daemon: 'main', id: 'b', running: true }], notSettled: [], livenessMs: 10, livenessBoundMs: 1000, workerTimeoutS: 6,
    ...over,
  };
}

const violated = (i: CheckInput) => check(i).violations.map((v) => v.check);

describe('soak checker', () => {
  it('a clean history breaks no invariant', () => {
    const c = check(input());
    expect(c.violations).to.deep.equal([]);
    expect(c.checks['single_start']).to.deep.equal({ checked: 1, violated: 0 });
  });

  it('a container started twice (Docker events) is a single_start violation naming the intent', () => {
    const c = check(input({ events: [ev('create'), ev('start'), ev('die'), ev('start'), ev('die'), ev('destroy')] }));
    expect(c.violations.map((v) => [v.check, v.intents])).to.deep.equal([['single_start', [ID]]]);
  });

  it('an activity with containers on two daemons is a one_container_per_activity violation (a second one left, or one that ran)', () => {
    const other = { daemon: 'hw-soak', id: 'other', attributes: { 'highway.activity_id': 'a1' } };
    expect(violated(input({ events: [...input().events, ev('create', other)] }))).to.include('one_container_per_activity');
    expect(violated(input({ events: [...input().events, ev('create', other), ev('start', other), ev('die', other), ev('destroy', other)] }))).to.include('one_container_per_activity');
  });

  it('a second container created, never started and removed (an intent handed back to the other host) is no violation (seed 2030)', () => {
    const other = { daemon: 'hw-soak', id: 'other', attributes: { 'highway.activity_id': 'a1' } };
    expect(violated(input({ events: [ev('create', other), ev('destroy', other), ...input().events] }))).to.not.include('one_container_per_activity');
  });

  it('two runs of one cron fire time are a cron_once violation', () => {
    const env = { HIGHWAY_SCHEDULED_TIME: '2026-12-05T00:00:03.000Z', HIGHWAY_SCHEDULE: 's' };
    const rows = [row({ spec: { environment: env }, stdout: `tick-${env.HIGHWAY_SCHEDULED_TIME}\n` }), row({ id: '22222222-2222-4222-8222-222222222222', activity_id: 'a2', spec: { environment: env }, stdout: `tick-${env.HIGHWAY_SCHEDULED_TIME}\n` })];
    expect(violated(input({ rows, callers: [] }))).to.include('cron_once');
  });

  it('a caller told another exit code than the row is a caller_got_row violation', () => {
    const k = caller();
    (k.received as { result: { exit_code: number } }).result.exit_code = 3;
    expect(violated(input({ callers: [k] }))).to.include('caller_got_row');
  });

  it('a create with no audit row, and a remove with none, are audit violations', () => {
    expect(violated(input({ audit: [] }))).to.have.members(['audit_create', 'audit_remove']);
  });

  it('failed with exit 137 (error "exited with code 137"), for a program that exits 0, is a result_honest violation', () => {
    const r = row({ status: 'failed', exit_code: 137, error: 'exited with code 137' });
    const k = caller();
    Object.assign((k.received as { result: object }).result, { status: 'failed', exit_code: 137, error: 'exited with code 137' });
    expect(violated(input({ rows: [r], callers: [k] }))).to.include('result_honest');
  });

  it('a container left on a daemon, an untouched bystander gone, and an unsettled intent are violations', () => {
    const v = violated(input({ leftovers: [{ daemon: 'main', name: `highway-${ID}`, state: 'running', intent_id: ID }], bystanders: [{ daemon: 'main', id: 'b', running: false }], notSettled: [ID] }));
    expect(v).to.include.members(['nothing_left', 'other_cluster_untouched', 'liveness']);
  });

  describe('bystanders (another cluster\'s containers): seed 19', () => {
    // Seed 19 (45 s): the soak SIGKILLed its second daemon and started it again, then started the
    // bystander there again; 21 s after the restart that daemon's new containerd was killed (its log:
    // "containerd did not exit successfully: signal: killed"; the daemon started another). The check
    // said only "stopped or removed", with no history. These events are reconstructed from that log:
    // start, die at the SIGKILL, start again, die with containerd; no kill, stop or destroy of anyone's.
    const ns = (iso: string) => Date.parse(iso) * 1e6;
    const restart = { daemon: 'hw-soak', from: Date.parse('2026-12-05T01:05:02Z'), to: Date.parse('2026-12-05T01:05:09Z') + 60_000 };
    const seed19 = { daemon: 'hw-soak', id: 'b'.repeat(64), running: false, exists: true, events: [{ action: 'create', timeNano: ns('2026-12-05T01:04:20Z') }, { action: 'start', timeNano: ns('2026-12-05T01:04:20Z') }, { action: 'die', timeNano: ns('2026-12-05T01:05:03Z') }, { action: 'start', timeNano: ns('2026-12-05T01:05:09Z') }, { action: 'die', timeNano: ns('2026-12-05T01:05:29Z') }] };

    it('stopped by the soak\'s own daemon restart (and its containerd dying after it): not a violation', () => {
      const c = check(input({ bystanders: [seed19], daemonFaults: [restart] }));
      expect(c.violations).to.deep.equal([]);
      expect(c.checks['other_cluster_untouched']).to.deep.equal({ checked: 1, violated: 0 });
    });

    it('the same stop with no daemon fault of the soak\'s on that daemon is a violation, with the bystander\'s events', () => {
      const c = check(input({ bystanders: [seed19], daemonFaults: [{ ...restart, daemon: 'main' }] }));
      expect(c.violations.map((v) => v.check)).to.deep.equal(['other_cluster_untouched']);
      expect(c.violations[0]!.message).to.include('die@2026-12-05T01:05:29.000Z');
    });

    it('a kill, a stop or a remove of anyone\'s outside the soak\'s daemon faults is a violation, even when it runs again', () => {
      for (const action of ['kill', 'stop', 'exec_create']) {
        const b = { daemon: 'main', id: 'b', running: true, exists: true, events: [{ action: 'start', timeNano: ns('2026-12-05T01:04:20Z') }, { action, timeNano: ns('2026-12-05T01:06:00Z') }] };
        expect(violated(input({ bystanders: [b] })), action).to.deep.equal(['other_cluster_untouched']);
      }
      const removed = { daemon: 'hw-soak', id: 'b', running: false, exists: false, events: [{ action: 'destroy', timeNano: ns('2026-12-05T01:05:20Z') }] };
      expect(violated(input({ bystanders: [removed], daemonFaults: [restart] }))).to.deep.equal(['other_cluster_untouched']);
    });
  });

  it('another tenant answered instead of "not found" is a tenant_isolation violation', () => {
    const probe = caller({ op: 'cross_tenant', tenant: 't2', received: { kind: 'probe' }, steps: [{ what: 'victim', got: { intent_id: ID }, at: '' }, { what: 'tools.docker.inspect', got: { kind: 'answered' }, at: '' }] });
    expect(violated(input({ callers: [caller(), probe] }))).to.deep.equal(['tenant_isolation']);
  });
});
