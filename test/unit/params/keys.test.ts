/**
 * One rule for `__proto__`, `constructor` and `prototype` on every entry point: run (object and
 * list environment), exec's environment, a schedule's parameters, and the CLI's `-e`. Each is
 * refused naming the field, never dropped silently. JSON.parse keeps `__proto__` as an own key,
 * as a request body or a --params file would carry it.
 */
import { expect } from 'chai';
import { ValidationError } from '../../../src/errors.js';
import { checkInput } from '../../../src/params/bounds.js';
import { parseExecParams } from '../../../src/params/exec.js';
import { envPair } from '../../../src/params/keys.js';
import { defaultPolicy } from '../../../src/params/policy.js';
import { parseRunParams } from '../../../src/params/schema.js';
import { validateSchedule } from '../../../src/kinds/schedules/operations.js';

const KEYS = ['__proto__', 'constructor', 'prototype'];
const TARGET = '7a1b2c3d-0000-4000-8000-0000000000aa';

/** The single issue of the ValidationError `fn` throws. */
function issue(fn: () => unknown): { field: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ValidationError);
    const issues = (err as ValidationError).issues;
    expect(issues).to.have.length(1);
    return issues[0]!;
  }
  throw new Error('accepted');
}

describe('params/keys: __proto__, constructor, prototype refused everywhere', () => {
  for (const key of KEYS) {
    const message = `the key "${key}" is refused: it names a JavaScript object's prototype machinery and would not be kept as given`;

    it(`${key}: exec environment as an object and as a list`, () => {
      const asObject = JSON.parse(`{"target": "${TARGET}", "command": "id", "environment": {"A": "1", "${key}": "x"}}`);
      expect(issue(() => parseExecParams(asObject))).to.deep.equal({ field: `environment.${key}`, message });
      const asList = { target: TARGET, command: 'id', environment: ['A=1', `${key}=x`] };
      expect(issue(() => parseExecParams(asList))).to.deep.equal({ field: 'environment[1]', message });
    });

    it(`${key}: run environment as an object (checkInput) and as a list (the schema)`, () => {
      const asObject = JSON.parse(`{"image": "busybox", "environment": {"${key}": "x"}}`);
      expect(issue(() => checkInput(asObject))).to.deep.equal({ field: `environment.${key}`, message });
      expect(issue(() => parseRunParams({ image: 'busybox', environment: [`${key}=x`] }))).to.deep.equal({ field: 'environment[0]', message });
    });

    it(`${key}: a schedule's run parameters`, () => {
      const input = JSON.parse(`{"name": "n", "schedule": "* * * * *", "params": {"image": "busybox", "environment": {"${key}": "x"}}}`);
      expect(issue(() => validateSchedule(input, defaultPolicy))).to.deep.equal({ field: `params.environment.${key}`, message });
    });

    it(`${key}: the command line's -e`, () => {
      expect(issue(() => envPair(`${key}=x`))).to.deep.equal({ field: '-e', message });
    });
  }

  it('other names pass, values may contain the words', () => {
    expect(envPair('A=__proto__=x')).to.deep.equal(['A', '__proto__=x']);
    expect(parseExecParams({ target: TARGET, command: 'id', environment: { PROTO: 'constructor' } }).environment).to.deep.equal({ PROTO: 'constructor' });
    expect(issue(() => envPair('=x'))).to.deep.equal({ field: '-e', message: '"=x" is not NAME=value' });
  });
});
