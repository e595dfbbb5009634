/**
 * One checker, run once after quiescence, over four independent records: the rows
 * (highway.docker_containers, schedule ticks), the audit trail (highway.docker_audit), Docker's
 * own event log of each daemon (recorded by the soak, not by the product), and what each caller
 * received. Each promise is an invariant; each violation names the intents involved, whose
 * whole history the report prints.
 */
import { exitCodeFor } from '../../src/cli/exit-codes.js';
import type { DockerRunResult } from '../../src/tools/docker-run.js';
import { isTerminal, type IntentRow } from '../../src/model.js';
import type { DockerEventRecord } from './docker-events.js';
import type { Caller, CronSchedule } from './workload.js';

export interface Violation {
  check: string;
  message: string;
  intents: string[];
  /** The caller involved, when one is (its number in the workload). */
  caller?: number;
}

export interface CheckInput {
  rows: IntentRow[];
  audit: Array<{ id: string; at: Date; tenant_id: string | null; actor: string | null; intent_id: string | null; operation: string; outcome: string; detail: Record<string, unknown> }>;
  ticks: Array<{ schedule_id: string; tenant_id: string; name: string; scheduled_time: Date; status: string; intent_id: string | null; reason: string | null; created_at: Date }>;
  schedules: Array<CronSchedule & { id: string; created_at: Date; paused_at: Date }>;
  events: DockerEventRecord[];
  callers: Caller[];
  /** Containers of ours still on a daemon after quiescence. */
  leftovers: Array<{ daemon: string; name: string; state: string; intent_id: string | null }>;
  /**
   * Bystander containers (another cluster's): whether each is still there and running, and Docker's
   * own log of what happened to it (recorded by the soak by the bystanders' own label).
   */
  bystanders: Bystander[];
  /**
   * When the soak itself took a daemon away (daemon_kill_restart: from the SIGKILL to a while after
   * the restart, as the daemon restores its containers and its containerd may die and restart too):
   * a bystander stopped then, on that daemon, was stopped by the soak, not by the product.
   */
  daemonFaults?: Array<{ daemon: string; from: number; to: number }>;
  /** Intents not terminal when the liveness bound expired. */
  notSettled: string[];
  livenessMs: number | null;
  livenessBoundMs: number;
  workerTimeoutS: number;
}

export interface Bystander {
  daemon: string;
  id: string;
  running: boolean;
  /** false when inspect said it is gone (removed); undefined when not known. */
  exists?: boolean;
  /** Its Docker events (container events by its label), in order. */
  events?: Array<{ action: string; timeNano: number }>;
}

/** What the soak itself does to a bystander: create it, and start it again after its own daemon restarts. */
const BYSTANDER_OURS = new Set(['create', 'start']);
/** What a daemon's crash and restart does to its running containers (no API call of anyone's). */
const BYSTANDER_DAEMON = new Set(['die', 'kill', 'stop', 'oom']);

export class Checks {
  readonly checks: Record<string, { checked: number; violated: number }> = {};
  readonly violations: Violation[] = [];

  ok(check: string): void {
    (this.checks[check] ??= { checked: 0, violated: 0 }).checked++;
  }

  bad(check: string, message: string, intents: Array<string | null | undefined>, caller?: number): void {
    const c = (this.checks[check] ??= { checked: 0, violated: 0 });
    c.checked++;
    c.violated++;
    this.violations.push({ check, message, intents: intents.filter((x): x is string => !!x), ...(caller !== undefined ? { caller } : {}) });
  }

  expect(check: string, cond: boolean, message: () => string, intents: Array<string | null | undefined>, caller?: number): void {
    if (cond) this.ok(check);
    else this.bad(check, message(), intents, caller);
  }
}

const nameOf = (id: string) => `highway-${id}`;

/** An error that only says the database was unreachable for a moment (the caller could not tell anything else). */
function isDbOutage(got: { code?: string; message?: string }): boolean {
  return /^(ECONNREFUSED|ECONNRESET|EPIPE|57P0[123]|08...)$/.test(got.code ?? '') || /Connection terminated|connection timeout|terminating connection/i.test(got.message ?? '');
}

/** Output that may be cut (logs_truncated, an interrupted output): a prefix of what was expected. */
function outputMatches(got: string | null | undefined, want: string | undefined, mayBeCut: boolean): boolean {
  if (want === undefined) return true;
  const g = got ?? '';
  return mayBeCut ? want.startsWith(g) : g === want;
}

export function check(input: CheckInput): Checks {
  const c = new Checks();
  const rowById = new Map(input.rows.map((r) => [r.id, r]));

  // 1. Every intent reaches a terminal state (liveness after the last fault).
  for (const r of input.rows) {
    c.expect('intent_terminal', isTerminal(r.status), () => `intent ${r.id} ended the run ${r.status}`, [r.id]);
  }
  c.expect('liveness', input.notSettled.length === 0, () => `${input.notSettled.length} intents not settled ${input.livenessBoundMs} ms after the last fault healed`, input.notSettled);

  // 2. Every caller returned, and got exactly the row's result (no wrong exit code).
  for (const k of input.callers) {
    const row = k.intent_id ? rowById.get(k.intent_id) : undefined;
    const hung = k.steps.some((s) => s.what === 'hang');
    // A killed worker (no heartbeat any more): its intent ends worker_lost, unless it ended by itself first.
    for (const f of row ? k.faults.filter((x) => x.startsWith('worker_kill@')) : []) {
      const at = Date.parse(f.slice('worker_kill@'.length));
      const ended = row!.finished_at ? row!.finished_at.getTime() : Infinity;
      const byItself = (row!.status === 'exited' || row!.status === 'failed') && ended - at <= (input.workerTimeoutS + 5) * 1000;
      c.expect('dead_worker_stops_intent', ended <= at || byItself || row!.stop_reason === 'worker_lost' || row!.status === 'lost', () => `caller #${k.n}: its worker was killed at ${f.slice(12)}, but intent ${row!.id} ended ${row!.status}/${row!.stop_reason} at ${row!.finished_at?.toISOString()}`, [row!.id], k.n);
    }
    c.expect('caller_returned', k.received !== null && !hung, () => `caller #${k.n} (${k.op}) did not return`, [k.intent_id], k.n);
    if (!k.received) continue;
    if (k.op === 'cross_tenant') {
      // 7. Tenant isolation: another tenant's intent is "not found", never answered, never stopped.
      for (const s of k.steps.filter((s) => s.what.startsWith('tools.docker.'))) {
        const got = s.got as { kind?: string; message?: string; code?: string };
        const victim = (k.steps.find((x) => x.what === 'victim')?.got as { intent_id?: string })?.intent_id;
        if (got.kind === 'error' && isDbOutage(got)) {
          c.bad('tool_rides_db_outage', `caller #${k.n}: ${s.what} failed with ${got.code ?? ''} ${got.message ?? ''} while the database was away, instead of riding it out`, [], k.n);
          continue;
        }
        c.expect('tenant_isolation', got.kind === 'error' && (got.code === 'not_found' || /not found|no such/i.test(got.message ?? '')), () => `caller #${k.n} of ${k.tenant} got ${JSON.stringify(got).slice(0, 300)} from ${s.what} on another tenant's intent`, [victim]);
      }
      continue;
    }
    let result: DockerRunResult | null = null;
    if (k.received.kind === 'result') result = k.received.result;
    if (k.received.kind === 'cli') {
      result = k.received.result;
      const killed = k.received.signal === 'SIGKILL';
      if (result && !result.intent_id) {
        // An error document (`run --json` could not write its intent): a non-zero exit, and no intent behind it.
        const exit = k.received.exit;
        c.expect('caller_exit_code', killed || (exit !== null && exit !== 0), () => `caller #${k.n} (cli run) printed an error ${JSON.stringify(result).slice(0, 300)} and exited ${exit}`, [k.intent_id], k.n);
        c.expect('caller_got_result', !row, () => `caller #${k.n} (cli run) printed an error ${JSON.stringify(result).slice(0, 300)} but its intent ${row?.id} exists (${row?.status})`, [k.intent_id], k.n);
        continue;
      }
      if (!killed) {
        c.expect('caller_exit_code', result !== null && k.received.exit === exitCodeFor(result), () => `caller #${k.n} (cli run) exited ${k.received && (k.received as { exit: number | null }).exit} for result ${result ? `${result.status}/${result.exit_code}` : '(none printed)'}`, [k.intent_id]);
      }
    }
    for (const st of k.steps) {
      const g = st.got as { kind?: string; code?: string; message?: string };
      if (st.what === 'hang' || st.what === 'victim' || st.what.startsWith('tools.docker.')) continue;
      if (g?.kind === 'error' && isDbOutage(g)) c.bad('tool_rides_db_outage', `caller #${k.n} (${k.op}): ${st.what} failed with ${g.code ?? ''} ${g.message ?? ''} while the database was away, instead of riding it out`, [k.intent_id], k.n);
      else c.ok('tool_rides_db_outage');
    }
    if (k.via === 'tool' && !(k.received.kind === 'error' && isDbOutage(k.received))) c.ok('tool_rides_db_outage');
    if (k.received.kind === 'error' && isDbOutage(k.received)) {
      c.bad('tool_rides_db_outage', `caller #${k.n} (${k.op}) got ${k.received.code ?? ''} ${k.received.message} while the database was away, instead of its intent's result (${row?.status ?? 'no intent'})`, [k.intent_id], k.n);
      continue;
    }
    if (k.received.kind === 'error') {
      c.expect('caller_got_result', !row, () => `caller #${k.n} (${k.op}) got an error instead of its intent's result (${row?.status}): ${k.received && (k.received as { message: string }).message}`, [k.intent_id], k.n);
      continue;
    }
    if (!result) continue;
    if (!row) {
      c.bad('caller_got_result', `caller #${k.n} (${k.op}) got a result for an intent with no row (${result.intent_id})`, [result.intent_id], k.n);
      continue;
    }
    // A detached run's first answer is `running`; its final one is the wait's (compared here).
    const same =
      result.status === row.status &&
      (result.exit_code ?? null) === (row.exit_code ?? null) &&
      (result.stdout ?? '') === (row.stdout ?? '') &&
      (result.stderr ?? '') === (row.stderr ?? '') &&
      (result.stop_reason ?? null) === (row.stop_reason ?? null);
    c.expect('caller_got_row', same, () => `caller #${k.n} (${k.op}) got ${JSON.stringify({ status: result!.status, exit_code: result!.exit_code, stop_reason: result!.stop_reason, stdout: result!.stdout })} but the row says ${JSON.stringify({ status: row.status, exit_code: row.exit_code, stop_reason: row.stop_reason, stdout: row.stdout })}`, [row.id]);
    // Honest results against what the program does.
    const cut = result.logs_truncated || row.output_interrupted_at !== null;
    const e = k.expect;
    switch (result.status) {
      case 'exited':
        c.expect('result_honest', (e.exit_code === 0 || e.stop === true) && result.exit_code === 0 && outputMatches(result.stdout, e.stdout, cut) && outputMatches(result.stderr, e.stderr, cut), () => `caller #${k.n} (${k.op}) got exited/${result!.exit_code} stdout ${JSON.stringify(result!.stdout)} stderr ${JSON.stringify(result!.stderr)}; the program prints ${JSON.stringify(e.stdout)} ${JSON.stringify(e.stderr)} and exits ${e.exit_code}`, [row.id]);
        break;
      case 'failed':
        // No exit code: it never ran to an end (pull, create, start error), and says why. An exit
        // code: the program's own (the product also sets `error` for those, so it does not excuse one).
        if (result.exit_code === null) c.expect('result_honest', !!(result.error || result.stop_reason), () => `caller #${k.n} (${k.op}) got failed with no exit code and no error`, [row.id]);
        else c.expect('result_honest', e.exit_code !== undefined && e.exit_code !== 0 && result.exit_code === e.exit_code && outputMatches(result.stdout, e.stdout, cut), () => `caller #${k.n} (${k.op}) got failed/${result!.exit_code} (error ${JSON.stringify(result!.error)}, stdout ${JSON.stringify(result!.stdout)}); the program exits ${e.exit_code} printing ${JSON.stringify(e.stdout)}`, [row.id]);
        break;
      case 'timeout':
        c.expect('result_honest', e.timeout === true, () => `caller #${k.n} (${k.op}) got timeout for a run without a short timeout`, [row.id]);
        break;
      case 'cancelled': {
        const why = result.stop_reason;
        const fits =
          why !== null &&
          (why !== 'workflow_cancelled' || k.op === 'run_cancel') &&
          (why !== 'requested' || e.stop === true) &&
          ((why !== 'worker_lost' && why !== 'worker_shutdown') || k.via === 'cli');
        c.expect('result_honest', fits, () => `caller #${k.n} (${k.op}) got cancelled with stop_reason ${why}`, [row.id]);
        break;
      }
      case 'lost':
        c.expect('result_honest', !!(result.error || result.stop_reason), () => `caller #${k.n} (${k.op}) got lost without saying why`, [row.id]);
        break;
      default:
        c.bad('result_honest', `caller #${k.n} (${k.op}) got a non-terminal result ${result.status}`, [row.id]);
    }
  }

  // Rows no caller saw (cron runs, killed callers): still honest.
  for (const r of input.rows) {
    if (r.status === 'lost') c.expect('row_honest', !!(r.error || r.stop_reason), () => `intent ${r.id} is lost without an error or stop_reason`, [r.id]);
    else if (r.status === 'cancelled') c.expect('row_honest', !!r.stop_reason, () => `intent ${r.id} is cancelled without a stop_reason`, [r.id]);
    else if (r.status === 'exited') c.expect('row_honest', r.exit_code === 0, () => `intent ${r.id} exited with exit code ${r.exit_code}`, [r.id]);
    const env = (r.spec as { environment?: Record<string, string> }).environment ?? {};
    if (env['HIGHWAY_SCHEDULED_TIME'] && r.status === 'failed') {
      // Cron runs exit 0: a failure with an exit code is not the program's.
      c.expect('row_honest', r.exit_code === null && !!r.error, () => `cron run ${r.id} failed with exit code ${r.exit_code} (error ${JSON.stringify(r.error)}); its program exits 0`, [r.id]);
    }
    if (env['HIGHWAY_SCHEDULED_TIME'] && r.status === 'exited') {
      c.expect('row_honest', outputMatches(r.stdout, `tick-${env['HIGHWAY_SCHEDULED_TIME']}\n`, r.logs_truncated || r.output_interrupted_at !== null), () => `cron run ${r.id} exited with stdout ${JSON.stringify(r.stdout)}`, [r.id]);
    }
  }

  // 3. No intent's container started twice; no activity with two containers that ran. A
  // container created and never started (a create on a host that then handed the intent back,
  // its daemon gone) is a second container only if it was left: it must have been destroyed
  // (its create and remove audit rows are checked by audit_create / audit_remove).
  const starts = new Map<string, DockerEventRecord[]>();
  const createsByActivity = new Map<string, Set<string>>();
  const started = new Set<string>();
  const destroyed = new Set<string>();
  for (const ev of input.events) {
    if (ev.action === 'start') {
      starts.set(ev.name, [...(starts.get(ev.name) ?? []), ev]);
      started.add(`${ev.daemon}/${ev.id}`);
    }
    if (ev.action === 'destroy') destroyed.add(`${ev.daemon}/${ev.id}`);
    if (ev.action === 'create') {
      const a = ev.attributes['highway.activity_id'];
      if (a) createsByActivity.set(a, (createsByActivity.get(a) ?? new Set()).add(`${ev.daemon}/${ev.id}`));
    }
  }
  for (const r of input.rows) {
    const s = starts.get(nameOf(r.id)) ?? [];
    c.expect('single_start', s.length <= 1, () => `intent ${r.id}: its container started ${s.length} times (${s.map((x) => `${x.daemon}@${new Date(x.timeNano / 1e6).toISOString()}`).join(', ')})`, [r.id]);
    const cs = [...(createsByActivity.get(r.activity_id) ?? [])];
    const ran = cs.filter((k) => started.has(k));
    const leftUnstarted = cs.length > 1 ? cs.filter((k) => !started.has(k) && !destroyed.has(k)) : [];
    c.expect(
      'one_container_per_activity',
      ran.length <= 1 && leftUnstarted.length === 0,
      () => `activity ${r.activity_id}: ${cs.length} containers (${cs.map((k) => `${k}${started.has(k) ? ' started' : ''}${destroyed.has(k) ? ' destroyed' : ''}`).join(', ')})`,
      [r.id],
    );
  }

  // 4. No cron fire time with two runs, and each fire time inside the window has a tick.
  const fires = new Map<string, string[]>();
  for (const r of input.rows) {
    const env = (r.spec as { environment?: Record<string, string> }).environment ?? {};
    if (!env['HIGHWAY_SCHEDULED_TIME']) continue;
    const key = `${r.tenant_id}/${env['HIGHWAY_SCHEDULE']}@${env['HIGHWAY_SCHEDULED_TIME']}`;
    fires.set(key, [...(fires.get(key) ?? []), r.id]);
  }
  for (const [key, ids] of fires) c.expect('cron_once', ids.length === 1, () => `cron fire ${key} has ${ids.length} runs`, ids);
  for (const s of input.schedules) {
    const mine = input.ticks.filter((t) => t.schedule_id === s.id);
    const have = new Set(mine.map((t) => t.scheduled_time.getTime()));
    // Fire times after the first tick (the schedule's start) and before its pause, minus a margin for the pause itself.
    const first = Math.min(...mine.map((t) => t.scheduled_time.getTime()));
    if (!Number.isFinite(first)) {
      c.bad('cron_every_fire', `schedule ${s.name} (${s.overlap}) never ticked`, []);
      continue;
    }
    for (let t = first; t < s.paused_at.getTime() - 4_000; t += 3_000) {
      c.expect('cron_every_fire', have.has(t), () => `schedule ${s.tenant}/${s.name} (${s.overlap}): fire time ${new Date(t).toISOString()} has no run and no recorded reason`, []);
    }
    for (const t of mine) {
      if (t.status === 'started') c.expect('cron_every_fire', !!t.intent_id && rowById.has(t.intent_id), () => `schedule ${s.name}: tick ${t.scheduled_time.toISOString()} started without an intent`, [t.intent_id]);
      if (t.status === 'started' && t.intent_id) {
        const r = rowById.get(t.intent_id);
        const env = (r?.spec as { environment?: Record<string, string> } | undefined)?.environment ?? {};
        c.expect('cron_once', !r || env['HIGHWAY_SCHEDULED_TIME'] === t.scheduled_time.toISOString(), () => `tick ${t.scheduled_time.toISOString()} of ${s.name} points at intent ${t.intent_id} scheduled for ${env['HIGHWAY_SCHEDULED_TIME']}`, [t.intent_id]);
      }
    }
  }

  // 5. Nothing of ours left on any daemon; nothing of another cluster touched.
  c.expect('nothing_left', input.leftovers.length === 0, () => `left on the daemons: ${input.leftovers.map((l) => `${l.daemon}:${l.name}(${l.state})`).join(', ')}`, input.leftovers.map((l) => l.intent_id));
  for (const b of input.bystanders) {
    // Touched: any action on it but ours (create, start), unless the soak's own daemon fault did it;
    // and at the end still there and running, unless its last stop came from such a fault.
    const windows = (input.daemonFaults ?? []).filter((w) => w.daemon === b.daemon);
    const inFault = (ns: number) => windows.some((w) => ns / 1e6 >= w.from && ns / 1e6 <= w.to);
    const evs = b.events ?? [];
    const fmt = (e: { action: string; timeNano: number }) => `${e.action}@${new Date(e.timeNano / 1e6).toISOString()}`;
    const touched = evs.filter((e) => !BYSTANDER_OURS.has(e.action) && !(BYSTANDER_DAEMON.has(e.action) && inFault(e.timeNano)));
    const lastStop = [...evs].reverse().find((e) => !BYSTANDER_OURS.has(e.action));
    const stoppedByUs = !b.running && b.exists !== false && !!lastStop && BYSTANDER_DAEMON.has(lastStop.action) && inFault(lastStop.timeNano);
    const ok = touched.length === 0 && (b.running || stoppedByUs);
    c.expect(
      'other_cluster_untouched',
      ok,
      () =>
        `another cluster's container ${b.id.slice(0, 12)} on ${b.daemon} ${b.exists === false ? 'was removed' : b.running ? 'runs' : 'was stopped'}` +
        (touched.length ? `; touched: ${touched.map(fmt).join(', ')}` : '') +
        `; its events: ${evs.map(fmt).join(', ') || '(none)'}; the soak's daemon faults there: ${windows.map((w) => `${new Date(w.from).toISOString()}..${new Date(w.to).toISOString()}`).join(', ') || '(none)'}`,
      [],
    );
  }
  for (const r of input.rows) {
    if (isTerminal(r.status)) c.expect('nothing_left', !!r.removed_at || !!r.gc_protected_until, () => `intent ${r.id} (${r.status}) has no removed_at`, [r.id]);
  }

  // 6. Every create, remove and exec has its audit row; no audit row crosses tenants.
  const auditOf = new Map<string, CheckInput['audit']>();
  for (const a of input.audit) if (a.intent_id) auditOf.set(a.intent_id, [...(auditOf.get(a.intent_id) ?? []), a]);
  for (const ev of input.events) {
    const intent = ev.attributes['highway.intent_id'];
    if (!intent || !rowById.has(intent)) continue;
    const rows = auditOf.get(intent) ?? [];
    if (ev.action === 'create') {
      c.expect('audit_create', rows.some((a) => a.operation === 'container.create' && a.detail['container_id'] === ev.id), () => `container ${ev.id.slice(0, 12)} of intent ${intent} was created on ${ev.daemon} without a container.create audit row`, [intent]);
    }
    if (ev.action === 'destroy') {
      c.expect('audit_remove', rows.some((a) => (a.operation === 'container.remove' || a.operation === 'gc.orphan_removed') && a.detail['container_id'] === ev.id), () => `container ${ev.id.slice(0, 12)} of intent ${intent} was removed on ${ev.daemon} without a container.remove or gc audit row`, [intent]);
    }
  }
  for (const k of input.callers) {
    const ex = k.steps.find((s) => s.what === 'exec')?.got as { operation_id?: string } | undefined;
    if (ex?.operation_id && k.intent_id) {
      c.expect('audit_exec', (auditOf.get(k.intent_id) ?? []).some((a) => a.operation === 'container.exec' && a.detail['operation_id'] === ex.operation_id), () => `exec ${ex.operation_id} on intent ${k.intent_id} has no container.exec audit row`, [k.intent_id]);
      const got = ex as { exit_code?: number; stdout?: string; status?: string };
      c.expect('exec_result', got.status !== 'exited' || (got.exit_code === 0 && got.stdout === `exec-${k.n}\n`), () => `exec on intent ${k.intent_id} returned ${JSON.stringify(got).slice(0, 300)}`, [k.intent_id]);
    }
  }
  for (const a of input.audit) {
    if (!a.intent_id || !a.tenant_id) continue;
    const r = rowById.get(a.intent_id);
    if (r) c.expect('tenant_isolation', r.tenant_id === a.tenant_id, () => `audit row ${a.id} (${a.operation}) of tenant ${a.tenant_id} is about intent ${a.intent_id} of tenant ${r.tenant_id}`, [a.intent_id]);
  }
  return c;
}
