import { expect } from 'chai';
import { LineWindow } from '../../../src/docker/output-buffer.js';
import { PolicyError, ValidationError } from '../../../src/errors.js';
import { containerView, secretEnvNames, REDACTED } from '../../../src/kinds/operations/effects.js';
import { parseExecParams } from '../../../src/params/exec.js';
import { logsParams, parseParams, unixFromRfc3339 } from '../../../src/params/operations.js';
import { checkExecPolicy, defaultPolicy } from '../../../src/params/policy.js';
import { rowLogs } from '../../../src/tools/docker-ops.js';
import { timestampKey } from '../../../src/tools/logs-follow.js';
import { intentRow } from '../../support/fixtures.js';
import type Docker from 'dockerode';

const T = '7a1b2c3d-0000-4000-8000-0000000000aa';

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ValidationError);
    return (err as ValidationError).field;
  }
  throw new Error('expected a ValidationError');
}

describe('exec parameters', () => {
  it('normalizes: command split like a shell, defaults', () => {
    expect(parseExecParams({ target: T, command: "sh -c 'echo hi'" })).to.deep.equal({
      target: T,
      command: ['sh', '-c', 'echo hi'],
      user: null,
      working_dir: null,
      environment: {},
      timeout: 60,
      max_output_bytes: 1024 * 1024,
      privileged: false,
      result_path: null,
      result_format: 'json',
      max_result_bytes: null,
    });
  });
  it('accepts durations, sizes, env lists with secret references', () => {
    const p = parseExecParams({ target: 'ABCDEF12', command: ['id'], timeout: '1m30s', max_output_bytes: '1k', environment: { A: 1, S: { secret: 'x' } }, user: 1000 });
    expect(p).to.include({ target: 'abcdef12', timeout: 90, max_output_bytes: 1024, user: '1000' });
    expect(p.environment).to.deep.equal({ A: '1', S: { secret: 'x' } });
  });
  for (const [params, field] of [
    [{ command: 'id' }, 'target'],
    [{ target: 'abc', command: 'id' }, 'target'],
    [{ target: T }, 'command'],
    [{ target: T, command: '' }, 'command'],
    [{ target: T, command: 'id', timeout: 0 }, 'timeout'],
    [{ target: T, command: 'id', max_output_bytes: '1t' }, 'max_output_bytes'],
    [{ target: T, command: 'id', environment: { '1X': 'v' } }, 'environment'],
    [{ target: T, command: 'id', user: 'a b' }, 'user'],
    [{ target: T, command: 'id', nope: true }, 'nope'],
  ] as const) {
    it(`refuses ${JSON.stringify(params)} naming ${field}`, () => {
      expect(fieldOf(() => parseExecParams(params))).to.match(new RegExp(`^${field}`));
    });
  }
});

describe('exec policy', () => {
  const spec = (o: { privileged?: boolean; user?: string | null }) => ({ privileged: o.privileged ?? false, user: o.user ?? null });
  it('privileged is refused unless the policy allows it', () => {
    expect(() => checkExecPolicy(spec({ privileged: true }), defaultPolicy)).to.throw(PolicyError).with.property('rule', 'privileged');
    expect(() => checkExecPolicy(spec({ privileged: true }), { ...defaultPolicy, allow_privileged: true })).to.not.throw();
  });
  it('allow_exec_root false: root, 0, root:x, and no user are refused; other users pass', () => {
    const strict = { ...defaultPolicy, allow_exec_root: false };
    for (const user of ['root', '0', '0:0', 'root:wheel', null]) {
      expect(() => checkExecPolicy(spec({ user }), strict), String(user)).to.throw(PolicyError).with.property('rule', 'exec_root');
    }
    for (const user of ['1000', 'nobody', '1000:0', 'rooty']) expect(() => checkExecPolicy(spec({ user }), strict)).to.not.throw();
    expect(() => checkExecPolicy(spec({ user: 'root' }), defaultPolicy)).to.not.throw();
  });
});

describe('logs parameters and helpers', () => {
  it('since/until: RFC 3339 (nanoseconds kept), unix seconds, or a duration back from now', () => {
    const p = parseParams(logsParams, { target: T, since: '2026-01-02T03:04:05.123456789Z', until: 1767322000.5 });
    expect(p.since).to.equal('1767323045.123456789');
    expect(p.until).to.equal('1767322000.500000000');
    const back = Number(parseParams(logsParams, { target: T, since: '10m' }).since);
    expect(Math.abs(back - (Date.now() / 1000 - 600))).to.be.below(5);
    expect(fieldOf(() => parseParams(logsParams, { target: T, since: 'yesterday' }))).to.equal('since');
    expect(fieldOf(() => parseParams(logsParams, { target: T, stdout: false, stderr: false }))).to.equal('stdout');
    expect(fieldOf(() => parseParams(logsParams, { target: T, tail: -1 }))).to.equal('tail');
  });
  it('timestamps with trimmed zeros compare by time', () => {
    expect(unixFromRfc3339('2026-01-02T03:04:05.1Z')).to.equal('1767323045.100000000');
    expect(timestampKey('2026-01-02T03:04:05.1Z') > timestampKey('2026-01-02T03:04:05.09Z')).to.equal(true);
    expect(timestampKey('2026-01-02T03:04:05Z')).to.equal(timestampKey('2026-01-02T03:04:05.000000000Z'));
  });
  it('LineWindow keeps the newest lines within the byte and line caps (a tail), or the oldest (a page that stops when full)', () => {
    const lines = ['a\n', 'bb\n', 'ccc\n'].map((text, i) => ({ stream: 'stdout' as const, timestamp: `2026-01-01T00:00:0${i}Z`, text }));
    const window = (o: { maxBytes: number; maxLines?: number; keep: 'newest' | 'oldest'; countTimestamps?: boolean }) => {
      const w = new LineWindow({ maxLines: Infinity, countTimestamps: false, ...o });
      lines.forEach((l) => w.add(l));
      return { kept: w.result(), truncated: w.truncated, full: w.full };
    };
    expect(window({ maxBytes: 7, keep: 'newest' })).to.deep.equal({ kept: lines.slice(1), truncated: true, full: false });
    expect(window({ maxBytes: 100, keep: 'newest' })).to.deep.equal({ kept: lines, truncated: false, full: false });
    expect(window({ maxBytes: 7 + 21, keep: 'newest', countTimestamps: true }).kept).to.deep.equal(lines.slice(2));
    expect(window({ maxBytes: 100, maxLines: 1, keep: 'newest' }).kept).to.deep.equal(lines.slice(2));
    expect(window({ maxBytes: 5, keep: 'oldest' })).to.deep.equal({ kept: lines.slice(0, 2), truncated: true, full: true });
    expect(window({ maxBytes: 100, keep: 'oldest' })).to.deep.equal({ kept: lines, truncated: false, full: false });
  });
  it('rowLogs: tail per stream, stream selection, byte cap', () => {
    const row = intentRow({ status: 'exited', stdout: 'one\ntwo\nthree\n', stderr: 'e1\ne2\n' });
    const base = { tail: 'all' as const, stdout: true, stderr: true, max_bytes: 1000 };
    expect(rowLogs(row, base)).to.include({ source: 'row', stdout: 'one\ntwo\nthree\n', stderr: 'e1\ne2\n', logs_truncated: false });
    expect(rowLogs(row, { ...base, tail: 1 })).to.include({ stdout: 'three\n', stderr: 'e2\n' });
    expect(rowLogs(row, { ...base, tail: 0 })).to.include({ stdout: '', stderr: '' });
    expect(rowLogs(row, { ...base, stderr: false })).to.include({ stderr: '' });
    expect(rowLogs(row, { ...base, max_bytes: 6 })).to.include({ stdout: 'three\n', logs_truncated: true });
  });
});

describe('inspect view', () => {
  it('redacts the values of environment variables that came from secret references', () => {
    const intent = intentRow({ spec: { image: 'x', environment: { PLAIN: 'v', TOKEN: { secret: 'api' } } } });
    expect([...secretEnvNames(intent)]).to.deep.equal(['TOKEN']);
    const info = {
      Id: 'c1',
      Name: '/highway-x',
      Created: '2026-01-01T00:00:00Z',
      RestartCount: 0,
      State: { Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Pid: 9, ExitCode: 0, Error: '', StartedAt: 's', FinishedAt: '0001-01-01T00:00:00Z' },
      HostConfig: { Memory: 1024, NanoCpus: 0, PidsLimit: 0, Privileged: false, NetworkMode: 'none', ReadonlyRootfs: false },
      Config: { Image: 'x', Labels: { a: 'b' }, Env: ['PLAIN=v', 'TOKEN=hunter2', 'PATH=/bin'] },
      Mounts: [],
    } as unknown as Docker.ContainerInspectInfo;
    const view = containerView(info, secretEnvNames(intent));
    expect(view['env']).to.deep.equal(['PLAIN=v', `TOKEN=${REDACTED}`, 'PATH=/bin']);
    expect(JSON.stringify(view)).to.not.include('hunter2');
    expect((view['state'] as { finished_at: unknown }).finished_at).to.equal(null);
  });
});
