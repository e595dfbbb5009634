-- One round trip to write an intent: the engine rows it refers to (created when absent, and
-- refused when they belong to another tenant), the intent itself (idempotent per activity),
-- and its audit entry, atomically. Returns the activity's intent: the new one (its id is
-- p_id), or the one it already had.
CREATE FUNCTION highway.create_intent(
  p_id uuid, p_activity_id uuid, p_workflow_run_id uuid, p_tenant_id text, p_worker_id text,
  p_image text, p_spec jsonb, p_labels jsonb, p_warnings jsonb
) RETURNS highway.docker_containers
LANGUAGE plpgsql AS $$
DECLARE
  v_run_tenant text;
  v_row highway.docker_containers;
BEGIN
  INSERT INTO highway.workflow_runs (id, tenant_id) VALUES (p_workflow_run_id, p_tenant_id) ON CONFLICT (id) DO NOTHING;
  SELECT r.tenant_id INTO v_run_tenant FROM highway.workflow_runs r WHERE r.id = p_workflow_run_id;
  IF v_run_tenant IS DISTINCT FROM p_tenant_id THEN
    RAISE EXCEPTION 'workflow_run_id: run % not found for this tenant', p_workflow_run_id USING ERRCODE = 'no_data_found';
  END IF;
  INSERT INTO highway.activities (id, workflow_run_id) VALUES (p_activity_id, p_workflow_run_id) ON CONFLICT (id) DO NOTHING;

  INSERT INTO highway.docker_containers (id, activity_id, workflow_run_id, tenant_id, worker_id, image, spec, labels, warnings)
  VALUES (p_id, p_activity_id, p_workflow_run_id, p_tenant_id, p_worker_id, p_image, p_spec, p_labels, p_warnings)
  ON CONFLICT (activity_id) DO NOTHING
  RETURNING * INTO v_row;
  IF FOUND THEN
    INSERT INTO highway.docker_audit (tenant_id, actor, intent_id, operation, outcome, detail)
    VALUES (p_tenant_id, p_worker_id, p_id, 'tools.docker.run', 'ok', jsonb_build_object('image', p_image));
    RETURN v_row;
  END IF;

  SELECT * INTO v_row FROM highway.docker_containers c WHERE c.activity_id = p_activity_id;
  IF v_row.tenant_id IS DISTINCT FROM p_tenant_id THEN
    RAISE EXCEPTION 'activity_id: activity % not found for this tenant', p_activity_id USING ERRCODE = 'no_data_found';
  END IF;
  RETURN v_row;
END $$;

-- The completion notification carries the status and whether the container is removed, so a
-- waiter re-reads the row only when it can be done: "<id> <status> <removed 0|1>".
CREATE OR REPLACE FUNCTION highway.notify_docker_intent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.desired_state IS DISTINCT FROM OLD.desired_state THEN
    PERFORM pg_notify('highway_docker_intent', NEW.id::text);
  END IF;
  IF TG_OP = 'UPDATE' AND (NEW.status IS DISTINCT FROM OLD.status OR NEW.removed_at IS DISTINCT FROM OLD.removed_at) THEN
    PERFORM pg_notify('highway_docker_done',
      NEW.id::text || ' ' || NEW.status || ' ' || CASE WHEN NEW.removed_at IS NULL THEN '0' ELSE '1' END);
  END IF;
  RETURN NULL;
END $$;
