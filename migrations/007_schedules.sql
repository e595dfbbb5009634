-- Durable cron: schedules (per tenant, unique name) and their ticks (one row per schedule and
-- scheduled time, written in the same transaction as the tick's run intent: every tick once).

CREATE TABLE highway.docker_schedules (
  id                uuid PRIMARY KEY,
  tenant_id         text NOT NULL,
  name              text NOT NULL,
  expression        text NOT NULL,
  timezone          text NOT NULL DEFAULT 'UTC',
  start_at          timestamptz,
  end_at            timestamptz,
  jitter_s          integer NOT NULL DEFAULT 0 CHECK (jitter_s >= 0),
  overlap           text NOT NULL DEFAULT 'skip'
    CHECK (overlap IN ('skip', 'buffer_one', 'buffer_all', 'cancel_other', 'allow_all')),
  catchup_window_s  integer NOT NULL DEFAULT 60 CHECK (catchup_window_s >= 0),
  params            jsonb NOT NULL,                 -- validated run parameters of tools.docker.run
  paused            boolean NOT NULL DEFAULT false,
  pause_note        text,
  pause_on_failure  boolean NOT NULL DEFAULT false,
  keep_succeeded    integer NOT NULL DEFAULT 100 CHECK (keep_succeeded >= 0),
  keep_failed       integer NOT NULL DEFAULT 100 CHECK (keep_failed >= 0),
  last_tick_at      timestamptz NOT NULL DEFAULT now(), -- the schedule's fire times up to here are decided
  next_fire_at      timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);

CREATE TABLE highway.docker_schedule_ticks (
  id              bigserial PRIMARY KEY,
  schedule_id     uuid NOT NULL REFERENCES highway.docker_schedules (id) ON DELETE CASCADE,
  scheduled_time  timestamptz NOT NULL,
  source          text NOT NULL DEFAULT 'schedule' CHECK (source IN ('schedule', 'trigger', 'backfill')),
  -- pending: asked for (trigger, backfill), not yet decided; buffered: waits for the running tick;
  -- started: its intent is written; skipped / missed / failed (could not start): with a reason.
  status          text NOT NULL CHECK (status IN ('pending', 'buffered', 'started', 'skipped', 'missed', 'failed')),
  overlap         text CHECK (overlap IS NULL OR overlap IN ('skip', 'buffer_one', 'buffer_all', 'cancel_other', 'allow_all')),
  reason          text,
  intent_id       uuid,
  outcome         text,                              -- the intent's terminal status, once seen
  lateness_ms     integer,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (schedule_id, scheduled_time)
);
CREATE INDEX docker_schedule_ticks_intent_idx ON highway.docker_schedule_ticks (intent_id) WHERE intent_id IS NOT NULL;
CREATE INDEX docker_schedule_ticks_open_idx ON highway.docker_schedule_ticks (schedule_id)
  WHERE status IN ('pending', 'buffered') OR (status = 'started' AND outcome IS NULL);

--   highway_docker_schedule   schedule id   created, changed, deleted   -> the schedules kind
CREATE FUNCTION highway.notify_docker_schedule() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('highway_docker_schedule', OLD.id::text);
  ELSIF TG_OP = 'INSERT' OR NEW.updated_at IS DISTINCT FROM OLD.updated_at THEN
    -- The scheduler's own bookkeeping (last_tick_at, next_fire_at) does not touch updated_at.
    PERFORM pg_notify('highway_docker_schedule', NEW.id::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER docker_schedules_notify AFTER INSERT OR UPDATE OR DELETE ON highway.docker_schedules
  FOR EACH ROW EXECUTE FUNCTION highway.notify_docker_schedule();

-- A trigger or backfill request (a pending tick) wakes the schedule too.
CREATE FUNCTION highway.notify_docker_schedule_tick() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'pending' THEN
    PERFORM pg_notify('highway_docker_schedule', NEW.schedule_id::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER docker_schedule_ticks_notify AFTER INSERT ON highway.docker_schedule_ticks
  FOR EACH ROW EXECUTE FUNCTION highway.notify_docker_schedule_tick();
