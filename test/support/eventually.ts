/**
 * The one polling helper of the tests: ask `probe` again and again until its answer is
 * accepted, or fail when the deadline passes. The failure names what was awaited (`what`),
 * how long it waited, and the last answer seen, so a timeout says what the test was looking
 * at when it gave up.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions<T> {
  /** What is awaited, for the failure message ("the container removed"). */
  what: string;
  /** How long to keep asking, in ms. A generous bound that catches a hang, never a speed check. */
  timeoutMs: number;
  /** Pause between two asks, in ms (default 50). */
  everyMs?: number;
  /**
   * When the answer is accepted (default: a truthy answer). Set it when a falsy value
   * (0, '') is a valid answer, or to wait for one state of a value that is always there.
   */
  until?: (value: T) => boolean;
  /** How the last answer is written into the failure (default JSON, cut to 500 characters). */
  describe?: (value: T) => string;
}

export class EventuallyTimeout extends Error {
  constructor(
    message: string,
    /** The last answer of the probe. */
    readonly last: unknown,
  ) {
    super(message);
    this.name = 'EventuallyTimeout';
  }
}

function show(value: unknown): string {
  let s: string;
  try {
    s = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > 500 ? `${s.slice(0, 500)}…` : s;
}

/**
 * Poll `probe` until its answer is accepted (truthy, or `until(answer)`), and return that answer.
 * A probe that throws ends the wait with its error at once (a probe that may fail for a while,
 * e.g. while a server restarts, catches that itself and answers "not yet").
 * The probe is always asked at least once, even with a zero timeout.
 */
export async function eventually<T>(probe: () => T | Promise<T>, opts: EventuallyOptions<T>): Promise<Exclude<T, null | undefined | false>> {
  const accept = opts.until ?? ((v: T) => Boolean(v));
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value as Exclude<T, null | undefined | false>;
    if (Date.now() >= deadline) {
      const seen = opts.describe ? opts.describe(value) : show(value);
      throw new EventuallyTimeout(`timed out after ${Date.now() - started} ms waiting for ${opts.what}; last seen: ${seen}`, value);
    }
    await sleep(Math.min(opts.everyMs ?? 50, Math.max(0, deadline - Date.now())));
  }
}
