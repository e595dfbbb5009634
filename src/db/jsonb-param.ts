/**
 * A jsonb parameter as bytes, for values that carry big strings (an exec's output, up to the
 * output cap per stream): JSON.stringify of such a value builds the JSON as a rope of pieces that
 * node-postgres then flattens to write it, so the output exists up to three more times at once.
 * Here the JSON text is written once, into one Buffer of its exact size, in PostgreSQL's binary
 * form of jsonb (a version byte, 1, then the JSON text), which node-postgres sends as it is.
 * Small values go through JSON.stringify as before: the same JSON either way.
 */
import { randomUUID } from 'node:crypto';

/** In unicode mode a surrogate range matches only a surrogate without its pair. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Strings at least this long are written straight into the buffer. */
const BIG = 64 * 1024;

/** The escape of each character JSON.stringify escapes (`"`, `\`, control characters). */
function escapeOf(c: number): string | null {
  if (c >= 0x20 && c !== 0x22 && c !== 0x5c) return null;
  return JSON.stringify(String.fromCharCode(c)).slice(1, -1);
}

const ESCAPES: Array<string | null> = Array.from({ length: 0x5d }, (_, c) => escapeOf(c));

/** The byte length of `s` as a JSON string (quotes included). */
function jsonStringLength(s: string): number {
  let extra = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x5d) {
      const e = ESCAPES[c];
      if (e) extra += e.length - 1;
    }
  }
  return Buffer.byteLength(s, 'utf8') + extra + 2;
}

/** Write `s` as a JSON string at `at`; returns the offset after it. */
function writeJsonString(s: string, out: Buffer, at: number): number {
  out[at++] = 0x22;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x5d) continue;
    const e = ESCAPES[c];
    if (!e) continue;
    if (i > from) at += out.write(s.slice(from, i), at, 'utf8');
    at += out.write(e, at, 'latin1');
    from = i + 1;
  }
  if (from < s.length) at += out.write(s.slice(from), at, 'utf8');
  out[at++] = 0x22;
  return at;
}

/**
 * `value` as a jsonb parameter: JSON text (a string) when it holds no big string, else the
 * binary form (a Buffer) written in one pass. Big strings must be well-formed UTF-16 (text
 * decoded from bytes always is); one that is not goes through JSON.stringify, as before.
 */
export function jsonbParam(value: unknown): string | Buffer {
  const big: string[] = [];
  const token = `@@highway-big-${randomUUID()}@@`;
  const small = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'string' && v.length >= BIG && !LONE_SURROGATE.test(v)) {
      big.push(v);
      return token;
    }
    return v;
  });
  if (big.length === 0) return small;
  const quoted = JSON.stringify(token);
  const parts = small.split(quoted);
  if (parts.length !== big.length + 1) return JSON.stringify(value); // cannot happen: the token is unique
  let size = 1;
  for (const p of parts) size += Buffer.byteLength(p, 'utf8');
  for (const s of big) size += jsonStringLength(s);
  const out = Buffer.allocUnsafeSlow(size);
  out[0] = 1; // jsonb's binary format version
  let at = 1;
  for (let i = 0; i < parts.length; i++) {
    at += out.write(parts[i]!, at, 'utf8');
    if (i < big.length) at = writeJsonString(big[i]!, out, at);
  }
  if (at !== size) throw new Error(`jsonbParam: wrote ${at} bytes of ${size}`);
  return out;
}
