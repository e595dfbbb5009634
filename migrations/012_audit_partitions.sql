-- The audit trail, partitioned by month: it is never deleted from (a trigger refuses UPDATE and
-- DELETE), and a month is archived by detaching its partition (ALTER TABLE highway.docker_audit
-- DETACH PARTITION highway.docker_audit_y2026m01), dumping it, and keeping or dropping the dump:
-- an operator's decision, never the product's. highway.ensure_audit_partitions(n) makes the
-- partitions of this month and the next n (the cluster leader calls it); a row outside them
-- lands in the default partition, so a write never fails for want of one.
ALTER TABLE highway.docker_audit RENAME TO docker_audit_before_partitions;
ALTER INDEX highway.docker_audit_intent_idx RENAME TO docker_audit_before_partitions_intent_idx;
ALTER SEQUENCE highway.docker_audit_id_seq OWNED BY NONE;

CREATE TABLE highway.docker_audit (
  id          bigint NOT NULL DEFAULT nextval('highway.docker_audit_id_seq'),
  at          timestamptz NOT NULL DEFAULT now(),
  tenant_id   text,
  actor       text,
  intent_id   uuid,
  operation   text NOT NULL,
  outcome     text NOT NULL CHECK (outcome IN ('ok', 'denied', 'error')),
  detail      jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
ALTER SEQUENCE highway.docker_audit_id_seq OWNED BY highway.docker_audit.id;
CREATE INDEX docker_audit_intent_idx ON highway.docker_audit (intent_id);
CREATE TABLE highway.docker_audit_default PARTITION OF highway.docker_audit DEFAULT;

CREATE FUNCTION highway.ensure_audit_partitions(months_ahead int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  made int := 0;
  m date := date_trunc('month', now())::date;
  name text;
BEGIN
  FOR i IN 0..months_ahead LOOP
    name := format('docker_audit_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
    IF to_regclass('highway.' || name) IS NULL THEN
      EXECUTE format('CREATE TABLE highway.%I PARTITION OF highway.docker_audit FOR VALUES FROM (%L) TO (%L)',
                     name, m, (m + interval '1 month')::date);
      made := made + 1;
    END IF;
    m := (m + interval '1 month')::date;
  END LOOP;
  RETURN made;
END $$;

-- The months the existing rows fall in, then this month and the next two.
DO $$
DECLARE m date;
BEGIN
  FOR m IN SELECT DISTINCT date_trunc('month', at)::date FROM highway.docker_audit_before_partitions
           WHERE at < date_trunc('month', now()) LOOP
    EXECUTE format('CREATE TABLE highway.%I PARTITION OF highway.docker_audit FOR VALUES FROM (%L) TO (%L)',
                   format('docker_audit_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM')), m, (m + interval '1 month')::date);
  END LOOP;
END $$;
SELECT highway.ensure_audit_partitions(2);

INSERT INTO highway.docker_audit SELECT id, at, tenant_id, actor, intent_id, operation, outcome, detail
  FROM highway.docker_audit_before_partitions;
DROP TABLE highway.docker_audit_before_partitions;

CREATE TRIGGER docker_audit_append_only BEFORE UPDATE OR DELETE ON highway.docker_audit
  FOR EACH ROW EXECUTE FUNCTION highway.docker_audit_append_only();
