/**
 * Following a running container's logs (`highway-docker logs --follow`): logs operations
 * polled every `intervalMs`, each reading on from the newest timestamp seen, deduplicated by
 * timestamp (Docker's `since` includes lines at that very instant), until the container ends.
 *
 * Every line is delivered, in order, or the follow says exactly where it skipped: the reads
 * after the first are pages of the OLDEST lines since the last one seen (`keep: "oldest"`), read
 * back to back while a page comes back full, so a container that writes faster than a poll
 * carries is read on, not cut to its newest lines. A skip (the first read's own cap, a container
 * removed with its recorded output cut) is a gap chunk: `{stream: null, gap: {...}}`.
 * When the container is removed between two polls, the rest comes from the row.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { unixFromRfc3339 } from '../params/operations.js';
import type { CallerContext, LogLineResult, LogsResult, OperationTools } from './docker-ops.js';

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

/** Lines may have been skipped here: between `after` and `before` (timestamps, null when unknown). */
export interface FollowGap {
  after: string | null;
  before: string | null;
  reason: string;
}

export type FollowChunk =
  | { stream: 'stdout' | 'stderr'; text: string; timestamp: string | null; gap?: undefined }
  | { stream: null; text?: undefined; timestamp?: undefined; gap: FollowGap };

/** Docker's RFC 3339 timestamp (trailing zeros trimmed) as comparable nanoseconds. */
export function timestampKey(ts: string): bigint {
  const [sec, nanos] = unixFromRfc3339(ts).split('.');
  return BigInt(sec!) * 1_000_000_000n + BigInt(nanos!);
}

/** How much of what was printed per stream is kept to find where the row's output continues it. */
const PRINTED_TAIL = 4096;

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
  const printedTail = { stdout: '', stderr: '' };
  let last: bigint | null = null;
  let lastTs: string | null = null;
  let atLast = new Set<string>();
  const aborted = () => options.signal?.aborted === true;

  const emit = (stream: 'stdout' | 'stderr', text: string, timestamp: string | null) => {
    printed[stream] += Buffer.byteLength(text);
    printedTail[stream] = (printedTail[stream] + text).slice(-PRINTED_TAIL);
    write({ stream, text, timestamp });
  };
  /** Print the lines not printed yet; returns how many were new. */
  const emitLines = (lines: LogLineResult[]): number => {
    let fresh = 0;
    for (const l of lines) {
      if (aborted()) return fresh;
      const key = timestampKey(l.timestamp);
      const id = `${l.stream}\u0000${l.text}`;
      if (last !== null && (key < last || (key === last && atLast.has(id)))) continue;
      if (last === null || key > last) {
        last = key;
        lastTs = l.timestamp;
        atLast = new Set();
      }
      atLast.add(id);
      fresh++;
      emit(l.stream, l.text, l.timestamp);
    }
    return fresh;
  };

  // The first read: a tail when one was asked for (its cap is the caller's), else a page from the start (or `since`).
  const { tail: _tail, ...rest } = params;
  let r: LogsResult = await tools.logs(typeof params.tail === 'number' ? params : { ...params, keep: 'oldest' }, ctx);
  if (r.source === 'host' && r.logs_truncated && typeof params.tail === 'number') {
    write({ stream: null, gap: { after: null, before: r.lines[0]?.timestamp ?? null, reason: `older lines of the last ${params.tail} were left out: they exceed max_bytes` } });
  }
  let full = r.source === 'host' && r.logs_truncated && typeof params.tail !== 'number';
  let ended = false;
  for (;;) {
    if (r.source === 'row') return emitRow(r);
    const fresh = emitLines(r.lines);
    if (aborted()) return;
    if (full && fresh === 0 && lastTs !== null) {
      // A whole page of lines at one instant, all seen: step past that instant, saying so.
      write({ stream: null, gap: { after: lastTs, before: null, reason: 'more lines than max_bytes holds share one timestamp; the rest of them were skipped' } });
      last = last! + 1n;
      lastTs = rfc3339FromKey(last);
      atLast = new Set();
    }
    if (!full) {
      // Not running: one more read, since lines written between the last read and the end would be missed.
      if (ended) return;
      if (!r.running) ended = true;
      else await sleep(intervalMs, undefined, options.signal ? { signal: options.signal } : {}).catch(() => {}); // an abort ends the wait
    }
    if (aborted()) return;
    r = await tools.logs({ ...rest, keep: 'oldest', ...(lastTs ? { since: unixFromRfc3339(lastTs) } : {}) }, ctx, { audit: false });
    full = r.source === 'host' && r.logs_truncated;
  }

  /** Ended (and removed) between two polls: the rest of the output is in the row, cut to its tail (max_output_bytes). */
  function emitRow(row: LogsResult): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const recorded = row[stream];
      if (!recorded) continue;
      if (fromStart && !row.logs_truncated) {
        // The row holds everything from the start: what follows the bytes printed.
        const restText = Buffer.from(recorded).subarray(printed[stream]).toString('utf8');
        if (restText) write({ stream, text: restText, timestamp: null });
        continue;
      }
      if (printed[stream] === 0 && !fromStart) {
        write({ stream: null, gap: { after: lastTs, before: null, reason: `the container was removed before its ${stream} was read; what follows is its recorded output, which may repeat or miss lines before it` } });
        write({ stream, text: recorded, timestamp: null });
        continue;
      }
      // Continue after the last bytes printed, where they are found in the recorded tail.
      const restText = continuation(printedTail[stream], recorded);
      if (restText !== null) {
        if (restText) write({ stream, text: restText, timestamp: null });
      } else {
        write({ stream: null, gap: { after: lastTs, before: null, reason: `the container was removed and its recorded ${stream} (cut to max_output_bytes) does not reach back to the last line printed; lines between were skipped` } });
        write({ stream, text: recorded, timestamp: null });
      }
    }
  }
}

/**
 * What `recorded` (a tail of the whole output) holds after `printed` (the end of what was
 * printed), or null when they cannot be lined up. Where the printed end occurs in it, the first
 * occurrence counts (repetitive output may then be printed twice, never skipped); else the
 * recorded tail may start inside the printed end (an overlap of at least 16 characters, or all
 * of the recorded tail).
 */
export function continuation(printed: string, recorded: string): string | null {
  if (!printed) return null;
  const at = recorded.indexOf(printed);
  if (at >= 0) return recorded.slice(at + printed.length);
  const least = Math.min(16, recorded.length);
  for (let j = 1; printed.length - j >= Math.max(1, least); j++) {
    const overlap = printed.slice(j);
    if (recorded.startsWith(overlap)) return recorded.slice(overlap.length);
    if (overlap.startsWith(recorded)) return '';
  }
  return null;
}

/** Nanoseconds since the epoch back to RFC 3339 with nanoseconds. */
function rfc3339FromKey(key: bigint): string {
  const sec = key / 1_000_000_000n;
  const nanos = (key % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(sec) * 1000).toISOString().slice(0, 19)}.${nanos}Z`;
}
