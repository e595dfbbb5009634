import { createHash } from 'node:crypto';
import Docker from 'dockerode';
import pRetry, { AbortError } from 'p-retry';
import CircuitBreaker from 'opossum';
import type { Logger } from 'pino';
import { HighwayError, TerminalError, errorMessage } from '../errors.js';
import { LineWindow, LogDemuxer, SecretMasker, TailBuffer, framePayloadLines, type KeepLines, type LogLine, type RowText } from './output-buffer.js';
import { maskSecrets } from '../secrets.js';

export type { KeepLines, LogLine } from './output-buffer.js';
import type { Metrics } from '../observability/metrics.js';
import { classifyPullError, pullErrorMessage } from './pull-errors.js';
import type { ArchiveStream } from './archive.js';
import type { RegistryAuth } from './registry-auth.js';

/** What the reconciler needs to know about a container, from inspect. */
export interface ContainerState {
  id: string;
  name: string;
  status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  exitCode: number | null;
  oomKilled: boolean;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  labels: Record<string, string>;
  restartCount: number;
  restartPolicy: string;
  health: string | null;
  /** The container's stop signal (the image's STOPSIGNAL unless the create set one); null: Docker's default, SIGTERM. */
  stopSignal?: string | null;
}

export interface ContainerSummary {
  id: string;
  names: string[];
  state: string;
  createdAt: Date;
  labels: Record<string, string>;
}

export interface CollectedOutput<T extends RowText = string> {
  stdout: T;
  stderr: T;
  truncated: boolean;
}

/** The narrow Docker interface everything else uses: one place for retries, the circuit breaker and error typing. */
export interface ContainerClient {
  readonly docker: Docker;
  daemonId(): Promise<string>;
  ping(): Promise<void>;
  inspect(nameOrId: string): Promise<ContainerState | null>;
  imageExists(ref: string): Promise<boolean>;
  /** Pull `ref` (with registry credentials when given); concurrent pulls of one ref with the same credentials share one. */
  pull(ref: string, auth?: RegistryAuth): Promise<PullResult>;
  create(options: Docker.ContainerCreateOptions): Promise<{ id: string } | { conflict: true }>;
  start(id: string): Promise<void>;
  kill(id: string, signal: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** A container's whole output, each stream masked (`secrets`) and cut to its last `maxBytesPerStream` bytes as it streams. */
  logs(id: string, maxBytesPerStream: number, options?: { secrets?: readonly string[] }): Promise<CollectedOutput>;
  /**
   * As `logs`, for a row's text columns: each stream as its kept bytes when they are valid UTF-8
   * without NUL (written as they are: no JS string of up to the cap), else as the same text as `logs`.
   */
  logsForRow(id: string, maxBytesPerStream: number, options?: { secrets?: readonly string[] }): Promise<CollectedOutput<RowText>>;
  list(labelFilters: string[]): Promise<ContainerSummary[]>;
  /** Is the circuit breaker open (the daemon failing)? For readiness. */
  breakerOpen(): boolean;
  // -- images (the images and pulls kinds)
  /** The daemon's images (not intermediate layers), as `docker images` lists them. */
  listImages(): Promise<ImageSummary[]>;

  // ---- operations on a running container (tools.docker.exec, logs, inspect) ----
  /** Create and start an exec; `done` resolves with its output when its process ends. Not retried once started. */
  execStart(containerId: string, options: ExecStartOptions): Promise<{ execId: string; done: Promise<CollectedOutput> }>;
  /** An exec's state (exit code once it ended); null when the daemon no longer knows it. */
  execInspect(execId: string): Promise<ExecState | null>;
  /** `docker top` with these `ps` arguments: the container's processes as its host sees them; null when it is gone. */
  top(containerId: string, psArgs: string): Promise<{ titles: string[]; processes: string[][] } | null>;
  /** Log lines (with Docker's timestamps) of a container, not following, masked and bounded as they stream; null when it is gone. */
  logLines(containerId: string, options: LogLinesOptions): Promise<{ lines: LogLine[]; truncated: boolean } | null>;
  /** Docker's full inspect of a container, or null when it is gone. */
  inspectRaw(nameOrId: string): Promise<Docker.ContainerInspectInfo | null>;
  /**
   * The one reader of Docker's archive API (GET /containers/{id}/archive): a path of a
   * container, running or exited, as the tar stream Docker gives, handed to `consume` with what
   * Docker says of the path (its stat header); `consume` bounds and parses it (collectTar for
   * cp, readFirstFile for a result file: src/docker/archive.ts) and the stream is closed when it
   * returns. Null when the container is gone; a path that does not exist is a `not_found` error,
   * one Docker refuses an `invalid_params` error.
   */
  readArchive<T>(containerId: string, path: string, consume: (tar: ArchiveStream, stat: ArchiveStat | null) => Promise<T>): Promise<T | null>;

  // ---- the archive API (files in: docs/steps.md) ----
  /** Extract a tar archive into directory `path` of a container (created or running). */
  putArchive(containerId: string, path: string, tar: Buffer): Promise<void>;
}

/** What Docker says of an archived path (the X-Docker-Container-Path-Stat header). */
export interface ArchiveStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

export type { ArchiveStream, ReadFileResult } from './archive.js';

/** What a pull gives back: the manifest digest, when the daemon told it. */
export interface PullResult {
  digest: string | null;
}

/** One image of the daemon, from `GET /images/json`. */
export interface ImageSummary {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
  created: Date;
}

export interface ExecStartOptions {
  cmd: string[];
  user: string | null;
  workingDir: string | null;
  env: string[];
  privileged: boolean;
  /** Per stream: the tail is kept. */
  maxBytes: number;
  /** Values masked in the output (before it is cut to `maxBytes`). */
  secrets?: readonly string[];
}

export interface ExecState {
  running: boolean;
  exitCode: number | null;
  /** The host's PID of the exec's process. */
  pid: number;
  /** What the exec runs (entrypoint and arguments) and as whom ('' for the container's user). */
  command: string[];
  user: string;
}

export interface LogLinesOptions {
  /** Unix seconds ("sec.nanos"). */
  since?: string | null;
  until?: string | null;
  /** The last N lines of each selected stream (applied here, per selection, not by Docker). */
  tail?: number | 'all';
  stdout: boolean;
  stderr: boolean;
  /** At most this many bytes of lines are kept (default: no cap). */
  maxBytes?: number;
  /** Which lines the caps keep (default `newest`); an `oldest` read stops reading once full. */
  keep?: KeepLines;
  /** Count each line's timestamp (and a space) against maxBytes. */
  countTimestamps?: boolean;
  /** Values masked in each line (before the caps apply). */
  secrets?: readonly string[];
}

interface DockerodeError extends Error {
  statusCode?: number;
  code?: string;
  json?: { message?: string } | null;
}

const statusOf = (err: unknown): number | undefined => (err as DockerodeError)?.statusCode;

/**
 * Is this failure worth retrying? Classified by what the error is, never by words that merely
 * appear in it (a Go field named `StopTimeout` in a refusal is not a timeout):
 * - no HTTP status (the daemon did not answer): transient when it is a transport failure
 *   (ECONNREFUSED, ECONNRESET, EPIPE, ENOENT on the socket, socket hang up, ...);
 * - an HTTP answer: 4xx is about the request, permanent; 501/505 permanent; other 5xx
 *   (the daemon or containerd hiccupped) transient, except a 500 that says the request itself
 *   is wrong (`requestIsWrong`), which no retry can fix.
 * A transient failure is retried here a few times, then again by the reconciler, bounded by
 * the intent's own deadlines.
 */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOENT', 'ETIMEDOUT', 'EAI_AGAIN', 'ESOCKETTIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Node's transport errors that come without a code. */
const TRANSPORT_MESSAGE = /^(?:socket hang up|(?:unexpected )?EOF|read ECONNRESET|aborted)$/i;
export function isTransient(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as DockerodeError;
  const status = statusOf(err);
  if (status === undefined) {
    if (e.code && TRANSIENT_CODES.has(e.code)) return true;
    // Programming errors are never transient, whatever they say.
    if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError || err instanceof ReferenceError) return false;
    return TRANSPORT_MESSAGE.test(errorMessage(err).trim());
  }
  if (status < 500 || status === 501 || status === 505) return false;
  return !requestIsWrong(err);
}

/**
 * Docker answers some refusals of the request itself with 500 (its errdefs "unknown"): a body
 * it cannot decode (`json: cannot unmarshal number 1e30 into Go struct field ...StopTimeout`),
 * an invalid argument or mount, a value out of range, a container configuration the OCI runtime
 * refuses. The same request fails the same way every time.
 */
const REQUEST_IS_WRONG = new RegExp(
  [
    'cannot unmarshal', 'json: ', 'invalid character', 'unexpected end of JSON', '\\binvalid\\b', 'out of range', 'must be in range',
    'OCI runtime (?:create|start|exec) failed', 'runc create failed', 'not supported', 'not permitted',
    // The container's own configuration, refused at start (Engine 20.10's wording).
    'unable to find (?:user|group)', 'no matching entries in (?:passwd|group) file', 'error gathering device information', 'is not a directory',
  ].join('|'),
  'i',
);
export function requestIsWrong(err: unknown): boolean {
  return statusOf(err) === 500 && REQUEST_IS_WRONG.test(dockerMessage(err));
}

/**
 * The cause of a `docker_unavailable` error when the daemon kept answering 500 through every
 * retry of a create or start: not a hiccup but its answer about this container (a daemon that
 * is away gives no answer, or 503). Null otherwise.
 */
function persistent500(err: unknown): unknown {
  if (!(err instanceof HighwayError) || err.code !== 'docker_unavailable') return null;
  return statusOf(err.cause) === 500 ? err.cause : null;
}

/** The daemon's own message (dockerode puts it in json.message). */
export function dockerMessage(err: unknown): string {
  const e = err as DockerodeError;
  return e?.json?.message ?? errorMessage(err);
}

export interface DockerClientOptions {
  logger: Logger;
  docker?: Docker;
  /** Retries of a transient failure (default 4, backoff 100 ms .. 2 s). */
  retries?: number;
  /**
   * How long one request may take before it is aborted (and counts as the daemon failing):
   * default 30 s; pulls 30 min, log reads 5 min. A hung call must not hold its key's slot forever.
   */
  requestTimeoutMs?: number;
  /** Request durations, errors (the daemon failing, not a caller's 4xx) and the breaker's state. */
  metrics?: Metrics;
}

const IMAGE_CACHE_MS = 10_000;

/**
 * Does this error say the daemon is unavailable (it does not answer, or answers 5xx)? Only
 * those trip the breaker: a 4xx is an answer about the caller's request (a bad image name, a
 * conflict), and a daemon that gives it is healthy.
 */
export function isUnavailable(err: unknown): boolean {
  if ((err as { registryAnswer?: boolean })?.registryAnswer) return false;
  if (err instanceof HighwayError) return err.code === 'docker_unavailable';
  const status = statusOf(err);
  // A daemon that decodes our request and says it is wrong is answering, and healthy.
  if (status !== undefined) return status >= 500 && !requestIsWrong(err);
  return isTransient(err) || (err as { name?: string })?.name === 'AbortError' || (err as { name?: string })?.name === 'TimeoutError';
}

const PULL_TIMEOUT_MS = 30 * 60_000;
const LOGS_TIMEOUT_MS = 5 * 60_000;

export function createDockerClient(options: DockerClientOptions): ContainerClient {
  const docker = options.docker ?? new Docker();
  const log = options.logger;
  const retries = options.retries ?? 4;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  /** Images seen present recently (a create that finds one gone clears it), to spare an inspect per run. */
  const knownImages = new Map<string, number>();

  const breaker = new CircuitBreaker(async (fn: () => Promise<unknown>) => fn(), {
    timeout: false, // each request has its own timeout (see call())
    errorThresholdPercentage: 50,
    volumeThreshold: 10,
    resetTimeout: 2_000,
    errorFilter: (err: unknown) => !isUnavailable(err),
  });
  breaker.on('open', () => log.warn({ event: 'docker.circuit_open' }, 'Docker daemon failing; circuit open'));
  breaker.on('close', () => log.info({ event: 'docker.circuit_closed' }, 'Docker daemon answering; circuit closed'));
  const metrics = options.metrics;
  metrics?.observeBreaker(breaker);

  /**
   * Every daemon call goes through here: each attempt bounded by a timeout (its request aborted),
   * transient failures retried, and the breaker around it all.
   */
  async function call<T>(op: string, fn: (signal: AbortSignal) => Promise<T>, timeoutMs = requestTimeoutMs): Promise<T> {
    const end = metrics?.dockerRequestDuration.startTimer({ operation: op });
    try {
      return await attempt(op, fn, timeoutMs);
    } catch (err) {
      if (isUnavailable(err)) metrics?.dockerErrors.inc({ operation: op });
      throw err;
    } finally {
      end?.();
    }
  }

  async function attempt<T>(op: string, fn: (signal: AbortSignal) => Promise<T>, timeoutMs: number): Promise<T> {
    try {
      return (await breaker.fire(() =>
        pRetry(
          async () => {
            const signal = AbortSignal.timeout(timeoutMs);
            try {
              return await abortable(fn(signal), signal);
            } catch (err) {
              // A pull's HTTP error is the registry's answer relayed by a working daemon (even a 5xx).
              if (op === 'pull' && statusOf(err) !== undefined) Object.assign(err as object, { registryAnswer: true });
              if (signal.aborted) throw new AbortError(new HighwayError('docker_unavailable', `Docker daemon did not answer ${op} within ${timeoutMs / 1000} s`, { cause: err }));
              if (isTransient(err)) throw err;
              throw new AbortError(err as Error);
            }
          },
          {
            retries,
            minTimeout: 100,
            maxTimeout: 2_000,
            onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
              if (retriesLeft > 0) {
                log.warn({ event: 'docker.retry', op, attempt: attemptNumber, err: errorMessage(error) }, 'retrying');
              }
            },
          },
        ),
      )) as T;
    } catch (err) {
      if ((err as { code?: string })?.code === 'EOPENBREAKER') {
        throw new HighwayError('docker_unavailable', `Docker daemon unavailable (circuit open) during ${op}`, { cause: err });
      }
      if (isTransient(err)) {
        const status = statusOf(err);
        const what = status === undefined ? `Docker daemon unreachable during ${op}: ${errorMessage(err)}` : `Docker daemon failed ${op} (HTTP ${status}): ${dockerMessage(err)}`;
        throw new HighwayError('docker_unavailable', what, { cause: err });
      }
      throw err;
    }
  }

  /** A container's whole output through an OutputCollector, finished by `finish`. */
  function readLogs<T>(id: string, maxBytesPerStream: number, secrets: readonly string[], finish: (o: OutputCollector) => T): Promise<T> {
    // The buffers live inside the retried call: a retry after a broken stream starts over.
    return call('logs', async (abortSignal) => {
      const output = new OutputCollector(maxBytesPerStream, secrets);
      // follow: true on a stopped container streams what was logged and ends: memory stays bounded.
      const stream = (await docker.getContainer(id).logs({ stdout: true, stderr: true, follow: true, abortSignal })) as NodeJS.ReadableStream;
      await new Promise<void>((resolve, reject) => {
        stream.on('data', (chunk: Buffer) => output.write(chunk));
        stream.on('end', resolve);
        stream.on('error', reject);
      });
      return finish(output);
    }, LOGS_TIMEOUT_MS);
  }

  const client: ContainerClient = {
    docker,

    breakerOpen() {
      return breaker.opened;
    },

    async daemonId() {
      const info = await call('info', (abortSignal) => (docker.info as unknown as (o: object) => Promise<{ ID: string }>)({ abortSignal }));
      return info.ID;
    },

    async ping() {
      await call('ping', (abortSignal) => (docker.ping as unknown as (o: object) => Promise<unknown>)({ abortSignal }));
    },

    async inspect(nameOrId) {
      try {
        const info = await call('inspect', (abortSignal) => docker.getContainer(nameOrId).inspect({ abortSignal }));
        return toState(info);
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw err;
      }
    },

    async imageExists(ref) {
      const until = knownImages.get(ref);
      if (until !== undefined && until > Date.now()) return true;
      try {
        await call('image.inspect', (abortSignal) => (docker.getImage(ref).inspect as unknown as (o: object) => Promise<unknown>)({ abortSignal }));
        knownImages.set(ref, Date.now() + IMAGE_CACHE_MS);
        return true;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw err;
      }
    },

    pull: (() => {
      const shared = sharedPerKey(async (key: string) => {
        const { ref, auth } = pulling.get(key)!;
        const started = Date.now();
        let digest: string | null = null;
        try {
          await call('pull', async (abortSignal) => {
            const stream = await docker.pull(ref, { ...(auth ? { authconfig: auth } : {}), abortSignal });
            await new Promise<void>((resolve, reject) => {
              docker.modem.followProgress(stream, (err: Error | null, output: Array<{ error?: string; status?: string }>) => {
                const failed = err ?? output?.find((m) => m.error);
                if (failed) return reject(err ?? new Error((failed as { error: string }).error));
                for (const m of output ?? []) {
                  const d = /^Digest: (\S+)/.exec(m.status ?? '')?.[1];
                  if (d) digest = d;
                }
                resolve();
              });
            });
          }, PULL_TIMEOUT_MS);
        } catch (err) {
          // The daemon answered (an HTTP status), after retries of what looked transient: the
          // registry's answer (e.g. its i/o timeout), not an unavailable daemon.
          const answered = err instanceof HighwayError && err.code === 'docker_unavailable' && statusOf(err.cause) !== undefined;
          if (err instanceof HighwayError && !answered) throw err;
          const cause = answered ? (err as HighwayError).cause : err;
          const message = dockerMessage(cause);
          throw new TerminalError(classifyPullError(message) === 'not_found' ? 'image_not_found' : 'pull_failed', pullErrorMessage(ref, message), { cause });
        } finally {
          pulling.delete(key);
        }
        knownImages.set(ref, Date.now() + IMAGE_CACHE_MS);
        log.info({ event: 'image.pulled', image: ref, digest, duration_ms: Date.now() - started }, 'image pulled');
        return { digest };
      });
      /** In-flight pulls by ref and credentials (a pull with other credentials is another pull). */
      const pulling = new Map<string, { ref: string; auth: RegistryAuth | undefined }>();
      return (ref: string, auth?: RegistryAuth) => {
        const key = auth ? `${ref}\0${createHash('sha256').update(JSON.stringify(auth)).digest('hex')}` : ref;
        if (!pulling.has(key)) pulling.set(key, { ref, auth });
        return shared(key);
      };
    })(),

    async create(createOptions) {
      try {
        const container = await call('create', (abortSignal) => docker.createContainer({ ...createOptions, abortSignal }));
        return { id: container.id };
      } catch (err) {
        if (statusOf(err) === 409) return { conflict: true };
        if (statusOf(err) === 404 && /no such image/i.test(dockerMessage(err))) {
          // Removed since we last saw it: forget it, and let the next pass pull it (or fail by the pull policy).
          knownImages.delete(String(createOptions.Image));
          throw new HighwayError('create_failed', `create failed: ${dockerMessage(err)}`, { cause: err });
        }
        const answer = persistent500(err);
        if (answer) throw new TerminalError('create_failed', `create failed: ${dockerMessage(answer)}`, { cause: answer });
        if (err instanceof HighwayError) throw err;
        throw new TerminalError('create_failed', `create failed: ${dockerMessage(err)}`, { cause: err });
      }
    },

    async start(id) {
      try {
        await call('start', (abortSignal) => docker.getContainer(id).start({ abortSignal }));
      } catch (err) {
        if (statusOf(err) === 304) return; // already started
        const answer = persistent500(err);
        if (answer) throw new TerminalError('start_failed', `start failed: ${dockerMessage(answer)}`, { cause: answer });
        if (err instanceof HighwayError) throw err;
        throw new TerminalError('start_failed', `start failed: ${dockerMessage(err)}`, { cause: err });
      }
    },

    async kill(id, signal) {
      try {
        await call('kill', (abortSignal) => docker.getContainer(id).kill({ signal, abortSignal }));
      } catch (err) {
        // 409: not running any more; 404: gone. Either way there is nothing left to signal.
        if (statusOf(err) === 409 || statusOf(err) === 404) return;
        throw err;
      }
    },

    async remove(id) {
      try {
        await call('remove', (abortSignal) => docker.getContainer(id).remove({ force: true, v: true, abortSignal }));
      } catch (err) {
        // 404: already gone; 409: removal already in progress.
        if (statusOf(err) === 404 || statusOf(err) === 409) return;
        throw err;
      }
    },

    logs(id, maxBytesPerStream, options = {}) {
      return readLogs(id, maxBytesPerStream, options.secrets ?? [], (o) => o.finish());
    },

    logsForRow(id, maxBytesPerStream, options = {}) {
      return readLogs(id, maxBytesPerStream, options.secrets ?? [], (o) => o.finishForRow());
    },

    async list(labelFilters) {
      const rows = await call('list', (abortSignal) => docker.listContainers({ all: true, filters: { label: labelFilters }, abortSignal }));
      return rows.map((c) => ({
        id: c.Id,
        names: c.Names.map((n) => n.replace(/^\//, '')),
        state: c.State,
        createdAt: new Date(c.Created * 1000),
        labels: c.Labels ?? {},
      }));
    },

    // -- images
    async listImages() {
      const rows = await call('image.list', () => docker.listImages({ all: false }));
      return rows.map((i) => ({
        id: i.Id,
        repoTags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'),
        repoDigests: (i.RepoDigests ?? []).filter((d) => d !== '<none>@<none>'),
        size: i.Size,
        created: new Date(i.Created * 1000),
      }));
    },

    // ---- operations on a running container (tools.docker.exec, logs, inspect) ----

    async execStart(containerId, o) {
      const exec = await call('exec.create', () =>
        docker.getContainer(containerId).exec({
          Cmd: o.cmd,
          AttachStdin: false,
          AttachStdout: true,
          AttachStderr: true,
          Tty: false,
          Env: o.env,
          Privileged: o.privileged,
          ...(o.user !== null ? { User: o.user } : {}),
          ...(o.workingDir !== null ? { WorkingDir: o.workingDir } : {}),
        }),
      ).catch((err) => {
        if (statusOf(err) === 409) throw new HighwayError('not_running', `container ${containerId.slice(0, 12)} is not running`, { cause: err });
        if (statusOf(err) === 404) throw new HighwayError('not_found', `container ${containerId.slice(0, 12)} does not exist`, { cause: err });
        throw err;
      });
      // Started once, never retried: a retry could run the command twice.
      let stream: NodeJS.ReadableStream;
      try {
        stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream;
      } catch (err) {
        if (statusOf(err) === 409) throw new HighwayError('not_running', `container ${containerId.slice(0, 12)} is not running`, { cause: err });
        throw new HighwayError('exec_failed', `exec failed to start: ${dockerMessage(err)}`, { cause: err });
      }
      const output = new OutputCollector(o.maxBytes, o.secrets ?? []);
      const done = new Promise<CollectedOutput>((resolve, reject) => {
        stream.on('data', (chunk: Buffer) => output.write(chunk));
        stream.on('end', () => resolve(output.finish()));
        stream.on('close', () => resolve(output.finish()));
        stream.on('error', reject);
      });
      return { execId: exec.id, done };
    },

    async execInspect(execId) {
      try {
        const info = await call('exec.inspect', () => docker.getExec(execId).inspect());
        const pc = info.ProcessConfig;
        return {
          running: info.Running,
          exitCode: info.Running ? null : info.ExitCode ?? null,
          pid: info.Pid,
          command: pc ? [pc.entrypoint, ...(pc.arguments ?? [])] : [],
          user: pc?.user ?? '',
        };
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw err;
      }
    },

    async top(containerId, psArgs) {
      try {
        const t = (await call('top', (abortSignal) => docker.getContainer(containerId).top({ ps_args: psArgs, abortSignal }))) as { Titles?: string[]; Processes?: string[][] };
        return { titles: t.Titles ?? [], processes: t.Processes ?? [] };
      } catch (err) {
        if (statusOf(err) === 404 || statusOf(err) === 409) return null;
        throw err;
      }
    },

    async logLines(containerId, o) {
      const query = {
        follow: false,
        stdout: o.stdout,
        stderr: o.stderr,
        timestamps: true,
        // Docker applies `tail` before the stream selection: with one stream it is applied here.
        ...(typeof o.tail === 'number' && o.stdout && o.stderr ? { tail: o.tail } : {}),
        ...(o.since ? { since: o.since } : {}),
        ...(o.until ? { until: o.until } : {}),
      };
      try {
        // Streamed (not buffered whole): what is held is the window, whatever the log's size.
        return await call('logs', async (abortSignal) => {
          const window = new LineWindow({
            maxBytes: o.maxBytes ?? Number.POSITIVE_INFINITY,
            maxLines: typeof o.tail === 'number' ? o.tail : Number.POSITIVE_INFINITY,
            keep: o.keep ?? 'newest',
            countTimestamps: o.countTimestamps ?? false,
          });
          const secrets = o.secrets ?? [];
          const stream = await new Promise<NodeJS.ReadableStream & { destroy(): void }>((resolve, reject) =>
            docker.modem.dial(
              {
                path: `/containers/${containerId}/logs?`,
                method: 'GET',
                abortSignal,
                isStream: true,
                statusCodes: { 200: true, 404: 'no such container', 409: 'container is dead or being removed', 500: 'server error' },
                options: query,
              },
              (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as NodeJS.ReadableStream & { destroy(): void })),
            ),
          );
          const demux = new LogDemuxer((stream, payload) => {
            for (const line of framePayloadLines(stream, payload)) window.add(secrets.length ? { ...line, text: maskSecrets(line.text, secrets) } : line);
          });
          await new Promise<void>((resolve, reject) => {
            stream.on('data', (chunk: Buffer) => {
              demux.write(chunk);
              if (window.full) {
                // An `oldest` window took all it can: the rest is for the next read.
                stream.destroy();
                resolve();
              }
            });
            stream.on('end', resolve);
            stream.on('close', resolve);
            stream.on('error', (err) => (window.full ? resolve() : reject(err)));
          });
          return { lines: window.result(), truncated: window.truncated };
        }, LOGS_TIMEOUT_MS);
      } catch (err) {
        // 404: gone; 409: dead or being removed (Docker will not give its logs): either way, no live logs.
        if (statusOf(err) === 404 || statusOf(err) === 409) return null;
        throw err;
      }
    },

    async putArchive(containerId, path, tar) {
      try {
        await call('archive.put', (abortSignal) =>
          new Promise<void>((resolve, reject) =>
            docker.modem.dial(
              {
                path: `/containers/${containerId}/archive?`,
                method: 'PUT',
                abortSignal,
                file: tar,
                options: { path, noOverwriteDirNonDir: 'true' },
                statusCodes: { 200: true, 400: 'bad parameter', 403: 'permission denied', 404: 'no such container or path', 500: 'server error' },
              },
              (err: unknown) => (err ? reject(err) : resolve()),
            ),
          ),
        );
      } catch (err) {
        if (err instanceof HighwayError) throw err;
        const status = statusOf(err);
        if (status !== undefined && status < 500) throw new TerminalError('files_failed', `files: Docker refused to write into ${path}: ${dockerMessage(err)}`, { cause: err });
        throw new TerminalError('files_failed', `files: writing into ${path} failed: ${dockerMessage(err)}`, { cause: err });
      }
    },

    async inspectRaw(nameOrId) {
      try {
        return await call('inspect', () => docker.getContainer(nameOrId).inspect());
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw err;
      }
    },

    async readArchive(containerId, path, consume) {
      try {
        return await call('archive.get', async (abortSignal) => {
          const stream = await new Promise<ArchiveStream & { headers?: Record<string, string | string[] | undefined> }>((resolve, reject) =>
            docker.modem.dial(
              {
                path: `/containers/${containerId}/archive?`,
                method: 'GET',
                abortSignal,
                isStream: true,
                options: { path },
                statusCodes: { 200: true, 400: 'bad parameter', 404: 'no such container or path', 500: 'server error' },
              },
              (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as ArchiveStream)),
            ),
          );
          try {
            return await consume(stream, archiveStat(stream.headers?.['x-docker-container-path-stat']));
          } finally {
            stream.destroy();
          }
        }, ARCHIVE_TIMEOUT_MS);
      } catch (err) {
        if (statusOf(err) === 404) {
          // Docker answers 404 both for a missing path ("Could not find the file ...") and for a missing container.
          if (!/could not find the file|no such file/i.test(dockerMessage(err))) return null;
          throw new HighwayError('not_found', `${path}: no such file or directory in container ${containerId.slice(0, 12)}`, { cause: err });
        }
        if (statusOf(err) === 400) throw new HighwayError('invalid_params', `path: Docker refused ${JSON.stringify(path)}: ${dockerMessage(err)}`, { cause: err });
        throw err;
      }
    },
  };
  return client;
}

/**
 * One container's (or exec's) output as it streams: demultiplexed, each stream masked before it
 * is cut to its tail. Holds the caps plus a small buffer; `finish()` gives the text once and lets go.
 */
class OutputCollector {
  private readonly stdout: TailBuffer;
  private readonly stderr: TailBuffer;
  private readonly masks: { stdout: SecretMasker; stderr: SecretMasker };
  private readonly demux: LogDemuxer;
  private done: CollectedOutput | null = null;

  constructor(maxBytes: number, secrets: readonly string[]) {
    this.stdout = new TailBuffer(maxBytes);
    this.stderr = new TailBuffer(maxBytes);
    this.masks = { stdout: new SecretMasker(secrets, this.stdout), stderr: new SecretMasker(secrets, this.stderr) };
    this.demux = new LogDemuxer(this.masks);
  }

  write(chunk: Buffer): void {
    if (!this.done) this.demux.write(chunk);
  }

  finish(): CollectedOutput {
    if (this.done) return this.done;
    this.masks.stdout.end();
    this.masks.stderr.end();
    const truncated = this.stdout.truncated || this.stderr.truncated;
    this.done = { stdout: this.stdout.takeString(), stderr: this.stderr.takeString(), truncated };
    return this.done;
  }

  /** The output for a row's text columns (TailBuffer.takeRowText): once, letting go of the buffers. */
  finishForRow(): CollectedOutput<RowText> {
    if (this.done) return this.done;
    this.masks.stdout.end();
    this.masks.stderr.end();
    const truncated = this.stdout.truncated || this.stderr.truncated;
    const out = { stdout: this.stdout.takeRowText(), stderr: this.stderr.takeRowText(), truncated };
    this.done = { stdout: '', stderr: '', truncated }; // taken: a second finish gets nothing more
    return out;
  }
}

/** A copy out of a container reads at most its max_bytes; this bounds a stalled read. */
const ARCHIVE_TIMEOUT_MS = 120_000;

function toDate(s: string | undefined): Date | null {
  if (!s || s.startsWith('0001-01-01')) return null;
  return new Date(s);
}

function toState(info: Docker.ContainerInspectInfo): ContainerState {
  const s = info.State;
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    status: s.Status as ContainerState['status'],
    exitCode: s.Running || s.Status === 'created' ? null : s.ExitCode,
    oomKilled: s.OOMKilled,
    error: s.Error || null,
    createdAt: new Date(info.Created),
    startedAt: toDate(s.StartedAt),
    finishedAt: toDate(s.FinishedAt),
    labels: info.Config.Labels ?? {},
    restartCount: info.RestartCount ?? 0,
    restartPolicy: info.HostConfig?.RestartPolicy?.Name ?? 'no',
    health: (s as { Health?: { Status?: string } }).Health?.Status ?? null,
    stopSignal: (info.Config as { StopSignal?: string }).StopSignal || null,
  };
}

/** Rejects when the signal aborts, whether or not the request itself notices. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason ?? new Error('aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Concurrent calls with the same key share one in-flight promise (one pull per image at a time). */
function sharedPerKey<T>(fn: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const inflight = new Map<string, Promise<T>>();
  return (key) => {
    const existing = inflight.get(key);
    if (existing) return existing;
    const p = fn(key).finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  };
}

/** The X-Docker-Container-Path-Stat header (base64 JSON), or null when absent or unreadable. */
function archiveStat(header: string | string[] | undefined): ArchiveStat | null {
  if (typeof header !== 'string') return null;
  try {
    return JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as ArchiveStat;
  } catch {
    return null;
  }
}
