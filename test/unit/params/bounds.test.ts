/**
 * Bounded, storable input (src/params/bounds.ts) and the tenant id grammar: what a caller
 * is refused before anything is parsed or stored, each refusal naming the field.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError, PolicyError } from '../../../src/errors.js';
import { checkInput, DEFAULT_INPUT_LIMITS } from '../../../src/params/bounds.js';
import { checkPolicy, defaultPolicy, loadPolicy } from '../../../src/params/policy.js';
import { parseRunParams } from '../../../src/params/schema.js';
import { tenantIdProblem } from '../../../src/params/tenant.js';
import { abusiveParamsArbitrary } from '../../support/invalid-params.js';

const IMAGE = 'highway-test/busybox:latest';
const withKey = (key: string, value: unknown) => JSON.parse(`{${JSON.stringify(key)}: ${JSON.stringify(value)}}`);

function refusal(params: Record<string, unknown>, limits = DEFAULT_INPUT_LIMITS): ValidationError {
  try {
    checkInput({ image: IMAGE, ...params }, limits);
  } catch (err) {
    expect(err).to.be.instanceOf(ValidationError);
    return err as ValidationError;
  }
  return expect.fail(`accepted ${JSON.stringify(params).slice(0, 200)}`);
}

describe('params/bounds: bounded, storable input', () => {
  it('accepts ordinary parameters, at the size limit too', () => {
    checkInput({ image: IMAGE, command: 'echo hi', labels: { team: 'data' }, environment: { A: '1', T: { secret: 'x' } } });
    const base = JSON.stringify({ image: IMAGE, command: '' }).length;
    checkInput({ image: IMAGE, command: 'x'.repeat(DEFAULT_INPUT_LIMITS.max_params_bytes - base) });
  });

  it('refuses a parameter set over 256 KiB of JSON by default, naming the largest parameter and the policy field', () => {
    const base = JSON.stringify({ image: IMAGE, command: '' }).length;
    const err = refusal({ command: 'x'.repeat(DEFAULT_INPUT_LIMITS.max_params_bytes - base + 1) });
    expect(err.field).to.equal('command');
    expect(err.message).to.match(/^command: the parameters are more than 256 KiB of JSON \(the limit, policy max_params_bytes\)/);
    expect(refusal({ environment: { BIG: 'é'.repeat(200 * 1024) } }).field).to.equal('environment'); // bytes, not characters
  });

  it('a 20 MB string is refused without being copied or scanned to its end', () => {
    const err = refusal({ working_dir: `/${'z'.repeat(20 * 1024 * 1024)}\u0000` });
    expect(err.field).to.equal('working_dir');
    expect(err.message).to.contain('max_params_bytes');
    expect(err.message.length).to.be.below(300);
  });

  it('the operator policy moves the limits', () => {
    const small = { ...DEFAULT_INPUT_LIMITS, max_params_bytes: 100 };
    expect(refusal({ command: 'x'.repeat(100) }, small).message).to.contain('100 bytes');
    checkInput({ image: IMAGE, command: 'x'.repeat(300 * 1024) }, { ...DEFAULT_INPUT_LIMITS, max_params_bytes: 1024 * 1024 });
  });

  it('counts labels and environment variables, and their bytes', () => {
    const labels = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
    expect(refusal({ labels }).message).to.equal('labels: has 129 entries, more than the limit of 128 (policy max_labels)');
    const env = Array.from({ length: 513 }, (_, i) => `K${i}=v`);
    expect(refusal({ environment: env }).message).to.contain('more than the limit of 512 (policy max_environment)');
    const fat = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, 'v'.repeat(1024)]));
    expect(refusal({ labels: fat }).message).to.equal('labels: is more than 64 KiB of JSON (the limit, policy max_labels_bytes)');
    checkInput({ image: IMAGE, labels: Object.fromEntries(Array.from({ length: 128 }, (_, i) => [`k${i}`, 'v'])) });
  });

  for (const key of ['__proto__', 'constructor', 'prototype']) {
    it(`refuses the key "${key}" by name, wherever it is`, () => {
      expect(refusal({ labels: withKey(key, 'x') }).field).to.equal(`labels.${key}`);
      expect(refusal({ environment: { A: '1', ...withKey(key, 'x') } }).field).to.equal(`environment.${key}`);
      expect(refusal({ volumes: { '/tmp/in': withKey(key, '/in') } }).field).to.equal(`volumes["/tmp/in"].${key}`);
      expect(refusal(withKey(key, 1)).field).to.equal(key);
      expect(refusal({ labels: withKey(key, 'x') }).message).to.contain(`the key "${key}" is refused`);
    });
  }

  it('refuses NUL characters and lone surrogates in values and keys, naming the field and never echoing them', () => {
    for (const [params, field] of [
      [{ environment: { A: 'x\u0000y' } }, 'environment.A'],
      [{ command: ['sh', '-c', '\u0000'] }, 'command[2]'],
      [{ image: 'alpine\uD800' }, 'image'],
      [{ labels: { team: '\uDC00data' } }, 'labels.team'],
      [{ labels: withKey('t\u0000', 'x') }, 'labels["t\\u0000"]'],
      [{ tmpfs: withKey('/x\uDBFF', '') }, 'tmpfs["/x\\udbff"]'],
    ] as const) {
      const err = refusal(params as Record<string, unknown>);
      expect(err.field).to.equal(field);
      expect(err.message).to.match(/NUL character|lone surrogate/);
      expect(/[\u0000\uD800-\uDFFF]/.test(err.message), err.message).to.equal(false);
    }
    checkInput({ image: IMAGE, command: 'echo 😀 déjà' }); // well-formed pairs are fine
  });

  it('refuses nesting deeper than 32 levels and cycles', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 40; i++) deep = { a: deep };
    expect(refusal({ log_config: { type: 'json-file', config: deep } }).message).to.contain('nested more than 32 levels');
    const cyclic: Record<string, unknown> = { type: 'json-file' };
    cyclic['config'] = cyclic;
    expect(refusal({ log_config: cyclic }).field).to.equal('log_config.config');
  });

  it('generated abuse: checkInput refuses every case, naming its parameter', () => {
    fc.assert(
      fc.property(abusiveParamsArbitrary, (testCase) => {
        const err = refusal(testCase.params);
        expect(/^[A-Za-z_]+/.exec(err.field)![0]).to.equal(testCase.field);
      }),
      { numRuns: 200 },
    );
  });
});

describe('params/policy: input limits and the max_output_bytes ceiling', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hw-bounds-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults: 256 KiB parameters, 128 labels / 64 KiB, 512 environment variables / 128 KiB, 64 MiB output', () => {
    expect(defaultPolicy).to.include({
      max_params_bytes: 262144,
      max_labels: 128,
      max_labels_bytes: 65536,
      max_environment: 512,
      max_environment_bytes: 131072,
      max_output_bytes: 67108864,
    });
  });

  it('a policy file sets them', () => {
    const file = join(dir, 'p.json');
    writeFileSync(file, JSON.stringify({ max_params_bytes: 1048576, max_labels: 10, max_output_bytes: 65536 }));
    expect(loadPolicy(file)).to.include({ max_params_bytes: 1048576, max_labels: 10, max_output_bytes: 65536, max_environment: 512 });
    writeFileSync(file, JSON.stringify({ max_params_bytes: 0 }));
    expect(() => loadPolicy(file)).to.throw(/max_params_bytes/);
  });

  it('max_output_bytes above the policy ceiling is denied by rule max_output_bytes', () => {
    const spec = parseRunParams({ image: IMAGE, max_output_bytes: '1m' });
    checkPolicy(spec, defaultPolicy);
    let err: unknown;
    try {
      checkPolicy(spec, { ...defaultPolicy, max_output_bytes: 64 * 1024 });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(PolicyError);
    expect(err).to.include({ rule: 'max_output_bytes', field: 'max_output_bytes' });
  });
});

describe('params/tenant: the tenant id grammar', () => {
  it('accepts 1-128 characters of [A-Za-z0-9._-]', () => {
    for (const ok of ['default', 'acme', 'a', 'Tenant_1.prod-eu', 'x'.repeat(128)]) expect(tenantIdProblem(ok), ok).to.equal(null);
  });
  it('refuses empty, too long, newlines, spaces, U+FFFD and non-strings, saying why', () => {
    expect(tenantIdProblem('')).to.match(/^is empty/);
    expect(tenantIdProblem('x'.repeat(129))).to.match(/^is 129 characters long/);
    expect(tenantIdProblem('acme\n')).to.match(/^contains U\+000A/);
    expect(tenantIdProblem('ac me')).to.match(/^contains U\+0020/);
    expect(tenantIdProblem('acme\uFFFD')).to.match(/^contains U\+FFFD/);
    expect(tenantIdProblem('a/b')).to.match(/^contains "\/"/);
    expect(tenantIdProblem(undefined)).to.match(/^is required/);
    expect(tenantIdProblem(42)).to.match(/^is required/);
  });
});
