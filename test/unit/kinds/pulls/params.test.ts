import { expect } from 'chai';
import { ValidationError } from '../../../../src/errors.js';
import { parsePullParams } from '../../../../src/tools/docker-pull.js';
import { parseImagesParams } from '../../../../src/tools/docker-images.js';

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.field;
    throw err;
  }
  return expect.fail('accepted');
}

describe('tools.docker.pull / images parameters', () => {
  it('pull: normalizes a minimal call', () => {
    expect(parsePullParams({ image: 'alpine:3.20' })).to.deep.equal({ image: 'alpine:3.20' });
    expect(parsePullParams({ image: 'a', host: 'h1', registry_auth: { secret: 'regcred' }, timeout: '2m' })).to.deep.equal({
      image: 'a',
      host: 'h1',
      registry_auth: { secret: 'regcred' },
      timeout: 120,
    });
  });

  it('pull: names the offending field', () => {
    expect(fieldOf(() => parsePullParams({}))).to.equal('image');
    expect(fieldOf(() => parsePullParams({ image: 'Not An Image' }))).to.equal('image');
    expect(fieldOf(() => parsePullParams({ image: 'a', host: 'h', all_hosts: true }))).to.equal('all_hosts');
    expect(fieldOf(() => parsePullParams({ image: 'a', registry_auth: 'regcred' }))).to.equal('registry_auth');
    expect(fieldOf(() => parsePullParams({ image: 'a', registry_auth: { secret: 'a b' } }))).to.equal('registry_auth.secret');
    expect(fieldOf(() => parsePullParams({ image: 'a', timeout: 0 }))).to.equal('timeout');
    expect(fieldOf(() => parsePullParams({ image: 'a', hosts: ['x'] }))).to.equal('hosts');
    expect(fieldOf(() => parsePullParams('alpine'))).to.equal('(params)');
  });

  it('images: reference and host are optional and checked', () => {
    expect(parseImagesParams(undefined)).to.deep.equal({});
    expect(parseImagesParams({ reference: 'hw/*:v1', host: 'h' })).to.deep.equal({ reference: 'hw/*:v1', host: 'h' });
    expect(fieldOf(() => parseImagesParams({ reference: 'a b' }))).to.equal('reference');
    expect(fieldOf(() => parseImagesParams({ host: '' }))).to.equal('host');
    expect(fieldOf(() => parseImagesParams({ tag: 'x' }))).to.equal('tag');
  });
});
