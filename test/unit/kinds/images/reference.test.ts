import { expect } from 'chai';
import { matchesReference, splitReference } from '../../../../src/kinds/images/reference.js';

const DIGEST = 'sha256:' + 'b'.repeat(64);
const image = {
  repo_tags: ['highway-test/busybox:latest', '127.0.0.1:5000/hw/busybox:v1'],
  repo_digests: [`127.0.0.1:5000/hw/busybox@${DIGEST}`],
};

describe('kinds/images/reference', () => {
  it('splits repo, tag and digest; a registry port is not a tag', () => {
    expect(splitReference('alpine')).to.deep.equal({ repo: 'alpine', tag: null, digest: null });
    expect(splitReference('alpine:3.20')).to.deep.equal({ repo: 'alpine', tag: '3.20', digest: null });
    expect(splitReference('127.0.0.1:5000/hw/busybox')).to.deep.equal({ repo: '127.0.0.1:5000/hw/busybox', tag: null, digest: null });
    expect(splitReference('127.0.0.1:5000/hw/busybox:v1')).to.deep.equal({ repo: '127.0.0.1:5000/hw/busybox', tag: 'v1', digest: null });
    expect(splitReference(`a/b@${DIGEST}`)).to.deep.equal({ repo: 'a/b', tag: null, digest: DIGEST });
  });

  const table: Array<[string, boolean]> = [
    ['highway-test/busybox', true], // every tag of the repository
    ['highway-test/busybox:latest', true],
    ['highway-test/busybox:v1', false],
    ['127.0.0.1:5000/hw/busybox:v1', true],
    ['127.0.0.1:5000/hw/busybox', true],
    ['busybox', false], // the repository is matched whole, not as a suffix
    ['highway-test/*', true],
    ['*', false], // "*" does not cross "/"
    ['**', true],
    ['**/busybox:v*', true],
    ['highway-test/busybox:l*', true],
    ['highway-test/busy', false],
    [`127.0.0.1:5000/hw/busybox@${DIGEST}`, true],
    [`127.0.0.1:5000/hw/busybox@sha256:${'c'.repeat(64)}`, false],
    [`highway-test/busybox@${DIGEST}`, false],
  ];
  for (const [reference, expected] of table) {
    it(`${reference} ${expected ? 'matches' : 'does not match'}`, () => {
      expect(matchesReference(reference, image)).to.equal(expected);
    });
  }

  it('an image without tags or digests matches no reference, not even "**"', () => {
    const dangling = { repo_tags: [], repo_digests: [] };
    expect(matchesReference('**', dangling)).to.equal(false);
  });

  it('"repo" alone matches an image tagged latest and "repo:latest" too', () => {
    const latestOnly = { repo_tags: ['alpine:latest'], repo_digests: [] };
    expect(matchesReference('alpine', latestOnly)).to.equal(true);
    expect(matchesReference('alpine:latest', latestOnly)).to.equal(true);
    expect(matchesReference('alpine:3', latestOnly)).to.equal(false);
  });
});
