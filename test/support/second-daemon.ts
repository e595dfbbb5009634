/**
 * A SECOND Docker daemon, owned by the test that starts it, so a test can stop and restart
 * a daemon without ever touching the machine's main one (TOOLCHAIN.md, "Two daemons"):
 *
 *   dockerd --host unix:///run/hw-test-docker.sock --data-root /var/lib/hw-test-docker
 *           --exec-root /run/hw-test-docker --pidfile /run/hw-test-docker.pid
 *           --bridge=none --iptables=false --ip6tables=false
 *
 * It runs its own containerd (started and stopped by that dockerd). It is signalled by its
 * PID only. The busybox test image is built in it (ensureTestImage).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import Docker from 'dockerode';
import { ensureTestImage } from './test-image.js';
import { eventually } from './eventually.js';

export const SECOND_SOCKET = '/run/hw-test-docker.sock';

/** The paths of a daemon named `name` (default `hw-test-docker`: SECOND_SOCKET, /var/lib/hw-test-docker, ...). */
function pathsOf(name: string) {
  const paths = {
    socket: `/run/${name}.sock`,
    dataRoot: `/var/lib/${name}`,
    execRoot: `/run/${name}`,
    pidfile: `/run/${name}.pid`,
    logfile: `/tmp/${name}.log`,
  };
  const args = [
    '--host',
    `unix://${paths.socket}`,
    '--data-root',
    paths.dataRoot,
    '--exec-root',
    paths.execRoot,
    '--pidfile',
    paths.pidfile,
    '--bridge=none',
    '--iptables=false',
    '--ip6tables=false',
  ];
  return { ...paths, args };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

async function pings(docker: Docker): Promise<boolean> {
  try {
    const ping = docker.ping.bind(docker) as unknown as (opts: { abortSignal: AbortSignal }) => Promise<unknown>;
    await ping({ abortSignal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

export interface SecondDaemon {
  socketPath: string;
  /** A client of this daemon (dockerode reconnects per request, so it survives restarts). */
  docker: Docker;
  pid(): number | null;
  /** Stop (SIGTERM by PID, wait for exit; SIGKILL after `graceMs`). Containers are stopped by dockerd itself. */
  stopDaemon(graceMs?: number): Promise<void>;
  /** Start it again (same data root: images and stopped containers survive). */
  startDaemon(): Promise<void>;
  /** stopDaemon + startDaemon. */
  restart(): Promise<void>;
  /** SIGKILL dockerd (a crash): no shutdown, its containerd and containers go on without it. */
  killDaemon(): Promise<void>;
  /** Stop for good. */
  stop(): Promise<void>;
}

/**
 * Start (or adopt) the second daemon. `name` gives a daemon of its own (socket `/run/<name>.sock`,
 * data root `/var/lib/<name>`, ...), so test files that stop or restart their daemon never meet.
 */
export async function startSecondDaemon(readyTimeoutMs = 40_000, name = 'hw-test-docker'): Promise<SecondDaemon> {
  const { socket: SOCKET, dataRoot: DATA_ROOT, execRoot: EXEC_ROOT, pidfile: PIDFILE, logfile: LOGFILE, args: ARGS } = pathsOf(name);
  const tail = () => tailOf(LOGFILE);
  await mkdir(DATA_ROOT, { recursive: true });
  const docker = new Docker({ socketPath: SOCKET });
  let child: ChildProcess | null = null;
  let pid: number | null = null;

  const startDaemon = async () => {
    // A daemon this helper started in an earlier (aborted) run: adopt it if it answers.
    const previous = readPid(PIDFILE);
    if (previous && alive(previous) && (await pings(docker))) {
      pid = previous;
      return;
    }
    const log = openSync(LOGFILE, 'a');
    child = spawn('dockerd', ARGS, { stdio: ['ignore', log, log], detached: false });
    closeSync(log);
    pid = child.pid ?? null;
    const started = child;
    await eventually(
      async () => {
        if (started.exitCode !== null || started.signalCode !== null) {
          throw new Error(`second dockerd exited (${started.exitCode ?? started.signalCode}); see ${LOGFILE}: ${tail()}`);
        }
        return pings(docker);
      },
      { what: `the second dockerd to answer on ${SOCKET}`, timeoutMs: readyTimeoutMs, everyMs: 100, describe: () => `no answer; see ${LOGFILE}: ${tail()}` },
    );
  };

  const stopDaemon = async (graceMs = 30_000) => {
    const p = pid;
    if (!p) return;
    if (alive(p)) process.kill(p, 'SIGTERM');
    await eventually(() => !alive(p), { what: 'dockerd to exit on SIGTERM', timeoutMs: graceMs }).catch(() => {});
    if (alive(p)) {
      process.kill(p, 'SIGKILL');
      while (alive(p)) await sleep(50);
      // Its containerd is a child it could not stop: end it too (it is ours, by its pidfile).
      const containerd = readPid(`${EXEC_ROOT}/containerd/containerd.pid`);
      if (containerd && alive(containerd)) process.kill(containerd, 'SIGKILL');
    }
    // Reap our child if it is ours.
    const c = child as ChildProcess | null;
    if (c && c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once('exit', r));
    child = null;
    pid = null;
    // dockerd removes its socket on a clean exit; wait until it is gone so "down" is observable.
    await eventually(async () => !existsSync(SOCKET) || !(await pings(docker)), { what: 'its socket gone', timeoutMs: 5_000 }).catch(() => {});
  };

  await startDaemon();
  await ensureTestImage(docker);

  return {
    socketPath: SOCKET,
    docker,
    pid: () => pid,
    stopDaemon,
    startDaemon,
    async restart() {
      await stopDaemon();
      await startDaemon();
    },
    stop: () => stopDaemon(),
    async killDaemon() {
      const p = pid;
      if (!p) return;
      process.kill(p, 'SIGKILL');
      while (alive(p)) await sleep(20);
      const c = child as ChildProcess | null;
      if (c && c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once('exit', r));
      child = null;
      pid = null;
    },
  };
}

function tailOf(logfile: string): string {
  try {
    return readFileSync(logfile, 'utf8').slice(-1500);
  } catch {
    return '';
  }
}
