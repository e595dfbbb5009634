import type { DockerRunResult } from '../tools/docker-run.js';

/**
 * Exit codes of `highway-docker run`, after `docker run`'s: the container's own exit code
 * when it ran to an end; otherwise one of these.
 */
export const EXIT = {
  /** highway-docker could not run the container: invalid input, policy denial, pull/create/start error, lost. */
  tool: 125,
  /** The container ran past its timeout (as GNU timeout). */
  timeout: 124,
  /** Cancelled: workflow cancelled, activity timed out or gone, worker lost or shut down (Ctrl-C). */
  cancelled: 130,
} as const;

export function exitCodeFor(result: DockerRunResult): number {
  switch (result.status) {
    case 'exited':
    case 'running': // detached: it runs
      return 0;
    case 'failed':
      return result.exit_code ? result.exit_code : EXIT.tool;
    case 'timeout':
      return EXIT.timeout;
    case 'cancelled':
      return EXIT.cancelled;
    default:
      return EXIT.tool;
  }
}
