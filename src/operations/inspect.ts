/**
 * tools.docker.inspect: the intent and, while it exists, the live container from its host
 * (secret values redacted). Rerun-safe (a read).
 */
import type { IntentRow } from '../model.js';
import { performInspect } from '../kinds/operations/effects.js';
import { inspectParams } from '../params/operations.js';
import { defineOperation } from './definition.js';

export interface InspectResult {
  intent: Record<string, unknown>;
  /** The live container from its host (secret values redacted); null once it is gone. */
  container: Record<string, unknown> | null;
}

export const inspectOperation = defineOperation({
  name: 'inspect',
  tool: 'tools.docker.inspect',
  schema: inspectParams,
  rerunSafe: true,

  async call({ intent, operate, raise }): Promise<InspectResult> {
    let container: Record<string, unknown> | null = null;
    if (intent.container_id && !intent.removed_at && intent.reconciler_id) {
      const op = await operate({ target: intent.id }, 30_000);
      if (op.status === 'done') container = op.result;
      else if (op.error_code !== 'not_running') raise(op);
    }
    return { intent: intentView(intent), container };
  },

  perform: (ctx, op, intent) => performInspect(ctx, op, intent),

  cli: {
    command: 'inspect',
    description: 'the intent and, while it exists, the live container from its host (secret values redacted), as JSON',
    arguments: [{ syntax: '<target>', description: 'intent id or container id (full or short)' }],
    options: [],
    params: ({ args: [target] }) => ({ target }),
    // JSON either way.
    print: (r) => void process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
  },
});

function intentView(r: IntentRow): Record<string, unknown> {
  return {
    intent_id: r.id,
    container_id: r.container_id,
    short_id: r.short_id,
    tenant_id: r.tenant_id,
    workflow_run_id: r.workflow_run_id,
    activity_id: r.activity_id,
    reconciler_id: r.reconciler_id,
    image: r.image,
    status: r.status,
    desired_state: r.desired_state,
    stop_reason: r.stop_reason,
    error: r.error,
    exit_code: r.exit_code,
    oom_killed: r.oom_killed,
    logs_truncated: r.logs_truncated,
    duration_ms: r.duration_ms,
    warnings: r.warnings,
    labels: r.labels,
    created_at: r.created_at,
    started_at: r.started_at,
    finished_at: r.finished_at,
    deadline_at: r.deadline_at,
    removed_at: r.removed_at,
    gc_protected_until: r.gc_protected_until,
    remove_requested_at: r.remove_requested_at ?? null,
    // The validated parameters: secret references (names), never secret values.
    spec: r.spec,
  };
}
