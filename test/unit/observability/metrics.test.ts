import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { register as globalRegister } from 'prom-client';
import { Metrics } from '../../../src/observability/metrics.js';
import { parsePrometheusText, sampleValue } from '../../support/prom-text.js';

const OURS: Record<string, { type: string; labels: string[] }> = {
  highway_docker_intents: { type: 'gauge', labels: ['status', 'host'] },
  highway_docker_transitions_total: { type: 'counter', labels: ['status', 'stop_reason'] },
  highway_docker_reconcile_duration_seconds: { type: 'histogram', labels: ['kind'] },
  highway_docker_queue_depth: { type: 'gauge', labels: ['kind'] },
  highway_docker_docker_request_duration_seconds: { type: 'histogram', labels: ['operation'] },
  highway_docker_docker_errors_total: { type: 'counter', labels: ['operation'] },
  highway_docker_breaker_state: { type: 'gauge', labels: [] },
  highway_docker_events_reconnects_total: { type: 'counter', labels: [] },
  highway_docker_events_lag_seconds: { type: 'gauge', labels: [] },
  highway_docker_cron_tick_lateness_seconds: { type: 'histogram', labels: [] },
  highway_docker_gc_removals_total: { type: 'counter', labels: ['reason'] },
  highway_docker_scrape_errors_total: { type: 'counter', labels: ['collector'] },
};

describe('observability/Metrics (no database)', () => {
  it('declares every metric with its type and HELP, on its own registry (not the global one)', async () => {
    const m = new Metrics();
    const families = parsePrometheusText(await m.registry.metrics());
    for (const [name, want] of Object.entries(OURS)) {
      const f = families.get(name);
      expect(f, name).to.not.equal(undefined);
      expect(f!.type, name).to.equal(want.type);
      expect(f!.help, name).to.be.a('string').and.not.equal('');
    }
    expect(families.has('process_cpu_user_seconds_total')).to.equal(true);
    expect(families.has('nodejs_eventloop_lag_seconds')).to.equal(true);
    expect(await globalRegister.getSingleMetric('highway_docker_intents')).to.equal(undefined);
    // Two instances side by side do not collide.
    const other = new Metrics({ defaultMetrics: false });
    expect([...parsePrometheusText(await other.registry.metrics()).keys()].every((n) => n.startsWith('highway_docker_'))).to.equal(true);
  });

  it('records what the other modules report, with bounded labels only', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.transition('cancelled', 'workflow_cancelled');
    m.transition('exited', null);
    m.transition('exited');
    await m.timeReconcile('run', async () => {});
    await m.timeDockerRequest('create', async () => 'ok');
    await m.timeDockerRequest('start', () => Promise.reject(new Error('boom'))).catch(() => {});
    m.queueDepth.set({ kind: 'run' }, 3);
    m.eventsReconnects.inc();
    m.eventArrived(BigInt(Date.now() - 1500) * 1_000_000n);
    m.cronTickLateness.observe(0.2);
    m.gcRemovals.inc({ reason: 'orphan' });
    const breaker = new EventEmitter();
    const off = m.observeBreaker(breaker);
    breaker.emit('open');

    const f = parsePrometheusText(await m.registry.metrics());
    expect(sampleValue(f, 'highway_docker_transitions_total', { status: 'cancelled', stop_reason: 'workflow_cancelled' })).to.equal(1);
    expect(sampleValue(f, 'highway_docker_transitions_total', { status: 'exited', stop_reason: '' })).to.equal(2);
    expect(sampleValue(f, 'highway_docker_reconcile_duration_seconds_count', { kind: 'run' })).to.equal(1);
    expect(sampleValue(f, 'highway_docker_docker_request_duration_seconds_count', { operation: 'create' })).to.equal(1);
    expect(sampleValue(f, 'highway_docker_docker_request_duration_seconds_count', { operation: 'start' })).to.equal(1);
    expect(sampleValue(f, 'highway_docker_docker_errors_total', { operation: 'start' })).to.equal(1);
    expect(sampleValue(f, 'highway_docker_docker_errors_total', { operation: 'create' })).to.equal(undefined);
    expect(sampleValue(f, 'highway_docker_queue_depth', { kind: 'run' })).to.equal(3);
    expect(sampleValue(f, 'highway_docker_events_reconnects_total')).to.equal(1);
    expect(sampleValue(f, 'highway_docker_events_lag_seconds')).to.be.within(1.4, 5);
    expect(sampleValue(f, 'highway_docker_cron_tick_lateness_seconds_bucket', { le: '0.25' })).to.equal(1);
    expect(sampleValue(f, 'highway_docker_gc_removals_total', { reason: 'orphan' })).to.equal(1);
    expect(sampleValue(f, 'highway_docker_breaker_state')).to.equal(2);
    breaker.emit('halfOpen');
    expect((await m.breakerState.get()).values[0]!.value).to.equal(1);
    breaker.emit('close');
    expect((await m.breakerState.get()).values[0]!.value).to.equal(0);
    off();
    breaker.emit('open');
    expect((await m.breakerState.get()).values[0]!.value).to.equal(0);
    // No ids among the label names.
    for (const fam of f.values()) for (const s of fam.samples) for (const l of Object.keys(s.labels)) expect(l).to.not.match(/tenant|intent|container|schedule|_id$/);
  });
});
