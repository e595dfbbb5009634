/**
 * Resource parameters on a real daemon (cgroup v1): memory_limit (and the OOM kill),
 * cpu_limit, pids_limit, ulimits, oom_kill_disable, and the warnings of runs without limits.
 */
import { expect } from 'chai';
import { defaultPolicy } from '../../../src/params/policy.js';
import type { Harness } from '../../support/harness.js';
import { expectNoContainers, inspectWhileRunning, sleepy, startHarness, useParamsHarness } from './helpers.js';

const MiB = 1024 * 1024;
/** Every limit set: no warnings. */
const LIMITED = { memory_limit: '64m', cpu_limit: 1, pids_limit: 64 };

describe('params: resources (real Docker)', function () {
  this.timeout(60_000);
  const h = useParamsHarness();

  describe('memory_limit', () => {
    it('is the cgroup memory limit the container sees, and Docker records it', async () => {
      const { info, result } = await inspectWhileRunning(h, {
        ...LIMITED,
        memory_limit: '16m',
        command: sleepy('cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
      });
      expect(info.HostConfig.Memory).to.equal(16 * MiB);
      expect(result.status).to.equal('exited');
      const [limit, memsw] = result.stdout.trim().split('\n').map(Number);
      expect(limit).to.equal(16 * MiB);
      // MemorySwap = Memory: the limit is the whole allowance, swap included.
      // On a host with swap, the container may use up to 16m of swap on top (see the report).
      expect(memsw).to.equal(16 * MiB);
      expect(info.HostConfig.MemorySwap).to.equal(16 * MiB);
    });

    it('a container that allocates past it is OOM-killed: status failed, oom_killed true, and removed', async () => {
      // Holds 64 MiB in a shell variable under a 16 MiB limit (memory + swap is 32 MiB).
      const result = await h.run({
        ...LIMITED,
        memory_limit: '16m',
        command: ['sh', '-c', 'echo allocating; x=$(head -c 67108864 /dev/zero | tr "\\0" a); echo "survived ${#x}"'],
      });
      expect(result.status).to.equal('failed');
      expect(result.oom_killed).to.equal(true);
      expect(result.exit_code).to.equal(137);
      expect(result.error).to.match(/out of memory/i);
      expect(result.error_code).to.equal('oom_killed');
      expect(result.stdout).to.equal('allocating\n'); // output before the kill survives
      expect(result.stdout).not.to.contain('survived');
      const exited = h.log.events('container.exited', result.intent_id)[0]!;
      expect(exited).to.include({ status: 'failed', oom_killed: true, code: 'oom_killed' });
      const row = await h.intent(result.intent_id);
      expect(row!.oom_killed).to.equal(true);
      expect(row!.removed_at).to.be.instanceOf(Date);
    });

    it('a container that stays under it is not OOM-killed, and the same program succeeds', async () => {
      const result = await h.run({
        ...LIMITED,
        memory_limit: '256m',
        command: ['sh', '-c', 'x=$(head -c 8388608 /dev/zero | tr "\\0" a); echo "survived ${#x}"'],
      });
      expect(result.status).to.equal('exited');
      expect(result.oom_killed).to.equal(false);
      expect(result.stdout).to.equal(`survived ${8 * MiB}\n`);
    });
  });

  describe('cpu_limit', () => {
    it('becomes a CFS quota of that many CPUs', async () => {
      const { info, result } = await inspectWhileRunning(h, {
        ...LIMITED,
        cpu_limit: 0.5,
        command: sleepy('cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us'),
      });
      expect(info.HostConfig.NanoCpus).to.equal(500_000_000);
      const [quota, period] = result.stdout.trim().split('\n').map(Number);
      expect(quota! / period!).to.equal(0.5);
    });
  });

  describe('pids_limit', () => {
    it('is the pids cgroup limit, and makes fork fail past it', async () => {
      const result = await h.run({
        ...LIMITED,
        pids_limit: 4,
        // init + sh use two slots; the background sleeps exhaust the rest.
        command: ['sh', '-c', 'cat /sys/fs/cgroup/pids/pids.max; for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait; echo all-forked'],
      });
      expect(result.stdout).to.match(/^4\n/);
      expect(result.stdout).not.to.contain('all-forked');
      expect(result.stderr).to.match(/can't fork/);
      expect(result.status).to.equal('failed');
    });

    it('leaves room for the processes below the limit', async () => {
      const result = await h.run({
        ...LIMITED,
        pids_limit: 32,
        command: ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 0.2 & done; wait; echo all-forked'],
      });
      expect(result.status).to.equal('exited');
      expect(result.stdout).to.equal('all-forked\n');
    });
  });

  describe('ulimits', () => {
    it('sets the soft and hard limits the container sees', async () => {
      const result = await h.run({
        ...LIMITED,
        ulimits: { nofile: { soft: 100, hard: 200 }, nproc: 50 },
        command: ['sh', '-c', 'ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu'],
      });
      expect(result.status).to.equal('exited');
      expect(result.stdout.split('\n').slice(0, 4)).to.deep.equal(['100', '200', '50', '50']);
    });

    it('the list shape, with -1 for unlimited', async () => {
      const result = await h.run({ ...LIMITED, ulimits: [{ name: 'core', soft: -1, hard: -1 }], command: ['sh', '-c', 'ulimit -c'] });
      expect(result.stdout).to.equal('unlimited\n');
    });

    it('a soft limit above the hard one is refused before Docker', async () => {
      const ctx = h.ctx();
      const err = await h.run({ ulimits: { nofile: { soft: 300, hard: 200 } } }, ctx).catch((e: Error) => e);
      expect((err as { field?: string }).field).to.equal('ulimits.nofile.soft');
      expect(await h.intentOfActivity(ctx.activity_id)).to.equal(null);
    });
  });

  describe('runs without limits are warned about', () => {
    it('one structured warning event per missing limit, and the same in the result and the row', async () => {
      const ctx = h.ctx();
      const result = await h.run({ command: ['true'] }, ctx);
      expect(result.status).to.equal('exited');
      expect(result.warnings).to.have.length(3);
      expect(result.warnings.join('\n')).to.match(/memory_limit/).and.match(/cpu_limit/).and.match(/pids_limit/);
      const events = h.log.events('intent.warning', result.intent_id);
      expect(events.map((e) => e['warning'])).to.deep.equal(result.warnings);
      for (const event of events) {
        expect(event).to.include({ level: 40, activity_id: ctx.activity_id, tenant_id: ctx.tenant_id });
      }
      expect((await h.intent(result.intent_id))!.warnings).to.deep.equal(result.warnings);
    });

    it('names only the missing limit; pids_limit -1 counts as none', async () => {
      const result = await h.run({ memory_limit: '64m', cpu_limit: 1, pids_limit: -1, command: ['true'] });
      expect(result.warnings).to.have.length(1);
      expect(result.warnings[0]).to.match(/pids_limit/);
      expect(h.log.events('intent.warning', result.intent_id)).to.have.length(1);
    });

    it('no warning when every limit is set', async () => {
      const result = await h.run({ ...LIMITED, command: ['true'] });
      expect(result.warnings).to.deep.equal([]);
      expect(h.log.events('intent.warning', result.intent_id)).to.deep.equal([]);
    });

    it('a re-attached call returns the warnings recorded with the intent, without warning again', async () => {
      const ctx = h.ctx();
      const first = await h.run({ command: ['true'] }, ctx);
      const again = await h.run({ command: ['true'] }, ctx);
      expect(again.warnings).to.deep.equal(first.warnings);
      expect(h.log.events('intent.warning', first.intent_id)).to.have.length(3);
    });
  });

  describe('oom_kill_disable (allowed by a custom policy)', () => {
    let permissive: Harness;
    before(async () => {
      permissive = await startHarness({ policy: { ...defaultPolicy, allow_oom_kill_disable: true } });
    });
    after(async () => {
      await permissive?.stop();
    });

    it('disables the OOM killer of the container cgroup', async () => {
      const { info, result } = await inspectWhileRunning(permissive, {
        ...LIMITED,
        oom_kill_disable: true,
        command: sleepy('cat /sys/fs/cgroup/memory/memory.oom_control'),
      });
      expect(info.HostConfig.OomKillDisable).to.equal(true);
      expect(result.status).to.equal('exited');
      expect(result.stdout).to.match(/^oom_kill_disable 1$/m);
      await expectNoContainers(permissive);
    });
  });
});
