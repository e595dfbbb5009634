/** Shared checks of the fault-injection tests: nothing left behind, every intent ended once. */
import { expect } from 'chai';
import type Docker from 'dockerode';
import type { Pool } from '../../src/db/pool.js';
import { isTerminal, type IntentRow } from '../../src/model.js';
import { eventually } from './eventually.js';

export type Line = Record<string, unknown>;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Events that record an intent reaching a terminal state (one per intent, ever). */
const TERMINAL_EVENTS = new Set(['container.exited', 'intent.exited', 'intent.failed', 'intent.timeout', 'intent.cancelled', 'intent.lost']);

export function terminalEvents(lines: Line[], intentId: string): Line[] {
  return lines.filter((l) => l['intent_id'] === intentId && TERMINAL_EVENTS.has(String(l['event'])));
}

export async function containersWithLabel(docker: Docker, label: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [label] } });
}

export async function intentRows(pool: Pool, where: { column: 'workflow_run_id' | 'activity_id' | 'reconciler_id' | 'id'; value: string }): Promise<IntentRow[]> {
  const res = await pool.query<IntentRow>(`SELECT * FROM highway.docker_containers WHERE ${where.column} = $1`, [where.value]);
  return res.rows;
}

/**
 * The promise after every fault: no container with the test's label, every intent of the
 * given ids terminal with its container removed, and no intent that ended twice in the logs.
 */
export async function expectConverged(opts: { docker: Docker; label: string; pool: Pool; intentIds: string[]; logs: Line[][]; timeoutMs?: number }): Promise<IntentRow[]> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const rows = await eventually(
    async () => {
      const res = await opts.pool.query<IntentRow>('SELECT * FROM highway.docker_containers WHERE id = ANY($1::uuid[])', [opts.intentIds]);
      return res.rows.length === opts.intentIds.length && res.rows.every((r) => isTerminal(r.status) && r.removed_at) ? res.rows : null;
    },
    { what: `intents ${opts.intentIds.join(', ')} terminal and removed`, timeoutMs },
  ).catch(async (err: Error) => {
    const res = await opts.pool.query('SELECT id, status, removed_at, error FROM highway.docker_containers WHERE id = ANY($1::uuid[])', [opts.intentIds]);
    throw new Error(`${err.message}; rows: ${JSON.stringify(res.rows)}`);
  });
  await eventually(async () => (await containersWithLabel(opts.docker, opts.label)).length === 0, { what: `no container left with ${opts.label}`, timeoutMs: 10_000 }).catch(async (err: Error) => {
    const left = await containersWithLabel(opts.docker, opts.label);
    throw new Error(`${err.message}: ${left.map((c) => `${c.Names[0]} ${c.State}`).join(', ')}`);
  });
  const all = opts.logs.flat();
  for (const id of opts.intentIds) {
    const ends = terminalEvents(all, id);
    expect(ends.length, `terminal events of ${id}: ${JSON.stringify(ends.map((e) => e['event']))}`).to.be.at.most(1);
  }
  return rows;
}

/** Wait until a container (by id) no longer exists. Returns when it was seen gone. */
export async function waitContainerGone(docker: Docker, id: string, timeoutMs: number): Promise<number> {
  await eventually(
    async () => {
      try {
        await docker.getContainer(id).inspect();
        return false;
      } catch (err) {
        return (err as { statusCode?: number }).statusCode === 404;
      }
    },
    { what: `container ${id.slice(0, 12)} removed`, timeoutMs, everyMs: 25 },
  );
  return Date.now();
}

/** Latency report lines, printed once per run so they show up in the test output. */
export function report(name: string, ms: number): void {
  process.stdout.write(`      [measured] ${name}: ${Math.round(ms)} ms\n`);
}

/** One container event of the daemon's `/events` stream. */
export interface DaemonEvent {
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
}

/**
 * The daemon's container events for containers with `label`, as they happen, until stop().
 * A live subscription: the daemon keeps only its last 256 events for a later query.
 */
export async function watchEvents(docker: Docker, label: string): Promise<{ seen: DaemonEvent[]; count(action: string, containerId: string): number; stop(): void }> {
  const stream = (await docker.getEvents({ filters: { type: ['container'], label: [label] } })) as unknown as NodeJS.ReadableStream & { destroy(): void };
  const seen: DaemonEvent[] = [];
  let partial = '';
  stream.on('data', (c: Buffer) => {
    const lines = (partial + c.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) seen.push(JSON.parse(l) as DaemonEvent);
  });
  stream.on('error', () => {});
  return {
    seen,
    count: (action, containerId) => seen.filter((e) => e.Action === action && e.Actor.ID === containerId).length,
    stop: () => stream.destroy(),
  };
}
