/**
 * `p`, or `onTimeout()`'s error once `ms` have passed, whichever comes first. The timer is cleared when `p`
 * settles; a `p` that loses the race may still settle later, and is never left an unhandled rejection.
 * (For a plain delay: `setTimeout` of `node:timers/promises`; for a request: `AbortSignal.timeout`.)
 */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  p.catch(() => {});
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
