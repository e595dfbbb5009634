/**
 * What a failed pull means, from the daemon's message: the reference does not exist, the
 * registry cannot be reached, or it refused the credentials. Pure, so it is unit-tested on
 * the messages Docker really gives.
 */
export type PullFailure = 'not_found' | 'unreachable' | 'auth_failed' | 'other';

const RULES: ReadonlyArray<[PullFailure, RegExp]> = [
  // Docker Hub's answer for a repository that does not exist (or is private) says both.
  ['not_found', /repository does not exist/i],
  // Before not_found: registries answer "denied" / "unauthorized" also for repositories one may not see.
  ['auth_failed', /no basic auth credentials|unauthorized|authentication required|incorrect username or password|access to the resource is denied|denied:/i],
  ['unreachable', /connection refused|no such host|network is unreachable|i\/o timeout|dial tcp|TLS handshake|server gave HTTP response to HTTPS client|connection reset/i],
  ['not_found', /manifest unknown|not found|does not exist|name unknown|no such image|repository .* not found/i],
];

export function classifyPullError(message: string): PullFailure {
  for (const [kind, pattern] of RULES) if (pattern.test(message)) return kind;
  return 'other';
}

const SUMMARY: Record<PullFailure, string | null> = {
  not_found: 'image not found in the registry',
  unreachable: 'registry unreachable',
  auth_failed: 'registry authentication failed (check registry_auth)',
  other: null,
};

/** `image: pulling "<ref>" failed: <what it means>: <the daemon's message>`. */
export function pullErrorMessage(ref: string, daemonMessage: string): string {
  const summary = SUMMARY[classifyPullError(daemonMessage)];
  return `image: pulling "${ref}" failed: ${summary ? `${summary}: ` : ''}${daemonMessage}`;
}
