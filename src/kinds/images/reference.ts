/**
 * The REFERENCE filter of `images`, as `docker images REFERENCE` reads it: `repo` matches every
 * tag of that repository, `repo:tag` one tag, `repo@sha256:...` a digest; `*` in the repository
 * or the tag matches any run of characters except "/" (and `**` also "/").
 * Pure: unit-tested.
 */

/** Splits `repo[:tag][@digest]`; the tag's ":" must come after the last "/" (a registry port is not a tag). */
export function splitReference(ref: string): { repo: string; tag: string | null; digest: string | null } {
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : null;
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const colon = name.lastIndexOf(':');
  const tagged = colon > name.lastIndexOf('/');
  return { repo: tagged ? name.slice(0, colon) : name, tag: tagged ? name.slice(colon + 1) : null, digest };
}

function glob(pattern: string): RegExp {
  const source = pattern
    .replace(/[.+^${}()|[\]\\?]/g, '\\$&')
    .replace(/\*\*/g, '\u0000')
    .replace(/\*/g, '[^/]*')
    .replace(/\u0000/g, '.*');
  return new RegExp(`^${source}$`);
}

/** Does an image with these tags and digests match `reference`? */
export function matchesReference(reference: string, image: { repo_tags: readonly string[]; repo_digests: readonly string[] }): boolean {
  const want = splitReference(reference);
  const repo = glob(want.repo);
  if (want.digest !== null) {
    return image.repo_digests.some((d) => {
      const have = splitReference(d);
      return repo.test(have.repo) && have.digest === want.digest;
    });
  }
  const tag = want.tag === null ? null : glob(want.tag);
  return image.repo_tags.some((t) => {
    const have = splitReference(t);
    return repo.test(have.repo) && (tag === null || tag.test(have.tag ?? 'latest'));
  });
}
