/**
 * pull_policy against a real local registry: real pulls happen for `always` and for
 * `if_not_present` when the image is absent; `never` fails clearly when it is absent.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { startRegistry, pushToRegistry, type LocalRegistry } from '../support/registry.js';

describe('pull_policy (real registry on 127.0.0.1)', function () {
  this.timeout(60_000);
  let h: Harness;
  let registry: LocalRegistry;
  let reference: string;

  before(async () => {
    h = await Harness.start();
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
    await h?.stop();
  });
  beforeEach(async () => {
    // A fresh tag in the registry, absent from the daemon.
    reference = (await pushToRegistry(h.docker, TEST_IMAGE, registry.address, `hw/busybox:${randomUUID().slice(0, 8)}`)).reference;
  });
  afterEach(async () => {
    expect(await h.containers()).to.have.length(0);
    await h.docker.getImage(reference).remove({ force: true }).catch(() => {});
  });

  const present = async (ref: string) =>
    h.docker
      .getImage(ref)
      .inspect()
      .then(() => true)
      .catch(() => false);
  const pulls = (image: string) => h.log.lines.filter((l) => l['event'] === 'image.pulled' && l['image'] === image).length;

  it('if_not_present (the default) pulls an absent image, then uses it without pulling again', async () => {
    expect(await present(reference)).to.equal(false);
    const first = await h.run({ image: reference, command: ['echo', 'pulled'] });
    expect(first.status).to.equal('exited');
    expect(first.stdout).to.equal('pulled\n');
    expect(await present(reference)).to.equal(true);
    expect(pulls(reference)).to.equal(1);

    const second = await h.run({ image: reference, command: ['echo', 'again'], pull_policy: 'if_not_present' });
    expect(second.stdout).to.equal('again\n');
    expect(pulls(reference)).to.equal(1);
  });

  it('always pulls, even when the image is present', async () => {
    await h.run({ image: reference, command: ['true'], pull_policy: 'always' });
    expect(pulls(reference)).to.equal(1);
    await h.run({ image: reference, command: ['true'], pull_policy: 'always' });
    expect(pulls(reference)).to.equal(2);
  });

  it('never fails clearly when the image is absent, and creates no container', async () => {
    const result = await h.run({ image: reference, command: ['true'], pull_policy: 'never' });
    expect(result.status).to.equal('failed');
    expect(result.container_id).to.equal(null);
    expect(result.error).to.equal(`image: "${reference}" is not present and pull_policy is "never"`);
    expect(await present(reference)).to.equal(false);
    expect(pulls(reference)).to.equal(0);
  });

  it('never runs a present image without pulling', async () => {
    const result = await h.run({ image: TEST_IMAGE, command: ['true'], pull_policy: 'never' });
    expect(result.status).to.equal('exited');
  });

  it('a pull that fails (no such tag in the registry) ends failed with the registry error', async () => {
    const missing = `${registry.address}/hw/busybox:does-not-exist`;
    const ctx = h.ctx();
    const result = await h.run({ image: missing, command: ['true'] }, ctx);
    expect(result.status).to.equal('failed');
    expect(result.error).to.match(/^image: pulling ".*does-not-exist" failed: .*(not found|unknown)/i);
    const row = await h.waitFor(ctx.activity_id, (r) => r.removed_at !== null);
    expect(row.container_id).to.equal(null);
  });

  it('concurrent runs of one absent image share one pull', async () => {
    const results = await Promise.all([1, 2, 3].map((i) => h.run({ image: reference, command: ['echo', String(i)] })));
    expect(results.map((r) => r.stdout)).to.deep.equal(['1\n', '2\n', '3\n']);
    expect(pulls(reference)).to.equal(1);
  });
});
