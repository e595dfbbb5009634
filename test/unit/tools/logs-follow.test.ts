/**
 * followLogs over a scripted `logs` tool (no Docker, no database): every line once and in order,
 * pages read back to back while they come back full, one more read after the container is seen
 * ended, and a gap chunk wherever lines may have been skipped.
 */
import { expect } from 'chai';
import type { LogsResult } from '../../../src/tools/docker-ops.js';
import { followLogs, type FollowChunk } from '../../../src/tools/logs-follow.js';

const ts = (n: number) => `2026-01-01T00:00:00.${String(n).padStart(9, '0')}Z`;
const host = (lines: Array<[number, string]>, o: { running?: boolean; truncated?: boolean } = {}): LogsResult => ({
  intent_id: 'i',
  container_id: 'c',
  source: 'host',
  stdout: '',
  stderr: '',
  logs_truncated: o.truncated ?? false,
  lines: lines.map(([t, text]) => ({ stream: 'stdout', timestamp: ts(t), text })),
  running: o.running ?? true,
});
const row = (stdout: string, truncated = false): LogsResult => ({ intent_id: 'i', container_id: 'c', source: 'row', stdout, stderr: '', logs_truncated: truncated, lines: [], running: false });

/** A logs tool answering from a script; records the parameters of each call. */
function scripted(answers: LogsResult[]) {
  const calls: Array<Record<string, unknown>> = [];
  return {
    calls,
    tools: {
      logs: async (params: unknown) => {
        calls.push(params as Record<string, unknown>);
        const next = answers.shift();
        if (!next) throw new Error('more reads than scripted');
        return next;
      },
    },
  };
}

async function follow(answers: LogsResult[], params: Record<string, unknown> = {}) {
  const s = scripted(answers);
  const chunks: FollowChunk[] = [];
  await followLogs(s.tools as never, { target: 'i', ...params }, { tenant_id: 't' }, (c) => chunks.push(c), { intervalMs: 1 });
  const text = chunks.filter((c) => c.stream !== null).map((c) => c.text).join('');
  return { calls: s.calls, chunks, text, gaps: chunks.filter((c) => c.gap).map((c) => c.gap!) };
}

describe('logs follow', () => {
  it('reads pages of the oldest lines, back to back while they come back full, from the last timestamp seen', async () => {
    const r = await follow([
      host([[1, 'a\n'], [2, 'b\n']], { truncated: true }),
      host([[2, 'b\n'], [3, 'c\n']], { truncated: true }), // Docker's since includes the instant of the last line
      host([[3, 'c\n'], [4, 'd\n']], { running: false }),
      host([[4, 'd\n'], [5, 'e\n']], { running: false }), // the one read after the end was seen
    ]);
    expect(r.text).to.equal('a\nb\nc\nd\ne\n');
    expect(r.gaps).to.deep.equal([]);
    expect(r.calls.map((c) => c['keep'])).to.deep.equal(['oldest', 'oldest', 'oldest', 'oldest']);
    expect(r.calls.slice(1).map((c) => c['since'])).to.deep.equal(['1767225600.000000002', '1767225600.000000003', '1767225600.000000004']);
  });

  it('a tail read cut by max_bytes says older lines of the tail were left out', async () => {
    const r = await follow([host([[9, 'z\n']], { truncated: true, running: false }), host([], { running: false })], { tail: 5 });
    expect(r.text).to.equal('z\n');
    expect(r.gaps).to.have.length(1);
    expect(r.gaps[0]!.reason).to.match(/older lines of the last 5/);
  });

  it('removed between two polls: the row continues after the bytes printed (from the start, not cut)', async () => {
    const r = await follow([host([[1, 'a\n']]), row('a\nb\nc\n')]);
    expect(r.text).to.equal('a\nb\nc\n');
    expect(r.gaps).to.deep.equal([]);
  });

  it('removed, its recorded output cut: continues where the printed tail is found, else says there is a gap', async () => {
    const found = await follow([host([[1, 'first line of output\n'], [2, 'second line of output\n']]), row('nd line of output\nthird\n', true)]);
    expect(found.text).to.equal('first line of output\nsecond line of output\nthird\n');
    expect(found.gaps).to.deep.equal([]);
    const lost = await follow([host([[1, 'line-1\n']]), row('line-8\nline-9\n', true)]);
    expect(lost.gaps).to.have.length(1);
    expect(lost.gaps[0]).to.include({ after: ts(1) });
    expect(lost.gaps[0]!.reason).to.match(/does not reach back/);
    expect(lost.text).to.equal('line-1\nline-8\nline-9\n');
  });

  it('stops when aborted (its reader went away)', async () => {
    const abort = new AbortController();
    const s = scripted([host([[1, 'a\n'], [2, 'b\n']]), host([[3, 'c\n']])]);
    const chunks: FollowChunk[] = [];
    await followLogs(s.tools as never, { target: 'i' }, { tenant_id: 't' }, (c) => {
      chunks.push(c);
      abort.abort();
    }, { intervalMs: 1, signal: abort.signal });
    expect(chunks).to.have.length(1);
    expect(s.calls).to.have.length(1);
  });
});
