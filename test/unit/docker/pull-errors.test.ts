import { expect } from 'chai';
import { classifyPullError, pullErrorMessage } from '../../../src/docker/pull-errors.js';

describe('docker/pull-errors', () => {
  // Messages as Docker Engine 20.10 and distribution 2.8 give them.
  const cases: Array<[string, ReturnType<typeof classifyPullError>]> = [
    ['manifest for 127.0.0.1:5000/hw/busybox:nope not found: manifest unknown: manifest unknown', 'not_found'],
    ['pull access denied for nosuchimage, repository does not exist or may require \'docker login\': denied: requested access to the resource is denied', 'not_found'],
    ['Head "http://127.0.0.1:5000/v2/hw/busybox/manifests/x": no basic auth credentials', 'auth_failed'],
    ['Head "http://127.0.0.1:5000/v2/hw/busybox/manifests/x": unauthorized: authentication required', 'auth_failed'],
    ['Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused', 'unreachable'],
    ['Get "https://registry.invalid/v2/": dial tcp: lookup registry.invalid: no such host', 'unreachable'],
    ['something else entirely', 'other'],
  ];
  for (const [message, kind] of cases) {
    it(`${kind}: ${message.slice(0, 60)}...`, () => {
      expect(classifyPullError(message)).to.equal(kind);
    });
  }

  it('says what the failure means, then what the daemon said', () => {
    expect(pullErrorMessage('a:1', 'Get "http://x/v2/": dial tcp: connect: connection refused')).to.equal(
      'image: pulling "a:1" failed: registry unreachable: Get "http://x/v2/": dial tcp: connect: connection refused',
    );
    expect(pullErrorMessage('a:1', 'odd')).to.equal('image: pulling "a:1" failed: odd');
  });
});
