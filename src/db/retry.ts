/**
 * Retrying a database write on transient PostgreSQL failures, with the project's one retry
 * mechanism (p-retry, as the Docker client uses it). Only for writes that are idempotent.
 */
import pRetry, { AbortError } from 'p-retry';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { withTimeout } from '../timeouts.js';

/** SQLSTATEs worth another try: the server going away or a serialization conflict. */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '40001', '40P01']);
const TRANSIENT_NODE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** 57P01 admin shutdown (and 57P02/57P03), any 08xxx connection exception, 40001/40P01, a dropped socket, a stale prepared statement. */
export function isTransientPgError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (TRANSIENT_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || TRANSIENT_NODE_CODES.has(code)) return true;
  }
  // A prepared statement whose result type a schema change altered (another version's
  // migration): it failed on its connection, which the pool replaced; a new one prepares afresh.
  if (code === '0A000' && err instanceof Error && /cached plan must not change result type/.test(err.message)) return true;
  // node-postgres reports a connection lost mid-query without a code.
  return err instanceof Error && /Connection terminated|connection timeout|Client has encountered a connection error/i.test(err.message);
}

/**
 * How long a caller (a tool call) rides out a database it cannot reach (a restart, a failover,
 * a dropped connection): its LISTEN and its idempotent writes are retried this long.
 */
export const CALLER_DB_RETRY_MS = 30_000;

export interface PgRetryOptions {
  logger?: Logger;
  /** At most this many retries (default 5; unbounded when `maxRetryTime` is given). */
  retries?: number;
  minTimeout?: number;
  /** Retry for at most this long (ms) since the first attempt. */
  maxRetryTime?: number;
  /** Stop retrying when this aborts (the caller's own deadline or shutdown). */
  signal?: AbortSignal;
}

/** Run `fn`, retrying it on transient PostgreSQL errors; any other error is thrown at once. */
export function withPgRetry<T>(op: string, fn: () => Promise<T>, options: PgRetryOptions = {}): Promise<T> {
  const deadline = options.maxRetryTime !== undefined ? Date.now() + options.maxRetryTime : null;
  return pRetry(
    async () => {
      try {
        // With a deadline, an attempt that never settles (a connection that hangs) ends at it too.
        if (deadline === null) return await fn();
        return await withTimeout(fn(), Math.max(0, deadline - Date.now()), () => new Error(`${op}: no answer from the database within the retry deadline`));
      } catch (err) {
        if (isTransientPgError(err)) throw err;
        throw new AbortError(err as Error);
      }
    },
    {
      retries: options.retries ?? (options.maxRetryTime !== undefined ? Infinity : 5),
      minTimeout: options.minTimeout ?? 100,
      maxTimeout: 2_000,
      ...(options.maxRetryTime !== undefined ? { maxRetryTime: options.maxRetryTime } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft > 0) options.logger?.warn({ event: 'db.retry', op, attempt: attemptNumber, err: errorMessage(error) }, `retrying ${op}`);
      },
    },
  );
}
