import { expect } from 'chai';
import { envSecretProvider, maskSecrets } from '../../src/secrets.js';
import { TerminalError } from '../../src/errors.js';
import { tenantVolumeName, toCreateOptions } from '../../src/params/container-config.js';
import { parseRunParams } from '../../src/params/schema.js';

describe('secrets: tenant-scoped provider and masking', () => {
  const env = { HIGHWAY_SECRET_API_TOKEN: 'tok-acme-123', HIGHWAY_SECRET_API_TOKEN_TENANTS: 'acme, beta', HIGHWAY_SECRET_SHARED: 'everyone', HIGHWAY_SECRET_SHARED_TENANTS: '*', HIGHWAY_SECRET_PLAIN: 'only-default' };
  const provider = envSecretProvider(env);

  it('a tenant named in <NAME>_TENANTS reads it; another tenant gets "not available", with the same words as a missing one', async () => {
    expect(await provider.getSecret('acme', 'api_token')).to.equal('tok-acme-123');
    expect(await provider.getSecret('beta', 'api_token')).to.equal('tok-acme-123');
    const other = await provider.getSecret('evil', 'api_token').catch((e: unknown) => e);
    const missing = await provider.getSecret('evil', 'no_such').catch((e: unknown) => e);
    expect(other).to.be.instanceOf(TerminalError);
    expect((other as Error).message).to.match(/secret "api_token" is not available to this tenant/);
    expect((missing as Error).message).to.match(/secret "no_such" is not available to this tenant/);
    expect((other as Error).message).to.not.contain('tok-acme');
  });

  it('`*` shares with every tenant; no list means the tenant `default` only; tenant ids match exactly', async () => {
    expect(await provider.getSecret('anyone', 'shared')).to.equal('everyone');
    expect(await provider.getSecret('default', 'plain')).to.equal('only-default');
    await provider.getSecret('acme', 'plain').then(() => expect.fail('read'), () => {});
    await provider.getSecret('ACME', 'api_token').then(() => expect.fail('read'), () => {});
  });

  it('masks every value (longest first), leaves short values and other text alone', () => {
    expect(maskSecrets('token=abcd1234 and abcd1234!', ['abcd1234'])).to.equal('token=*** and ***!');
    expect(maskSecrets('a-longer-secret contains secret', ['secret', 'a-longer-secret'])).to.equal('*** contains ***');
    expect(maskSecrets('abc 1 abc', ['abc', '1'])).to.equal('abc 1 abc');
    expect(maskSecrets('', ['abcd'])).to.equal('');
  });
});

describe('named volumes are private to their tenant', () => {
  const mountsOf = (tenantId: string, sharedVolumes: string[] = []) =>
    toCreateOptions(parseRunParams({ image: 'x', volumes: ['data:/data', '/srv/in:/in:ro', 'cache:/cache'] }), { name: 'n', labels: {}, tenantId, sharedVolumes }).HostConfig!.Mounts!;

  it("tenant B's `data` is not tenant A's, and the volume is labelled with its tenant; bind mounts are untouched", () => {
    const a = mountsOf('tenant-a');
    const b = mountsOf('tenant-b');
    expect(a[0]!.Source).to.equal('hw-8-tenant-a-data');
    expect(b[0]!.Source).to.equal('hw-8-tenant-b-data');
    expect((a[0] as { VolumeOptions?: { Labels?: Record<string, string> } }).VolumeOptions?.Labels?.['highway.tenant_id']).to.equal('tenant-a');
    expect(a[1]!.Source).to.equal('/srv/in');
  });

  it('names cannot collide across tenants (the tenant length is part of the name)', () => {
    expect(tenantVolumeName('a-b', 'c')).to.not.equal(tenantVolumeName('a', 'b-c'));
  });

  it('volumes the operator policy shares keep their plain name', () => {
    const m = mountsOf('tenant-a', ['cache']);
    expect(m[2]!.Source).to.equal('cache');
    expect(m[0]!.Source).to.equal('hw-8-tenant-a-data');
  });
});
