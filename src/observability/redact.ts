/**
 * The one place credentials are taken out of text that is logged or printed: a database URL
 * (`up.ready`, start-up errors), a `DOCKER_HOST`, or an error message quoting either.
 */

const MASK = '***';

/** `scheme://user:password@` (the password up to the last `@` of the word: a raw `@` in it is masked too). */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:'"]*):[^\s'"]*@/gi;
/**
 * `password=...`, `sslpassword=...`, `sslkey=...`, `passfile=...` (and `PGPASSWORD=...`): as URL
 * query parameters (up to `&`) or libpq `key=value` conninfo words (up to a blank, or quoted).
 */
const PARAMS = /(?<![a-z0-9_])((?:pg)?(?:ssl)?password|sslkey|passfile)(\s*=\s*)('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^&\s'"]*)/gi;

/**
 * `text` with every credential form replaced by `***`: a URL's userinfo password, the
 * `password`, `sslpassword`, `sslkey`, `passfile` query parameters and conninfo words. With
 * `url`, also any verbatim occurrence of that URL's password (a driver quoting it in an error).
 */
export function redactCredentials(text: string, url?: string): string {
  let out = text;
  for (const secret of url ? secretsOf(url) : []) {
    if (secret.length >= 3) out = out.split(secret).join(MASK);
  }
  return out.replace(USERINFO, `$1:${MASK}@`).replace(PARAMS, `$1$2${MASK}`);
}

/** The password of a URL, raw and decoded, from its userinfo and its query. */
function secretsOf(url: string): string[] {
  const found = new Set<string>();
  try {
    const u = new URL(url);
    if (u.password) found.add(u.password).add(safeDecode(u.password));
    for (const key of ['password', 'sslpassword']) {
      const v = u.searchParams.get(key);
      if (v) found.add(v);
    }
  } catch {
    // not a URL: the patterns still apply
  }
  return [...found];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
