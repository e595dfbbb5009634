-- Containers as workflow steps (docs/steps.md): the file a run names in `result_path`, read
-- back after its container exits and before it is removed, is stored with the output in the
-- same row update. `result` is the parsed JSON (or the text, as a JSON string); `result_error`
-- is {"code", "message"} when the file was missing, too large, not a file or not valid JSON.
-- `services` is the output of the run's sidecars by name: {"db": {"stdout", "stderr", "exit_code", "logs_truncated"}}.
ALTER TABLE highway.docker_containers
  ADD COLUMN result jsonb,
  ADD COLUMN result_error jsonb,
  ADD COLUMN services jsonb;
