/**
 * What a kind that acts on this host's Docker daemon is given (the operations and pulls kinds):
 * the database, the daemon, the logger, this reconciler's id, and how it resolves secrets and
 * which operator policy it checks again (a row written past the tool meets the same policy).
 */
import type { Logger } from 'pino';
import type { Pool } from '../db/pool.js';
import type { ContainerClient } from '../docker/client.js';
import type { Policy } from '../params/policy.js';
import type { SecretResolver } from '../secrets.js';

export interface HostKindOptions {
  pool: Pool;
  docker: ContainerClient;
  logger: Logger;
  reconcilerId: string;
  /** Default: the environment's secrets (envSecretResolver). */
  resolveSecret?: SecretResolver;
  /** Default: the default policy. */
  policy?: Policy;
}
