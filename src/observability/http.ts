import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../errors.js';
import { parseListenAddress, type ListenAddress } from '../hosts/settings.js';
import { silentLogger, type Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { redactCredentials } from './redact.js';
import { withTimeout } from '../timeouts.js';

/** A readiness check: true (or a promise of it) when ready; false, a throw or a rejection when not. */
export type ReadinessCheck = () => Promise<boolean> | boolean;

export interface HttpServerOptions {
  /** `host:port` (HIGHWAY_HTTP_ADDR; default 127.0.0.1:9464); port 0 picks a free one. */
  addr?: string | ListenAddress;
  /** What /metrics serves; until given (here or by `serve`), /metrics answers 503. */
  metrics?: Metrics;
  readiness?: Record<string, ReadinessCheck>;
  /**
   * Bound early, before what it reports on exists (`up` binds its port before it touches any
   * shared state): /readyz answers 503 with the check `startup` failing until `serve()`.
   */
  starting?: boolean;
  /** Longest one readiness check may take before it counts as failed (default 2000 ms). */
  checkTimeoutMs?: number;
  logger?: Logger;
}

export interface HttpServer {
  /** Where it listens, e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  readonly address: AddressInfo;
  /** From now on serve these metrics and readiness checks (an early-bound server stops saying `starting`). */
  serve(parts: { metrics?: Metrics; readiness?: Record<string, ReadinessCheck> }): void;
  /** Stop listening and drop open connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * What /readyz says: each check's name and state, never its error text (which may name the
 * database's address or the Docker socket: the endpoint has no authentication). The details
 * go to the log (`readyz.check_failed`).
 */
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: ReadinessState }>;
}

/** The state of a failing check, as /readyz shows it. */
export type ReadinessState = 'starting' | 'check failed' | 'check failed with an error (see the log: readyz.check_failed)' | `no answer within ${number} ms`;

/** The report with each failure's detail, for the log. */
export interface DetailedReadinessReport extends ReadinessReport {
  details: Record<string, string>;
}

/** Run every check at once; each either passes, fails, throws or times out. */
export async function runReadiness(checks: Record<string, ReadinessCheck>, timeoutMs = 2000): Promise<DetailedReadinessReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const late = new Error(`no answer within ${timeoutMs} ms`);
      try {
        const ok = await withTimeout(Promise.resolve().then(check), timeoutMs, () => late);
        return ok === true ? ([name, { ok: true }, null] as const) : ([name, { ok: false, error: 'check failed' as ReadinessState }, 'check failed'] as const);
      } catch (err) {
        const state: ReadinessState = err === late ? `no answer within ${timeoutMs} ms` : 'check failed with an error (see the log: readyz.check_failed)';
        return [name, { ok: false, error: state }, errorMessage(err) || 'error'] as const;
      }
    }),
  );
  const report: DetailedReadinessReport = { ready: entries.every(([, r]) => r.ok), checks: {}, details: {} };
  for (const [name, r, detail] of entries) {
    report.checks[name] = r;
    if (detail !== null) report.details[name] = detail;
  }
  return report;
}

/** Is this address reachable only from this machine (127.0.0.0/8, ::1)? */
export function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/i, '');
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a) || a === '::1' || a === 'localhost';
}

/**
 * `/metrics` (Prometheus text exposition), `/healthz` (200 while the process serves),
 * `/readyz` (200 when every readiness check passes, else 503; JSON naming each check's state),
 * 404 for anything else. GET and HEAD only. No authentication: on an address other than
 * loopback it logs `http.unprotected` (warn) once at start.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const addr = typeof options.addr === 'object' ? options.addr : parseListenAddress(options.addr);
  const log = options.logger ?? silentLogger;
  let metrics = options.metrics ?? null;
  let starting = options.starting === true;
  let checks: Record<string, ReadinessCheck> = starting ? {} : (options.readiness ?? {});
  const checkTimeoutMs = options.checkTimeoutMs ?? 2000;
  // The last failure detail logged per check: a failure is logged when it starts or changes, a recovery once.
  const lastFailure = new Map<string, string>();
  const logChanges = (report: DetailedReadinessReport) => {
    for (const [name, r] of Object.entries(report.checks)) {
      const detail = report.details[name];
      if (!r.ok && detail !== undefined && lastFailure.get(name) !== detail) {
        lastFailure.set(name, detail);
        log.warn({ event: 'readyz.check_failed', check: name, err: redactCredentials(detail) }, `readiness check ${name} fails: ${redactCredentials(detail)}`);
      } else if (r.ok && lastFailure.delete(name)) {
        log.info({ event: 'readyz.check_recovered', check: name }, `readiness check ${name} passes again`);
      }
    }
  };

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
          if (!metrics) return send(res, head, 503, 'application/json', json({ error: 'starting' }));
          const { contentType, body } = await metrics.exposition();
          return send(res, head, 200, contentType, body);
        }
        case '/healthz':
          return send(res, head, 200, 'application/json', json({ status: 'ok' }));
        case '/readyz': {
          if (starting) return send(res, head, 503, 'application/json', json({ ready: false, checks: { startup: { ok: false, error: 'starting' } } }));
          const { details, ...report } = await runReadiness(checks, checkTimeoutMs);
          logChanges({ ...report, details });
          return send(res, head, report.ready ? 200 : 503, 'application/json', json(report));
        }
        default:
          return send(res, head, 404, 'application/json', json({ error: 'not found', paths: ['/metrics', '/healthz', '/readyz'] }));
      }
    })().catch((err) => {
      log.error({ event: 'http.error', url: req.url, err: errorMessage(err) }, 'HTTP request failed');
      if (!res.headersSent) send(res, false, 500, 'application/json', json({ error: 'internal error (see the log: http.error)' }));
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
  if (!isLoopback(address.address)) {
    log.warn(
      { event: 'http.unprotected', url, address: address.address },
      `/metrics, /healthz and /readyz on ${url} have no authentication and are reachable from other machines: ` +
        'bind HIGHWAY_HTTP_ADDR to 127.0.0.1 and scrape through a proxy that authenticates, or restrict the port with a firewall',
    );
  }

  let closing: Promise<void> | null = null;
  return {
    url,
    address,
    serve(parts) {
      if (parts.metrics) metrics = parts.metrics;
      starting = false;
      checks = { ...checks, ...parts.readiness };
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
