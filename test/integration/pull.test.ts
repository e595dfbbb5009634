/**
 * tools.docker.pull on the real daemon, through local registries on 127.0.0.1 (one open, one
 * requiring htpasswd auth): per-host results with the digest, shared pulls, clear errors
 * (unknown image, unreachable registry, failed auth), registry_auth on pull and on run, the
 * image policy, host selection, and the inventory following a pull.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { pushToRegistry, startRegistry, writeHtpasswd, type LocalRegistry } from '../support/registry.js';
import { HighwayError, PolicyError, ValidationError } from '../../src/errors.js';
import { Reconciler } from '../../src/reconciler.js';
import { ToolRegistry } from '../../src/tools/registry.js';
import { registerDockerTools } from '../../src/tools/docker-tools.js';
import { defaultPolicy } from '../../src/params/policy.js';
import type { DockerPullResult } from '../../src/tools/docker-pull.js';

const USER = 'hwuser';
const PASSWORD = `pw-${randomUUID()}`;

describe('tools.docker.pull (real daemon, local registries)', function () {
  this.timeout(60_000);
  let h: Harness;
  let open: LocalRegistry;
  let secured: LocalRegistry;
  let dir: string;
  const secrets = new Map<string, string>();
  const pulledRefs: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hw-pull-test-'));
    await writeHtpasswd(join(dir, 'htpasswd'), USER, PASSWORD);
    [open, secured] = await Promise.all([startRegistry(), startRegistry({ htpasswdPath: join(dir, 'htpasswd') })]);
    h = await Harness.start({
      reconciler: {
        resolveSecret: async (name) => {
          const value = secrets.get(name);
          if (value === undefined) throw new HighwayError('invalid_params', `environment: secret "${name}" is not available`);
          return value;
        },
      },
    });
    secrets.set('regcred-json', JSON.stringify({ username: USER, password: PASSWORD }));
    secrets.set('regcred-plain', `${USER}:${PASSWORD}`);
    secrets.set('regcred-wrong', `${USER}:not-the-password`);
    await hostKnown(h.reconcilerId);
  });
  after(async () => {
    for (const ref of pulledRefs) await h?.docker.getImage(ref).remove({ noprune: true }).catch(() => {});
    await Promise.all([open?.stop(), secured?.stop()]);
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    expect(await h.containers()).to.have.length(0);
  });

  async function hostKnown(host: string): Promise<void> {
    for (const started = Date.now(); Date.now() - started < 10_000; await new Promise((r) => setTimeout(r, 20))) {
      const res = await h.db.pool.query('SELECT 1 FROM highway.docker_images WHERE reconciler_id = $1 LIMIT 1', [host]);
      if (res.rowCount) return;
    }
    throw new Error(`host ${host} never reported its images`);
  }
  /** A fresh tag pushed to `registry` (absent from the daemon). */
  async function pushed(registry: LocalRegistry, credentials?: { username: string; password: string }) {
    const push = await pushToRegistry(h.docker, TEST_IMAGE, registry.address, `hw/pull:${randomUUID().slice(0, 8)}`, credentials);
    pulledRefs.push(push.reference);
    return push;
  }
  const pull = (params: Record<string, unknown>, tenant = 'tenant-a') =>
    h.registry.call<DockerPullResult>('tools.docker.pull', params, { ...h.ctx(), tenant_id: tenant });
  const present = (ref: string) =>
    h.docker
      .getImage(ref)
      .inspect()
      .then(() => true)
      .catch(() => false);
  const dockerPulls = (ref: string) => h.log.lines.filter((l) => l['event'] === 'image.pulled' && l['image'] === ref).length;
  const failure = (p: Promise<unknown>) => p.then(() => expect.fail('succeeded'), (e: unknown) => e as HighwayError);

  it('pulls an image on the host: the result has the digest and duration; the image is there; it is audited with the tenant', async () => {
    const { reference, digest } = await pushed(open);
    expect(await present(reference)).to.equal(false);
    const result = await pull({ image: reference });
    expect(result.image).to.equal(reference);
    expect(result.results).to.have.length(1);
    const [r] = result.results;
    expect(r).to.deep.include({ host: h.reconcilerId, status: 'done', digest, error: null });
    expect(r!.duration_ms).to.be.a('number').and.at.least(0);
    expect(await present(reference)).to.equal(true);

    const rows = await h.db.pool.query('SELECT tenant_id, status, digest, finished_at FROM highway.docker_pulls WHERE image = $1', [reference]);
    expect(rows.rows).to.have.length(1);
    expect(rows.rows[0]).to.deep.include({ tenant_id: 'tenant-a', status: 'done', digest });
    const audit = await h.db.pool.query<{ operation: string; tenant_id: string; outcome: string }>(
      `SELECT operation, tenant_id, outcome FROM highway.docker_audit WHERE detail->>'image' = $1 ORDER BY id`,
      [reference],
    );
    expect(audit.rows).to.deep.equal([
      { operation: 'tools.docker.pull', tenant_id: 'tenant-a', outcome: 'ok' },
      { operation: 'image.pull', tenant_id: 'tenant-a', outcome: 'ok' },
    ]);
  });

  it('the inventory has the pulled image within a second of the result', async () => {
    const { reference } = await pushed(open);
    await pull({ image: reference });
    const started = Date.now();
    for (;;) {
      const listed = await h.registry.call<{ hosts: Array<{ images: unknown[] }> }>('tools.docker.images', { reference }, h.ctx());
      if (listed.hosts[0]!.images.length === 1) break;
      if (Date.now() - started > 1_000) expect.fail('the pulled image is not in the inventory after a second');
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('concurrent pulls of one image on one host share one Docker pull (each request is its own row)', async () => {
    const { reference, digest } = await pushed(open);
    const [a, b, c] = await Promise.all([pull({ image: reference }, 'tenant-a'), pull({ image: reference }, 'tenant-b'), pull({ image: reference }, 'tenant-a')]);
    for (const result of [a, b, c]) expect(result.results[0]).to.deep.include({ status: 'done', digest, error: null });
    expect(dockerPulls(reference)).to.equal(1);
    const rows = await h.db.pool.query<{ tenant_id: string }>('SELECT tenant_id FROM highway.docker_pulls WHERE image = $1 ORDER BY tenant_id', [reference]);
    expect(rows.rows.map((r) => r.tenant_id)).to.deep.equal(['tenant-a', 'tenant-a', 'tenant-b']);
  });

  it('an image the registry does not have: failed, "image not found in the registry"', async () => {
    const missing = `${open.address}/hw/pull:does-not-exist`;
    const { results } = await pull({ image: missing });
    expect(results[0]).to.deep.include({ host: h.reconcilerId, status: 'failed', digest: null });
    expect(results[0]!.error).to.match(new RegExp(`^image: pulling "${missing.replace(/[.]/g, '\\.')}" failed: image not found in the registry: .*manifest unknown`));
  });

  it('a registry that does not answer: failed, "registry unreachable"', async () => {
    const nowhere = '127.0.0.1:1/hw/pull:v1';
    const { results } = await pull({ image: nowhere });
    expect(results[0]).to.deep.include({ status: 'failed', digest: null });
    expect(results[0]!.error).to.match(/^image: pulling "127\.0\.0\.1:1\/hw\/pull:v1" failed: registry unreachable: .*connection refused/);
  });

  describe('private registry (htpasswd)', () => {
    let reference: string;
    let digest: string | undefined;
    before(async () => {
      ({ reference, digest } = await pushed(secured, { username: USER, password: PASSWORD }));
    });
    afterEach(async () => {
      await h.docker.getImage(reference).remove({ noprune: true }).catch(() => {});
    });

    it('without registry_auth: failed, "registry authentication failed"', async () => {
      const { results } = await pull({ image: reference });
      expect(results[0]).to.deep.include({ status: 'failed', digest: null });
      expect(results[0]!.error).to.match(/failed: registry authentication failed \(check registry_auth\): .*(no basic auth credentials|unauthorized)/);
      expect(await present(reference)).to.equal(false);
    });

    it('with a wrong password: failed, "registry authentication failed"', async () => {
      const { results } = await pull({ image: reference, registry_auth: { secret: 'regcred-wrong' } });
      expect(results[0]!.status).to.equal('failed');
      expect(results[0]!.error).to.match(/failed: registry authentication failed/);
      expect(results[0]!.error).to.not.include('not-the-password');
    });

    it('with an unknown secret: failed, naming the secret', async () => {
      const { results } = await pull({ image: reference, registry_auth: { secret: 'no-such-secret' } });
      expect(results[0]).to.deep.include({ status: 'failed', error: 'registry_auth: secret "no-such-secret" is not available' });
    });

    it('with a JSON auth config secret: pulled', async () => {
      const { results } = await pull({ image: reference, registry_auth: { secret: 'regcred-json' } });
      expect(results[0]).to.deep.include({ status: 'done', digest, error: null });
      expect(await present(reference)).to.equal(true);
    });

    it('with a "user:password" secret: pulled; the password is in no row, audit entry or log line', async () => {
      const { results } = await pull({ image: reference, registry_auth: { secret: 'regcred-plain' } });
      expect(results[0]).to.deep.include({ status: 'done', digest });
      const pulls = await h.db.pool.query('SELECT * FROM highway.docker_pulls');
      const audit = await h.db.pool.query('SELECT * FROM highway.docker_audit');
      const containers = await h.db.pool.query('SELECT * FROM highway.docker_containers');
      const stored = JSON.stringify([pulls.rows, audit.rows, containers.rows]);
      expect(stored).to.include('regcred-plain'); // the reference is kept...
      expect(stored).to.not.include(PASSWORD); // ...never the value
      expect(JSON.stringify(h.log.lines)).to.not.include(PASSWORD);
    });

    it('run with registry_auth pulls the private image and runs it; without, it fails with the auth error', async () => {
      const denied = await h.run({ image: reference, command: ['echo', 'private'] });
      expect(denied.status).to.equal('failed');
      expect(denied.error).to.match(/registry authentication failed/);
      const ok = await h.run({ image: reference, command: ['echo', 'private'], registry_auth: { secret: 'regcred-json' } });
      expect(ok).to.deep.include({ status: 'exited', stdout: 'private\n' });
      const row = await h.db.pool.query<{ spec: Record<string, unknown> }>('SELECT spec FROM highway.docker_containers WHERE id = $1', [ok.intent_id]);
      expect(row.rows[0]!.spec['registry_auth']).to.deep.equal({ secret: 'regcred-json' });
      expect(JSON.stringify(h.log.lines)).to.not.include(PASSWORD);
    });
  });

  it('the operator policy\'s image patterns apply to pull: denied, audited, nothing written', async () => {
    const registry = new ToolRegistry();
    const tools = registerDockerTools(registry, {
      databaseUrl: h.db.url,
      pool: h.db.pool,
      policy: { ...defaultPolicy, images: { allow: [`${open.address}/*`], deny: ['*/hw/denied:*'] } },
    });
    try {
      const image = `${open.address}/hw/denied:v1`;
      const denied = await failure(registry.call('tools.docker.pull', { image }, h.ctx({ tenant_id: 'tenant-p' })));
      expect(denied).to.be.instanceOf(PolicyError);
      expect(denied.message).to.equal(`image: denied by policy rule "images": "${image}" matches the denied pattern "*/hw/denied:*"`);
      const elsewhere = await failure(registry.call('tools.docker.pull', { image: 'alpine:3.20' }, h.ctx({ tenant_id: 'tenant-p' })));
      expect((elsewhere as PolicyError).rule).to.equal('images');
      expect((await h.db.pool.query(`SELECT 1 FROM highway.docker_pulls WHERE tenant_id = 'tenant-p'`)).rowCount).to.equal(0);
      const audit = await h.db.pool.query(`SELECT outcome, detail FROM highway.docker_audit WHERE tenant_id = 'tenant-p' AND operation = 'tools.docker.pull'`);
      expect(audit.rows.map((r) => [r.outcome, r.detail.rule])).to.deep.equal([
        ['denied', 'images'],
        ['denied', 'images'],
      ]);
    } finally {
      await tools.close();
    }
  });

  it('bad input names the field; an unknown host is "not found"; nothing is written', async () => {
    const both = await failure(pull({ image: TEST_IMAGE, host: h.reconcilerId, all_hosts: true }));
    expect(both).to.be.instanceOf(ValidationError);
    expect((both as ValidationError).field).to.equal('all_hosts');
    const bad = await failure(pull({ image: 'UPPER/Case' }));
    expect((bad as ValidationError).field).to.equal('image');
    const unknown = await failure(pull({ image: TEST_IMAGE, host: 'no-such-host' }));
    expect(unknown.code).to.equal('not_found');
    expect(unknown.message).to.equal(`host: "no-such-host" is not a known Docker host (known: ${h.reconcilerId})`);
    expect((await h.db.pool.query(`SELECT 1 FROM highway.docker_pulls WHERE image = $1`, [TEST_IMAGE])).rowCount).to.equal(0);
  });

  it('a host whose reconciler does not answer: failed after the timeout, and the request does not linger', async () => {
    await h.stopReconciler();
    try {
      const { reference } = await pushed(open);
      const { results } = await pull({ image: reference, timeout: 1 });
      expect(results[0]).to.deep.include({ host: h.reconcilerId, status: 'failed', error: 'no answer from the host within 1 s (is its reconciler running?)' });
      const rows = await h.db.pool.query<{ status: string }>('SELECT status FROM highway.docker_pulls WHERE image = $1', [reference]);
      expect(rows.rows.map((r) => r.status)).to.deep.equal(['failed']);
    } finally {
      await h.startReconciler();
    }
  });

  it('a pull left running by a reconciler that died is pulled on restart, and ends in exactly one outcome', async () => {
    const { reference, digest } = await pushed(open);
    await h.stopReconciler();
    const id = randomUUID();
    try {
      // As a reconciler killed mid-pull leaves it: claimed (running), never finished.
      await h.db.pool.query(
        `INSERT INTO highway.docker_pulls (id, tenant_id, image, reconciler_id, status, started_at) VALUES ($1, 'tenant-a', $2, $3, 'running', now())`,
        [id, reference, h.reconcilerId],
      );
    } finally {
      await h.startReconciler();
    }
    for (const started = Date.now(); ; await new Promise((r) => setTimeout(r, 20))) {
      const row = await h.db.pool.query<{ status: string; digest: string }>('SELECT status, digest FROM highway.docker_pulls WHERE id = $1', [id]);
      if (row.rows[0]!.status === 'done') {
        expect(row.rows[0]!.digest).to.equal(digest);
        break;
      }
      if (Date.now() - started > 10_000) expect.fail(`pull still ${row.rows[0]!.status}`);
    }
    const outcomes = await h.db.pool.query(`SELECT outcome FROM highway.docker_audit WHERE operation = 'image.pull' AND detail->>'pull_id' = $1`, [id]);
    expect(outcomes.rows).to.deep.equal([{ outcome: 'ok' }]);
    expect(await present(reference)).to.equal(true);
  });

  it('all_hosts pulls on every known host, one result each; with several hosts, host or all_hosts is required', async () => {
    const otherId = `test-other-${randomUUID()}`;
    const other = await Reconciler.create({ pool: h.db.pool, databaseUrl: h.db.url, docker: h.client, logger: h.log.logger, reconcilerId: otherId });
    await other.start();
    try {
      await hostKnown(otherId);
      const { reference, digest } = await pushed(open);
      const result = await pull({ image: reference, all_hosts: true });
      expect(result.results.map((r) => r.host).sort()).to.deep.equal([h.reconcilerId, otherId].sort());
      for (const r of result.results) expect(r).to.deep.include({ status: 'done', digest, error: null });
      const one = await pull({ image: reference, host: otherId });
      expect(one.results.map((r) => r.host)).to.deep.equal([otherId]);
      const ambiguous = await failure(pull({ image: reference }));
      expect(ambiguous).to.be.instanceOf(ValidationError);
      expect(ambiguous.message).to.match(/^host: is required when several hosts are known .*; or set all_hosts: true$/);
    } finally {
      await other.stop();
      await h.db.pool.query('DELETE FROM highway.docker_images WHERE reconciler_id = $1', [otherId]);
    }
  });
});
