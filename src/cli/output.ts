/**
 * What the command line prints when something goes wrong, and how it survives a reader
 * that goes away. With `--json`, an error is one JSON document on stdout,
 * `{"error": {"code", "message", "field"?}}`, so a script parses one stream; otherwise it is
 * a line on stderr.
 */
import { errorMessage } from '../errors.js';

/** Options (of any subcommand) that take a value: the word after them is not a positional. */
const VALUE_OPTIONS = new Set(['--database-url', '--params', '--tenant', '--workflow-run', '--activity', '--timeout', '--pull', '-e', '--env']);

/**
 * Did the user ask for --json? Read from the raw arguments (a usage error happens before
 * commander knows): up to `--` and, for `run`, up to IMAGE (later words are the container's).
 */
export function wantsJson(argv: readonly string[]): boolean {
  let subcommand: string | null = null;
  for (let i = 2; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') return false;
    if (word === '--json') return true;
    if (VALUE_OPTIONS.has(word)) {
      i++;
      continue;
    }
    if (word.startsWith('-')) continue;
    if (subcommand === null) subcommand = word;
    else if (subcommand === 'run') return false;
  }
  return false;
}

/** Report an error: JSON on stdout with --json, else one line on stderr. */
export function reportError(err: unknown, json: boolean): void {
  const code = (err as { code?: unknown })?.code;
  const field = (err as { field?: unknown })?.field;
  const message = errorMessage(err);
  if (json) {
    const error = { code: typeof code === 'string' && /^[a-z_]+$/.test(code) ? code : 'internal', message, ...(typeof field === 'string' ? { field } : {}) };
    process.stdout.write(`${JSON.stringify({ error })}\n`);
  } else {
    process.stderr.write(`highway-docker: ${message}\n`);
  }
}

/**
 * A reader that closes early (`highway-docker run ... | head -c 0`) makes writes fail with
 * EPIPE. That is not our failure: keep going quietly, so the exit code stays the container's,
 * instead of dying with a stack trace. Any other stream error still surfaces.
 */
export function guardOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
      throw err;
    });
  }
}
