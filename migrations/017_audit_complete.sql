-- The audit trail as the record of truth (see docs/audit.md):
-- 1. TRUNCATE is refused like UPDATE and DELETE, on the table and on every partition (a
--    statement trigger is not inherited: each partition gets its own, also those made later).
-- 2. Every audited field is bounded, whoever writes the row: tenant_id and actor at 200
--    characters, operation at 100, detail at 8192 characters of JSON. A longer value keeps its
--    head and ends with a marker "...[truncated: N chars, sha256:<16 hex>]"; a longer detail
--    becomes {"truncated": true, "chars": N, "sha256": "<hex>", "prefix": "<first 2048>"}.
-- 3. highway.ensure_audit_partitions(n) never fails for rows already in the default partition:
--    when the default holds rows of a month to be made, it is swapped for a new one and its rows
--    are moved, all in the function's one transaction. Months are UTC months, clipped to the
--    partitions that exist (older ones may have been made in another session time zone).

CREATE FUNCTION highway.audit_bound_text(v text, max_chars int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN v IS NULL OR length(v) <= max_chars THEN v
    ELSE left(v, max_chars - 64) || '...[truncated: ' || length(v) || ' chars, sha256:'
         || left(encode(sha256(convert_to(v, 'UTF8')), 'hex'), 16) || ']' END
$$;

CREATE FUNCTION highway.docker_audit_bound() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  t text;
BEGIN
  NEW.tenant_id := highway.audit_bound_text(NEW.tenant_id, 200);
  NEW.actor := highway.audit_bound_text(NEW.actor, 200);
  NEW.operation := highway.audit_bound_text(NEW.operation, 100);
  t := NEW.detail::text;
  IF length(t) > 8192 THEN
    NEW.detail := jsonb_build_object('truncated', true, 'chars', length(t),
      'sha256', encode(sha256(convert_to(t, 'UTF8')), 'hex'), 'prefix', left(t, 2048));
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER docker_audit_bound BEFORE INSERT ON highway.docker_audit
  FOR EACH ROW EXECUTE FUNCTION highway.docker_audit_bound();

-- TRUNCATE: on the table, and on each partition (truncating one directly fires only its own).
CREATE TRIGGER docker_audit_no_truncate BEFORE TRUNCATE ON highway.docker_audit
  FOR EACH STATEMENT EXECUTE FUNCTION highway.docker_audit_append_only();
DO $$
DECLARE p regclass;
BEGIN
  FOR p IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'highway.docker_audit'::regclass LOOP
    EXECUTE format('CREATE TRIGGER docker_audit_no_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION highway.docker_audit_append_only()', p);
  END LOOP;
END $$;

-- The range partitions of the audit table and their bounds.
CREATE FUNCTION highway.docker_audit_partition_bounds()
RETURNS TABLE (part regclass, lower_at timestamptz, upper_at timestamptz) LANGUAGE sql STABLE AS $$
  SELECT c.oid::regclass, b[1]::timestamptz, b[2]::timestamptz
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), $re$FROM \('([^']*)'\) TO \('([^']*)'\)$re$) AS b
   WHERE i.inhparent = 'highway.docker_audit'::regclass
$$;

CREATE OR REPLACE FUNCTION highway.ensure_audit_partitions(months_ahead int) RETURNS int
LANGUAGE plpgsql SET timezone = 'UTC' AS $$
DECLARE
  made int := 0;
  m timestamptz := date_trunc('month', now());
  lo timestamptz;
  hi timestamptz;
  name text;
BEGIN
  -- One maker at a time (two leaders for a moment, a migration).
  PERFORM pg_advisory_xact_lock(hashtext('highway.ensure_audit_partitions'));
  FOR i IN 0..months_ahead LOOP
    name := format('docker_audit_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
    IF to_regclass('highway.' || name) IS NULL THEN
      -- The UTC month, clipped to the partitions next to it.
      SELECT greatest(m, coalesce(max(upper_at) FILTER (WHERE lower_at < m AND upper_at > m), m)),
             least(m + interval '1 month', coalesce(min(lower_at) FILTER (WHERE lower_at > m AND lower_at < m + interval '1 month'), m + interval '1 month'))
        INTO lo, hi FROM highway.docker_audit_partition_bounds();
      IF lo < hi AND NOT EXISTS (SELECT 1 FROM highway.docker_audit_partition_bounds() WHERE lower_at <= lo AND upper_at >= hi) THEN
        IF EXISTS (SELECT 1 FROM highway.docker_audit_default WHERE at >= lo AND at < hi) THEN
          -- Rows of that month wait in the default partition: a partition for it cannot be made
          -- while they are there. Swap the default for an empty one, make the month, and put the
          -- old default's rows back through the table (each lands in its partition).
          LOCK TABLE highway.docker_audit IN ACCESS EXCLUSIVE MODE;
          ALTER TABLE highway.docker_audit DETACH PARTITION highway.docker_audit_default;
          ALTER TABLE highway.docker_audit_default RENAME TO docker_audit_default_moving;
          CREATE TABLE highway.docker_audit_default PARTITION OF highway.docker_audit DEFAULT;
          CREATE TRIGGER docker_audit_no_truncate BEFORE TRUNCATE ON highway.docker_audit_default
            FOR EACH STATEMENT EXECUTE FUNCTION highway.docker_audit_append_only();
          EXECUTE format('CREATE TABLE highway.%I PARTITION OF highway.docker_audit FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
          INSERT INTO highway.docker_audit SELECT * FROM highway.docker_audit_default_moving;
          DROP TABLE highway.docker_audit_default_moving;
        ELSE
          EXECUTE format('CREATE TABLE highway.%I PARTITION OF highway.docker_audit FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
        END IF;
        EXECUTE format('CREATE TRIGGER docker_audit_no_truncate BEFORE TRUNCATE ON highway.%I FOR EACH STATEMENT EXECUTE FUNCTION highway.docker_audit_append_only()', name);
        made := made + 1;
      END IF;
    END IF;
    m := m + interval '1 month';
  END LOOP;
  RETURN made;
END $$;
