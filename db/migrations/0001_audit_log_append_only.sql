-- The audit log is append-only: rows can be inserted, never changed or removed. Retention
-- pruning (a superuser-only, audited job) arrives with its own migration and rules.
CREATE FUNCTION "audit_log_reject_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
--> statement-breakpoint
CREATE TRIGGER "audit_log_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_log"
  FOR EACH ROW EXECUTE FUNCTION "audit_log_reject_change"();
--> statement-breakpoint
CREATE TRIGGER "audit_log_no_truncate" BEFORE TRUNCATE ON "audit_log"
  FOR EACH STATEMENT EXECUTE FUNCTION "audit_log_reject_change"();
--> statement-breakpoint
-- The hash chain needs a gap-free sequence; a row whose seq is not positive is never valid.
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_seq_positive" CHECK ("seq" > 0);
--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_action_format"
  CHECK ("action" ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$');
--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_outcome_known"
  CHECK ("outcome" IN ('success', 'failure', 'denied'));
--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_actor_kind_known"
  CHECK ("actor_kind" IN ('user', 'api_token', 'agent', 'system', 'anonymous'));
