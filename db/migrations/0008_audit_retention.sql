-- The anchors table is append-only too: a prune's record must not be edited away.
CREATE TRIGGER "audit_anchors_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_anchors"
  FOR EACH ROW EXECUTE FUNCTION "audit_log_reject_change"();
--> statement-breakpoint
CREATE TRIGGER "audit_anchors_no_truncate" BEFORE TRUNCATE ON "audit_anchors"
  FOR EACH STATEMENT EXECUTE FUNCTION "audit_log_reject_change"();
--> statement-breakpoint
-- Rows may leave the log only through audit_log_prune, which raises this transaction-local flag.
CREATE OR REPLACE FUNCTION "audit_log_reject_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_log'
     AND current_setting('caddis.audit_prune', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
--> statement-breakpoint
-- Retention: removes rows up to p_up_to_seq and records the anchor the kept chain starts from.
-- SECURITY DEFINER, so a database role without DELETE on audit_log (the API's, in production)
-- can prune only through here, and only from the oldest end: never a row in the middle.
CREATE FUNCTION "audit_log_prune"(p_up_to_seq bigint) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  first_kept record;
  removed bigint;
BEGIN
  SELECT "seq", "prev_hash" INTO first_kept FROM "audit_log"
    WHERE "seq" > p_up_to_seq ORDER BY "seq" LIMIT 1;
  IF first_kept IS NULL THEN
    RAISE EXCEPTION 'audit_log_prune: the newest row must be kept as the chain''s anchor';
  END IF;
  PERFORM set_config('caddis.audit_prune', 'on', true);
  DELETE FROM "audit_log" WHERE "seq" <= p_up_to_seq;
  GET DIAGNOSTICS removed = ROW_COUNT;
  PERFORM set_config('caddis.audit_prune', 'off', true);
  IF removed > 0 THEN
    INSERT INTO "audit_anchors" ("seq", "prev_hash", "pruned_rows")
      VALUES (first_kept."seq", first_kept."prev_hash", removed);
  END IF;
  RETURN removed;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION "audit_log_prune"(bigint) FROM PUBLIC;
