/** The cron command line as users run it (`node bin/highway-docker.js cron ...`), with a real reconciler. */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { ensureBuilt, runCli } from '../support/processes.js';
import { eventually } from '../support/eventually.js';


const cli = (args: string[], env: Record<string, string>, input?: string) => runCli(args, env, input);

describe('command line: cron', function () {
  this.timeout(90_000);
  let h: Harness;
  let env: Record<string, string>;

  before(async () => {
    ensureBuilt();
    h = await Harness.start();
    env = { DATABASE_URL: h.db.url };
  });
  after(async () => {
    await h?.stop();
  });

  it('add, ls, show, runs --json, pause, resume, trigger, rm', async () => {
    const name = `cli-${randomUUID().slice(0, 8)}`;
    const add = await cli(['cron', 'add', name, '--schedule', '*/1 * * * * *', '--overlap', 'allow_all', '--tenant', 't1', '--json', TEST_IMAGE, 'sh', '-c', 'echo $HIGHWAY_SCHEDULE'], env);
    expect(add.stderr).to.equal('');
    expect(add.code).to.equal(0);
    expect(JSON.parse(add.stdout)).to.include({ name, change: 'created', schedule: '*/1 * * * * *', overlap: 'allow_all', tenant_id: 't1' });

    // The same again is fine; a different definition under the name is refused, naming the field.
    expect((await cli(['cron', 'add', name, '--schedule', '*/1 * * * * *', '--overlap', 'allow_all', '--tenant', 't1', TEST_IMAGE, 'sh', '-c', 'echo $HIGHWAY_SCHEDULE'], env)).stdout).to.match(/^unchanged /);
    const taken = await cli(['cron', 'add', name, '--schedule', '@hourly', '--tenant', 't1', TEST_IMAGE], env);
    expect(taken.code).to.not.equal(0);
    expect(taken.stderr).to.match(/name: schedule ".*" already exists with a different definition/);

    const ls = JSON.parse((await cli(['cron', 'ls', '--tenant', 't1', '--json'], env)).stdout) as Array<Record<string, unknown>>;
    expect(ls.map((s) => s['name'])).to.deep.equal([name]);
    expect(JSON.parse((await cli(['cron', 'ls', '--tenant', 'other', '--json'], env)).stdout)).to.deep.equal([]);

    await new Promise((r) => setTimeout(r, 2_500));
    const paused = await cli(['cron', 'pause', name, '--tenant', 't1', '--note', 'enough'], env);
    expect(paused.stdout).to.equal(`paused ${name}\n`);
    const trig = JSON.parse((await cli(['cron', 'trigger', name, '--tenant', 't1', '--json'], env)).stdout) as { scheduled_time: string; paused: boolean };
    // Paused: the triggered tick waits for the resume.
    expect(trig.paused).to.equal(true);
    const show = JSON.parse((await cli(['cron', 'show', name, '--tenant', 't1', '--json'], env)).stdout) as Record<string, unknown>;
    expect(show).to.include({ name, paused: true, pause_note: 'enough', next_fire_at: null });
    await new Promise((r) => setTimeout(r, 1_500));
    const waiting = JSON.parse((await cli(['cron', 'runs', name, '--tenant', 't1', '--json'], env)).stdout) as Array<Record<string, unknown>>;
    expect(waiting.find((r) => r['scheduled_time'] === trig.scheduled_time)).to.include({ status: 'pending', intent_id: null });
    expect((await cli(['cron', 'resume', name, '--tenant', 't1'], env)).stdout).to.equal(`resumed ${name} (1 waiting tick(s) are decided now)\n`);
    const runs = await eventually(async () => JSON.parse((await cli(['cron', 'runs', name, '--tenant', 't1', '--json'], env)).stdout) as Array<Record<string, unknown>>, {
      what: 'two runs, the triggered one exited',
      timeoutMs: 30_000,
      everyMs: 300,
      until: (rs) => rs.length >= 2 && rs.some((r) => r['scheduled_time'] === trig.scheduled_time && r['status'] === 'exited'),
    });
    for (const r of runs.filter((r) => r['status'] === 'exited')) {
      expect(r['scheduled_time']).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(r['intent_id']).to.match(/^[0-9a-f-]{36}$/);
    }

    const rm = await cli(['cron', 'rm', name, '--tenant', 't1', '--json'], env);
    expect(JSON.parse(rm.stdout)).to.include({ name, deleted: true });
    const gone = await cli(['cron', 'show', name, '--tenant', 't1'], env);
    expect(gone.code).to.not.equal(0);
    expect(gone.stderr).to.contain(`schedule "${name}" not found`);
    await eventually(() => h.containers(), { what: 'no container left', timeoutMs: 30_000, everyMs: 200, until: (cs) => cs.length === 0 });
  });

  it('bad input names the field and stores nothing', async () => {
    const bad = await cli(['cron', 'add', 'x1', '--schedule', '* * * * *', '--timezone', 'Nowhere/City', TEST_IMAGE], env);
    expect(bad.code).to.not.equal(0);
    expect(bad.stderr).to.match(/timezone: "Nowhere\/City" is not an IANA time zone/);
    const expr = await cli(['cron', 'add', 'x1', '--schedule', 'every minute', TEST_IMAGE], env);
    expect(expr.stderr).to.match(/schedule: "every minute" is not a cron expression/);
    const never = await cli(['cron', 'add', 'x1', '--schedule', '0 0 31 2 *', TEST_IMAGE], env);
    expect(never.stderr).to.match(/schedule: "0 0 31 2 \*" never fires/);
    expect(JSON.parse((await cli(['cron', 'ls', '--json'], env)).stdout)).to.deep.equal([]);
  });

  it('backfill says when --to was clipped to now, and refuses a range wholly ahead', async () => {
    const name = `clip-${randomUUID().slice(0, 8)}`;
    expect((await cli(['cron', 'add', name, '--schedule', '0 0 1 1 *', TEST_IMAGE], env)).code).to.equal(0);
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const text = await cli(['cron', 'backfill', name, '--from', iso(now - 3_600_000), '--to', iso(now + 3_600_000)], env);
    expect(text.code).to.equal(0);
    expect(text.stdout).to.match(/^backfill of .*: 0 tick\(s\) requested in \[.*\); --to clipped to now \(/);
    const json = JSON.parse((await cli(['cron', 'backfill', name, '--from', iso(now - 3_600_000), '--to', iso(now + 3_600_000), '--json'], env)).stdout) as Record<string, unknown>;
    expect(json).to.include({ name, ticks: 0, clipped: true });
    const ahead = await cli(['cron', 'backfill', name, '--from', iso(now + 3_600_000), '--to', iso(now + 7_200_000)], env);
    expect(ahead.code).to.not.equal(0);
    expect(ahead.stderr).to.match(/from: .* is not in the past/);
    expect((await cli(['cron', 'rm', name], env)).code).to.equal(0);
  });

  it('--tenant follows the tenant grammar on every cron subcommand; nothing is stored', async () => {
    for (const bad of ['', ' ', 'a\nb', 'x'.repeat(129)]) {
      const add = await cli(['cron', 'add', 'tn1', '--schedule', '0 0 1 1 *', '--tenant', bad, TEST_IMAGE], env);
      expect(add.code, JSON.stringify(bad)).to.not.equal(0);
      expect(add.stderr).to.match(/--tenant: (is empty|contains|is 129 characters long)/);
      const json = await cli(['cron', 'ls', '--tenant', bad, '--json'], env);
      expect(json.code).to.not.equal(0);
      expect(JSON.stringify(JSON.parse(json.stdout))).to.contain('--tenant');
    }
    const rows = await h.db.pool.query(`SELECT tenant_id FROM highway.docker_schedules WHERE name = 'tn1'`);
    expect(rows.rows).to.deep.equal([]);
  });
});
