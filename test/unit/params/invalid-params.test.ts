import { expect } from 'chai';
import fc from 'fast-check';
import { ValidationError } from '../../../src/errors.js';
import { PARAMETER_NAMES, parseRunParams } from '../../../src/params/schema.js';
import { ALIASES } from '../../../src/params/refused.js';
import { invalidParamsArbitrary } from '../../support/invalid-params.js';

/** "ulimits.nofile.soft" -> "ulimits", "volumes[0]" -> "volumes", 'tmpfs["/x"]' -> "tmpfs". */
function topLevel(field: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*/.exec(field)?.[0] ?? field;
}

describe('spec: generated invalid parameter sets', () => {
  it('are all rejected with a ValidationError naming the offending parameter', () => {
    fc.assert(
      fc.property(invalidParamsArbitrary, ({ params, field }) => {
        let error: unknown;
        try {
          parseRunParams(params);
        } catch (err) {
          error = err;
        }
        expect(error, `accepted ${JSON.stringify(params)}`).to.be.instanceOf(ValidationError);
        const { field: named, message } = error as ValidationError;
        expect([...PARAMETER_NAMES, ...Object.keys(ALIASES)]).to.include(topLevel(named));
        expect(topLevel(named), `${message} for ${JSON.stringify(params)}`).to.equal(field);
      }),
      { numRuns: 600 },
    );
  });
});
