import { expect } from 'chai';
import { DOCKER_HUB_AUTH_ADDRESS, parseRegistryAuth, registryOf, resolveRegistryAuth } from '../../../src/docker/registry-auth.js';
import { TerminalError } from '../../../src/errors.js';

const IMAGE = '127.0.0.1:5000/team/app:1';

function rejection(value: string): TerminalError {
  try {
    parseRegistryAuth(value, IMAGE, 'regcred');
  } catch (err) {
    if (err instanceof TerminalError) return err;
    throw err;
  }
  return expect.fail(`accepted ${value}`);
}

describe('docker/registry-auth', () => {
  it('reads the registry from the reference, Docker Hub when it has none', () => {
    expect(registryOf(IMAGE)).to.equal('127.0.0.1:5000');
    expect(registryOf('localhost/app')).to.equal('localhost');
    expect(registryOf('registry.example.com/a/b@sha256:' + 'a'.repeat(64))).to.equal('registry.example.com');
    expect(registryOf('team/app:1')).to.equal(DOCKER_HUB_AUTH_ADDRESS);
    expect(registryOf('alpine')).to.equal(DOCKER_HUB_AUTH_ADDRESS);
  });

  it('parses a JSON auth config, defaulting serveraddress to the image\'s registry', () => {
    expect(parseRegistryAuth('{"username":"u","password":"p"}', IMAGE, 's')).to.deep.equal({ username: 'u', password: 'p', serveraddress: '127.0.0.1:5000' });
    expect(parseRegistryAuth(' {"username":"u","password":"p","serveraddress":"other:1"} ', IMAGE, 's')).to.deep.equal({
      username: 'u',
      password: 'p',
      serveraddress: 'other:1',
    });
  });

  it('parses "user:password", the password keeping its colons', () => {
    expect(parseRegistryAuth('alice:pa:ss', IMAGE, 's')).to.deep.equal({ username: 'alice', password: 'pa:ss', serveraddress: '127.0.0.1:5000' });
    expect(parseRegistryAuth('alice:', 'alpine', 's')).to.deep.equal({ username: 'alice', password: '', serveraddress: DOCKER_HUB_AUTH_ADDRESS });
  });

  it('refuses other shapes, naming the secret and never echoing the value', () => {
    for (const value of ['hunter2-no-colon', ':hunter2', '{"username":"u"}', '{"password":"hunter2"}', '{"username":"u","password":"hunter2"', '{"username":"u","password":"hunter2","serveraddress":5}']) {
      const err = rejection(value);
      expect(err.code, value).to.equal('invalid_params');
      expect(err.message, value).to.match(/^registry_auth: secret "regcred" /);
      expect(err.message, value).to.not.include('hunter2');
    }
  });

  it('resolves through the resolver; no reference means no credentials', async () => {
    const owner = { id: '00000000-0000-0000-0000-000000000000', tenant_id: 't' };
    expect(await resolveRegistryAuth(null, IMAGE, async () => expect.fail('not called'), owner)).to.equal(undefined);
    let askedFor: unknown[] = [];
    const auth = await resolveRegistryAuth({ secret: 'regcred' }, IMAGE, async (name, o) => ((askedFor = [name, o.tenant_id]), 'u:p'), owner);
    expect(askedFor).to.deep.equal(['regcred', 't']);
    expect(auth).to.deep.equal({ username: 'u', password: 'p', serveraddress: '127.0.0.1:5000' });
  });

  it('a secret the resolver cannot give is a terminal error on registry_auth', async () => {
    const owner = { id: '00000000-0000-0000-0000-000000000000', tenant_id: 't' };
    const resolver = async () => {
      throw new TerminalError('invalid_params', 'environment: secret "regcred" is not available (set HIGHWAY_SECRET_REGCRED on the reconciler)');
    };
    const err = await resolveRegistryAuth({ secret: 'regcred' }, IMAGE, resolver, owner).then(
      () => expect.fail('resolved'),
      (e: unknown) => e as TerminalError,
    );
    expect(err).to.be.instanceOf(TerminalError);
    expect(err.message).to.equal('registry_auth: secret "regcred" is not available (set HIGHWAY_SECRET_REGCRED on the reconciler)');
  });
});
