-- Durable cron: which instants a schedule has decided, so that a backfill never runs a tick
-- again once retention pruned its row. `decided` holds every span whose fire times were taken
-- by the scheduler (each pass adds (last_tick_at, its last decided fire time]) or requested by a
-- backfill (its [from, to)); the time a schedule spent paused, or skipped by an update, is not
-- in it, so a backfill can still run that. A backfill writes only fire times outside it.
ALTER TABLE highway.docker_schedules ADD COLUMN decided tstzmultirange NOT NULL DEFAULT '{}';

-- Schedules made before this column: which of their ticks were pruned is unknown, so everything
-- from their creation to their last decided fire time counts as decided (never run twice; a
-- backfill of a pause from before this migration adds nothing).
UPDATE highway.docker_schedules
   SET decided = tstzmultirange(tstzrange(created_at, last_tick_at, '[]'))
 WHERE last_tick_at >= created_at;
