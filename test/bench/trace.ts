/**
 * Where does a highway-docker run spend its time? A tracer that records, per intent and on
 * one monotonic clock: the caller's call and return, NOTIFYs (its own LISTEN connection),
 * every query the reconciler makes (by wrapping its pool), every Docker call the reconciler
 * makes (by wrapping its client), Docker's own events (its own /events stream), and the
 * container's StartedAt/FinishedAt as recorded in the row. No src/ changes needed.
 */
import type Docker from 'dockerode';
import pg from 'pg';
import type { ContainerClient } from '../../src/docker/client.js';
import type { Pool } from '../../src/db/pool.js';
import { CHANNELS } from '../../src/db/listener.js';
import { LABELS } from '../../src/model.js';
import { formatTable, median, nowMs, percentile, round, wallToMono } from './stats.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Span {
  what: string;
  start: number;
  end: number;
}

interface IntentTrace {
  callStart?: number;
  callEnd?: number;
  notifyIntent: number[];
  notifyDone: number[];
  queries: Span[];
  docker: Span[];
  /** Docker events: action, daemon time, time received here. */
  events: Array<{ action: string; daemonAt: number; receivedAt: number }>;
  startedAt?: number;
  finishedAt?: number;
}

/** Short name of a reconciler query, from its SQL. */
function classify(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  if (s.startsWith('WITH claim AS')) return 'load_state';
  if (s.includes('SET start_attempted_at = clock_timestamp()')) return 'claim_start';
  if (s.includes('SET reconciler_id')) return 'claim';
  if (s.startsWith('INSERT INTO highway.docker_audit')) return 'audit';
  if (s.startsWith('UPDATE highway.docker_containers')) return s.includes('status NOT IN') ? 'patch_live' : 'patch';
  if (s.startsWith('SELECT id FROM highway.docker_containers')) return 'list_live';
  return s.slice(0, 30);
}

export class HighwayTracer {
  private readonly intents = new Map<string, IntentTrace>();
  private readonly containerToIntent = new Map<string, string>();
  private listen: pg.Client | null = null;
  private events: NodeJS.ReadableStream | null = null;
  /** Docker calls not tied to an intent (image checks, lists). */
  readonly untied: Span[] = [];
  /** Clients waiting for a pool connection when a reconciler query was made (pool contention). */
  private readonly poolWaiting: number[] = [];

  private of(id: string): IntentTrace {
    let t = this.intents.get(id);
    if (!t) {
      t = { notifyIntent: [], notifyDone: [], queries: [], docker: [], events: [] };
      this.intents.set(id, t);
    }
    return t;
  }

  /** Start the tracer's own LISTEN connection and Docker events stream. */
  async start(databaseUrl: string, docker: Docker, reconcilerLabel: string): Promise<void> {
    this.listen = new pg.Client({ connectionString: databaseUrl, application_name: 'highway-bench-trace' });
    await this.listen.connect();
    this.listen.on('notification', (n) => {
      const at = nowMs();
      // Payloads: "<id>", "<id> stop", "<id> <status> <removed 0|1>".
      const id = n.payload?.split(' ')[0];
      if (!id || !UUID.test(id)) return;
      const t = this.of(id);
      if (n.channel === CHANNELS.intent) t.notifyIntent.push(at);
      else if (n.channel === CHANNELS.done) t.notifyDone.push(at);
    });
    await this.listen.query(`LISTEN ${CHANNELS.intent}`);
    await this.listen.query(`LISTEN ${CHANNELS.done}`);

    const stream = (await docker.getEvents({ filters: { type: ['container'], label: [reconcilerLabel] } })) as unknown as NodeJS.ReadableStream;
    this.events = stream;
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      const receivedAt = nowMs();
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        const e = JSON.parse(line) as { Action?: string; Actor?: { Attributes?: Record<string, string> }; timeNano?: number };
        const id = e.Actor?.Attributes?.[LABELS.intentId];
        if (!id || !e.Action) continue;
        this.of(id).events.push({ action: e.Action, daemonAt: wallToMono((e.timeNano ?? 0) / 1e6), receivedAt });
      }
    });
    stream.on('error', () => {});
  }

  async stop(): Promise<void> {
    (this.events as unknown as { destroy?: () => void } | null)?.destroy?.();
    await this.listen?.end().catch(() => {});
  }

  /** Forget everything recorded so far (e.g. the warm-up). */
  clear(): void {
    this.intents.clear();
    this.untied.length = 0;
    this.poolWaiting.length = 0;
  }

  callStarted(): number {
    return nowMs();
  }

  callEnded(intentId: string, startedAt: number): void {
    const t = this.of(intentId);
    t.callStart = startedAt;
    t.callEnd = nowMs();
  }

  /** Intents whose caller got the result. */
  finishedIntents(): string[] {
    return [...this.intents.entries()].filter(([, t]) => t.callEnd !== undefined).map(([id]) => id);
  }

  /** Docker's StartedAt / FinishedAt (wall clock, ms) from the rows. */
  containerTimes(intentId: string, startedAt: Date | null, finishedAt: Date | null): void {
    const t = this.of(intentId);
    if (startedAt) t.startedAt = wallToMono(startedAt.getTime());
    if (finishedAt) t.finishedAt = wallToMono(finishedAt.getTime());
  }

  /** The reconciler's pool, with every query timed and attributed to the intent among its parameters. */
  wrapPool(pool: Pool): Pool {
    const query = async (text: unknown, values?: unknown[]) => {
      this.poolWaiting.push(pool.waitingCount);
      const start = nowMs();
      try {
        return await (pool.query as (t: unknown, v?: unknown[]) => Promise<unknown>)(text, values);
      } finally {
        const end = nowMs();
        const config = typeof text === 'string' ? null : (text as { text?: string; values?: unknown[] });
        const sql = config ? String(config.text ?? '') : (text as string);
        const id = (values ?? config?.values)?.find((v): v is string => typeof v === 'string' && UUID.test(v));
        if (id) this.of(id).queries.push({ what: classify(sql), start, end });
      }
    };
    return new Proxy(pool, {
      get: (target, prop) => {
        if (prop === 'query') return query;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  /** The reconciler's Docker client, with every call timed and attributed to its intent. */
  wrapClient(client: ContainerClient): ContainerClient {
    const intentOf = (nameOrId: string): string | undefined =>
      nameOrId.startsWith('highway-') ? nameOrId.slice('highway-'.length) : this.containerToIntent.get(nameOrId);
    const timed = async <T>(what: string, key: string | undefined, fn: () => Promise<T>): Promise<T> => {
      const start = nowMs();
      try {
        return await fn();
      } finally {
        const span = { what, start, end: nowMs() };
        const id = key ? intentOf(key) : undefined;
        if (id) this.of(id).docker.push(span);
        else this.untied.push(span);
      }
    };
    // Every method of the client; the ones below timed (a method added later is forwarded as is).
    return {
      ...client,
      docker: client.docker,
      breakerOpen: () => client.breakerOpen(),
      daemonId: () => client.daemonId(),
      ping: () => client.ping(),
      putArchive: (id, path, tar) => timed('put_archive', undefined, () => client.putArchive(id, path, tar)),
      readArchive: (id, path, consume) => timed('read_archive', undefined, () => client.readArchive(id, path, consume)),
      inspect: (nameOrId) => timed('inspect', nameOrId, () => client.inspect(nameOrId)),
      imageExists: (ref) => timed('image_exists', undefined, () => client.imageExists(ref)),
      pull: (ref, auth) => timed('pull', undefined, () => client.pull(ref, auth)),
      create: async (options) => {
        const name = options.name ?? '';
        const result = await timed('create', name, () => client.create(options));
        if ('id' in result && name.startsWith('highway-')) this.containerToIntent.set(result.id, name.slice('highway-'.length));
        return result;
      },
      start: (id) => timed('start', id, () => client.start(id)),
      kill: (id, signal) => timed('kill', id, () => client.kill(id, signal)),
      remove: (id) => timed('remove', id, () => client.remove(id)),
      logs: (id, max, o) => timed('logs', id, () => client.logs(id, max, o)),
      logsForRow: (id, max, o) => timed('logs', id, () => client.logsForRow(id, max, o)),
      list: (labels) => timed('list', undefined, () => client.list(labels)),
      listImages: () => timed('list_images', undefined, () => client.listImages()),
      execStart: (id, o) => timed('exec_start', id, () => client.execStart(id, o)),
      execInspect: (execId) => timed('exec_inspect', undefined, () => client.execInspect(execId)),
      top: (id, psArgs) => timed('top', id, () => client.top(id, psArgs)),
      logLines: (id, o) => timed('log_lines', id, () => client.logLines(id, o)),
      inspectRaw: (nameOrId) => timed('inspect_raw', nameOrId, () => client.inspectRaw(nameOrId)),
    };
  }

  /** Every recorded point of one intent, in order, relative to its call (ms). */
  timeline(id: string): Array<{ at: number; what: string }> {
    const t = this.intents.get(id);
    if (!t || t.callStart === undefined) return [];
    const points: Array<{ at: number; what: string }> = [{ at: t.callStart, what: 'caller: tools.docker.run called' }];
    for (const n of t.notifyIntent) points.push({ at: n, what: 'NOTIFY highway_docker_intent received' });
    for (const n of t.notifyDone) points.push({ at: n, what: 'NOTIFY highway_docker_done received' });
    for (const q of t.queries) points.push({ at: q.start, what: `reconciler query ${q.what} (${(q.end - q.start).toFixed(1)} ms)` });
    for (const d of t.docker) points.push({ at: d.start, what: `reconciler docker ${d.what} (${(d.end - d.start).toFixed(1)} ms)` });
    for (const e of t.events) {
      points.push({ at: e.receivedAt, what: `docker event ${e.action} received (daemon time ${(e.daemonAt - t.callStart).toFixed(1)})` });
    }
    if (t.startedAt !== undefined) points.push({ at: t.startedAt, what: 'container StartedAt' });
    if (t.finishedAt !== undefined) points.push({ at: t.finishedAt, what: 'container FinishedAt (process exit)' });
    if (t.callEnd !== undefined) points.push({ at: t.callEnd, what: 'caller: result returned' });
    return points.sort((a, b) => a.at - b.at).map((p) => ({ at: round(p.at - t.callStart!), what: p.what }));
  }

  /** The intent whose total is the median: a typical timeline. */
  typicalIntent(): string | null {
    const done = [...this.intents.entries()].filter(([, t]) => t.callStart !== undefined && t.callEnd !== undefined);
    if (done.length === 0) return null;
    done.sort(([, a], [, b]) => a.callEnd! - a.callStart! - (b.callEnd! - b.callStart!));
    return done[Math.floor(done.length / 2)]![0];
  }

  /** Per-intent phase durations (ms) along the critical path, for the intents the caller saw finish. */
  breakdown(): Breakdown {
    const rows: Array<Record<string, number>> = [];
    const counts: Array<Record<string, number>> = [];
    for (const t of this.intents.values()) {
      if (t.callStart === undefined || t.callEnd === undefined) continue;
      const first = (spans: Span[], what: string) => spans.find((s) => s.what === what);
      const passes = t.queries.filter((q) => q.what === 'load_state');
      const create = first(t.docker, 'create');
      const start = first(t.docker, 'start');
      const logs = first(t.docker, 'logs');
      const remove = first(t.docker, 'remove');
      if (!create || !start || !logs || !remove || passes.length === 0) continue;
      const die = t.events.find((e) => e.action === 'die');
      // The reconcile pass that collected: the last load_state before the logs call.
      const collectPass = [...passes].reverse().find((p) => p.start <= logs.start);
      const row: Record<string, number> = {
        // (The tracer's own LISTEN hears the NOTIFY a little after the reconciler's: not a phase boundary.)
        'call -> pass 1 starts (validate, insert tx, NOTIFY)': passes[0]!.start - t.callStart,
        'pass 1: load, claim, inspect, image check': create.start - passes[0]!.start,
        'docker create': create.end - create.start,
        'after create: inspect, audit, patch': start.start - create.end,
        'docker start': start.end - start.start,
        'start returned -> logs call (waiting for the exit)': logs.start - start.end,
        '  of which: start returned -> process exit (FinishedAt)': (t.finishedAt ?? Number.NaN) - start.end,
        '  of which: exit -> die event received': die && t.finishedAt !== undefined ? die.receivedAt - t.finishedAt : Number.NaN,
        '  of which: die event -> collecting pass starts': die && collectPass ? collectPass.start - die.receivedAt : Number.NaN,
        '  of which: collecting pass: load, inspect': collectPass ? logs.start - collectPass.start : Number.NaN,
        'docker logs': logs.end - logs.start,
        'after logs: patch (result)': remove.start - logs.end,
        'docker remove': remove.end - remove.start,
        'removed -> caller returns (patch, audit, NOTIFY, re-read)': t.callEnd - remove.end,
        total: t.callEnd - t.callStart,
      };
      rows.push(row);
      counts.push({
        'reconcile passes': passes.length,
        'reconciler queries': t.queries.length,
        'docker calls': t.docker.length,
        'inspect calls': t.docker.filter((d) => d.what === 'inspect').length,
        'NOTIFY done': t.notifyDone.length,
        'docker events': t.events.length,
        'query time (ms)': t.queries.reduce((a, q) => a + q.end - q.start, 0),
      });
    }
    const typical = this.typicalIntent();
    const waiting = {
      p50: median(this.poolWaiting),
      p95: percentile(this.poolWaiting, 95),
      max: this.poolWaiting.length ? Math.max(...this.poolWaiting) : Number.NaN,
    };
    return new Breakdown(rows, counts, typical ? this.timeline(typical) : [], waiting);
  }
}

export class Breakdown {
  constructor(
    readonly rows: Array<Record<string, number>>,
    readonly counts: Array<Record<string, number>>,
    readonly typical: Array<{ at: number; what: string }>,
    readonly poolWaiting: { p50: number; p95: number; max: number },
  ) {}

  private static summary(rows: Array<Record<string, number>>): Array<{ phase: string; p50: number; p95: number; mean: number }> {
    if (rows.length === 0) return [];
    return Object.keys(rows[0]!).map((phase) => {
      const values = rows.map((r) => r[phase]!).filter((v) => Number.isFinite(v));
      return {
        phase,
        p50: round(median(values)),
        p95: round(percentile(values, 95)),
        mean: round(values.reduce((a, b) => a + b, 0) / values.length),
      };
    });
  }

  toJSON(): unknown {
    return {
      intents: this.rows.length,
      phases_ms: Breakdown.summary(this.rows),
      per_intent: Breakdown.summary(this.counts),
      typical_timeline_ms: this.typical,
      pool_waiting_at_query: this.poolWaiting,
    };
  }

  text(): string {
    if (this.rows.length === 0) return '(no complete traces)';
    const phases = Breakdown.summary(this.rows);
    const counts = Breakdown.summary(this.counts);
    return [
      `highway-docker critical path, per intent (${this.rows.length} intents; ms)`,
      formatTable(['phase', 'p50', 'p95', 'mean'], phases.map((p) => [p.phase, p.p50, p.p95, p.mean])),
      '',
      formatTable(['per intent', 'p50', 'p95', 'mean'], counts.map((p) => [p.phase, p.p50, p.p95, p.mean])),
      `clients waiting for a pool connection at a reconciler query: p50 ${this.poolWaiting.p50}, p95 ${this.poolWaiting.p95}, max ${this.poolWaiting.max}`,
      '',
      'timeline of the median intent (ms since the call)',
      formatTable(['at', 'what'], this.typical.map((p) => [p.at, p.what])),
    ].join('\n');
  }
}
