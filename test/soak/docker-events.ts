/**
 * Docker's own event log, recorded independently of the product: one /events subscription per
 * daemon, filtered by the cluster label of the soak's database. It reconnects (with `since`,
 * so nothing the daemon still remembers is missed) when its daemon goes away and comes back.
 */
import type Docker from 'dockerode';
import split2 from 'split2';

export interface DockerEventRecord {
  daemon: string;
  /** create, start, die, kill, stop, destroy, exec_create: ..., ... */
  action: string;
  /** The container id. */
  id: string;
  /** The container name (without the leading slash). */
  name: string;
  /** Unix nanoseconds, as the daemon stamped it. */
  timeNano: number;
  attributes: Record<string, string>;
}

export class DockerEventLog {
  readonly events: DockerEventRecord[] = [];
  private stopped = false;
  private stream: NodeJS.ReadableStream | null = null;
  private lastSeconds = Math.floor(Date.now() / 1000) - 1;
  private loop: Promise<void> | null = null;
  reconnects = 0;

  constructor(
    readonly daemon: string,
    private readonly docker: Docker,
    private readonly label: string,
  ) {}

  /** Subscribe; resolves once the first subscription is open. */
  async start(): Promise<void> {
    let opened!: () => void;
    const first = new Promise<void>((r) => (opened = r));
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          const stream = (await this.docker.getEvents({
            since: this.lastSeconds,
            filters: { type: ['container'], label: [this.label] },
          })) as NodeJS.ReadableStream;
          this.stream = stream;
          opened();
          await new Promise<void>((resolve) => {
            stream
              .pipe(split2())
              .on('data', (line: string) => this.onLine(line))
              .on('end', resolve)
              .on('error', resolve);
            stream.on('error', () => resolve());
            stream.on('close', () => resolve());
          });
        } catch {
          // daemon away: retry below
        }
        if (!this.stopped) {
          this.reconnects++;
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    })();
    await Promise.race([first, new Promise((r) => setTimeout(r, 10_000))]);
  }

  private readonly seen = new Set<string>();

  private onLine(line: string): void {
    if (!line.trim()) return;
    let e: { Action?: string; status?: string; Actor?: { ID?: string; Attributes?: Record<string, string> }; id?: string; timeNano?: number; time?: number };
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    const action = e.Action ?? e.status ?? '';
    const id = e.Actor?.ID ?? e.id ?? '';
    const timeNano = e.timeNano ?? (e.time ?? 0) * 1e9;
    // A reconnect with `since` replays what we saw already: keep each event once.
    const key = `${id}|${action}|${timeNano}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (e.time) this.lastSeconds = Math.max(this.lastSeconds, e.time - 1);
    const attributes = e.Actor?.Attributes ?? {};
    this.events.push({ daemon: this.daemon, action, id, name: attributes['name'] ?? '', timeNano, attributes });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const s = this.stream as unknown as { destroy?: () => void } | null;
    s?.destroy?.();
    await Promise.race([this.loop, new Promise((r) => setTimeout(r, 2_000))]);
  }
}
