import { createPool } from '../db/pool.js';
import { createDockerClient } from '../docker/client.js';
import { DockerGarbageCollector, type SweepReport } from '../gc/collector.js';
import type { Logger } from '../observability/logger.js';
import type { Settings } from '../config.js';
import { onShutdown } from './signals.js';
import { hostSettingsFromEnv } from '../hosts/settings.js';
import { runKinds } from '../runtime/periodic.js';

/** `highway-docker gc [--once]`: the standalone GC service (or one sweep). */
export async function gcCommand(databaseUrl: string, opts: { once?: boolean }, settings: Settings, logger: Logger): Promise<SweepReport | null> {
  const pool = createPool(databaseUrl, { max: 2, applicationName: 'highway-docker-gc' });
  const docker = createDockerClient({ logger });
  try {
    const gc = new DockerGarbageCollector({
      pool,
      docker,
      logger,
      reconcilerId: settings.reconcilerId ?? (await docker.daemonId()),
      creationGraceMs: settings.gcCreationGraceS * 1000,
      staleMaxAgeMs: settings.staleMaxAgeS * 1000,
      intervalMs: settings.gcIntervalS * 1000,
      // The same collector as inside `up`: containers of retired hosts too.
      hostTimeoutS: hostSettingsFromEnv().hostTimeoutS,
    });
    if (opts.once) return await gc.sweep();
    // The sweep on the controller runtime, as inside `up` (without a manager: the GC needs no events).
    const running = runKinds([gc.kind()], logger);
    logger.info({ event: 'gc.started', interval_s: settings.gcIntervalS }, 'garbage collector running');
    await new Promise<void>((resolve) => onShutdown(logger, () => resolve()));
    await running.stop();
    return null;
  } finally {
    await pool.end();
  }
}
