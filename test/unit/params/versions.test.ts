import { expect } from 'chai';
import { TerminalError } from '../../../src/errors.js';
import { parseRunParams } from '../../../src/params/schema.js';
import { RUN_SPEC_VERSION, SPEC_VERSION_KEY, readStoredSpec, storedVersion, upgradedSpec, versioned } from '../../../src/params/versions.js';

describe('params/versions: a stored spec runs as it was accepted', () => {
  const params = { image: 'busybox', command: ['echo', 'hi'], memory_limit: '64m' };

  it('a spec stored now reads back as the parameters it was accepted as', () => {
    const stored = JSON.parse(JSON.stringify(versioned(parseRunParams(params))));
    expect(stored[SPEC_VERSION_KEY]).to.equal(RUN_SPEC_VERSION);
    expect(readStoredSpec(stored)).to.deep.equal(parseRunParams(params));
  });

  it('a version-1 spec (healthcheck durations in seconds) runs as accepted: its durations become nanoseconds', () => {
    const v1 = { image: 'busybox', healthcheck: { test: ['CMD', 'true'], interval: 30, timeout: 0.5, retries: 3, start_period: null }, stop_signal: 'SIGTERM', stop_grace_period: 10, [SPEC_VERSION_KEY]: 1 };
    const spec = readStoredSpec(v1);
    expect(spec.healthcheck).to.deep.equal({ test: ['CMD', 'true'], interval: 30e9, timeout: 5e8, retries: 3, start_period: null });
    // Accepted then with SIGTERM and 10 s as defaults: kept as they were.
    expect(spec).to.include({ stop_signal: 'SIGTERM', stop_grace_period: 10 });
  });

  it('upgradedSpec: an unversioned stored spec (a cron schedule\'s from before) is read as version 1; a versioned one as it is', () => {
    const old = { image: 'busybox', healthcheck: { test: ['CMD', 'true'], interval: 30, timeout: null, retries: null, start_period: null } };
    expect(parseRunParams(upgradedSpec(old)).healthcheck?.interval).to.equal(30e9);
    const now = versioned(parseRunParams({ image: 'busybox', healthcheck: { test: ['CMD', 'true'], interval: '30s' } }));
    expect(parseRunParams(upgradedSpec(now)).healthcheck?.interval).to.equal(30e9);
  });

  it('a spec from before versioning is version 1', () => {
    expect(storedVersion({ image: 'x' })).to.equal(1);
  });

  it('an older spec is upgraded step by step before it is read (a renamed parameter)', () => {
    // As if version 2 renamed `mem` (v1) to `memory_limit`, and version 3 made `command` a list.
    const upgrades = {
      1: ({ mem, ...rest }: Record<string, unknown>) => ({ ...rest, memory_limit: mem }),
      2: (s: Record<string, unknown>) => ({ ...s, command: typeof s['command'] === 'string' ? [s['command']] : s['command'] }),
    };
    const spec = readStoredSpec({ image: 'busybox', mem: '64m', command: 'true', [SPEC_VERSION_KEY]: 1 }, upgrades, 3);
    expect(spec.memory_limit).to.equal(64 * 1024 * 1024);
    expect(spec.command).to.deep.equal(['true']);
  });

  it('a spec from a newer writer is refused, saying to upgrade the reconciler', () => {
    const err = (() => {
      try {
        readStoredSpec({ image: 'x', [SPEC_VERSION_KEY]: RUN_SPEC_VERSION + 1 });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).to.be.instanceOf(TerminalError);
    expect((err as Error).message).to.match(/newer highway-docker .* upgrade this reconciler/);
  });

  it('a stored spec that no longer parses is a terminal error naming the field', () => {
    expect(() => readStoredSpec({ image: 'x', memory_limit: '12q' })).to.throw(TerminalError, /memory_limit/);
  });
});
