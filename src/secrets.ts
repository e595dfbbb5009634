/**
 * Secrets: an environment value `{"secret": "name"}` (and `registry_auth`) is resolved on the
 * reconciler when it is used, through a SecretProvider, and never stored or logged.
 *
 * The provider answers for a tenant: `getSecret(tenant, name)`, the shape of Highway's
 * `tools.secrets.get_secret`. A secret another tenant asks for is "not available", with the
 * same words as one that does not exist.
 */
import { TerminalError } from './errors.js';
import type { IntentRow } from './model.js';

export interface SecretProvider {
  /** The secret's value for this tenant; throws a TerminalError when the tenant has no such secret. */
  getSecret(tenant: string, name: string): Promise<string>;
}

/** Who a secret is resolved for: a run intent, or another request (a pull, an exec) of a tenant. */
export type SecretOwner = Pick<IntentRow, 'id' | 'tenant_id'>;

/** Resolves a secret reference on the reconciler (at create or pull time); the value goes to Docker only. */
export type SecretResolver = (name: string, owner: SecretOwner) => Promise<string>;

const envKey = (name: string): string => `HIGHWAY_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/**
 * The default provider: the reconciler's environment. `HIGHWAY_SECRET_<NAME>` holds the value,
 * and `HIGHWAY_SECRET_<NAME>_TENANTS` the tenants that may read it (comma-separated exact ids,
 * or `*` for every tenant). Without that list, only the tenant `default` may (the command
 * line's default tenant): a secret is never readable by a tenant nobody named.
 */
export const envSecretProvider = (env: NodeJS.ProcessEnv = process.env): SecretProvider => ({
  async getSecret(tenant, name) {
    const key = envKey(name);
    const value = env[key];
    const allowed = (env[`${key}_TENANTS`] ?? 'default').split(',').map((t) => t.trim());
    if (value === undefined || !(allowed.includes('*') || allowed.includes(tenant))) {
      throw new TerminalError('invalid_params', `environment: secret "${name}" is not available to this tenant (set ${key} and ${key}_TENANTS on the reconciler)`);
    }
    return value;
  },
});

/** The default resolver: envSecretProvider, read when used (tests and operators change the environment). */
export const envSecretResolver: SecretResolver = (name, owner) => envSecretProvider().getSecret(owner.tenant_id, name);

/** Secret values shorter than this are not masked (masking "1" would mask every 1). */
export const MIN_MASKED_LENGTH = 4;
export const SECRET_MASK = '***';

/** The values of the `{"secret": name}` references in an environment, resolved for `owner`. */
export async function secretValuesOf(environment: unknown, resolve: SecretResolver, owner: SecretOwner): Promise<string[]> {
  const values: string[] = [];
  for (const value of Object.values((environment ?? {}) as Record<string, unknown>)) {
    if (value && typeof value === 'object' && typeof (value as { secret?: unknown }).secret === 'string') {
      values.push(await resolve((value as { secret: string }).secret, owner));
    }
  }
  return values;
}

/** The values that are masked: long enough, each once, longest first. */
export function maskableSecrets(values: readonly string[]): string[] {
  return [...new Set(values)].filter((v) => v.length >= MIN_MASKED_LENGTH).sort((a, b) => b.length - a.length);
}

/**
 * Output with every secret value the container was given replaced by `***`, as CI systems
 * mask them: a container that prints its token does not put it in the row, the logs or the
 * result. Longest values first, so one secret inside another is masked whole. Output that is
 * cut to a cap is masked as a stream before the cut (docker/output-buffer.ts SecretMasker), so a
 * value the cut falls into is masked whole too.
 */
export function maskSecrets(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of maskableSecrets(values)) {
    if (out.includes(v)) out = out.split(v).join(SECRET_MASK);
  }
  return out;
}
