-- A container is started at most once, ever: the start is a guarded transition recorded in the
-- row before the Docker call (see src/kinds/containers/effects.ts start). An exited container
-- is never started again, whichever process looks at it.
ALTER TABLE highway.docker_containers ADD COLUMN start_attempted_at timestamptz;

-- The intent notification says why: "<id>" for a new intent, "<id> stop" when its desired state
-- changed (a stop was asked for): the reconciler puts finishing work ahead of starting new work.
CREATE OR REPLACE FUNCTION highway.notify_docker_intent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('highway_docker_intent', NEW.id::text);
  ELSIF NEW.desired_state IS DISTINCT FROM OLD.desired_state THEN
    PERFORM pg_notify('highway_docker_intent', NEW.id::text || ' stop');
  END IF;
  IF TG_OP = 'UPDATE' AND (NEW.status IS DISTINCT FROM OLD.status OR NEW.removed_at IS DISTINCT FROM OLD.removed_at) THEN
    PERFORM pg_notify('highway_docker_done',
      NEW.id::text || ' ' || NEW.status || ' ' || CASE WHEN NEW.removed_at IS NULL THEN '0' ELSE '1' END);
  END IF;
  RETURN NULL;
END $$;
