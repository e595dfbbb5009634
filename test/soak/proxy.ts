/**
 * A loopback TCP proxy in front of PostgreSQL, one per host, that the nemesis controls: `cut(ms)`
 * destroys every open connection and refuses new ones until the cut heals. The host under test
 * connects to the proxy's port instead of the server's, so a cut is a network partition between
 * that host and the database (and nothing else).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class PgProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private cutUntil = 0;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<number> {
    this.server = createServer((client) => {
      if (Date.now() < this.cutUntil) {
        client.destroy();
        return;
      }
      const upstream = connect(this.targetPort, this.targetHost);
      this.track(client);
      this.track(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end);
      upstream.on('error', end);
      client.on('close', end);
      upstream.on('close', end);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  get isCut(): boolean {
    return Date.now() < this.cutUntil;
  }

  /** Drop every connection now and refuse new ones for `ms`. */
  cut(ms: number): void {
    this.cutUntil = Date.now() + ms;
    for (const s of [...this.sockets]) s.destroy();
  }

  heal(): void {
    this.cutUntil = 0;
  }

  /** The same URL with host and port pointing at this proxy. */
  urlFor(databaseUrl: string): string {
    const u = new URL(databaseUrl);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  async stop(): Promise<void> {
    for (const s of [...this.sockets]) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
