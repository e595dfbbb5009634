import type Docker from 'dockerode';
import net from 'node:net';
import { errorMessage } from '../errors.js';
import { withTimeout } from '../timeouts.js';

/**
 * One ping of the daemon, bounded, with no retry and no circuit breaker (those belong to the
 * calls of client.ts): null when it answered, else why not. For deciding whether this host can
 * take work, not for doing any.
 */
export async function daemonUnreachable(docker: Docker, timeoutMs = 2_000): Promise<string | null> {
  const signal = AbortSignal.timeout(timeoutMs);
  const ping = docker.ping.bind(docker) as unknown as (o: { abortSignal: AbortSignal }) => Promise<unknown>;
  try {
    // The signal ends the request; the bound answers even where a connection ignores it.
    await withTimeout(ping({ abortSignal: signal }), timeoutMs, () => new Error('timeout'));
    return null;
  } catch (err) {
    return signal.aborted ? `no answer to a ping within ${timeoutMs} ms` : errorMessage(err);
  }
}

/**
 * Is the daemon shutting down? When dockerd stops (a restart, a stop of the service) it first
 * closes its listening socket, then stops its containers, then closes the connections it still
 * has (measured with Engine 20.10: the socket refuses new connections ~30 ms after SIGTERM,
 * while an open events stream still delivers the containers' `kill` and `die` events for up to
 * the stop timeout). So a container that dies while its daemon refuses NEW connections was
 * stopped by the daemon's shutdown. This opens a bare connection (no HTTP, no pooled socket:
 * a kept-alive connection would still answer): refused or missing means leaving. Answers
 * false when it cannot tell (an ssh:// daemon, a connection that hangs).
 */
export async function daemonRefusesConnections(docker: Docker, timeoutMs = 1_000): Promise<boolean> {
  const modem = docker.modem as unknown as {
    // A function when no DOCKER_HOST names the socket: docker-modem finds the default one (its getSocketPath).
    socketPath?: string | (() => string | Promise<string>);
    host?: string;
    port?: number | string;
    protocol?: string;
  };
  let target: net.NetConnectOpts;
  const socketPath = typeof modem.socketPath === 'function' ? await modem.socketPath() : modem.socketPath;
  if (socketPath) target = { path: socketPath };
  else if (modem.host && (modem.protocol === 'http' || modem.protocol === 'https' || modem.protocol === undefined)) {
    target = { host: modem.host, port: Number(modem.port ?? (modem.protocol === 'https' ? 2376 : 2375)) };
  } else return false;
  return new Promise<boolean>((resolve) => {
    const socket = net.connect({ ...target, timeout: timeoutMs });
    const done = (refused: boolean) => {
      socket.destroy();
      resolve(refused);
    };
    socket.once('timeout', () => done(false));
    socket.once('connect', () => done(false));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT'));
  });
}
