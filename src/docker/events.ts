import split2 from 'split2';
import type Docker from 'dockerode';
import { Observable } from 'rxjs';
import type { Logger } from 'pino';
import pRetry from 'p-retry';
import { errorMessage } from '../errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { withTimeout as raceTimeout } from '../timeouts.js';
const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => raceTimeout(p, ms, () => new Error(`${what} timed out after ${ms} ms`));

/** A container (or image) event from the daemon, as much of it as the controllers use. */
export interface ContainerEvent {
  /** `container` or `image`. */
  type: 'container' | 'image';
  action: string; // create, start, die, destroy, kill, oom, health_status: healthy, ...
  id: string;
  labels: Record<string, string>;
  exitCode?: number;
  timeNano: bigint;
}

/**
 * `connected` is emitted on every (re)connect, and `stalled` when the open stream was found
 * to be silently missing events: both are the cue to relist, because events were missed.
 */
export type DockerEventSignal =
  /**
   * `daemonWentAway`: the stream was lost because the daemon went (its stream ended or broke,
   * or it refused connections), not because this side found it stalled: a daemon that comes
   * back may have restarted, and the output its containers wrote meanwhile may be missing.
   */
  | { type: 'connected'; reconnect: boolean; daemonWentAway?: boolean; /** With daemonWentAway: when this side saw it go. */ awaySince?: Date }
  | { type: 'stalled' }
  /** The stream is lost (once per outage); a `connected` follows when it is back. */
  | { type: 'disconnected'; reason: string }
  | { type: 'event'; event: ContainerEvent };

export interface DockerEventsOptions {
  docker: Docker;
  logger: Logger;
  /** Label filters, e.g. ['highway.managed=true'] (Docker applies them to image events too: give none to see those). */
  labels: string[];
  /** Event types (default ['container']); with 'image', image events (pull, tag, untag, delete, import, load) come too. */
  types?: Array<'container' | 'image'>;
  /**
   * Only these actions (Docker's `event` filter; `health_status` matches each health status).
   * Default: every action.
   */
  actions?: readonly string[];
  /** Reconnect backoff bounds (p-retry's, with jitter): the first reconnect waits `minBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * How often to check that the open stream is not stalled (default 5 s). Silence is normal
   * for an idle daemon, so the check asks the daemon, with a bounded since/until query, for
   * the events it logged since the last one the stream delivered.
   */
  stallCheckMs?: number;
  /** A connect or a stall probe that takes longer than this has failed (default 5 s). */
  requestTimeoutMs?: number;
}

/**
 * The newline-delimited JSON objects of a byte stream (split2 buffers partial lines; CRLF and
 * blank lines are fine). Each line on its own: a bad line is reported and costs no other line.
 * Returns the line stream (it ends when `stream` ends).
 */
export function ndjsonObjects(stream: NodeJS.ReadableStream, onObject: (obj: unknown) => void, onBadLine: (err: unknown, line: string) => void): NodeJS.ReadWriteStream {
  const lines = stream.pipe(split2());
  lines.on('data', (line: string) => {
    const trimmed = line.trim();
    if (!trimmed) return;
    let obj: unknown;
    try {
      obj = JSON.parse(trimmed);
    } catch (err) {
      onBadLine(err, trimmed);
      return;
    }
    onObject(obj);
  });
  return lines;
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

/** A container event, or null for anything else. */
export function toContainerEvent(raw: RawEvent): ContainerEvent | null {
  return raw.Type === 'container' ? toDockerEvent(raw) : null;
}

/** A container or image event, or null for anything else. */
export function toDockerEvent(raw: RawEvent): ContainerEvent | null {
  if (raw.Type !== 'container' && raw.Type !== 'image') return null;
  const attrs = raw.Actor?.Attributes ?? {};
  const id = raw.Actor?.ID ?? raw.id;
  if (!id || !raw.Action) return null;
  const exit = attrs['exitCode'];
  return {
    type: raw.Type,
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
 * p-retry's jittered exponential backoff (the project's one retry mechanism), resumes with `since` (the daemon replays only its last 256
 * events, none after a restart), and emits `connected` each time so the consumer relists.
 */
export function dockerEvents$(options: DockerEventsOptions): Observable<DockerEventSignal> {
  const { docker, logger: log, labels } = options;
  const minBackoff = options.minBackoffMs ?? 100;
  const maxBackoff = options.maxBackoffMs ?? 5_000;

  return new Observable<DockerEventSignal>((subscriber) => {
    let closed = false;
    let lastSeen: bigint | null = null;
    let current: NodeJS.ReadableStream | null = null;
    /** The reconnect loop of the outage in progress (null while connected). */
    let reconnecting: Promise<void> | null = null;
    /** A `disconnected` was sent for the outage in progress. */
    let announced = false;
    const stop = new AbortController();
    let connections = 0;
    let connectedAt = 0n;
    let probing = false;
    const stallCheckMs = options.stallCheckMs ?? 5_000;
    const requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    const filters = {
      type: options.types ?? ['container'],
      ...(labels.length ? { label: labels } : {}),
      ...(options.actions?.length ? { event: [...options.actions] } : {}),
    };

    let wentAway = false;
    let wentAwayAt: Date | null = null;
    /** A connection failed or was lost: the daemon went away (unless this side found the stream stalled); one `disconnected` per outage. */
    const noteLoss = (why: string) => {
      if (why !== 'stalled' && !wentAway) {
        wentAway = true;
        wentAwayAt = new Date();
      }
      if (!closed && !announced) {
        announced = true;
        subscriber.next({ type: 'disconnected', reason: why });
      }
    };

    /** Connect until it works (or the subscriber leaves): the first attempt after `firstDelayMs`, the others on p-retry's backoff. */
    const reconnect = (firstDelayMs: number) => {
      if (closed || reconnecting) return;
      const loop: Promise<void> = sleep(firstDelayMs, undefined, { signal: stop.signal })
        .then(() =>
          pRetry(connect, {
            retries: Infinity,
            minTimeout: minBackoff,
            maxTimeout: maxBackoff,
            randomize: true,
            signal: stop.signal,
            onFailedAttempt: ({ error, attemptNumber }) => {
              noteLoss(errorMessage(error));
              log.warn({ event: 'docker.events_disconnected', reason: errorMessage(error), attempt: attemptNumber }, 'Docker events stream: connecting failed; retrying');
            },
          }),
        )
        .catch(() => {}) // unsubscribed
        .finally(() => {
          if (reconnecting === loop) reconnecting = null;
        });
      reconnecting = loop;
    };

    /** The stream in use is gone: say so (once per outage), and reconnect. */
    const lost = (why: string) => {
      if (closed) return;
      current = null;
      noteLoss(why);
      log.warn({ event: 'docker.events_disconnected', reason: why }, 'Docker events stream lost');
      reconnect(minBackoff);
    };

    /** One connection attempt; throws when it fails. */
    const connect = async () => {
      if (closed) return;
      const opts: Record<string, unknown> = { filters };
      if (lastSeen !== null) opts['since'] = sinceParam(lastSeen);
      const stream = await withTimeout(docker.getEvents(opts) as unknown as Promise<NodeJS.ReadableStream>, requestTimeoutMs, 'connect');
      if (closed) {
        (stream as unknown as { destroy?: () => void }).destroy?.();
        return;
      }
      current = stream;
      connectedAt = nowNano();
      announced = false;
      reconnecting = null; // this outage is over: a loss from now on starts a new loop
      ndjsonObjects(
        stream,
        (obj) => {
          const event = toDockerEvent(obj as RawEvent);
          if (!event) return;
          lastSeen = event.timeNano;
          subscriber.next({ type: 'event', event });
        },
        (err) => log.error({ event: 'docker.events_parse_error', err: errorMessage(err) }, 'unparseable event'),
      );
      stream.on('error', (err: Error) => {
        if (current === stream) lost(errorMessage(err));
      });
      stream.on('end', () => {
        if (current === stream) lost('stream ended');
      });
      stream.on('close', () => {
        if (current === stream) lost('stream closed');
      });
      const isReconnect = connections++ > 0;
      log.info({ event: 'docker.events_connected', reconnect: isReconnect }, 'Docker events stream connected');
      subscriber.next({ type: 'connected', reconnect: isReconnect, ...(isReconnect && wentAway ? { daemonWentAway: true, ...(wentAwayAt ? { awaySince: wentAwayAt } : {}) } : {}) });
      wentAway = false;
      wentAwayAt = null;
    };

    /** Did the daemon log an event after the last one the stream delivered, that the stream still does not deliver? */
    const checkStall = async () => {
      const stream = current;
      if (!stream || probing || closed) return;
      probing = true;
      try {
        const from = lastSeen ?? connectedAt;
        let stalled = false;
        try {
          const missed = await withTimeout(
            readBounded(docker, { filters, since: sinceParam(from), until: sinceParam(nowNano()), abortSignal: AbortSignal.timeout(requestTimeoutMs) }),
            requestTimeoutMs,
            'stall probe',
          );
          const newest = missed.reduce<bigint | null>((max, e) => (e.timeNano > from && (max === null || e.timeNano > max) ? e.timeNano : max), null);
          if (newest !== null) {
            await sleep(1_000); // give the stream a moment: it may just be behind
            stalled = current === stream && (lastSeen ?? 0n) < newest;
          }
        } catch {
          stalled = current === stream; // the daemon does not answer an events query: treat the stream as dead too
        }
        if (stalled && !closed) {
          log.warn({ event: 'docker.events_stalled' }, 'Docker events stream stalled: reconnecting and relisting');
          subscriber.next({ type: 'stalled' });
          current = null;
          (stream as unknown as { destroy?: () => void }).destroy?.();
          lost('stalled');
        }
      } finally {
        probing = false;
      }
    };
    const stallTimer = setInterval(() => void checkStall(), stallCheckMs);
    stallTimer.unref?.();

    reconnect(0);

    return () => {
      closed = true;
      stop.abort();
      clearInterval(stallTimer);
      (current as unknown as { destroy?: () => void } | null)?.destroy?.();
      current = null;
    };
  });
}

const nowNano = (): bigint => BigInt(Date.now()) * 1_000_000n;

/** A bounded events query (with `until`): the daemon sends what it has and closes. */
async function readBounded(docker: Docker, opts: Record<string, unknown>): Promise<ContainerEvent[]> {
  const stream = (await docker.getEvents(opts)) as unknown as NodeJS.ReadableStream & { destroy?: () => void };
  const events: ContainerEvent[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      // A bad line in a probe is no evidence either way.
      const lines = ndjsonObjects(stream, (obj) => {
        const e = toDockerEvent(obj as RawEvent);
        if (e) events.push(e);
      }, () => {});
      lines.on('end', resolve);
      // A stream closed without its end still has its last lines flushed, then ends the wait.
      stream.on('close', () => lines.end());
      stream.on('error', reject);
    });
  } finally {
    stream.destroy?.();
  }
  return events;
}
