/**
 * `highway-docker pull` and `highway-docker images` as users run them (the CLI from source,
 * through tsx), against a real database, a real reconciler and a local registry.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { runCli } from '../support/processes.js';
import { pushToRegistry, startRegistry, type LocalRegistry } from '../support/registry.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

const cli = (args: string[], env: Record<string, string>) => runCli(args, env, undefined, ['--import', 'tsx', MAIN]);

describe('command line: pull and images', function () {
  this.timeout(90_000);
  let h: Harness;
  let registry: LocalRegistry;
  let env: Record<string, string>;
  let reference: string;
  let digest: string | undefined;

  before(async () => {
    [h, registry] = await Promise.all([Harness.start(), startRegistry()]);
    env = { DATABASE_URL: h.db.url };
    ({ reference, digest } = await pushToRegistry(h.docker, TEST_IMAGE, registry.address, `hw/cli:${randomUUID().slice(0, 8)}`));
    for (const started = Date.now(); Date.now() - started < 10_000; await new Promise((r) => setTimeout(r, 20))) {
      if ((await h.db.pool.query('SELECT 1 FROM highway.docker_images WHERE reconciler_id = $1', [h.reconcilerId])).rowCount) break;
    }
  });
  after(async () => {
    await h?.docker.getImage(reference).remove({ noprune: true }).catch(() => {});
    await registry?.stop();
    await h?.stop();
  });

  it('pull --host H --json prints one result per host and exits 0; the request is audited with --tenant', async () => {
    const r = await cli(['pull', '--host', h.reconcilerId, '--tenant', 'acme', '--json', reference], env);
    expect(r.code, r.stderr).to.equal(0);
    const result = JSON.parse(r.stdout);
    expect(result.image).to.equal(reference);
    expect(result.results).to.have.length(1);
    expect(result.results[0]).to.include({ host: h.reconcilerId, status: 'done', digest, error: null });
    const audit = await h.db.pool.query(`SELECT tenant_id FROM highway.docker_audit WHERE operation = 'tools.docker.pull' AND detail->>'image' = $1`, [reference]);
    expect(audit.rows.map((x) => x.tenant_id)).to.deep.equal(['acme']);
  });

  it('pull of a missing image prints the error per host and exits 125', async () => {
    const missing = `${registry.address}/hw/cli:missing`;
    const r = await cli(['pull', '--all-hosts', missing], env);
    expect(r.code).to.equal(125);
    expect(r.stdout).to.match(/^HOST\s+STATUS\s+DIGEST\s+DURATION\s+ERROR\n/);
    expect(r.stdout).to.contain(`${h.reconcilerId}  failed`);
    expect(r.stdout).to.contain('image not found in the registry');
  });

  it('bad input with --json is one JSON error document naming the field', async () => {
    const r = await cli(['pull', '--json', '--host', h.reconcilerId, '--all-hosts', reference], env);
    expect(r.code).to.equal(125);
    expect(JSON.parse(r.stdout)).to.deep.equal({ error: { message: 'all_hosts: cannot be combined with host; give one', code: 'invalid_params', field: 'all_hosts' } });
  });

  it('images [--host H] [REFERENCE] lists the inventory, as a table or as JSON', async () => {
    const table = await cli(['images', '--host', h.reconcilerId, TEST_IMAGE], env);
    expect(table.code, table.stderr).to.equal(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^HOST\s+IMAGE\s+ID\s+CREATED\s+SIZE$/);
    expect(lines.slice(1).some((l) => l.startsWith(h.reconcilerId) && l.includes(TEST_IMAGE))).to.equal(true);

    const json = await cli(['images', '--json', '--tenant', 'acme', reference], env);
    expect(json.code, json.stderr).to.equal(0);
    const result = JSON.parse(json.stdout);
    expect(result.hosts).to.have.length(1);
    expect(result.hosts[0].host).to.equal(h.reconcilerId);
    expect(result.hosts[0].images.map((i: { tags: string[] }) => i.tags.includes(reference))).to.deep.equal([true]);
  });

  it('images --host for an unknown host: not found, exit 125', async () => {
    const r = await cli(['images', '--json', '--host', 'nope'], env);
    expect(r.code).to.equal(125);
    expect(JSON.parse(r.stdout).error).to.include({ code: 'not_found' });
  });
});
