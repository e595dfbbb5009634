import type { OverlapPolicy } from './decide.js';

/** A row of highway.docker_schedules. */
export interface ScheduleRow {
  id: string;
  tenant_id: string;
  name: string;
  expression: string;
  timezone: string;
  start_at: Date | null;
  end_at: Date | null;
  jitter_s: number;
  overlap: OverlapPolicy;
  catchup_window_s: number;
  params: Record<string, unknown>;
  paused: boolean;
  pause_note: string | null;
  pause_on_failure: boolean;
  keep_succeeded: number;
  keep_failed: number;
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
