/** Mocha root hooks: shared fixtures are started lazily by the tests that need them, and stopped here. */
import { stopPostgresServer } from './postgres.js';

export async function mochaGlobalTeardown(): Promise<void> {
  await stopPostgresServer();
}
