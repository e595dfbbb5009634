/**
 * Filesystem parameters on a real daemon, seen from inside the container and from inspect:
 * read_only, working_dir, tmpfs (and its size), shm_size, volumes (bind mounts ro and rw).
 */
import { expect } from 'chai';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Harness } from '../../support/harness.js';
import { expectNoContainers, inspectWhileRunning, sleepy, startHarness } from './helpers.js';

const LIMITED = { memory_limit: '64m', cpu_limit: 1, pids_limit: 64 };

describe('params: filesystem (real Docker)', function () {
  this.timeout(60_000);
  let h: Harness;
  let hostDir: string;

  before(async () => {
    h = await startHarness();
    hostDir = await mkdtemp(join(tmpdir(), 'highway-params-'));
    await writeFile(join(hostDir, 'input.txt'), 'from the host\n');
    // The container's root has no DAC_OVERRIDE (cap_drop ALL): make the rw test independent of owners.
    await chmod(hostDir, 0o777);
  });
  after(async () => {
    await h?.stop();
    if (hostDir) await rm(hostDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await expectNoContainers(h);
  });

  describe('read_only', () => {
    it('true: the root filesystem cannot be written, and Docker records it', async () => {
      const { info, result } = await inspectWhileRunning(h, { ...LIMITED, read_only: true, command: sleepy('touch /written || echo refused') });
      expect(info.HostConfig.ReadonlyRootfs).to.equal(true);
      expect(result.stdout).to.equal('refused\n');
      expect(result.stderr).to.match(/Read-only file system/);
    });

    it('false (the default): the root filesystem is writable', async () => {
      const result = await h.run({ ...LIMITED, command: ['sh', '-c', 'echo x > /written && cat /written'] });
      expect(result.stdout).to.equal('x\n');
    });

    it('true with a tmpfs: only the tmpfs is writable', async () => {
      const result = await h.run({
        ...LIMITED,
        read_only: true,
        tmpfs: ['/scratch'],
        command: ['sh', '-c', 'echo ok > /scratch/f && cat /scratch/f; echo x > /etc/f || echo etc-refused'],
      });
      expect(result.stdout).to.equal('ok\netc-refused\n');
    });
  });

  describe('working_dir', () => {
    it('is the directory the command starts in', async () => {
      const { info, result } = await inspectWhileRunning(h, { ...LIMITED, working_dir: '/etc', command: sleepy('pwd') });
      expect(info.Config.WorkingDir).to.equal('/etc');
      expect(result.stdout).to.equal('/etc\n');
    });

    it('a directory that does not exist is created by Docker', async () => {
      const result = await h.run({ ...LIMITED, working_dir: '/work/dir/', command: ['pwd'] });
      expect(result.stdout).to.equal('/work/dir\n'); // normalized: no trailing slash
    });
  });

  describe('tmpfs', () => {
    it('mounts a tmpfs of the given size and mode, as Docker records it', async () => {
      const { info, result } = await inspectWhileRunning(h, {
        ...LIMITED,
        tmpfs: { '/scratch': 'size=2m,mode=1770' },
        command: sleepy('grep " /scratch " /proc/mounts; df -k /scratch | tail -n 1; stat -c %a /scratch'),
      });
      expect(info.HostConfig.Tmpfs).to.deep.equal({ '/scratch': 'size=2m,mode=1770' });
      const [mount, df, mode] = result.stdout.trim().split('\n');
      expect(mount).to.match(/^tmpfs \/scratch tmpfs .*size=2048k/);
      expect(df!.split(/\s+/)[1]).to.equal('2048'); // 1K blocks
      expect(mode).to.equal('1770');
    });

    it('writing past its size fails with ENOSPC', async () => {
      const result = await h.run({
        ...LIMITED,
        tmpfs: ['/scratch:size=1m'],
        command: ['sh', '-c', 'dd if=/dev/zero of=/scratch/big bs=1024 count=3072 || echo full; ls -l /scratch/big | awk "{print \\$5}"'],
      });
      expect(result.stdout).to.contain('full\n');
      expect(result.stderr).to.match(/No space left on device/);
      expect(Number(result.stdout.trim().split('\n').pop())).to.be.at.most(1024 * 1024);
    });

    it('without options, a writable tmpfs', async () => {
      const result = await h.run({ ...LIMITED, tmpfs: { '/run/x': null }, command: ['sh', '-c', 'grep -c " /run/x tmpfs " /proc/mounts; touch /run/x/f && echo wrote'] });
      expect(result.stdout).to.equal('1\nwrote\n');
    });
  });

  describe('shm_size', () => {
    it('is the size of /dev/shm', async () => {
      const { info, result } = await inspectWhileRunning(h, { ...LIMITED, shm_size: '8m', command: sleepy('df -k /dev/shm | tail -n 1') });
      expect(info.HostConfig.ShmSize).to.equal(8 * 1024 * 1024);
      expect(result.stdout.split(/\s+/)[1]).to.equal('8192');
    });

    it("unset: Docker's default of 64m", async () => {
      const result = await h.run({ ...LIMITED, command: ['sh', '-c', 'df -k /dev/shm | tail -n 1'] });
      expect(result.stdout.split(/\s+/)[1]).to.equal('65536');
    });
  });

  describe('volumes (bind mounts)', () => {
    it('read-only (docker-py object shape): the container reads the host file and cannot write', async () => {
      const { info, result } = await inspectWhileRunning(h, {
        ...LIMITED,
        volumes: { [hostDir]: { bind: '/in', mode: 'ro' } },
        command: sleepy('cat /in/input.txt; echo changed > /in/input.txt || echo write-refused; touch /in/new || echo create-refused'),
      });
      expect(info.HostConfig.Mounts).to.deep.equal([{ Type: 'bind', Source: hostDir, Target: '/in', ReadOnly: true }]);
      expect(info.Mounts.find((m) => m.Destination === '/in')).to.include({ Type: 'bind', Source: hostDir, RW: false });
      expect(result.stdout).to.equal('from the host\nwrite-refused\ncreate-refused\n');
      expect(result.stderr).to.match(/Read-only file system/);
      expect(await readFile(join(hostDir, 'input.txt'), 'utf8')).to.equal('from the host\n');
    });

    it('read-write (string shape): what the container writes appears on the host', async () => {
      const result = await h.run({ ...LIMITED, volumes: [`${hostDir}:/data:rw`], command: ['sh', '-c', 'echo from-container > /data/out.txt && echo done'] });
      expect(result.stdout).to.equal('done\n');
      expect(await readFile(join(hostDir, 'out.txt'), 'utf8')).to.equal('from-container\n');
    });

    it('a host path that does not exist fails the run (Docker does not create it as root)', async () => {
      const result = await h.run({ ...LIMITED, volumes: [`${hostDir}/missing:/in:ro`], command: ['true'] });
      expect(result.status).to.equal('failed');
      expect(result.error).to.match(/create failed: .*(does not exist|no such file)/i);
      expect(result.container_id).to.equal(null);
    });
  });
});
