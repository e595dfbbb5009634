/**
 * Parsers for the human-friendly units callers write in run parameters.
 *
 * Each throws a plain Error whose message says what was wrong and what is allowed;
 * the schema turns it into an issue on the field being parsed.
 */

const BINARY_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

// "512m", "1.5G", "64kb", "2GiB", "100b", "100" (docker-py / go-units shapes; k/m/g/t are 1024-based).
const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?$/i;

/** Sizes are int64 bytes in Docker; JSON carries whole numbers exactly up to this. */
const MAX_BYTES = Number.MAX_SAFE_INTEGER;

/** Parses a size (bytes as a number, or a string such as "512m", "1g", "1.5G") to whole bytes. */
export function parseSize(value: number | string): number {
  const hint = 'use bytes or e.g. "512m", "1g"';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) throw new Error(`NaN is not a size; ${hint}`);
    if (value < 0) throw new Error(`${value} is not a size (negative); ${hint}`);
    if (value > MAX_BYTES) throw new Error(`${value} bytes is more than the largest size, ${MAX_BYTES} bytes (the largest whole number JSON carries exactly)`);
    if (!Number.isInteger(value)) throw new Error(`${value} is not a size (not a whole number of bytes); ${hint}`);
    return value + 0; // -0 as 0
  }
  const match = SIZE_PATTERN.exec(value.trim());
  if (!match) throw new Error(`${JSON.stringify(value)} is not a size; ${hint}`);
  const [, amount, unit] = match;
  const bytes = Math.floor(Number(amount) * BINARY_UNITS[(unit ?? 'b').toLowerCase()]!);
  if (!(bytes <= MAX_BYTES)) throw new Error(`${JSON.stringify(value)} is more than the largest size, ${MAX_BYTES} bytes (the largest whole number JSON carries exactly)`);
  return bytes;
}

const SECONDS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
};

// One or more "<number><unit>" parts, as in Go durations: "1m30s", "500ms", "2h", "1.5h".
const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g;
const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d))+$/;

/** Parses a duration (a number of seconds, or a string such as "30s", "1m30s", "500ms", "2h") to seconds. */
export function parseDuration(value: number | string): number {
  const hint = 'use seconds or e.g. "30s", "1m30s", "500ms", "2h"';
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`${value} is not a duration; ${hint}`);
    return value + 0; // -0 as 0
  }
  const text = value.trim();
  let seconds = 0;
  if (/^\d+(?:\.\d+)?$/.test(text)) seconds = Number(text);
  else {
    if (!DURATION_PATTERN.test(text)) throw new Error(`${JSON.stringify(value)} is not a duration; ${hint}`);
    for (const [, amount, unit] of text.matchAll(DURATION_PART)) seconds += Number(amount) * SECONDS_PER_UNIT[unit!]!;
  }
  // "9999...9" (hundreds of digits) reads as Infinity.
  if (!Number.isFinite(seconds)) throw new Error(`${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)} is too long a duration to compute with`);
  return seconds;
}

/**
 * Splits a command line into words the way a POSIX shell would (without expansions):
 * whitespace separates words, single quotes are literal, double quotes allow
 * backslash escapes of `\ " $ \``, and an unquoted backslash escapes any character.
 */
export function shellSplit(command: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false; // distinguishes an empty quoted word ('') from no word at all
  let quote: "'" | '"' | null = null;

  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === '\\' && i + 1 < command.length && '\\"$`\n'.includes(command[i + 1]!)) {
        i++;
        if (command[i] !== '\n') word += command[i];
      } else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\') {
      if (i + 1 >= command.length) throw new Error('command ends with an unescaped backslash');
      i++;
      if (command[i] !== '\n') {
        word += command[i];
        inWord = true;
      }
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`command has an unbalanced ${quote === '"' ? 'double' : 'single'} quote`);
  if (inWord) words.push(word);
  return words;
}
