import type { Logger } from '../observability/logger.js';

/**
 * Call `handler` once on the first SIGINT or SIGTERM; a second signal exits at once
 * (graceful first, forced if asked twice).
 */
export function onShutdown(logger: Logger, handler: (signal: NodeJS.Signals) => void): void {
  let received = false;
  const on = (signal: NodeJS.Signals) => {
    if (received) {
      logger.warn({ event: 'shutdown.forced', signal }, 'second signal: exiting now');
      process.exit(130);
    }
    received = true;
    logger.info({ event: 'shutdown.requested', signal }, `${signal}: shutting down`);
    handler(signal);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
}
