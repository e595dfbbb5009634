import type { OverlapPolicy } from './decide.js';

/** A validated schedule, as stored (validateSchedule in operations.ts). */
export interface ScheduleDefinition {
  name: string;
  expression: string;
  timezone: string;
  start_at: Date | null;
  end_at: Date | null;
  jitter_s: number;
  overlap: OverlapPolicy;
  catchup_window_s: number;
  pause_on_failure: boolean;
  keep_succeeded: number;
  keep_failed: number;
  paused: boolean;
  pause_note: string | null;
  /** The validated parameters with their schema version (the tick reads them by it). */
  params: Record<string, unknown>;
}

/** A row of highway.docker_schedules: its definition, and its tenant and progress. */
export interface ScheduleRow extends ScheduleDefinition {
  id: string;
  tenant_id: string;
  last_tick_at: Date;
  next_fire_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type TickStatus = 'pending' | 'buffered' | 'started' | 'skipped' | 'missed' | 'failed';
export type TickSource = 'schedule' | 'trigger' | 'backfill';

/** A row of highway.docker_schedule_ticks. */
export interface TickRow {
  id: string;
  schedule_id: string;
  scheduled_time: Date;
  source: TickSource;
  status: TickStatus;
  overlap: OverlapPolicy | null;
  reason: string | null;
  intent_id: string | null;
  outcome: string | null;
  lateness_ms: number | null;
  created_at: Date;
  updated_at: Date;
}

export const SCHEDULE_CHANNEL = 'highway_docker_schedule';
