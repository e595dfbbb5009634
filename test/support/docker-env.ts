/**
 * Connecting the test suite to a REAL Docker daemon.
 *
 * The suite never skips Docker tests: when no daemon answers, connectDocker()
 * throws a loud error that says how to get one (scripts/ci/setup.sh).
 */
import Docker from 'dockerode';

const DEFAULT_PING_TIMEOUT_MS = 10_000;

/** Where dockerode will connect, for messages (DOCKER_HOST or the default socket). */
export function describeDockerEndpoint(docker?: Docker): string {
  const modem = docker?.modem as { socketPath?: unknown; host?: unknown; port?: unknown; protocol?: unknown } | undefined;
  if (modem && typeof modem.socketPath === 'string') return `unix://${modem.socketPath}`;
  if (modem && typeof modem.host === 'string') {
    return `${String(modem.protocol ?? 'http')}://${modem.host}${modem.port ? `:${String(modem.port)}` : ''}`;
  }
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}

function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * A dockerode client using dockerode's defaults (DOCKER_HOST, DOCKER_TLS_VERIFY,
 * DOCKER_CERT_PATH are honoured; otherwise /var/run/docker.sock), checked with a
 * ping bounded by `timeoutMs`. Throws an explicit Error when the daemon is not
 * reachable.
 */
export async function connectDocker(options: { timeoutMs?: number } = {}): Promise<Docker> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
  const docker = new Docker();
  try {
    // dockerode's ping accepts { abortSignal } (its typings only declare ping()).
    const ping = docker.ping.bind(docker) as unknown as (opts: { abortSignal: AbortSignal }) => Promise<unknown>;
    await ping({ abortSignal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = err instanceof Error ? err.message : String(err);
    const endpoint = describeDockerEndpoint(docker);
    const lines = [
      '',
      '='.repeat(78),
      `highway-docker tests need a REAL Docker daemon, and none answered at ${endpoint}`,
      `(ping failed or took longer than ${timeoutMs} ms: ${cause}).`,
      '',
      'Start one with:  bash scripts/ci/setup.sh',
      '  (installs docker.io, docker-registry and busybox-static if missing and runs',
      '   `dockerd --bridge=none --iptables=false --ip6tables=false`),',
      'or point DOCKER_HOST at a daemon that answers.',
    ];
    if (isCi()) {
      lines.push('', 'CI=true: the suite REFUSES TO SKIP the Docker tests. Failing instead.');
    } else {
      lines.push('', 'The suite does not skip Docker tests; it fails until a daemon answers.');
    }
    lines.push('='.repeat(78), '');
    throw new Error(lines.join('\n'), { cause: err });
  }
  return docker;
}

function statusCodeOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'statusCode' in err) {
    const code = (err as { statusCode?: unknown }).statusCode;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}

/**
 * Force-remove (with anonymous volumes) every container, running or not, that
 * carries `label` ('key=value', or just 'key' for any value). Returns how many
 * this call removed. Containers that vanish meanwhile (404) or are already
 * being removed by someone else (409) are skipped, not errors.
 */
export async function removeByLabel(docker: Docker, label: string): Promise<number> {
  if (label.trim() === '') throw new Error('removeByLabel: empty label would match every container');
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
  const results = await Promise.all(
    containers.map(async (info) => {
      try {
        await docker.getContainer(info.Id).remove({ force: true, v: true });
        return true;
      } catch (err) {
        const code = statusCodeOf(err);
        if (code === 404 || code === 409) return false;
        throw err;
      }
    }),
  );
  return results.filter((removed) => removed).length;
}

/** One JSON message of a Docker progress stream (pull, push, import). */
export interface DockerProgressMessage {
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * Read a newline-delimited JSON progress stream to its end and return its
 * messages. Docker reports failures of pull/push/import INSIDE a 200 response,
 * as a message with `error`/`errorDetail`; those reject here.
 */
export function consumeProgress(stream: NodeJS.ReadableStream, what: string): Promise<DockerProgressMessage[]> {
  return new Promise((resolve, reject) => {
    const messages: DockerProgressMessage[] = [];
    let buffered = '';
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const handleLine = (line: string): void => {
      const text = line.trim();
      if (text === '') return;
      let msg: DockerProgressMessage;
      try {
        msg = JSON.parse(text) as DockerProgressMessage;
      } catch {
        msg = { status: text };
      }
      messages.push(msg);
      if (msg.error !== undefined || msg.errorDetail !== undefined) {
        fail(new Error(`${what} failed: ${msg.error ?? msg.errorDetail?.message ?? JSON.stringify(msg)}`));
      }
    };
    stream.on('data', (chunk: Buffer | string) => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        handleLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
    stream.on('error', (err: Error) => fail(new Error(`${what} failed: ${err.message}`, { cause: err })));
    stream.on('end', () => {
      handleLine(buffered);
      buffered = '';
      if (settled) return;
      settled = true;
      resolve(messages);
    });
    // 'close' without 'end' first: the connection went away mid-stream.
    stream.on('close', () => fail(new Error(`${what} failed: stream closed before its end`)));
  });
}

/** The processes inside a container (`ps -o pid,args`), by a direct docker exec: the test's own view. */
export async function processesIn(docker: Docker, containerId: string): Promise<string> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: ['ps', '-o', 'pid,args'], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  return Buffer.concat(chunks).toString('latin1');
}
