-- One NOTIFY fewer per container: `running` and `stopping` wake only a detached run's caller
-- (tools.docker.run with detach); every other wait (run, wait, stop, remove, logs) ends on an
-- end or a removal. So those two are announced for detached intents only. A caller that
-- re-attaches with detach to an intent written without it sees `running` by its safety poll.
CREATE OR REPLACE FUNCTION highway.notify_docker_intent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('highway_docker_intent', NEW.id::text);
  ELSIF NEW.desired_state IS DISTINCT FROM OLD.desired_state THEN
    PERFORM pg_notify('highway_docker_intent', NEW.id::text || ' stop');
  END IF;
  IF TG_OP = 'UPDATE'
     AND ((NEW.status IS DISTINCT FROM OLD.status
           AND (NEW.status IN ('exited', 'failed', 'timeout', 'cancelled', 'lost')
                OR (NEW.status IN ('running', 'stopping') AND NEW.spec->>'detach' = 'true')))
          OR NEW.removed_at IS DISTINCT FROM OLD.removed_at) THEN
    PERFORM pg_notify('highway_docker_done',
      NEW.id::text || ' ' || NEW.status || ' ' || CASE WHEN NEW.removed_at IS NULL THEN '0' ELSE '1' END);
  END IF;
  RETURN NULL;
END $$;
