/**
 * Lifecycle parameters on a real daemon: restart_policy (with the reconciler's view of
 * Docker's restarts), healthcheck, log_config, detach, stop_signal, gc_protect_seconds;
 * and the process parameters (command, entrypoint, environment, labels).
 */
import { expect } from 'chai';
import { ValidationError } from '../../../src/errors.js';
import { inspectWhileRunning, rejection, sleepy, useParamsHarness, containerGone } from './helpers.js';
import { eventually } from '../../support/eventually.js';

const LIMITED = { memory_limit: '64m', cpu_limit: 1, pids_limit: 64 };

describe('params: lifecycle (real Docker)', function () {
  this.timeout(60_000);
  const h = useParamsHarness();

  /** For auto_remove: false runs: the container is kept; inspect it, then remove it. */
  async function inspectKept(containerId: string | null) {
    expect(containerId).to.be.a('string');
    const container = h.docker.getContainer(containerId!);
    const info = await container.inspect();
    await container.remove({ force: true });
    return info;
  }

  describe('restart_policy', () => {
    it('on-failure with maximum_retry_count 2: Docker runs it 3 times, and the result is the last failure', async () => {
      const result = await h.run({
        ...LIMITED,
        auto_remove: false,
        restart_policy: { name: 'on-failure', maximum_retry_count: 2 },
        command: ['sh', '-c', 'echo run; exit 3'],
      });
      expect(result.status).to.equal('failed');
      expect(result.exit_code).to.equal(3);
      expect(result.error).to.equal('exited with code 3');
      expect(result.stdout).to.equal('run\nrun\nrun\n'); // the output of every run
      const info = await inspectKept(result.container_id);
      expect(info.RestartCount).to.equal(2);
      expect(info.HostConfig.RestartPolicy).to.deep.equal({ Name: 'on-failure', MaximumRetryCount: 2 });
      expect(h.log.events('container.exited', result.intent_id)).to.have.length(1); // one result, not one per run
    });

    it('on-failure: a run that succeeds after a failure ends exited (docker-py spelling)', async () => {
      // The writable layer survives a restart, so the second run sees the first's marker.
      const result = await h.run({
        ...LIMITED,
        auto_remove: false,
        restart_policy: { Name: 'on-failure', MaximumRetryCount: 5 },
        command: ['sh', '-c', 'if [ -f /ran ]; then echo second; exit 0; fi; touch /ran; echo first; exit 1'],
      });
      expect(result.status).to.equal('exited');
      expect(result.exit_code).to.equal(0);
      expect(result.stdout).to.equal('first\nsecond\n');
      expect((await inspectKept(result.container_id)).RestartCount).to.equal(1);
    });

    it('always: Docker keeps restarting it until the timeout stops it for good', async () => {
      const result = await h.run({
        ...LIMITED,
        auto_remove: false,
        timeout: 2,
        restart_policy: { name: 'always' },
        command: ['sh', '-c', 'echo tick; sleep 0.2; exit 0'],
      });
      expect(result.status).to.equal('timeout');
      expect(result.stdout.split('tick').length - 1).to.be.at.least(2);
      const info = await inspectKept(result.container_id);
      expect(info.RestartCount).to.be.at.least(1);
      expect(info.State.Running).to.equal(false); // the stop was not undone by the policy
    });

    it('"no" is accepted with auto_remove (the default) and sent to Docker', async () => {
      const { info, result } = await inspectWhileRunning(h, { ...LIMITED, restart_policy: { name: 'no' }, command: sleepy('true') });
      expect(info.HostConfig.RestartPolicy?.Name).to.equal('no');
      expect(result.status).to.equal('exited');
    });

    it('a restarting policy with auto_remove is refused before Docker', async () => {
      const ctx = h.ctx();
      const err = await rejection(h.run({ restart_policy: { name: 'always' } }, ctx));
      expect((err as ValidationError).field).to.equal('restart_policy');
      expect(await h.intentOfActivity(ctx.activity_id)).to.equal(null);
    });
  });

  describe('healthcheck', () => {
    /** The container's health once `until` accepts its status, or as it is after 15 s (the test's assertion then says what it is). */
    async function healthOf(id: string, until: (status: string | undefined) => boolean): Promise<Record<string, unknown>> {
      const read = async () => {
        const info = await h.docker.getContainer(id).inspect();
        const health = (info.State as { Health?: { Status?: string } }).Health;
        return { ...(health ?? {}), config: info.Config.Healthcheck } as Record<string, unknown>;
      };
      return eventually(read, { what: 'a health status', timeoutMs: 15_000, everyMs: 100, until: (h) => until(h['Status'] as string | undefined) }).catch(read);
    }

    it('a passing check makes the container healthy', async () => {
      const ctx = h.ctx();
      const running = h.run({ ...LIMITED, healthcheck: { test: ['CMD', 'true'], interval: '200ms', timeout: 2_000_000_000, retries: 1 }, command: ['sleep', '4'] }, ctx);
      const row = await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
      const health = await healthOf(row.container_id!, (s) => s === 'healthy');
      expect(health['Status']).to.equal('healthy');
      expect(health['config']).to.deep.include({ Test: ['CMD', 'true'], Interval: 200_000_000, Timeout: 2_000_000_000, Retries: 1 });
      expect((await running).status).to.equal('exited');
    });

    it('a failing check (shell string) makes it unhealthy after the retries', async () => {
      const ctx = h.ctx();
      const running = h.run({ ...LIMITED, healthcheck: { test: 'test -f /ready', interval: 200_000_000, retries: 2 }, command: ['sleep', '4'] }, ctx);
      const row = await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
      const health = await healthOf(row.container_id!, (s) => s === 'unhealthy');
      expect(health['Status']).to.equal('unhealthy');
      expect(health['FailingStreak']).to.be.at.least(2);
      expect((health['config'] as { Test: string[] }).Test).to.deep.equal(['CMD-SHELL', 'test -f /ready']);
      // Health is informational: the run's result is its exit.
      expect((await running).status).to.equal('exited');
    });
  });

  describe('log_config', () => {
    it('json-file with options: Docker uses it, and the output is still collected', async () => {
      const { info, result } = await inspectWhileRunning(h, {
        ...LIMITED,
        log_config: { type: 'json-file', config: { 'max-size': '1m', 'max-file': 2 } },
        command: sleepy('echo logged; echo err >&2'),
      });
      expect(info.HostConfig.LogConfig).to.deep.equal({ Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } });
      expect(result.stdout).to.equal('logged\n');
      expect(result.stderr).to.equal('err\n');
    });

    it('local: the output is collected', async () => {
      const { info, result } = await inspectWhileRunning(h, { ...LIMITED, log_config: { type: 'local' }, command: sleepy('echo via-local') });
      expect(info.HostConfig.LogConfig?.Type).to.equal('local');
      expect(result.stdout).to.equal('via-local\n');
    });

    it('"none" is refused before Docker: the output could never be collected', async () => {
      const ctx = h.ctx();
      const err = await rejection(h.run({ log_config: { type: 'none' } }, ctx));
      expect(err).to.be.instanceOf(ValidationError);
      expect((err as ValidationError).field).to.equal('log_config.type');
      expect(await h.intentOfActivity(ctx.activity_id)).to.equal(null);
    });
  });

  describe('detach', () => {
    it('returns once the container runs, with its ids; the run is still collected and removed', async () => {
      const ctx = h.ctx();
      const params = { ...LIMITED, detach: true, command: ['sh', '-c', 'echo started; sleep 1.5; echo finished'] };
      const detached = await h.run(params, ctx);
      expect(detached.status).to.equal('running');
      expect(detached.container_id).to.match(/^[0-9a-f]{64}$/);
      expect(detached.short_id).to.equal(detached.container_id!.slice(0, 12));
      expect(detached.exit_code).to.equal(null);
      expect(detached.warnings).to.deep.equal([]);
      const info = await h.docker.getContainer(detached.container_id!).inspect();
      expect(info.State.Running).to.equal(true);
      expect(info.Name).to.equal(`/highway-${detached.intent_id}`);

      const row = await h.waitFor(ctx.activity_id, (r) => r.removed_at !== null);
      expect(row.status).to.equal('exited');
      expect(row.stdout).to.equal('started\nfinished\n');
      expect(await containerGone(h, detached.container_id)).to.equal(true);

      // The same activity, without detach: the final result, nothing run again.
      const final = await h.run({ ...params, detach: false }, ctx);
      expect(final).to.include({ intent_id: detached.intent_id, container_id: detached.container_id, status: 'exited', exit_code: 0, stdout: 'started\nfinished\n' });
      expect(h.log.events('container.created', detached.intent_id)).to.have.length(1);
    });

    it('a waiting call for the same activity returns when the detached container finishes', async () => {
      const ctx = h.ctx();
      const detached = await h.run({ ...LIMITED, detach: true, command: ['sh', '-c', 'sleep 1; echo waited'] }, ctx);
      expect(detached.status).to.equal('running');
      const final = await h.run({ ...LIMITED, command: ['sh', '-c', 'sleep 1; echo waited'] }, ctx);
      expect(final.status).to.equal('exited');
      expect(final.stdout).to.equal('waited\n');
    });

    it('a detached container is still timed out, collected and removed', async () => {
      const ctx = h.ctx();
      const detached = await h.run({ ...LIMITED, detach: true, timeout: 1, command: ['sh', '-c', 'echo before; sleep 30'] }, ctx);
      expect(detached.status).to.equal('running');
      const row = await h.waitFor(ctx.activity_id, (r) => r.removed_at !== null, 20_000);
      expect(row.status).to.equal('timeout');
      expect(row.stdout).to.equal('before\n');
      expect(row.error).to.match(/timeout/);
      expect(await containerGone(h, detached.container_id)).to.equal(true);
    });

    it('a detached container that ends before the call returns gives the final result', async () => {
      const result = await h.run({ ...LIMITED, detach: true, command: ['sh', '-c', 'echo quick; exit 4'] });
      // Either it was seen running, or it had already ended (then the result is final).
      if (result.status !== 'running') {
        expect(result).to.include({ status: 'failed', exit_code: 4, stdout: 'quick\n' });
      }
      await h.waitFor((await h.intent(result.intent_id))!.activity_id, (r) => r.removed_at !== null);
    });
  });

  describe('stop_signal', () => {
    it('is the signal the timeout sends (and Docker records it)', async () => {
      const { info, result } = await inspectWhileRunning(h, {
        ...LIMITED,
        timeout: 1,
        stop_signal: 'USR1',
        command: ['sh', '-c', 'trap "echo got-usr1; exit 0" USR1; trap "echo got-term; exit 0" TERM; while true; do sleep 0.1; done'],
      });
      expect((info.Config as { StopSignal?: string }).StopSignal).to.equal('SIGUSR1');
      expect(result.status).to.equal('timeout');
      expect(result.stdout).to.equal('got-usr1\n');
      expect(h.log.events('container.stopping', result.intent_id)[0]).to.include({ signal: 'SIGUSR1' });
    });

    it('a number is a signal too', async () => {
      const result = await h.run({ ...LIMITED, timeout: 1, stop_signal: 2, command: ['sh', '-c', 'trap "echo got-int; exit 0" INT; while true; do sleep 0.1; done'] });
      expect(result.status).to.equal('timeout');
      expect(result.stdout).to.equal('got-int\n');
    });
  });

  describe('stop_grace_period', () => {
    it('becomes the StopTimeout Docker records (whole seconds, rounded up)', async () => {
      const { info } = await inspectWhileRunning(h, { ...LIMITED, stop_grace_period: '1500ms', command: sleepy('true') });
      expect((info.Config as { StopTimeout?: number }).StopTimeout).to.equal(2);
    });
  });

  describe('gc_protect_seconds', () => {
    it('keeps the finished container for that long, then removes it', async () => {
      const ctx = h.ctx();
      const result = await h.run({ ...LIMITED, gc_protect_seconds: 2, command: ['echo', 'kept-a-while'] }, ctx);
      expect(result.status).to.equal('exited');
      expect(result.stdout).to.equal('kept-a-while\n');
      const stillThere = !(await containerGone(h, result.container_id)); // for debugging, as asked
      const removed = await h.waitFor(ctx.activity_id, (r) => r.removed_at !== null, 20_000);
      expect(removed.gc_protected_until, 'gc_protected_until').to.be.instanceOf(Date);
      expect(removed.gc_protected_until!.getTime() - removed.finished_at!.getTime()).to.be.within(1_000, 10_000);
      const earlyMs = removed.gc_protected_until!.getTime() - removed.removed_at!.getTime();
      expect(earlyMs, `removed ${earlyMs} ms before gc_protected_until`).to.be.at.most(50);
      expect(stillThere, 'the container was there when the result came back').to.equal(true);
      expect(await containerGone(h, result.container_id)).to.equal(true);
    });

    it('the protection also holds a failed run (the usual reason to debug)', async () => {
      const ctx = h.ctx();
      const result = await h.run({ ...LIMITED, gc_protect_seconds: 2, command: ['sh', '-c', 'echo broken >&2; exit 1'] }, ctx);
      expect(result.status).to.equal('failed');
      const stillThere = !(await containerGone(h, result.container_id));
      const removed = await h.waitFor(ctx.activity_id, (r) => r.removed_at !== null, 20_000);
      expect(stillThere, 'the failed container was there when the result came back').to.equal(true);
      const earlyMs = removed.gc_protected_until!.getTime() - removed.removed_at!.getTime();
      expect(earlyMs, `removed ${earlyMs} ms before gc_protected_until`).to.be.at.most(50);
    });
  });

  describe('the process: command, entrypoint, environment, labels', () => {
    it('command as a string is split like a shell would, without expansions', async () => {
      const result = await h.run({ ...LIMITED, command: `sh -c 'echo "one  two" $0' literal\\ arg` });
      expect(result.stdout).to.equal('one  two literal arg\n');
    });

    it('entrypoint replaces the image\'s, and command becomes its arguments', async () => {
      const { info, result } = await inspectWhileRunning(h, { ...LIMITED, entrypoint: ['sh', '-c'], command: ['echo from-entrypoint; sleep 0.6'] });
      expect(info.Config.Entrypoint).to.deep.equal(['sh', '-c']);
      expect(result.stdout).to.equal('from-entrypoint\n');
    });

    it('environment: strings, numbers and booleans, in both shapes', async () => {
      const a = await h.run({ ...LIMITED, environment: { TEXT: 'a b', NUM: 42, FLAG: false }, command: ['sh', '-c', 'echo "$TEXT|$NUM|$FLAG"'] });
      expect(a.stdout).to.equal('a b|42|false\n');
      const b = await h.run({ ...LIMITED, environment: ['EQ=x=y', 'EMPTY='], command: ['sh', '-c', 'echo "$EQ|${EMPTY-unset}"'] });
      expect(b.stdout).to.equal('x=y|\n');
    });

    it('labels: the caller\'s labels sit next to highway-docker\'s', async () => {
      const { info } = await inspectWhileRunning(h, { ...LIMITED, labels: { team: 'data', 'com.example/purpose': 'params test' }, command: sleepy('true') });
      expect(info.Config.Labels).to.include({ team: 'data', 'com.example/purpose': 'params test', 'highway.managed': 'true', 'highway.reconciler_id': h.reconcilerId });
    });
  });
});
