-- One NOTIFY fewer per container: a container that ended and that its reconciler removes next
-- (auto_remove, no gc protection, not lost) is announced once, at its removal, not also at its
-- end. Every NOTIFY takes PostgreSQL's commit-time notify lock, held through the commit's WAL
-- flush: with fsync on, notifying commits of every host run one after another (measured: 82 % of
-- the hosts' finishing time at 16 hosts waited on it, Lock:object). So a plain run costs two
-- notifying commits (its insert, its removal) instead of three.
--
-- Who listened to the end: a run's caller wakes at the removal of such a container already (its
-- result is settled only then, tools/docker-run.ts isSettled); `tools.docker.wait` and the cron
-- scheduler (a tick's run ended) now wake at the removal, which follows the end at once, with the
-- status in the payload. Kept containers (auto_remove false, gc protection), `lost` intents and
-- intents that end without a container (nothing to remove) are announced at their end as before.
CREATE OR REPLACE FUNCTION highway.notify_docker_intent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('highway_docker_intent', NEW.id::text);
  ELSIF NEW.desired_state IS DISTINCT FROM OLD.desired_state THEN
    PERFORM pg_notify('highway_docker_intent', NEW.id::text || ' stop');
  END IF;
  IF TG_OP = 'UPDATE'
     AND ((NEW.status IS DISTINCT FROM OLD.status
           AND ((NEW.status IN ('exited', 'failed', 'timeout', 'cancelled', 'lost')
                 AND (NEW.removed_at IS NOT NULL
                      OR NEW.status = 'lost'
                      OR NEW.container_id IS NULL
                      OR NEW.spec->>'auto_remove' = 'false'
                      OR jsonb_typeof(NEW.spec->'gc_protect_seconds') = 'number'
                      OR NEW.gc_protected_until IS NOT NULL))
                OR (NEW.status IN ('running', 'stopping') AND NEW.spec->>'detach' = 'true')))
          OR NEW.removed_at IS DISTINCT FROM OLD.removed_at) THEN
    PERFORM pg_notify('highway_docker_done',
      NEW.id::text || ' ' || NEW.status || ' ' || CASE WHEN NEW.removed_at IS NULL THEN '0' ELSE '1' END);
  END IF;
  RETURN NULL;
END $$;

-- `ps --all` (the newest intents, removed ones too) read every row and sorted them: 30 ms at
-- 20,000 intents, growing with the history (bench scenario `history`). By creation time it reads 200.
CREATE INDEX docker_containers_created_idx ON highway.docker_containers (created_at);
