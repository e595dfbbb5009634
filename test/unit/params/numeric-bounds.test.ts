/**
 * Issue 16 item 6: every number of the parameters has an upper bound Docker and PostgreSQL
 * accept, checked before the intent is written, with the field and the bound in the error;
 * NaN, infinities, -0 and fractions where whole numbers are required get clear errors; what
 * passes maps to a create body Docker can decode and to dates that stay valid.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ValidationError } from '../../../src/errors.js';
import { lifecycleOf } from '../../../src/model.js';
import { toCreateOptions } from '../../../src/params/container-config.js';
import { parseExecParams } from '../../../src/params/exec.js';
import { validateSchedule } from '../../../src/kinds/schedules/operations.js';
import { defaultPolicy } from '../../../src/params/policy.js';
import { parseRunParams } from '../../../src/params/schema.js';
import { extremeInvalidParamsArbitrary, extremeValidParamsArbitrary } from '../../support/invalid-params.js';

const topLevel = (field: string): string => /^[A-Za-z_][A-Za-z0-9_]*/.exec(field)?.[0] ?? field;

function refusal(params: Record<string, unknown>): ValidationError {
  try {
    parseRunParams({ image: 'alpine', ...params });
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(params)}`);
}

/** Every number in a JSON-able value, with its path. */
function numbersIn(value: unknown, path = ''): [string, number][] {
  if (typeof value === 'number') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => numbersIn(v, `${path}[${i}]`));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => numbersIn(v, `${path}.${k}`));
  return [];
}

const INT64_MAX = 2n ** 63n - 1n;

describe('params: numeric bounds (huge, NaN-producing and boundary numbers)', () => {
  it('the values that used to hang a run are refused before anything is stored, naming the field and the bound', () => {
    expect(refusal({ stop_grace_period: 1e30 }).message).to.equal(
      "stop_grace_period: must be at most 2147483647 seconds (Docker's StopTimeout is a Go int of seconds), not 1e+30",
    );
    expect(refusal({ gc_protect_seconds: 1e30 }).message).to.equal(
      'gc_protect_seconds: must be at most 2147483647 seconds (about 68 years, so the date stays valid in JavaScript and PostgreSQL), not 1e+30',
    );
    expect(refusal({ healthcheck: { test: 'true', timeout: 1e19 } }).message).to.match(
      /^healthcheck\.timeout: 10000000000000000000 is more than 9007199254740991 nanoseconds \(about 104 days\)/,
    );
    expect(refusal({ placement_timeout: 1e30 }).message).to.match(/^placement_timeout: must be at most 2147483647 seconds/);
  });

  it('NaN, infinities, "9999...9" (Infinity once read) and fractions get clear errors', () => {
    expect(refusal({ cpu_limit: '9'.repeat(400) }).message).to.equal("cpu_limit: is infinite; at most 9223372036 CPUs (Docker's NanoCpus is int64 nanoCPUs)");
    expect(refusal({ gc_protect_seconds: '9'.repeat(400) }).message).to.match(/^gc_protect_seconds: "9{40}\.\.\." is too long a duration to compute with$/);
    expect(refusal({ memory_limit: '9'.repeat(400) }).message).to.match(/^memory_limit: "9+" is more than the largest size, 9007199254740991 bytes/);
    expect(refusal({ memory_limit: 1e30 }).message).to.equal('memory_limit: 1e+30 bytes is more than the largest size, 9007199254740991 bytes (the largest whole number JSON carries exactly)');
    expect(refusal({ shm_size: 1.5 }).message).to.match(/^shm_size: 1\.5 is not a size \(not a whole number of bytes\)/);
    expect(refusal({ timeout: NaN }).field).to.equal('timeout');
    expect(refusal({ stop_grace_period: Infinity }).field).to.equal('stop_grace_period');
    expect(refusal({ pids_limit: 4_194_305 }).message).to.equal("pids_limit: must be at most 4194304 processes (Linux's PID_MAX_LIMIT), not 4194305");
    expect(refusal({ pids_limit: -0 }).message).to.match(/^pids_limit: must be a positive number of processes, or -1/);
    expect(refusal({ user: '4294967294' }).message).to.equal('user: uid/gid 4294967294 must be at most 2147483647 (Docker takes uids and gids in 0-2147483647), not 4294967294');
    expect(refusal({ restart_policy: { name: 'on-failure', maximum_retry_count: 2 ** 31 }, auto_remove: false }).message).to.equal(
      'restart_policy.maximum_retry_count: must be at most 2147483647 (Docker reads it into a Go int (int32)), not 2147483648',
    );
    expect(refusal({ healthcheck: { test: 'true', retries: 2 ** 31 } }).field).to.equal('healthcheck.retries');
  });

  it('-0 is read as 0 where 0 is allowed', () => {
    const spec = parseRunParams({ image: 'alpine', stop_grace_period: -0, max_output_bytes: -0 });
    expect(Object.is(spec.stop_grace_period, 0)).to.equal(true);
    expect(Object.is(spec.max_output_bytes, 0)).to.equal(true);
  });

  it('property: every huge, NaN-producing or past-the-bound number of every numeric field is refused naming that field', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(extremeInvalidParamsArbitrary, ({ params, field }) => {
        const err = refusal(params);
        expect(topLevel(err.field), `${err.message} for ${String(JSON.stringify(params))}`).to.equal(field);
        expect(err.message).to.not.match(/NaN-NaN|undefined/);
        seen.add(field);
      }),
      { numRuns: 800 },
    );
    expect(seen.size).to.be.at.least(16);
  });

  it('property: what is accepted at the bounds maps to a create body Docker decodes (int64) and to valid dates', () => {
    fc.assert(
      fc.property(extremeValidParamsArbitrary, (params) => {
        const spec = parseRunParams({ image: 'alpine', ...params });
        const body = toCreateOptions(spec, { name: 'highway-x', labels: {} });
        for (const [path, n] of numbersIn(body)) {
          expect(Number.isFinite(n), `${path} = ${n}`).to.equal(true);
          if (Number.isInteger(n)) expect(BigInt(n) <= INT64_MAX, `${path} = ${n}`).to.equal(true);
        }
        // The numbers of the create body that Docker reads into a Go int.
        expect(body.StopTimeout ?? 0).to.be.at.most(2 ** 31 - 1);
        expect(body.Healthcheck?.Retries ?? 0).to.be.at.most(2 ** 31 - 1);
        expect(body.HostConfig?.RestartPolicy?.MaximumRetryCount ?? 0).to.be.at.most(2 ** 31 - 1);
        // The stored spec survives JSON unchanged (no Infinity or NaN turned into null).
        expect(JSON.parse(JSON.stringify(spec))).to.deep.equal(spec);
        const life = lifecycleOf(JSON.parse(JSON.stringify(spec)) as Record<string, unknown>);
        const now = Date.now();
        for (const ms of [life.timeoutMs, life.stopGraceMs, life.gcProtectMs ?? 0]) expect(Number.isNaN(new Date(now + ms).getTime())).to.equal(false);
      }),
      { numRuns: 400 },
    );
  });

  it('a row written past the tool with huge durations still gives valid dates (gc_protect_seconds 1e30 used to give 0NaN-NaN-...)', () => {
    const life = lifecycleOf({ timeout: 1e30, stop_grace_period: 1e30, gc_protect_seconds: 1e30 });
    for (const ms of [life.timeoutMs, life.stopGraceMs, life.gcProtectMs!]) {
      expect(new Date(Date.now() + ms).toISOString()).to.match(/^20\d\d-/);
    }
  });

  it('exec parameters are bounded too: huge and NaN-producing numbers refused naming the field', () => {
    for (const [field, value] of [['timeout', 1e30], ['timeout', NaN], ['timeout', '9'.repeat(400)], ['max_output_bytes', 1e30], ['max_output_bytes', Infinity]] as const) {
      let err: unknown;
      try {
        parseExecParams({ target: 'abcd1234', command: ['true'], [field]: value });
      } catch (e) {
        err = e;
      }
      expect(err, `${field}=${String(value)}`).to.be.instanceOf(ValidationError);
      expect((err as ValidationError).field).to.equal(field);
    }
  });
});

describe('params: cron dates and numbers are bounded', () => {
  it('a start_at before 4713 BC (valid in JavaScript, not in PostgreSQL) and huge numbers are refused naming the field', () => {
    const base = { name: 'n', schedule: '* * * * *', params: { image: 'alpine' } };
    for (const [field, value, message] of [
      ['start_at', '-100000-01-01T00:00:00Z', /before 4713 BC/],
      ['end_at', 'not a date', /ISO 8601/],
      ['jitter', 1e30, /at most 86400/],
      ['catchup_window', NaN, /./],
      ['keep_failed', 2 ** 40, /./],
    ] as const) {
      let err: unknown;
      try {
        validateSchedule({ ...base, [field]: value }, defaultPolicy);
      } catch (e) {
        err = e;
      }
      expect(err, `${field}=${String(value)}`).to.be.instanceOf(ValidationError);
      expect((err as ValidationError).field).to.equal(field);
      expect((err as ValidationError).message).to.match(message);
    }
  });
});
