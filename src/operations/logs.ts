/**
 * tools.docker.logs: a container's logs; a running one's read now from its host (masked and
 * bounded as they stream), an ended one's from its row. Rerun-safe (a read).
 */
import { isTerminal, type IntentRow } from '../model.js';
import { performLogs } from '../kinds/operations/effects.js';
import { logsParams, type LogsParams } from '../params/operations.js';
import { checkLogsPolicy } from '../params/policy.js';
import { defineOperation, given, num, type CallerContext, type CliInput } from './definition.js';

export interface LogLineResult {
  stream: 'stdout' | 'stderr';
  timestamp: string;
  text: string;
}

export interface LogsResult {
  intent_id: string;
  container_id: string | null;
  /** `host`: read now from the container's host; `row`: the output recorded when it ended. */
  source: 'host' | 'row';
  stdout: string;
  stderr: string;
  logs_truncated: boolean;
  /** Host reads: each line with its stream and Docker's timestamp, oldest first. */
  lines: LogLineResult[];
  /** Host reads: is the container still running? */
  running: boolean;
}

const LIVE = new Set(['running', 'stopping']);

type HostRead = { lines: Array<[LogLineResult['stream'], string, string]>; truncated: boolean; running: boolean };

export const logsOperation = defineOperation({
  name: 'logs',
  tool: 'tools.docker.logs',
  schema: logsParams,
  rerunSafe: true,
  checkPolicy: checkLogsPolicy,

  async call({ call, intent, options, operate, raise, waitIntent }, p): Promise<LogsResult> {
    // A poll of `logs --follow` after its first call: not audited again.
    if (options.audit === false) call.skip();
    if (LIVE.has(intent.status) && intent.container_id) {
      const op = await operate(p, 30_000, { audit: options.audit !== false });
      if (op.status === 'done') return hostLogs(intent, p, op.result as HostRead);
      if (op.error_code !== 'not_running') raise(op);
      // It ended meanwhile: what it wrote is (or is about to be) recorded in the row.
      return rowLogs(await waitIntent((r) => isTerminal(r.status), 30_000), p);
    }
    call.note({ source: 'row' });
    return rowLogs(intent, p);
  },

  perform: (ctx, op, intent) => performLogs(ctx, op, intent),

  cli: {
    command: 'logs',
    description: "a container's logs: a running one's from its host, an ended one's from its row",
    arguments: [{ syntax: '<target>', description: 'intent id or container id (full or short)' }],
    options: [
      { flags: '-n, --tail <lines>', description: 'only the last N lines (default all)' },
      { flags: '--since <time>', description: 'only lines since: RFC 3339, unix seconds, or a duration back such as 10m' },
      { flags: '--until <time>', description: 'only lines before: RFC 3339, unix seconds, or a duration back' },
      { flags: '-t, --timestamps', description: "prefix each line with Docker's timestamp" },
      { flags: '-f, --follow', description: 'keep printing new output until the container ends' },
    ],
    params: cliParams,
    print(r) {
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
    },
    run(invoke, input, ctx): Promise<number> | null {
      if (!input.opts['follow']) return null;
      return follow(invoke, cliParams(input), input.opts, ctx);
    },
  },
});

function cliParams({ args: [target], opts }: CliInput): Record<string, unknown> {
  return {
    target,
    ...given(opts, { tail: 'tail' }, (v) => (v === 'all' ? 'all' : num(v))),
    ...given(opts, { since: 'since', until: 'until' }),
    ...(opts['timestamps'] ? { timestamps: true } : {}),
  };
}

async function follow(
  invoke: (params: Record<string, unknown>, options?: { audit?: boolean }) => Promise<LogsResult>,
  params: Record<string, unknown>,
  opts: Record<string, unknown>,
  ctx: CallerContext,
): Promise<number> {
  const { followLogs } = await import('../tools/logs-follow.js');
  type FollowParams = Parameters<typeof followLogs>[1];
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  // The reader went away (`logs -f | head -1`): stop following, and end cleanly.
  const readerGone = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') abort.abort();
  };
  process.stdout.on('error', readerGone);
  const out = (text: string) => {
    if (!abort.signal.aborted) process.stdout.write(text);
  };
  try {
    await followLogs(
      { logs: (p, _ctx, o) => invoke(p as Record<string, unknown>, o) },
      params as unknown as FollowParams,
      ctx,
      (c) => {
        if (opts['json']) out(JSON.stringify(c.gap ? { gap: c.gap } : c) + '\n');
        else if (c.gap) process.stderr.write(`highway-docker: gap in the log${c.gap.after ? ` after ${c.gap.after}` : ''}${c.gap.before ? ` before ${c.gap.before}` : ''}: ${c.gap.reason}\n`);
        else {
          const text = opts['timestamps'] && c.timestamp ? `${c.timestamp} ${c.text}` : c.text;
          if (c.stream === 'stderr') process.stderr.write(text);
          else out(text);
        }
      },
      { signal: abort.signal },
    );
  } finally {
    process.stdout.off('error', readerGone);
  }
  return 0;
}

function hostLogs(intent: IntentRow, p: LogsParams, r: HostRead): LogsResult {
  const lines = r.lines.map(([stream, timestamp, text]) => ({ stream, timestamp, text }));
  const join = (stream: 'stdout' | 'stderr') =>
    lines.filter((l) => l.stream === stream).map((l) => (p.timestamps ? `${l.timestamp} ${l.text}` : l.text)).join('');
  return {
    intent_id: intent.id,
    container_id: intent.container_id,
    source: 'host',
    stdout: join('stdout'),
    stderr: join('stderr'),
    logs_truncated: r.truncated,
    lines,
    running: r.running,
  };
}

/** An ended container's output, from its row: tail (lines), stream selection and byte cap apply; it has no timestamps. */
export function rowLogs(row: IntentRow, p: Pick<LogsParams, 'tail' | 'stdout' | 'stderr' | 'max_bytes'>): LogsResult {
  let truncated = row.logs_truncated;
  const pick = (text: string | null, wanted: boolean): string => {
    if (!wanted || !text) return '';
    let out = text;
    if (p.tail !== 'all') {
      const lines = text.split(/(?<=\n)/);
      out = lines.slice(Math.max(0, lines.length - p.tail)).join('');
      if (p.tail === 0) out = '';
    }
    const bytes = Buffer.from(out);
    if (bytes.length > p.max_bytes) {
      truncated = true;
      out = bytes.subarray(bytes.length - p.max_bytes).toString('utf8');
    }
    return out;
  };
  return {
    intent_id: row.id,
    container_id: row.container_id,
    source: 'row',
    stdout: pick(row.stdout, p.stdout),
    stderr: pick(row.stderr, p.stderr),
    logs_truncated: truncated,
    lines: [],
    running: false,
  };
}
