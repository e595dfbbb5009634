-- highway.create_intent, tightened: an activity that already exists must belong to the run
-- the caller names (and so to the caller's tenant, which the run is checked against). Before,
-- an existing activity without an intent was taken whatever run it belonged to: tenant B could
-- start a container for an activity of tenant A's run. Another run's activity is "not found",
-- with the same message as an unknown one, so the answer does not tell that it exists.
CREATE OR REPLACE FUNCTION highway.create_intent(
  p_id uuid, p_activity_id uuid, p_workflow_run_id uuid, p_tenant_id text, p_worker_id text,
  p_image text, p_spec jsonb, p_labels jsonb, p_warnings jsonb
) RETURNS highway.docker_containers
LANGUAGE plpgsql AS $$
DECLARE
  v_run_tenant text;
  v_activity_run uuid;
  v_row highway.docker_containers;
BEGIN
  INSERT INTO highway.workflow_runs (id, tenant_id) VALUES (p_workflow_run_id, p_tenant_id) ON CONFLICT (id) DO NOTHING;
  SELECT r.tenant_id INTO v_run_tenant FROM highway.workflow_runs r WHERE r.id = p_workflow_run_id;
  IF v_run_tenant IS DISTINCT FROM p_tenant_id THEN
    RAISE EXCEPTION 'workflow_run_id: run % not found for this tenant', p_workflow_run_id USING ERRCODE = 'no_data_found';
  END IF;
  INSERT INTO highway.activities (id, workflow_run_id) VALUES (p_activity_id, p_workflow_run_id) ON CONFLICT (id) DO NOTHING;
  SELECT a.workflow_run_id INTO v_activity_run FROM highway.activities a WHERE a.id = p_activity_id;
  IF v_activity_run IS DISTINCT FROM p_workflow_run_id THEN
    RAISE EXCEPTION 'activity_id: activity % not found for this tenant', p_activity_id USING ERRCODE = 'no_data_found';
  END IF;

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
  IF v_row.tenant_id IS DISTINCT FROM p_tenant_id OR v_row.workflow_run_id IS DISTINCT FROM p_workflow_run_id THEN
    RAISE EXCEPTION 'activity_id: activity % not found for this tenant', p_activity_id USING ERRCODE = 'no_data_found';
  END IF;
  RETURN v_row;
END $$;
