import { Host } from '../host.js';
import type { Logger } from '../observability/logger.js';
import type { Settings } from '../config.js';
import { onShutdown } from './signals.js';
import { redactCredentials } from '../observability/redact.js';

export { StartupError } from '../host.js';

/**
 * `highway-docker up`: one Host (src/host.ts: migrate, every kind, the GC, the host row and
 * heartbeat, the cluster election and duties, /metrics, /healthz, /readyz), until SIGINT/SIGTERM.
 * The start-up and stop order are the Host's. A second signal exits at once.
 */
export async function up(opts: { databaseUrl?: string }, settings: Settings, logger: Logger): Promise<void> {
  const host = new Host({ ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}), settings, logger });
  onShutdown(logger, () => void host.stop());
  try {
    await host.start();
    if (host.stopRequested) return;
    logger.info(
      { event: 'up.ready', database: redactCredentials(host.databaseUrl), http: host.httpUrl },
      'highway-docker is up: run `npx highway-docker run IMAGE CMD...` in another terminal',
    );
    await host.whenStopRequested();
  } finally {
    await host.stop();
  }
}
