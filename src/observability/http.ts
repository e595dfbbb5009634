import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../errors.js';
import { parseListenAddress, type ListenAddress } from '../hosts/settings.js';
import { silentLogger, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** A readiness check: true (or a promise of it) when ready; false, a throw or a rejection when not. */
export type ReadinessCheck = () => Promise<boolean> | boolean;

export interface HttpServerOptions {
  /** `host:port` (HIGHWAY_HTTP_ADDR; default 127.0.0.1:9464); port 0 picks a free one. */
  addr?: string | ListenAddress;
  metrics: Metrics;
  readiness?: Record<string, ReadinessCheck>;
  /** Longest one readiness check may take before it counts as failed (default 2000 ms). */
  checkTimeoutMs?: number;
  logger?: Logger;
}

export interface HttpServer {
  /** Where it listens, e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  readonly address: AddressInfo;
  /** Stop listening and drop open connections. Idempotent. */
  close(): Promise<void>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string }>;
}

/** Run every check at once; each either passes, fails, throws or times out. */
export async function runReadiness(checks: Record<string, ReadinessCheck>, timeoutMs = 2000): Promise<ReadinessReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const ok = await Promise.race([
          Promise.resolve().then(check),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [name, ok === true ? { ok: true } : { ok: false, error: 'check failed' }] as const;
      } catch (err) {
        return [name, { ok: false, error: errorMessage(err) }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const report: ReadinessReport = { ready: entries.every(([, r]) => r.ok), checks: {} };
  for (const [name, r] of entries) report.checks[name] = r;
  return report;
}

/**
 * `/metrics` (Prometheus text exposition), `/healthz` (200 while the process serves),
 * `/readyz` (200 when every readiness check passes, else 503; JSON naming each check's state),
 * 404 for anything else. GET and HEAD only.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const addr = typeof options.addr === 'object' ? options.addr : parseListenAddress(options.addr);
  const log = options.logger ?? silentLogger;
  const checks = options.readiness ?? {};
  const checkTimeoutMs = options.checkTimeoutMs ?? 2000;

  const send = (res: http.ServerResponse, head: boolean, status: number, contentType: string, body: string) => {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(head ? undefined : body);
  };
  const json = (value: unknown) => JSON.stringify(value) + '\n';

  const server = http.createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const head = req.method === 'HEAD';
      if (req.method !== 'GET' && !head) {
        res.setHeader('allow', 'GET, HEAD');
        return send(res, false, 405, 'application/json', json({ error: 'method not allowed' }));
      }
      switch (path) {
        case '/metrics': {
          const { contentType, body } = await options.metrics.exposition();
          return send(res, head, 200, contentType, body);
        }
        case '/healthz':
          return send(res, head, 200, 'application/json', json({ status: 'ok' }));
        case '/readyz': {
          const report = await runReadiness(checks, checkTimeoutMs);
          return send(res, head, report.ready ? 200 : 503, 'application/json', json(report));
        }
        default:
          return send(res, head, 404, 'application/json', json({ error: 'not found', paths: ['/metrics', '/healthz', '/readyz'] }));
      }
    })().catch((err) => {
      log.error({ event: 'http.error', url: req.url, err: errorMessage(err) }, 'HTTP request failed');
      if (!res.headersSent) send(res, false, 500, 'application/json', json({ error: errorMessage(err) }));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen on ${addr.host}:${addr.port} (HIGHWAY_HTTP_ADDR): ${errorMessage(err)}`, { cause: err })));
    server.listen(addr.port, addr.host, () => resolve());
  });
  server.on('error', (err) => log.error({ event: 'http.error', err: errorMessage(err) }, 'HTTP server error'));
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log.info({ event: 'http.listening', url }, `serving /metrics, /healthz, /readyz on ${url}`);

  let closing: Promise<void> | null = null;
  return {
    url,
    address,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
