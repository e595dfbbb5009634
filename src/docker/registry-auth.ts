/**
 * Credentials for a private registry, from a secret: `registry_auth: {"secret": "name"}` on run
 * and pull. The secret is resolved on the reconciler just for the pull call; its value is never
 * stored, logged or put in an error message.
 *
 * A secret's value is either a JSON Docker auth config `{"username", "password"[, "serveraddress"]}`
 * or `"user:password"` (the password may contain ":").
 */
import { TerminalError } from '../errors.js';
import { hasRegistryDomain } from '../params/fields.js';
import type { SecretOwner, SecretResolver } from '../secrets.js';

/** What Docker's X-Registry-Auth header carries. */
export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/** Docker Hub's address in auth configs. */
export const DOCKER_HUB_AUTH_ADDRESS = 'https://index.docker.io/v1/';

/** The registry an image reference is pulled from: its domain, or Docker Hub. */
export function registryOf(image: string): string {
  return hasRegistryDomain(image) ? image.slice(0, image.indexOf('/')) : DOCKER_HUB_AUTH_ADDRESS;
}

/**
 * Parse a secret's value into an auth config for pulling `image`. Throws a TerminalError
 * naming the secret (never echoing the value) when the value has neither accepted shape.
 */
export function parseRegistryAuth(value: string, image: string, secretName: string): RegistryAuth {
  const bad = (why: string) =>
    new TerminalError(
      'invalid_params',
      `registry_auth: secret "${secretName}" ${why}; its value must be {"username": ..., "password": ...[, "serveraddress": ...]} as JSON, or "user:password"`,
    );
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw bad('is not valid JSON');
    }
    const o = parsed as Record<string, unknown>;
    if (typeof o['username'] !== 'string' || o['username'] === '') throw bad('has no "username" string');
    if (typeof o['password'] !== 'string') throw bad('has no "password" string');
    if (o['serveraddress'] !== undefined && typeof o['serveraddress'] !== 'string') throw bad('has a "serveraddress" that is not a string');
    return { username: o['username'], password: o['password'], serveraddress: (o['serveraddress'] as string | undefined) || registryOf(image) };
  }
  const colon = value.indexOf(':');
  if (colon <= 0) throw bad('is not "user:password"');
  return { username: value.slice(0, colon), password: value.slice(colon + 1), serveraddress: registryOf(image) };
}

/** Resolve `{"secret": name}` (or nothing) into the auth config for pulling `image`. */
export async function resolveRegistryAuth(
  ref: { secret: string } | null | undefined,
  image: string,
  resolve: SecretResolver,
  owner: SecretOwner,
): Promise<RegistryAuth | undefined> {
  if (!ref) return undefined;
  let value: string;
  try {
    value = await resolve(ref.secret, owner);
  } catch (err) {
    // The resolver names the secret (and how to provide it), with environment: as its field.
    const message = err instanceof Error ? err.message.replace(/^environment: /, 'registry_auth: ') : String(err);
    throw new TerminalError('invalid_params', message, { cause: err });
  }
  return parseRegistryAuth(value, image, ref.secret);
}
