/**
 * The container-targeted subcommands as users run them (`node bin/highway-docker.js ...`),
 * against a real database and a reconciler: exec, stop, rm, logs (also --follow), inspect,
 * wait; --tenant and --json on each, errors as JSON.
 */
import { expect } from 'chai';
import { Harness } from '../../support/harness.js';
import { ensureBuilt, spawnCli, type CliProcess, runCli } from '../../support/processes.js';
import { eventually } from '../../support/eventually.js';


const cli = (args: string[], env: Record<string, string>) => runCli(args, env);

describe('command line: exec, stop, rm, logs, inspect, wait', function () {
  this.timeout(60_000);
  let h: Harness;
  let env: Record<string, string>;
  const children: CliProcess[] = [];
  const detached = (command: string[], extra: Record<string, unknown> = {}) => h.run({ detach: true, command, ...extra }, h.ctx({ tenant_id: 'default' }));

  before(async function () {
    this.timeout(180_000);
    ensureBuilt();
    h = await Harness.start();
    env = { DATABASE_URL: h.db.url };
  });
  after(async () => {
    for (const c of children) await c.kill();
    await h?.stop();
  });

  it("exec exits with the command's exit code, passes --user/--workdir/-e, and every word after TARGET", async () => {
    const run = await detached(['sleep', '300']);
    const r = await cli(['exec', '--user', 'nobody', '--workdir', '/tmp', '-e', 'X=y z', run.short_id!, 'sh', '-c', 'echo "$(id -u) $(pwd) $X"; echo e >&2; exit 5'], env);
    expect(r).to.include({ code: 5, stdout: '65534 /tmp y z\n' });
    expect(r.stderr).to.contain('e\n');
    const j = await cli(['exec', '--json', run.intent_id, 'echo', '-n', 'hi'], env);
    expect(j.code).to.equal(0);
    expect(JSON.parse(j.stdout)).to.include({ status: 'exited', exit_code: 0, stdout: 'hi' });
    const slow = await cli(['exec', '--timeout', '1', run.intent_id, 'sleep', '30'], env);
    expect(slow.code).to.equal(124);
    expect(slow.stderr).to.match(/timeout/);
    const rm = await cli(['rm', '--force', '--json', run.intent_id], env);
    expect(rm.code).to.equal(0);
    expect(JSON.parse(rm.stdout)).to.include({ status: 'cancelled', stop_reason: 'requested' });
  });

  it('errors: not found for another tenant (JSON with --json), exit 125', async () => {
    const run = await detached(['sleep', '300']);
    for (const args of [['exec', run.intent_id, 'true'], ['stop', run.intent_id], ['rm', run.intent_id], ['logs', run.intent_id], ['inspect', run.intent_id], ['wait', run.intent_id]]) {
      const r = await cli([args[0]!, '--tenant', 'someone-else', '--json', ...args.slice(1)], env);
      expect(r.code, args[0]).to.equal(125);
      expect(JSON.parse(r.stdout).error, args[0]).to.include({ code: 'not_found' });
    }
    const plain = await cli(['rm', run.intent_id], env);
    expect(plain.code).to.equal(125);
    expect(plain.stderr).to.match(/has not ended.*force/);
    const stop = await cli(['stop', '--time', '0', '--json', run.intent_id], env);
    expect(JSON.parse(stop.stdout)).to.include({ status: 'cancelled', stop_reason: 'requested' });
  });

  it('inspect prints JSON; wait prints the exit code; logs of the ended container come from its row', async () => {
    const run = await detached(['sh', '-c', 'echo first; sleep 1; echo second; exit 3']);
    const i = await cli(['inspect', run.intent_id], env);
    expect(JSON.parse(i.stdout).intent).to.include({ intent_id: run.intent_id });
    const w = await cli(['wait', run.container_id!], env);
    expect(w).to.include({ code: 0, stdout: '3\n' });
    const l = await cli(['logs', '--tail', '1', run.intent_id], env);
    expect(l.stdout).to.equal('second\n');
  });

  it('logs --follow prints new output while the container runs and ends when it ends', async () => {
    const run = await detached(['sh', '-c', 'echo early; sleep 3; echo late; echo fin >&2']);
    const p = spawnCli(['logs', '--follow', run.intent_id], { databaseUrl: h.db.url, reconcilerId: h.reconcilerId });
    children.push(p);
    await eventually(() => p.stdout, { what: 'the first line followed', timeoutMs: 10_000, everyMs: 20, until: (out) => out.includes('early') });
    expect(p.stdout).to.equal('early\n');
    // Streamed: it arrived while the container was still running (it sleeps 3 s before its next line).
    expect((await h.intent(run.intent_id))!.status).to.equal('running');
    const exit = await p.exited;
    expect(exit.code).to.equal(0);
    expect(p.stdout).to.equal('early\nlate\n');
    expect(p.stderr).to.contain('fin\n');
  });

  it('leaves no container behind', async () => {
    // Removal follows the collection of an ended container's output by a moment.
    await eventually(() => h.containers(), { what: 'no container left', timeoutMs: 15_000, everyMs: 100, until: (cs) => cs.length === 0 });
  });
});
