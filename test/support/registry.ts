/**
 * A real, local container registry for pull-policy tests: Debian's
 * `docker-registry` (distribution 2.8) serving from a temp dir on
 * 127.0.0.1:<free port>. Docker allows plain HTTP to 127.0.0.0/8 registries by
 * default, so push and pull need no daemon configuration.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type Docker from 'dockerode';
import { consumeProgress, type DockerProgressMessage } from './docker-env.js';

export interface LocalRegistry {
  /** host:port, e.g. "127.0.0.1:41234"; image references are `${address}/name:tag`. */
  address: string;
  /** PID of the docker-registry child. */
  pid: number;
  /** Kill the registry (by PID) and delete its storage. Idempotent. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;

function findRegistryBinary(): string {
  const candidates = [
    process.env.HIGHWAY_DOCKER_REGISTRY_BIN,
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => (dir ? join(dir, 'docker-registry') : undefined)),
    '/usr/bin/docker-registry',
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error(
    'No docker-registry binary found (PATH, /usr/bin). Install it with: apt-get install docker-registry ' +
      '(or run: bash scripts/ci/setup.sh).',
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

export interface RegistryOptions {
  /** Require basic auth against this htpasswd file (bcrypt entries). */
  htpasswdPath?: string;
}

function registryConfig(storageDir: string, port: number, options: RegistryOptions = {}): string {
  const auth = options.htpasswdPath ? ['auth:', '  htpasswd:', '    realm: highway-test', `    path: ${options.htpasswdPath}`] : [];
  return [
    ...auth,
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function startOnce(options: RegistryOptions): Promise<LocalRegistry> {
  const bin = findRegistryBinary();
  const dir = await mkdtemp(join(tmpdir(), 'highway-registry-'));
  const storage = join(dir, 'storage');
  await mkdir(storage);
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, registryConfig(storage, port, options));

  const child = spawn(bin, ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Keep the last bit of its output for error messages (and drain the pipes).
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });

  // Never leave an orphan registry behind if the test process exits without stop().
  const killOnExit = (): void => {
    if (child.pid !== undefined && !exited(child)) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killOnExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.off('exit', killOnExit);
      if (child.pid !== undefined && !exited(child)) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
        if (!(await waitForExit(child, 5_000))) {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
          await waitForExit(child, 5_000);
        }
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (spawnError || exited(child) || child.pid === undefined) {
      await stop();
      const why = spawnError?.message ?? `exited with ${child.exitCode ?? child.signalCode}`;
      const error = new Error(`docker-registry on ${address} failed to start (${why}). Output:\n${output}`);
      (error as { addressInUse?: boolean }).addressInUse = /address already in use/i.test(output);
      throw error;
    }
    try {
      const res = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.ok || (options.htpasswdPath && res.status === 401)) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry on ${address} did not answer GET /v2/ within ${READY_TIMEOUT_MS} ms. Output:\n${output}`);
    }
    await sleep(50);
  }

  return { address, pid: child.pid, stop };
}

/**
 * Start `docker-registry serve CONFIG` on 127.0.0.1:<free port> with storage in
 * a fresh temp dir; resolves once GET /v2/ answers. Call stop() when done.
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<LocalRegistry> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      // The free port can be taken between probing and binding: try another.
      if (attempt < 3 && (err as { addressInUse?: boolean }).addressInUse) continue;
      throw err;
    }
  }
}

export interface PushResult {
  /** `${address}/${repo}:${tag}`, what a later pull or run uses. */
  reference: string;
  /** Manifest digest the registry stored (sha256:...), when Docker reported it. */
  digest?: string;
  messages: DockerProgressMessage[];
}

// No auth on the local registry; Docker still wants an X-Registry-Auth header.
const DUMMY_AUTH = { username: '', password: '', serveraddress: '' };

/**
 * Tag `sourceImage` as `${address}/${repoTag}`, push it, then remove that local
 * tag (the source image stays) so a later pull of the reference really goes to
 * the registry. `repoTag` is `name[:tag]` (tag defaults to latest).
 */
export async function pushToRegistry(
  docker: Docker,
  sourceImage: string,
  address: string,
  repoTag: string,
  credentials?: { username: string; password: string },
): Promise<PushResult> {
  const slash = repoTag.lastIndexOf('/');
  const colon = repoTag.lastIndexOf(':');
  const name = colon > slash ? repoTag.slice(0, colon) : repoTag;
  const tag = colon > slash ? repoTag.slice(colon + 1) : 'latest';
  const repo = `${address}/${name}`;
  const reference = `${repo}:${tag}`;

  await docker.getImage(sourceImage).tag({ repo, tag });
  let pushError: unknown;
  try {
    const stream = await docker
      .getImage(repo)
      .push({ tag, authconfig: { ...DUMMY_AUTH, ...credentials, serveraddress: address } });
    const messages = await consumeProgress(stream, `pushing ${reference}`);
    let digest: string | undefined;
    for (const msg of messages) {
      const d = msg.aux?.Digest;
      if (typeof d === 'string') digest = d;
    }
    if (digest === undefined) {
      throw new Error(`pushing ${reference}: no digest in Docker's reply: ${JSON.stringify(messages.slice(-3))}`);
    }
    return { reference, digest, messages };
  } catch (err) {
    pushError = err;
    throw err;
  } finally {
    // Untag only: the source image keeps its own tags.
    try {
      await docker.getImage(reference).remove({ noprune: true });
    } catch (err) {
      // Never hide the push's own error behind a cleanup error.
      if (pushError === undefined && (err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }
}

/** Pull `reference` (e.g. from pushToRegistry) through the daemon; resolves when done. */
export async function pullImage(docker: Docker, reference: string): Promise<DockerProgressMessage[]> {
  const stream = await docker.pull(reference, { authconfig: DUMMY_AUTH });
  return consumeProgress(stream, `pulling ${reference}`);
}

/**
 * An htpasswd file with one bcrypt entry, for a registry that requires auth. No htpasswd
 * binary (apache2-utils) and no bcrypt package here: the hash comes from the C library's
 * crypt(3) through perl (Debian's libxcrypt does bcrypt, "$2b$"), which distribution's Go
 * bcrypt verifies.
 */
export async function writeHtpasswd(path: string, username: string, password: string): Promise<void> {
  const { execFile } = await import('node:child_process');
  const { randomBytes } = await import('node:crypto');
  const alphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  // 22 salt characters; the last one carries only 2 bits, so pick it from the 4 that keep them canonical.
  const salt = [...randomBytes(21)].map((b) => alphabet[b % 64]).join('') + '.Oeu'[randomBytes(1)[0]! % 4];
  const hash = await new Promise<string>((resolve, reject) =>
    execFile('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, `$2b$05$${salt}`], (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  if (!hash.startsWith('$2b$05$')) throw new Error(`crypt(3) did not give a bcrypt hash (got ${JSON.stringify(hash.slice(0, 7))})`);
  await writeFile(path, `${username}:${hash}\n`, { mode: 0o600 });
}
