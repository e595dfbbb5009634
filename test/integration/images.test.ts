/**
 * tools.docker.images on the real daemon: the inventory table follows Docker's image events
 * (a tag or an rmi done behind the reconciler's back shows within a second), a resync replaces
 * the host's rows, and the tool reads only the table.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Harness, TEST_IMAGE } from '../support/harness.js';
import { HighwayError, ValidationError } from '../../src/errors.js';
import type { DockerImagesResult } from '../../src/tools/docker-images.js';
import { eventually } from '../support/eventually.js';

describe('tools.docker.images (real daemon)', function () {
  this.timeout(60_000);
  let h: Harness;
  const tags: string[] = [];

  before(async () => {
    h = await Harness.start();
  });
  after(async () => {
    for (const t of tags) await h.docker.getImage(t).remove({ noprune: true }).catch(() => {});
    await h?.stop();
  });

  const images = (params: Record<string, unknown> = {}, tenant = 'tenant-a') =>
    h.registry.call<DockerImagesResult>('tools.docker.images', params, { ...h.ctx(), tenant_id: tenant });
  const tagsOf = async (): Promise<string[]> => {
    const res = await h.db.pool.query<{ repo_tags: string[] }>('SELECT repo_tags FROM highway.docker_images WHERE reconciler_id = $1', [h.reconcilerId]);
    return res.rows.flatMap((r) => r.repo_tags);
  };
  /** Poll the table until `until` holds; bounded generously (a hang, not a speed check: the benchmark times it). */
  const within = (until: () => Promise<boolean>, what: string) => eventually(until, { what, timeoutMs: 15_000, everyMs: 20 });
  const scratchTag = () => {
    const tag = `hw-images-test/t${randomUUID().slice(0, 8)}:v1`;
    tags.push(tag);
    return tag;
  };

  it('lists the host\'s images once the reconciler has started, with id, tags, digests, size and created', async () => {
    await within(async () => (await tagsOf()).includes(TEST_IMAGE), 'the test image in the table');
    const result = await images({ host: h.reconcilerId });
    expect(result.hosts.map((x) => x.host)).to.deep.equal([h.reconcilerId]);
    const busybox = result.hosts[0]!.images.find((i) => i.tags.includes(TEST_IMAGE));
    const inspected = await h.docker.getImage(TEST_IMAGE).inspect();
    expect(busybox).to.deep.include({ id: inspected.Id, size: inspected.Size });
    expect(busybox!.digests).to.be.an('array');
    expect(new Date(busybox!.created!).getTime()).to.equal(Math.floor(new Date(inspected.Created).getTime() / 1000) * 1000);
  });

  it('a docker tag done behind our back shows in the table from its event, not the 30 s resync', async () => {
    const tag = scratchTag();
    const [repo, version] = tag.split(':');
    await h.docker.getImage(TEST_IMAGE).tag({ repo: repo!, tag: version! });
    await within(async () => (await tagsOf()).includes(tag), 'the new tag in the table');
    const result = await images({ reference: tag });
    expect(result.hosts[0]!.images.map((i) => i.id)).to.deep.equal([(await h.docker.getImage(TEST_IMAGE).inspect()).Id]);
    expect(result.hosts[0]!.images[0]!.tags).to.include.members([tag, TEST_IMAGE]);
  });

  it('a docker rmi done behind our back leaves the table from its event, not the 30 s resync', async () => {
    const tag = scratchTag();
    const [repo, version] = tag.split(':');
    await h.docker.getImage(TEST_IMAGE).tag({ repo: repo!, tag: version! });
    await within(async () => (await tagsOf()).includes(tag), 'the new tag in the table');
    await h.docker.getImage(tag).remove({ noprune: true });
    await within(async () => !(await tagsOf()).includes(tag), 'the removed tag gone from the table');
    expect((await images({ reference: tag })).hosts[0]!.images).to.deep.equal([]);
  });

  it('an image deleted for good leaves the table (its row is gone, not only its tag)', async () => {
    // A distinct image (its own id): a busybox image with a label on top is committed from a container.
    const tag = scratchTag();
    const [repo, version] = tag.split(':');
    const c = await h.docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'], Labels: { [`highway.reconciler_id`]: h.reconcilerId } });
    const committed = (await c.commit({ repo, tag: version, changes: `LABEL hw.test=${randomUUID()}` })) as { Id: string };
    await c.remove({ force: true });
    const rowOf = async () =>
      (await h.db.pool.query('SELECT 1 FROM highway.docker_images WHERE reconciler_id = $1 AND image_id = $2', [h.reconcilerId, committed.Id])).rowCount ?? 0;
    await within(async () => (await rowOf()) === 1, 'the committed image in the table');
    await h.docker.getImage(committed.Id).remove({ force: true });
    await within(async () => (await rowOf()) === 0, 'the removed image gone from the table');
  });

  it('filters by REFERENCE: repository, repository:tag, wildcards; no match is an empty list', async () => {
    const tag = scratchTag();
    const [repo, version] = tag.split(':');
    await h.docker.getImage(TEST_IMAGE).tag({ repo: repo!, tag: version! });
    await within(async () => (await tagsOf()).includes(tag), 'the new tag in the table');
    const ids = async (reference: string) => (await images({ reference })).hosts[0]!.images.map((i) => i.id);
    const id = (await h.docker.getImage(TEST_IMAGE).inspect()).Id;
    expect(await ids(repo!)).to.deep.equal([id]);
    expect(await ids(tag)).to.deep.equal([id]);
    expect(await ids(`${repo}:v*`)).to.deep.equal([id]);
    expect(await ids(`hw-images-test/*:v1`)).to.include(id);
    expect(await ids(`${repo}:v2`)).to.deep.equal([]);
    expect(await ids('hw-no-such-repo-anywhere')).to.deep.equal([]);
  });

  it('a resync replaces the host\'s rows: a row Docker does not have is dropped, one it has is restored', async () => {
    const id = (await h.docker.getImage(TEST_IMAGE).inspect()).Id;
    await h.db.pool.query(
      `INSERT INTO highway.docker_images (reconciler_id, image_id, repo_tags, size) VALUES ($1, 'sha256:feedface', '{ghost:1}', 1)`,
      [h.reconcilerId],
    );
    await h.db.pool.query('DELETE FROM highway.docker_images WHERE reconciler_id = $1 AND image_id = $2', [h.reconcilerId, id]);
    h.reconciler!.manager.controller('images')!.enqueue('inventory');
    await within(async () => {
      const res = await h.db.pool.query<{ image_id: string }>('SELECT image_id FROM highway.docker_images WHERE reconciler_id = $1', [h.reconcilerId]);
      const have = res.rows.map((r) => r.image_id);
      return have.includes(id) && !have.includes('sha256:feedface');
    }, 'the table replaced by the resync');
  });

  it('images belong to the host, not to a tenant: every tenant sees the same inventory', async () => {
    const a = await images({ host: h.reconcilerId }, 'tenant-a');
    const b = await images({ host: h.reconcilerId }, 'tenant-b');
    expect(b.hosts[0]!.images.map((i) => i.id).sort()).to.deep.equal(a.hosts[0]!.images.map((i) => i.id).sort());
  });

  it('every known host is listed; an unknown host is "not found"; bad input names the field', async () => {
    const all = await images();
    expect(all.hosts.map((x) => x.host)).to.deep.equal([h.reconcilerId]);
    const unknown = await images({ host: 'no-such-host' }).then(() => expect.fail('listed'), (e: unknown) => e as HighwayError);
    expect(unknown.code).to.equal('not_found');
    expect(unknown.message).to.equal(`host: "no-such-host" is not a known Docker host (known: ${h.reconcilerId})`);
    const bad = await images({ reference: 'a b' }).then(() => expect.fail('listed'), (e: unknown) => e as ValidationError);
    expect(bad).to.be.instanceOf(ValidationError);
    expect(bad.field).to.equal('reference');
    const noTenant = await h.registry.call('tools.docker.images', {}, { ...h.ctx(), tenant_id: '' }).then(() => expect.fail('listed'), (e: unknown) => e as ValidationError);
    expect(noTenant.field).to.equal('ctx.tenant_id');
  });

  it('a call reads the table only: it answers with the reconciler stopped', async () => {
    await h.stopReconciler();
    try {
      const result = await images({ reference: TEST_IMAGE });
      expect(result.hosts[0]!.images).to.have.length(1);
    } finally {
      await h.startReconciler();
    }
  });
});
