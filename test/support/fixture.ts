/**
 * Per-file fixtures for mocha: `usePerFile(start, stop)` registers a `before` hook that starts a
 * resource and an `after` hook that stops it, and returns a stand-in for it at once, so a test
 * file declares what it runs on in one line (`const h = useHarness()`) instead of a `let` and
 * two hooks. The stand-in forwards every property to the started resource; touching it before
 * the `before` hook ran (at describe time) throws, naming the fixture.
 */
import type { HarnessOptions } from './harness.js';
import { Harness } from './harness.js';
import { freshDatabase, type TestDatabase } from './postgres.js';

export interface PerFileOptions {
  /** What the fixture is, for the error when it is used too early. */
  what: string;
  /** The `before` hook's timeout (default 180 s: it may build an image or start a server). */
  startTimeoutMs?: number;
  /** Start it before each test and stop it after each (default: once per file). */
  eachTest?: boolean;
}

export function usePerFile<T extends object>(start: () => Promise<T>, stop: (value: T) => Promise<void>, opts: PerFileOptions): T {
  let value: T | null = null;
  const up = async function (this: Mocha.Context) {
    this.timeout(opts.startTimeoutMs ?? 180_000);
    value = await start();
  };
  const down = async function (this: Mocha.Context) {
    this.timeout(60_000);
    const v = value;
    value = null;
    if (v) await stop(v);
  };
  if (opts.eachTest) {
    beforeEach(up);
    afterEach(down);
  } else {
    before(up);
    after(down);
  }
  const target = (): T => {
    if (!value) throw new Error(`${opts.what} is used before its before() hook started it (or after it was stopped)`);
    return value;
  };
  return new Proxy({} as T, {
    get(_, prop) {
      const t = target();
      const v = Reflect.get(t, prop, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
    set(_, prop, v) {
      return Reflect.set(target(), prop, v);
    },
    has(_, prop) {
      return Reflect.has(target(), prop);
    },
  });
}

/** A fresh, migrated database of the test file's own (dropped after it). */
export function useFreshDatabase(opts: { eachTest?: boolean } = {}): TestDatabase {
  return usePerFile(() => freshDatabase(), (db) => db.drop(), { what: 'the test database', ...opts });
}

/** A running highway-docker for the test file: database, reconciler, tools (see Harness); removed by its label after. */
export function useHarness(options: HarnessOptions = {}, start: (options: HarnessOptions) => Promise<Harness> = (o) => Harness.start(o)): Harness {
  return usePerFile(() => start(options), (h) => h.stop(), { what: 'the harness' });
}
