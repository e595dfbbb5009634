/**
 * Following a running container's logs (`highway-docker logs --follow`): logs operations
 * polled every `intervalMs` with `since` = the newest timestamp seen, deduplicated by
 * timestamp (Docker's `since` includes lines at that very instant), until the container ends.
 * When the container is removed between two polls, the rest comes from the row (when the
 * follow started at the beginning of the output and it was not truncated).
 */
import { unixFromRfc3339 } from '../params/operations.js';
import type { CallerContext, LogLineResult, OperationTools } from './docker-ops.js';

export interface FollowParams {
  target: string;
  tail?: number | 'all';
  since?: string | number;
  until?: string | number;
  timestamps?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  max_bytes?: number | string;
}

export type FollowChunk = { stream: 'stdout' | 'stderr'; text: string; timestamp: string | null };

/** Docker's RFC 3339 timestamp (trailing zeros trimmed) as comparable nanoseconds. */
export function timestampKey(ts: string): bigint {
  const [sec, nanos] = unixFromRfc3339(ts).split('.');
  return BigInt(sec!) * 1_000_000_000n + BigInt(nanos!);
}

export async function followLogs(
  tools: Pick<OperationTools, 'logs'>,
  params: FollowParams,
  ctx: CallerContext,
  write: (chunk: FollowChunk) => void,
  options: { intervalMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const intervalMs = options.intervalMs ?? 250;
  const fromStart = (params.tail === undefined || params.tail === 'all') && params.since === undefined;
  const printed = { stdout: 0, stderr: 0 };
  let last: bigint | null = null;
  let lastTs: string | null = null;
  let atLast = new Set<string>();

  const emitLines = (lines: LogLineResult[]) => {
    for (const l of lines) {
      const key = timestampKey(l.timestamp);
      const id = `${l.stream}\u0000${l.text}`;
      if (last !== null && (key < last || (key === last && atLast.has(id)))) continue;
      if (last === null || key > last) {
        last = key;
        lastTs = l.timestamp;
        atLast = new Set();
      }
      atLast.add(id);
      printed[l.stream] += Buffer.byteLength(l.text);
      write({ stream: l.stream, text: l.text, timestamp: l.timestamp });
    }
  };

  let r = await tools.logs(params, ctx);
  for (;;) {
    if (r.source === 'row') {
      // Ended (and removed) between two polls: the rest of the output is in the row.
      if (fromStart || last === null) {
        for (const stream of ['stdout', 'stderr'] as const) {
          const rest = Buffer.from(r[stream]).subarray(last === null ? 0 : printed[stream]).toString('utf8');
          if (rest) write({ stream, text: rest, timestamp: null });
        }
      }
      return;
    }
    emitLines(r.lines);
    if (!r.running || options.signal?.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const { tail: _tail, ...rest } = params;
    r = await tools.logs({ ...rest, ...(lastTs ? { since: unixFromRfc3339(lastTs) } : {}) }, ctx, { audit: false });
  }
}
