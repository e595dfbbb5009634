import type Docker from 'dockerode';
import { Observable } from 'rxjs';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';

/** A container event from the daemon, as much of it as the reconciler uses. */
export interface ContainerEvent {
  action: string; // create, start, die, destroy, kill, oom, health_status: healthy, ...
  id: string;
  labels: Record<string, string>;
  exitCode?: number;
  timeNano: bigint;
}

/** `connected` is emitted on every (re)connect: the cue to relist, because events may have been missed. */
export type DockerEventSignal = { type: 'connected'; reconnect: boolean } | { type: 'event'; event: ContainerEvent };

export interface DockerEventsOptions {
  docker: Docker;
  logger: Logger;
  /** Label filters, e.g. ['highway.managed=true']. */
  labels: string[];
  /** Reconnect backoff bounds. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Splits a byte stream into newline-delimited JSON objects, buffering partial lines. */
export class NdjsonSplitter {
  private partial = '';
  push(chunk: string, emit: (obj: unknown) => void): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    // Each line on its own: one bad line must not cost the good lines after it.
    let firstError: unknown = null;
    for (const line of lines) {
      const trimmed = line.trim();
      if (!trimmed) continue;
      let obj: unknown;
      try {
        obj = JSON.parse(trimmed);
      } catch (err) {
        firstError ??= err;
        continue;
      }
      emit(obj);
    }
    if (firstError) throw firstError;
  }
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number | string;
}

export function toContainerEvent(raw: RawEvent): ContainerEvent | null {
  if (raw.Type !== 'container') return null;
  const attrs = raw.Actor?.Attributes ?? {};
  const id = raw.Actor?.ID ?? raw.id;
  if (!id || !raw.Action) return null;
  const exit = attrs['exitCode'];
  return {
    action: raw.Action,
    id,
    labels: attrs,
    ...(exit !== undefined ? { exitCode: Number(exit) } : {}),
    timeNano: BigInt(raw.timeNano ?? (raw.time ?? 0) * 1e9),
  };
}

/** Docker's `since` takes seconds with a fractional part. */
export function sinceParam(timeNano: bigint): string {
  const s = timeNano / 1_000_000_000n;
  const ns = timeNano % 1_000_000_000n;
  return `${s}.${ns.toString().padStart(9, '0')}`;
}

/**
 * The daemon's container events as an Observable that never errors: it reconnects with
 * jittered exponential backoff, resumes with `since` (the daemon replays only its last 256
 * events, none after a restart), and emits `connected` each time so the consumer relists.
 */
export function dockerEvents$(options: DockerEventsOptions): Observable<DockerEventSignal> {
  const { docker, logger: log, labels } = options;
  const minBackoff = options.minBackoffMs ?? 100;
  const maxBackoff = options.maxBackoffMs ?? 5_000;

  return new Observable<DockerEventSignal>((subscriber) => {
    let closed = false;
    let lastSeen: bigint | null = null;
    let attempt = 0;
    let current: NodeJS.ReadableStream | null = null;
    let retryTimer: NodeJS.Timeout | null = null;
    let connections = 0;

    const scheduleReconnect = (why: string) => {
      if (closed || retryTimer) return;
      current = null;
      const delay = Math.min(maxBackoff, minBackoff * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt++;
      log.warn({ event: 'docker.events_disconnected', reason: why, retry_in_ms: Math.round(delay) }, 'Docker events stream lost');
      retryTimer = setTimeout(() => {
        retryTimer = null;
        void connect();
      }, delay);
    };

    const connect = async () => {
      if (closed) return;
      try {
        const opts: Record<string, unknown> = { filters: { type: ['container'], label: labels } };
        if (lastSeen !== null) opts['since'] = sinceParam(lastSeen);
        const stream = (await docker.getEvents(opts)) as unknown as NodeJS.ReadableStream;
        if (closed) {
          (stream as unknown as { destroy?: () => void }).destroy?.();
          return;
        }
        current = stream;
        attempt = 0;
        const splitter = new NdjsonSplitter();
        stream.setEncoding?.('utf8');
        stream.on('data', (chunk: string | Buffer) => {
          try {
            splitter.push(chunk.toString(), (obj) => {
              const event = toContainerEvent(obj as RawEvent);
              if (!event) return;
              lastSeen = event.timeNano;
              subscriber.next({ type: 'event', event });
            });
          } catch (err) {
            log.error({ event: 'docker.events_parse_error', err: errorMessage(err) }, 'unparseable event');
          }
        });
        stream.on('error', (err: Error) => {
          if (current === stream) scheduleReconnect(errorMessage(err));
        });
        stream.on('end', () => {
          if (current === stream) scheduleReconnect('stream ended');
        });
        stream.on('close', () => {
          if (current === stream) scheduleReconnect('stream closed');
        });
        const reconnect = connections++ > 0;
        log.info({ event: 'docker.events_connected', reconnect }, 'Docker events stream connected');
        subscriber.next({ type: 'connected', reconnect });
      } catch (err) {
        scheduleReconnect(errorMessage(err));
      }
    };

    void connect();

    return () => {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      (current as unknown as { destroy?: () => void } | null)?.destroy?.();
      current = null;
    };
  });
}
