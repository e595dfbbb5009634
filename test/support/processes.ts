/**
 * The command line as child processes, for fault-injection tests: `highway-docker up` (a
 * reconciler to SIGKILL in a chosen phase) and `highway-docker run` (a worker to SIGKILL or
 * to shut down with SIGTERM). Each child gets the test database and the harness's
 * reconciler id, logs JSON lines, and is killed by its PID only. Every child still alive
 * when the test process exits is SIGKILLed (by PID), so none outlives the run.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'highway-docker.js');

export type LogLine = Record<string, unknown>;

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
});

function newestMtime(dir: string, ext: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (entry.name.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Build dist/ unless it is fresher than every file in src/ (the CLI runs the compiled code). */
export function ensureBuilt(): void {
  const src = newestMtime(path.join(ROOT, 'src'), '.ts');
  let dist = 0;
  try {
    dist = statSync(path.join(ROOT, 'dist', 'cli', 'main.js')).mtimeMs;
  } catch {
    // not built yet
  }
  if (dist > src) return;
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
}

export interface CliOptions {
  databaseUrl: string;
  reconcilerId: string;
  /** Extra environment (HIGHWAY_WORKER_TIMEOUT_S, HIGHWAY_GC_*, DOCKER_HOST, ...). */
  env?: Record<string, string>;
  /** Standard input for the child (default: none). */
  stdin?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running `highway-docker` child. */
export class CliProcess {
  /** Every JSON log line from stdout and stderr, in arrival order. */
  readonly lines: LogLine[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<ExitInfo>;
  private readonly watchers = new Set<() => void>();

  constructor(
    readonly args: string[],
    readonly child: ChildProcess,
  ) {
    live.add(child);
    this.exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        resolve({ code, signal });
        this.notify();
      });
    });
    const feed = (which: 'stdout' | 'stderr') => {
      let partial = '';
      return (chunk: Buffer) => {
        const text = chunk.toString();
        this[which] += text;
        const parts = (partial + text).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) {
          const t = line.trim();
          if (!t.startsWith('{')) continue;
          try {
            const obj = JSON.parse(t) as unknown;
            if (obj && typeof obj === 'object' && 'event' in obj) this.lines.push(obj as LogLine);
          } catch {
            // not a log line (e.g. part of pretty-printed --json output)
          }
        }
        this.notify();
      };
    };
    child.stdout?.on('data', feed('stdout'));
    child.stderr?.on('data', feed('stderr'));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  events(name: string, intentId?: string): LogLine[] {
    return this.lines.filter((l) => l['event'] === name && (!intentId || l['intent_id'] === intentId));
  }

  private notify(): void {
    for (const w of [...this.watchers]) w();
  }

  /** Resolves with the first log line matching `pred` (also one already seen); rejects after `timeoutMs` or if the child exits first. */
  waitForLine(pred: (l: LogLine) => boolean, timeoutMs = 20_000, what = 'a log line'): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.find(pred);
        if (found) {
          cleanup();
          resolve(found);
        } else if (!this.alive) {
          cleanup();
          reject(new Error(`highway-docker ${this.args[0]} exited before ${what}; stderr: ${this.stderr.slice(-2000)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} from highway-docker ${this.args[0]} (pid ${this.pid}); last lines: ${JSON.stringify(this.lines.slice(-5))}; stderr: ${this.stderr.slice(-1000)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.watchers.delete(check);
      };
      this.watchers.add(check);
      check();
    });
  }

  waitForEvent(name: string, intentId?: string, timeoutMs?: number): Promise<LogLine> {
    return this.waitForLine((l) => l['event'] === name && (!intentId || l['intent_id'] === intentId), timeoutMs, `event ${name}`);
  }

  /** Send a signal by PID (no-op when already exited). */
  signal(sig: NodeJS.Signals): void {
    if (!this.alive) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // exited meanwhile
    }
  }

  /** SIGKILL by PID and wait for the exit. */
  async kill(): Promise<ExitInfo> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** Wait for the exit, SIGKILLing after `timeoutMs`. */
  async waitExit(timeoutMs = 20_000): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const res = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (res === 'timeout') {
      await this.kill();
      throw new Error(`highway-docker ${this.args[0]} (pid ${this.pid}) did not exit within ${timeoutMs} ms`);
    }
    return res;
  }
}

/** Spawn `node bin/highway-docker.js ...args` with the test database and reconciler id. */
export function spawnCli(args: string[], options: CliOptions): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: options.databaseUrl,
      HIGHWAY_RECONCILER_ID: options.reconcilerId,
      HIGHWAY_LOG_FORMAT: 'json',
      HIGHWAY_LOG_LEVEL: 'debug',
      // Many `up` processes at once in the tests: each serves /metrics on a port of its own.
      HIGHWAY_HTTP_ADDR: '127.0.0.1:0',
      ...options.env,
    },
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.stdin !== undefined) child.stdin!.end(options.stdin);
  return new CliProcess(args, child);
}

/** `highway-docker up`, resolved once it logged `up.ready`. */
export async function startUp(options: CliOptions, readyTimeoutMs = 30_000): Promise<CliProcess> {
  const p = spawnCli(['up'], options);
  try {
    await p.waitForEvent('up.ready', undefined, readyTimeoutMs);
  } catch (err) {
    await p.kill();
    throw err;
  }
  return p;
}

/** `highway-docker run --json ...` (a worker in a box); not awaited. */
export function startRunWorker(args: string[], options: CliOptions): CliProcess {
  return spawnCli(['run', '--json', ...args], options);
}

/** The JSON result a `run --json` printed on stdout (pretty-printed, possibly after nothing else). */
export function parseRunResult(p: CliProcess): Record<string, unknown> {
  const start = p.stdout.indexOf('{');
  if (start < 0) throw new Error(`no JSON on stdout; stdout: ${p.stdout}; stderr: ${p.stderr.slice(-2000)}`);
  return JSON.parse(p.stdout.slice(start)) as Record<string, unknown>;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `highway-docker ARGS` to its end (bin/highway-docker.js, or `entry`, e.g. the TypeScript
 * source through tsx), with `env` over this process's environment and `input` on stdin.
 */
export function runCli(args: string[], env: Record<string, string>, input?: string, entry: string[] = [BIN]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...entry, ...args],
      { env: { ...process.env, HIGHWAY_LOG_FORMAT: 'json', ...env }, timeout: 60_000, maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
    child.stdin!.on('error', () => {}); // the child may stop reading early (that is the point of some tests)
    child.stdin!.end(input ?? '');
  });
}
