import { TerminalError } from './errors.js';
import type { IntentRow } from './model.js';

/** Resolves a secret reference at create time; the value goes to Docker only. */
export type SecretResolver = (name: string, intent: IntentRow) => Promise<string>;

/** Default secret source: the reconciler's environment, HIGHWAY_SECRET_<NAME>. */
export const envSecretResolver: SecretResolver = async (name) => {
  const key = `HIGHWAY_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  const value = process.env[key];
  if (value === undefined) throw new TerminalError('invalid_params', `environment: secret "${name}" is not available (set ${key} on the reconciler)`);
  return value;
};
