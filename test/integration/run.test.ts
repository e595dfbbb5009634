/**
 * tools.docker.run end to end on a real Docker daemon and a real PostgreSQL:
 * the lifecycle, output capture, exit codes, timeouts, idempotency, and invalid input.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { ValidationError } from '../../src/errors.js';
import { TEST_IMAGE } from '../support/harness.js';
import { useHarness } from '../support/fixture.js';

describe('tools.docker.run (real Docker, real PostgreSQL)', function () {
  this.timeout(60_000);
  const h = useHarness();
  afterEach(async () => {
    // Nothing a test ran may outlive it (auto_remove: false tests clean their own).
    const left = await h.containers();
    expect(left.map((c) => `${c.Names[0]} ${c.State}`)).to.deep.equal([]);
  });

  describe('normal exit (GC scenario 1)', () => {
    it('returns stdout and stderr separately, exit code 0, and removes the container', async () => {
      const result = await h.run({ command: ['sh', '-c', 'echo out-line; echo err-line >&2; exit 0'] });
      expect(result.status).to.equal('exited');
      expect(result.exit_code).to.equal(0);
      expect(result.stdout).to.equal('out-line\n');
      expect(result.stderr).to.equal('err-line\n');
      expect(result.logs_truncated).to.equal(false);
      expect(result.oom_killed).to.equal(false);
      expect(result.error).to.equal(null);
      expect(result.image).to.equal(TEST_IMAGE);
      expect(result.container_id).to.match(/^[0-9a-f]{64}$/);
      expect(result.short_id).to.equal(result.container_id!.slice(0, 12));
      expect(result.duration_ms).to.be.a('number').and.at.least(0);
      expect(await h.containerGone(result.container_id)).to.equal(true);

      const row = await h.intent(result.intent_id);
      expect(row!.status).to.equal('exited');
      expect(row!.removed_at).to.be.instanceOf(Date);
      expect(row!.started_at).to.be.instanceOf(Date);
      expect(row!.finished_at).to.be.instanceOf(Date);
      expect(row!.stdout).to.equal('out-line\n');
    });

    it('logs one event per transition, each with the intent and its context', async () => {
      const ctx = h.ctx();
      const result = await h.run({ command: ['true'] }, ctx);
      const names = h.log.lines.filter((l) => l['intent_id'] === result.intent_id).map((l) => l['event']);
      for (const name of ['intent.created', 'container.created', 'container.started', 'container.exited', 'container.removed']) {
        expect(names, name).to.include(name);
      }
      const exited = h.log.events('container.exited', result.intent_id)[0]!;
      expect(exited).to.include({
        tenant_id: ctx.tenant_id,
        workflow_run_id: ctx.workflow_run_id,
        activity_id: ctx.activity_id,
        container_id: result.container_id,
        status: 'exited',
        exit_code: 0,
      });
      expect(exited['duration_ms']).to.be.a('number');
    });
  });

  describe('non-zero exit (GC scenario 2)', () => {
    it('ends failed with the exit code, logs an error, and removes the container', async () => {
      const result = await h.run({ command: ['sh', '-c', 'echo partial; echo boom >&2; exit 3'] });
      expect(result.status).to.equal('failed');
      expect(result.exit_code).to.equal(3);
      expect(result.stdout).to.equal('partial\n');
      expect(result.stderr).to.equal('boom\n');
      expect(result.error).to.equal('exited with code 3');
      expect(await h.containerGone(result.container_id)).to.equal(true);
      const event = h.log.events('container.exited', result.intent_id)[0]!;
      expect(event['level']).to.equal(50); // error
      expect(event['status']).to.equal('failed');
    });

    for (const code of [1, 2, 42, 126, 255]) {
      it(`reports exit code ${code} exactly`, async () => {
        const result = await h.run({ command: ['sh', '-c', `exit ${code}`] });
        expect(result.exit_code).to.equal(code);
        expect(result.status).to.equal('failed');
      });
    }
  });

  describe('timeout (GC scenario 3)', () => {
    it('a container that exits on SIGTERM ends timeout shortly after its deadline', async () => {
      const started = Date.now();
      const result = await h.run({ command: ['sleep', '60'], timeout: 1 });
      const elapsed = Date.now() - started;
      expect(result.status).to.equal('timeout');
      expect(result.exit_code).to.equal(143); // SIGTERM via the init process
      expect(result.error).to.match(/timeout/);
      expect(elapsed).to.be.within(900, 9_000);
      expect(await h.containerGone(result.container_id)).to.equal(true);
    });

    it('a container that ignores SIGTERM is killed after the default 10 s grace', async function () {
      this.timeout(40_000);
      const started = Date.now();
      const result = await h.run({ command: ['sh', '-c', 'trap "" TERM; echo waiting; while true; do sleep 1; done'], timeout: 1 });
      const elapsed = Date.now() - started;
      expect(result.status).to.equal('timeout');
      expect(result.exit_code).to.equal(137); // SIGKILL
      expect(result.stdout).to.equal('waiting\n'); // output survives the kill
      expect(elapsed).to.be.within(10_500, 25_000);
      expect(await h.containerGone(result.container_id)).to.equal(true);
      const killed = h.log.events('container.killed', result.intent_id);
      expect(killed).to.have.length(1);
    });

    it('stop_grace_period shortens the grace before SIGKILL', async () => {
      const result = await h.run({ command: ['sh', '-c', 'trap "" TERM; while true; do sleep 1; done'], timeout: 1, stop_grace_period: 1 });
      expect(result.status).to.equal('timeout');
      expect(result.exit_code).to.equal(137);
      // As the daemon timed the container: with the default 10 s grace after its 1 s timeout it would have run 11 s at least.
      expect(result.duration_ms).to.be.a('number').and.below(10_500);
    });
  });

  describe('output', () => {
    it('keeps the last max_output_bytes of each stream and says it truncated', async () => {
      const result = await h.run({
        command: ['sh', '-c', 'i=0; while [ $i -lt 500 ]; do echo "line-$i"; i=$((i+1)); done; echo tail-marker; echo small >&2'],
        max_output_bytes: 100,
      });
      expect(result.logs_truncated).to.equal(true);
      expect(Buffer.byteLength(result.stdout)).to.equal(100);
      expect(result.stdout.endsWith('line-499\ntail-marker\n')).to.equal(true);
      expect(result.stderr).to.equal('small\n');
    });

    it('bounds a large output at 1 MiB per stream by default', async () => {
      // ~3 MiB of stdout
      const result = await h.run({ command: ['sh', '-c', 'head -c 3145728 /dev/zero | tr "\\0" "x"; echo; echo done'] });
      expect(result.status).to.equal('exited');
      expect(result.logs_truncated).to.equal(true);
      expect(Buffer.byteLength(result.stdout)).to.equal(1024 * 1024);
      expect(result.stdout.endsWith('x\ndone\n')).to.equal(true);
    });

    it('keeps the output of a container that exits at once', async () => {
      const result = await h.run({ command: ['echo', 'quick'] });
      expect(result.stdout).to.equal('quick\n');
    });

    it('stores output with NUL bytes (PostgreSQL text cannot hold NUL) without losing the rest', async () => {
      const result = await h.run({ command: ['sh', '-c', 'printf "a\\000b\\n"'] });
      expect(result.status).to.equal('exited');
      expect(result.stdout).to.equal('a\uFFFDb\n');
    });

    it('stores UTF-8 output as it is, and invalid UTF-8 (also a code point cut by the cap) as U+FFFD', async () => {
      const ok = await h.run({ command: ['sh', '-c', 'printf "h\\303\\251llo \\342\\202\\254 \\360\\237\\230\\200\\n"; printf "w\\303\\266rld\\n" >&2'] });
      expect(ok.stdout).to.equal('h\u00e9llo \u20ac \u{1F600}\n');
      expect(ok.stderr).to.equal('w\u00f6rld\n');
      const bad = await h.run({ command: ['sh', '-c', 'printf "a\\377b\\n"'] });
      expect(bad.stdout).to.equal('a\uFFFDb\n');
      // The kept tail (4 bytes) starts inside the 2-byte \u00e9: its second byte becomes U+FFFD.
      const cut = await h.run({ command: ['sh', '-c', 'printf "x\\303\\251abc"'], max_output_bytes: 4 });
      expect(cut.logs_truncated).to.equal(true);
      expect(cut.stdout).to.equal('\uFFFDabc');
    });
  });

  describe('idempotency per activity', () => {
    it('two concurrent calls for one activity share one intent and one container', async () => {
      const ctx = h.ctx();
      const [a, b] = await Promise.all([
        h.run({ command: ['sh', '-c', 'sleep 0.3; echo once'] }, ctx),
        h.run({ command: ['sh', '-c', 'sleep 0.3; echo once'] }, ctx),
      ]);
      expect(a.intent_id).to.equal(b.intent_id);
      expect(a.container_id).to.equal(b.container_id);
      expect(a.stdout).to.equal('once\n');
      expect(h.log.events('container.created', a.intent_id)).to.have.length(1);
      const rows = await h.db.pool.query('SELECT count(*)::int AS n FROM highway.docker_containers WHERE activity_id = $1', [ctx.activity_id]);
      expect(rows.rows[0].n).to.equal(1);
    });

    it('calling again after the result exists returns that result, without running anything', async () => {
      const ctx = h.ctx();
      const first = await h.run({ command: ['sh', '-c', 'echo $RANDOM'] }, ctx);
      const again = await h.run({ command: ['sh', '-c', 'echo $RANDOM'] }, ctx);
      expect(again).to.deep.equal(first);
      expect(h.log.events('container.created', first.intent_id)).to.have.length(1);
      expect(h.log.events('intent.reattached', first.intent_id)).to.have.length(1);
    });

    it('a retried activity re-attaches to its running container', async () => {
      const ctx = h.ctx();
      const first = h.run({ command: ['sh', '-c', 'sleep 1; echo attached'] }, ctx);
      await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
      const retried = await h.run({ command: ['sh', '-c', 'sleep 1; echo attached'] }, ctx);
      expect(retried.stdout).to.equal('attached\n');
      expect((await first).container_id).to.equal(retried.container_id);
    });
  });

  it('returns a result that was recorded before the caller started waiting', async () => {
    // The reconciler is stopped: the intent is written, then the reconciler runs it to the end
    // while nobody waits; the wait that begins afterwards still gets the result.
    await h.stopReconciler();
    const ctx = h.ctx();
    const pending = h.run({ command: ['echo', 'early'] }, ctx);
    await h.waitFor(ctx.activity_id, (r) => r.status === 'pending');
    await h.startReconciler();
    await h.waitSettled(ctx.activity_id);
    const late = await h.run({ command: ['echo', 'early'] }, ctx);
    expect(late.stdout).to.equal('early\n');
    expect((await pending).intent_id).to.equal(late.intent_id);
  });

  describe('invalid input changes nothing', () => {
    const invalid: Array<[string, Record<string, unknown>]> = [
      ['memory_limit', { memory_limit: '12q' }],
      ['timeout', { timeout: -1 }],
      ['pull_policy', { pull_policy: 'sometimes' }],
      ['command', { command: 42 }],
      ['labels', { labels: { 'highway.managed': 'false' } }],
      ['no_such_param', { no_such_param: true }],
    ];
    for (const [field, params] of invalid) {
      it(`rejects a bad ${field} with an error naming it, and writes no intent`, async () => {
        const ctx = h.ctx();
        const err = await h.run(params, ctx).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(ValidationError);
        expect((err as ValidationError).field.startsWith(field), (err as ValidationError).field).to.equal(true);
        expect((err as Error).message).to.contain(field);
        expect(await h.intentOfActivity(ctx.activity_id)).to.equal(null);
        const runs = await h.db.pool.query('SELECT 1 FROM highway.workflow_runs WHERE id = $1', [ctx.workflow_run_id]);
        expect(runs.rowCount).to.equal(0);
        const audit = await h.db.pool.query(`SELECT outcome, detail FROM highway.docker_audit WHERE outcome = 'denied' AND detail->>'field' LIKE $1`, [`${field}%`]);
        expect(audit.rowCount).to.be.greaterThan(0);
      });
    }

    it('rejects a missing image', async () => {
      const err = await h.registry.call('tools.docker.run', { command: ['true'] }, h.ctx()).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ValidationError);
      expect((err as ValidationError).field).to.equal('image');
    });

    it('rejects an activity context without ids', async () => {
      const err = await h.registry.call('tools.docker.run', { image: TEST_IMAGE }, { tenant_id: 't' } as never).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ValidationError);
      expect((err as ValidationError).field).to.equal('ctx.workflow_run_id');
    });
  });

  describe('start errors', () => {
    it('a command that does not exist, without init: the start error is the result, and no container is left', async () => {
      const ctx = h.ctx();
      const result = await h.run({ command: ['/no/such/binary'], init: false }, ctx);
      expect(result.status).to.equal('failed');
      expect(result.exit_code).to.equal(null);
      expect(result.error).to.match(/^start failed: .*no such file or directory/i);
      await h.waitFor(ctx.activity_id, (r) => r.removed_at !== null);
      expect(h.log.events('intent.failed', result.intent_id)).to.have.length(1);
    });

    it('a command that does not exist, under init: exit code 127 and the reason on stderr', async () => {
      const result = await h.run({ command: ['/no/such/binary'] });
      expect(result.status).to.equal('failed');
      expect(result.exit_code).to.equal(127);
      expect(result.stderr).to.match(/no such file or directory/i);
    });
  });

  describe('defence in depth', () => {
    it('an intent written straight into the table meets the policy at create time, and never reaches Docker', async () => {
      const ctx = h.ctx();
      const id = randomUUID();
      await h.db.pool.query(`INSERT INTO highway.workflow_runs (id, tenant_id) VALUES ($1, $2)`, [ctx.workflow_run_id, ctx.tenant_id]);
      await h.db.pool.query(`INSERT INTO highway.activities (id, workflow_run_id) VALUES ($1, $2)`, [ctx.activity_id, ctx.workflow_run_id]);
      await h.db.pool.query(
        `INSERT INTO highway.docker_containers (id, activity_id, workflow_run_id, tenant_id, image, spec)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [id, ctx.activity_id, ctx.workflow_run_id, ctx.tenant_id, TEST_IMAGE, JSON.stringify({ image: TEST_IMAGE, privileged: true, command: ['true'] })],
      );
      const row = await h.waitFor(ctx.activity_id, (r) => r.removed_at !== null);
      expect(row.status).to.equal('failed');
      expect(row.container_id).to.equal(null);
      expect(row.error).to.match(/privileged/);
      expect(h.log.events('container.created', id)).to.have.length(0);
    });
  });

  describe('versioned specs', () => {
    it('a stored spec carries its schema version', async () => {
      const result = await h.run({ command: ['true'] });
      const row = await h.intent(result.intent_id);
      expect(row!.spec['$version']).to.equal(2);
    });

    it('a spec written by a newer highway-docker is refused clearly at create time, and never reaches Docker', async () => {
      const ctx = h.ctx();
      const id = randomUUID();
      await h.db.pool.query(`INSERT INTO highway.workflow_runs (id, tenant_id) VALUES ($1, $2)`, [ctx.workflow_run_id, ctx.tenant_id]);
      await h.db.pool.query(`INSERT INTO highway.activities (id, workflow_run_id) VALUES ($1, $2)`, [ctx.activity_id, ctx.workflow_run_id]);
      await h.db.pool.query(
        `INSERT INTO highway.docker_containers (id, activity_id, workflow_run_id, tenant_id, image, spec) VALUES ($1, $2, $3, $4, $5, $6)`,
        [id, ctx.activity_id, ctx.workflow_run_id, ctx.tenant_id, TEST_IMAGE, JSON.stringify({ image: TEST_IMAGE, command: ['true'], $version: 99 })],
      );
      const row = await h.waitFor(ctx.activity_id, (r) => r.removed_at !== null);
      expect(row.status).to.equal('failed');
      expect(row.error).to.match(/newer highway-docker \(parameter schema version 99; this reconciler reads up to 2\): upgrade this reconciler/);
      expect(h.log.events('container.created', id)).to.have.length(0);
    });
  });

  describe('secrets', () => {
    it('resolves a secret reference at create time and never stores or logs its value', async () => {
      process.env['HIGHWAY_SECRET_API_TOKEN'] = 'swordfish-4711';
      process.env['HIGHWAY_SECRET_API_TOKEN_TENANTS'] = 'tenant-a';
      try {
        // The container gets the value (its length proves it); what it prints is masked.
        const result = await h.run({ command: ['sh', '-c', 'echo "token=$TOKEN len=${#TOKEN}"'], environment: { TOKEN: { secret: 'api_token' } } });
        expect(result.stdout).to.equal('token=*** len=14\n');
        const row = await h.db.pool.query(`SELECT spec::text AS spec FROM highway.docker_containers WHERE id = $1`, [result.intent_id]);
        expect(row.rows[0].spec).to.contain('api_token').and.not.contain('swordfish');
        const audit = await h.db.pool.query(`SELECT detail::text AS d FROM highway.docker_audit`);
        expect(audit.rows.map((r) => r.d).join('\n')).to.not.contain('swordfish');
        expect(JSON.stringify(h.log.lines)).to.not.contain('swordfish');
      } finally {
        delete process.env['HIGHWAY_SECRET_API_TOKEN'];
        delete process.env['HIGHWAY_SECRET_API_TOKEN_TENANTS'];
      }
    });

    it("another tenant's secret is not available: the intent fails naming the reference, nothing is created", async () => {
      process.env['HIGHWAY_SECRET_API_TOKEN'] = 'swordfish-4711';
      process.env['HIGHWAY_SECRET_API_TOKEN_TENANTS'] = 'tenant-a';
      try {
        const result = await h.run({ command: ['sh', '-c', 'echo "$TOKEN"'], environment: { TOKEN: { secret: 'api_token' } } }, h.ctx({ tenant_id: 'tenant-b' }));
        expect(result.status).to.equal('failed');
        expect(result.error).to.match(/secret "api_token" is not available/);
        expect(result.container_id).to.equal(null);
        expect(JSON.stringify(result)).to.not.contain('swordfish');
      } finally {
        delete process.env['HIGHWAY_SECRET_API_TOKEN'];
        delete process.env['HIGHWAY_SECRET_API_TOKEN_TENANTS'];
      }
    });

    it('an unknown secret fails the intent with an error naming it, and creates nothing', async () => {
      const result = await h.run({ command: ['true'], environment: { TOKEN: { secret: 'no_such_secret' } } });
      expect(result.status).to.equal('failed');
      expect(result.container_id).to.equal(null);
      expect(result.error).to.contain('no_such_secret');
    });
  });

  describe('auto_remove: false', () => {
    it('keeps the stopped container after collecting its output', async () => {
      const result = await h.run({ command: ['echo', 'kept'], auto_remove: false });
      expect(result.stdout).to.equal('kept\n');
      const info = await h.docker.getContainer(result.container_id!).inspect();
      expect(info.State.Status).to.equal('exited');
      const row = await h.intent(result.intent_id);
      expect(row!.removed_at).to.equal(null);
      await h.docker.getContainer(result.container_id!).remove({ force: true });
    });
  });

  describe('the container Docker sees', () => {
    it('is named highway-<intent id> and carries the contract labels', async () => {
      const ctx = h.ctx({ worker_id: 'worker-label-test' });
      const running = h.run({ command: ['sleep', '1'], labels: { team: 'data' } }, ctx);
      const row = await h.waitFor(ctx.activity_id, (r) => r.status === 'running');
      const info = await h.docker.getContainer(row.container_id!).inspect();
      expect(info.Name).to.equal(`/highway-${row.id}`);
      expect(info.Config.Labels).to.include({
        'highway.managed': 'true',
        'highway.intent_id': row.id,
        'highway.tenant_id': ctx.tenant_id,
        'highway.workflow_run_id': ctx.workflow_run_id,
        'highway.activity_id': ctx.activity_id,
        'highway.worker_id': 'worker-label-test',
        'highway.reconciler_id': h.reconcilerId,
        team: 'data',
      });
      expect(info.HostConfig.AutoRemove).to.equal(false); // the reconciler removes, after collecting
      await running;
    });
  });
});
