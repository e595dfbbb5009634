import { TerminalError } from './errors.js';
import type { IntentRow } from './model.js';

/** Who a secret is resolved for: a run intent, or another request (a pull) of a tenant. */
export type SecretOwner = Pick<IntentRow, 'id' | 'tenant_id'>;

/** Resolves a secret reference on the reconciler (at create or pull time); the value goes to Docker only. */
export type SecretResolver = (name: string, owner: SecretOwner) => Promise<string>;

/** Default secret source: the reconciler's environment, HIGHWAY_SECRET_<NAME>. */
export const envSecretResolver: SecretResolver = async (name) => {
  const key = `HIGHWAY_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  const value = process.env[key];
  if (value === undefined) throw new TerminalError('invalid_params', `environment: secret "${name}" is not available (set ${key} on the reconciler)`);
  return value;
};
