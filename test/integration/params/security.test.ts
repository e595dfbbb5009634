/**
 * Security parameters on a real daemon, seen from inside the container (/proc/self/status,
 * id, PID 1) and from inspect: the secure defaults, cap_drop, cap_add, user, init, privileged.
 */
import { expect } from 'chai';
import { DOCKER_DEFAULT_CAPABILITIES } from '../../../src/params/capabilities.js';
import { effectiveCapabilities, inspectWhileRunning, sleepy, useParamsHarness } from './helpers.js';

const STATUS = 'cat /proc/self/status';

describe('params: security (real Docker)', function () {
  this.timeout(60_000);
  const h = useParamsHarness();

  describe('secure defaults', () => {
    it('not privileged, cap_drop ALL, no-new-privileges and an init process, as Docker records them', async () => {
      const { info } = await inspectWhileRunning(h, { command: ['sleep', '1'] });
      expect(info.HostConfig.Privileged).to.equal(false);
      expect(info.HostConfig.CapDrop).to.deep.equal(['ALL']);
      expect(info.HostConfig.CapAdd ?? []).to.deep.equal([]);
      expect(info.HostConfig.SecurityOpt).to.deep.equal(['no-new-privileges']);
      expect(info.HostConfig.Init).to.equal(true);
      expect(info.HostConfig.NetworkMode).to.equal('none');
    });

    it('from inside: no capability at all, no_new_privs set, PID 1 is the init process', async () => {
      const result = await h.run({ command: ['sh', '-c', `${STATUS}; echo "pid1=$(cat /proc/1/comm)"; echo "uid=$(id -u)"`] });
      expect(result.status).to.equal('exited');
      const caps = effectiveCapabilities(result.stdout);
      expect(caps.eff).to.deep.equal([]);
      expect(caps.bnd).to.deep.equal([]);
      expect(caps.noNewPrivs).to.equal('1');
      expect(result.stdout).to.contain('pid1=docker-init\n');
      expect(result.stdout).to.contain('uid=0\n'); // the image's user; root without capabilities
    });

    it('root without capabilities cannot do what root usually can (chown, read what only root may)', async () => {
      const result = await h.run({
        command: ['sh', '-c', 'touch /tmp/f; chown nobody /tmp/f && echo chowned; mkdir /tmp/d; chmod 000 /tmp/d; ls /tmp/d && echo listed; exit 0'],
      });
      expect(result.stdout).not.to.contain('chowned');
      expect(result.stdout).not.to.contain('listed');
      expect(result.stderr).to.match(/Operation not permitted/);
      expect(result.stderr).to.match(/Permission denied/);
    });
  });

  describe('cap_drop', () => {
    it('an explicit list drops exactly those from Docker\'s default set, visible in CapBnd and CapEff', async () => {
      const result = await h.run({ cap_drop: ['NET_RAW', 'cap_mknod', 'SYS_CHROOT'], command: ['sh', '-c', STATUS] });
      const expected = DOCKER_DEFAULT_CAPABILITIES.filter((c) => !['NET_RAW', 'MKNOD', 'SYS_CHROOT'].includes(c)).sort();
      const caps = effectiveCapabilities(result.stdout);
      expect(caps.bnd).to.deep.equal(expected);
      expect(caps.eff).to.deep.equal(expected);
      expect(caps.noNewPrivs).to.equal('1'); // still on: nothing was added
    });
  });

  describe('cap_add', () => {
    it('adds only the named capability to an otherwise empty set, and lifts no-new-privileges', async () => {
      const { info, result } = await inspectWhileRunning(h, { cap_add: ['chown'], command: sleepy(STATUS) });
      expect(info.HostConfig.CapAdd).to.deep.equal(['CHOWN']);
      expect(info.HostConfig.CapDrop).to.deep.equal(['ALL']);
      expect(info.HostConfig.SecurityOpt ?? []).to.deep.equal([]);
      const caps = effectiveCapabilities(result.stdout);
      expect(caps.eff).to.deep.equal(['CHOWN']);
      expect(caps.bnd).to.deep.equal(['CHOWN']);
      expect(caps.noNewPrivs).to.equal('0');
    });

    it('the added capability works: chown succeeds with CHOWN', async () => {
      const result = await h.run({ cap_add: ['CHOWN'], command: ['sh', '-c', 'touch /tmp/f; chown nobody /tmp/f && stat -c %u /tmp/f'] });
      expect(result.status).to.equal('exited');
      expect(result.stdout).to.equal('65534\n');
    });
  });

  describe('privileged', () => {
    it('false is sent explicitly, and the container cannot see host devices', async () => {
      const { info, result } = await inspectWhileRunning(h, { privileged: false, command: sleepy('ls /dev') });
      expect(info.HostConfig.Privileged).to.equal(false);
      expect(result.stdout.split('\n')).not.to.include('sda');
      expect(result.stdout.split('\n')).to.include('null');
    });
  });

  describe('user', () => {
    it('a name from the image\'s /etc/passwd', async () => {
      const { info, result } = await inspectWhileRunning(h, { user: 'nobody', command: sleepy('id -u; id -g; id -un') });
      expect(info.Config.User).to.equal('nobody');
      expect(result.stdout).to.equal('65534\n65534\nnobody\n');
    });

    it('a uid and gid that the image does not know', async () => {
      const result = await h.run({ user: '1234:4321', command: ['sh', '-c', 'id -u; id -g'] });
      expect(result.stdout).to.equal('1234\n4321\n');
    });

    it('a number', async () => {
      const result = await h.run({ user: 65534, command: ['id', '-u'] });
      expect(result.stdout).to.equal('65534\n');
    });

    it('a user that does not exist in the image fails at start, with the reason', async () => {
      const result = await h.run({ user: 'no-such-user', command: ['true'] });
      expect(result.status).to.equal('failed');
      expect(result.error).to.match(/no-such-user|no matching entries in passwd/);
    });

    it('a non-root user cannot write where root can', async () => {
      const result = await h.run({ user: 'nobody', command: ['sh', '-c', 'touch /etc/x && echo wrote'] });
      expect(result.status).to.equal('failed');
      expect(result.stdout).to.equal('');
      expect(result.stderr).to.match(/Permission denied/);
    });
  });

  describe('init', () => {
    it('false: the command itself is PID 1', async () => {
      const { info, result } = await inspectWhileRunning(h, { init: false, command: sleepy('cat /proc/1/comm; echo $$') });
      expect(info.HostConfig.Init).to.equal(false);
      expect(result.stdout).to.equal('sh\n1\n');
    });

    it('true: PID 1 forwards the stop signal, so a shell waiting on a child still stops on SIGTERM', async () => {
      // Without an init, a shell as PID 1 ignores SIGTERM; with it, the timeout's SIGTERM ends the run at once.
      const started = Date.now();
      const result = await h.run({ init: true, command: ['sh', '-c', 'sleep 30'], timeout: 1 });
      expect(result.status).to.equal('timeout');
      expect(result.exit_code).to.equal(143);
      expect(Date.now() - started).to.be.below(9_000); // well before the 10 s grace would have run out
    });
  });
});
