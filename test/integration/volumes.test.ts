/**
 * Named volumes are private to their tenant (real Docker): what tenant A writes to its volume
 * `data`, tenant B's `data` does not show. Volumes the operator policy shares are shared.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { defaultPolicy } from '../../src/params/policy.js';
import { tenantVolumeName } from '../../src/params/container-config.js';
import { Harness } from '../support/harness.js';

describe('named volumes: private to their tenant', function () {
  this.timeout(60_000);
  let h: Harness;
  const name = `vol-${randomUUID().slice(0, 8)}`;
  const shared = `shared-${randomUUID().slice(0, 8)}`;

  before(async () => {
    h = await Harness.start({ policy: { ...defaultPolicy, shared_volumes: [shared] } });
  });
  after(async () => {
    await h?.stop();
    for (const v of [tenantVolumeName('tenant-a', name), tenantVolumeName('tenant-b', name), shared]) {
      await h?.docker.getVolume(v).remove().catch(() => {});
    }
  });

  it("tenant B does not see what tenant A wrote to its volume of the same name; the volume carries A's label", async () => {
    const a = await h.run({ command: ['sh', '-c', 'echo from-a > /data/f; cat /data/f'], volumes: [`${name}:/data`] }, h.ctx({ tenant_id: 'tenant-a' }));
    expect(a.stdout).to.equal('from-a\n');
    const b = await h.run({ command: ['sh', '-c', 'cat /data/f 2>/dev/null || echo nothing-here'], volumes: [`${name}:/data`] }, h.ctx({ tenant_id: 'tenant-b' }));
    expect(b.stdout).to.equal('nothing-here\n');
    const info = await h.docker.getVolume(tenantVolumeName('tenant-a', name)).inspect();
    expect(info.Labels?.['highway.tenant_id']).to.equal('tenant-a');
    expect(info.Labels?.['highway.volume']).to.equal(name);
  });

  it('a volume the operator shares is the same volume for every tenant', async () => {
    await h.run({ command: ['sh', '-c', 'echo from-a > /s/f'], volumes: [`${shared}:/s`] }, h.ctx({ tenant_id: 'tenant-a' }));
    const b = await h.run({ command: ['cat', '/s/f'], volumes: [`${shared}:/s`] }, h.ctx({ tenant_id: 'tenant-b' }));
    expect(b.stdout).to.equal('from-a\n');
  });
});
