import { expect } from 'chai';
import { hostSettingsFromEnv, parseCapacity, parseHostLabels, parseListenAddress } from '../../../src/hosts/settings.js';
import { HighwayError } from '../../../src/errors.js';

function errorOf(fn: () => unknown): HighwayError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(HighwayError);
    return err as HighwayError;
  }
  throw new Error('expected an error');
}

describe('hosts/settings', () => {
  describe('parseHostLabels (HIGHWAY_HOST_LABELS)', () => {
    it('reads k=v,k=v, ignoring blanks around entries', () => {
      expect(parseHostLabels('zone=eu-1,gpu=true')).to.deep.equal({ zone: 'eu-1', gpu: 'true' });
      expect(parseHostLabels(' zone = eu-1 , disk=ssd ')).to.deep.equal({ zone: 'eu-1', disk: 'ssd' });
      expect(parseHostLabels('example.com/team=data,empty=')).to.deep.equal({ 'example.com/team': 'data', empty: '' });
    });

    it('unset or empty is no labels', () => {
      expect(parseHostLabels(undefined)).to.deep.equal({});
      expect(parseHostLabels('')).to.deep.equal({});
      expect(parseHostLabels('   ')).to.deep.equal({});
    });

    for (const [raw, says] of [
      ['zone', '"zone" is not key=value'],
      ['zone=eu,', 'entry 2 is empty'],
      [',zone=eu', 'entry 1 is empty'],
      ['=eu', '"" in "=eu" is not a label key'],
      ['-zone=eu', 'is not a label key'],
      ['zone=eu,zone=us', '"zone" is given twice'],
      ['zone=eu=1', 'the value "eu=1" of "zone"'],
      ['zone=e u', 'the value "e u"'],
    ] as const) {
      it(`refuses ${JSON.stringify(raw)}, naming the variable`, () => {
        const err = errorOf(() => parseHostLabels(raw));
        expect(err.code).to.equal('invalid_params');
        expect(err.message).to.match(/^HIGHWAY_HOST_LABELS: /);
        expect(err.message).to.include(says);
        if (!says.includes('twice')) expect(err.message).to.include('zone=eu-1,gpu=true'); // says what to write instead
      });
    }
  });

  describe('parseCapacity (HIGHWAY_MAX_CONTAINERS)', () => {
    it('a positive whole number, or null when unset', () => {
      expect(parseCapacity('8')).to.equal(8);
      expect(parseCapacity(' 12 ')).to.equal(12);
      expect(parseCapacity(undefined)).to.equal(null);
      expect(parseCapacity('')).to.equal(null);
    });
    for (const raw of ['0', '-1', '2.5', 'ten', '1e3', '99999999999999999999']) {
      it(`refuses ${JSON.stringify(raw)}`, () => {
        expect(errorOf(() => parseCapacity(raw)).message).to.match(/^HIGHWAY_MAX_CONTAINERS: ".*" is not a positive whole number/);
      });
    }
  });

  describe('parseListenAddress (HIGHWAY_HTTP_ADDR)', () => {
    it('host:port, [v6]:port, :port, default 127.0.0.1:9464', () => {
      expect(parseListenAddress(undefined)).to.deep.equal({ host: '127.0.0.1', port: 9464 });
      expect(parseListenAddress('0.0.0.0:9100')).to.deep.equal({ host: '0.0.0.0', port: 9100 });
      expect(parseListenAddress('localhost:0')).to.deep.equal({ host: 'localhost', port: 0 });
      expect(parseListenAddress('[::1]:9464')).to.deep.equal({ host: '::1', port: 9464 });
      expect(parseListenAddress(':9464')).to.deep.equal({ host: '0.0.0.0', port: 9464 });
    });
    for (const raw of ['9464', 'host:', 'host:70000', 'a:b:1', 'http://x:1']) {
      it(`refuses ${JSON.stringify(raw)}`, () => {
        expect(errorOf(() => parseListenAddress(raw)).message).to.match(/^HIGHWAY_HTTP_ADDR: .* is not host:port/);
      });
    }
  });

  it('hostSettingsFromEnv: defaults, and every variable read', () => {
    expect(hostSettingsFromEnv({})).to.deep.equal({
      labels: {},
      capacity: null,
      hostTimeoutS: 30,
      httpAddr: { host: '127.0.0.1', port: 9464 },
    });
    expect(
      hostSettingsFromEnv({
        HIGHWAY_HOST_LABELS: 'zone=a',
        HIGHWAY_MAX_CONTAINERS: '4',
        HIGHWAY_HOST_TIMEOUT_S: '9',
        HIGHWAY_HTTP_ADDR: '127.0.0.1:0',
      }),
    ).to.deep.equal({ labels: { zone: 'a' }, capacity: 4, hostTimeoutS: 9, httpAddr: { host: '127.0.0.1', port: 0 } });
    expect(errorOf(() => hostSettingsFromEnv({ HIGHWAY_HOST_TIMEOUT_S: '0' })).message).to.match(/^HIGHWAY_HOST_TIMEOUT_S: "0"/);
  });
});
