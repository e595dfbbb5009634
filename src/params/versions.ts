/**
 * Stored specs carry the version of the parameter schema they were accepted under, so an
 * intent queued before an upgrade that renames or tightens a parameter still runs as it was
 * accepted: the reconciler reads a stored spec by its version (upgrading older shapes step by
 * step to the current one), and a spec from a newer writer is refused clearly instead of misread.
 *
 * To change the schema incompatibly: bump RUN_SPEC_VERSION and add the step from the previous
 * version to UPGRADES (a pure function of the stored object).
 */
import { HighwayError, TerminalError } from '../errors.js';
import { parseRunParams, type RunSpec } from './schema.js';

/** The key of the version inside a stored spec (no parameter name starts with `$`). */
export const SPEC_VERSION_KEY = '$version';
export const RUN_SPEC_VERSION = 2;

type Stored = Record<string, unknown>;

/** UPGRADES[n] turns a version-n stored spec into a version-(n+1) one. */
const UPGRADES: Record<number, (spec: Stored) => Stored> = {
  // Version 2: healthcheck durations are nanoseconds (docker-py's unit), no longer seconds.
  1: (spec) => {
    const health = spec['healthcheck'];
    if (health === null || typeof health !== 'object') return spec;
    const upgraded: Record<string, unknown> = { ...(health as Record<string, unknown>) };
    for (const key of ['interval', 'timeout', 'start_period']) {
      const seconds = upgraded[key];
      if (typeof seconds === 'number') upgraded[key] = Math.round(seconds * 1e9);
    }
    return { ...spec, healthcheck: upgraded };
  },
};

/** The spec to store: the validated parameters with their schema version. */
export function versioned(spec: RunSpec | Stored): Stored {
  return { ...(spec as Stored), [SPEC_VERSION_KEY]: RUN_SPEC_VERSION };
}

/** The version a stored spec was accepted under (specs from before versioning are version 1). */
export function storedVersion(stored: Stored): number {
  const v = stored[SPEC_VERSION_KEY];
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : 1;
}

/**
 * Read a stored spec as this version of the code understands it. Throws a TerminalError for a
 * spec of a newer version (this reconciler is older than the tool that wrote it) or one that no
 * longer parses.
 */
export function readStoredSpec(stored: Stored, upgrades: Record<number, (spec: Stored) => Stored> = UPGRADES, current = RUN_SPEC_VERSION): RunSpec {
  const spec = upgradedSpec(stored, upgrades, current);
  try {
    return parseRunParams(spec);
  } catch (err) {
    if (err instanceof HighwayError) throw new TerminalError(err.code, err.message, { cause: err });
    throw err;
  }
}

/**
 * A stored spec's parameters as the current schema reads them (its version key removed, upgraded
 * step by step), not yet validated: for stores that validate themselves (cron schedules). Throws a
 * TerminalError for a spec of a newer version.
 */
export function upgradedSpec(stored: Stored, upgrades: Record<number, (spec: Stored) => Stored> = UPGRADES, current = RUN_SPEC_VERSION): Stored {
  const version = storedVersion(stored);
  if (version > current) {
    throw new TerminalError('invalid_params', `spec: written by a newer highway-docker (parameter schema version ${version}; this reconciler reads up to ${current}): upgrade this reconciler`);
  }
  let spec: Stored = { ...stored };
  delete spec[SPEC_VERSION_KEY];
  for (let v = version; v < current; v++) {
    const step = upgrades[v];
    if (!step) throw new TerminalError('internal', `spec: no upgrade from parameter schema version ${v} to ${v + 1}`);
    spec = step(spec);
  }
  return spec;
}
