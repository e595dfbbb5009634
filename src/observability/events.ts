import type { IntentRow } from '../model.js';

/**
 * The fields every event line about an intent carries, so one `grep intent_id` (or a
 * filter on tenant or run) follows a container through its whole life.
 */
export function intentEventFields(intent: IntentRow): Record<string, unknown> {
  return {
    intent_id: intent.id,
    tenant_id: intent.tenant_id,
    workflow_run_id: intent.workflow_run_id,
    activity_id: intent.activity_id,
    ...(intent.container_id ? { container_id: intent.container_id } : {}),
  };
}
