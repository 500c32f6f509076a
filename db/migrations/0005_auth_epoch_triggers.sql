-- A single row, so the epoch is one primary-key read.
ALTER TABLE "auth_epoch" ADD CONSTRAINT "auth_epoch_single_row" CHECK ("id");
--> statement-breakpoint
INSERT INTO "auth_epoch" ("id", "epoch") VALUES (true, 0);
--> statement-breakpoint
-- Bumped inside the changing transaction, so the new epoch becomes visible exactly when the
-- change does: a cached session check can never outlive a committed revocation.
CREATE FUNCTION "bump_auth_epoch"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "auth_epoch" SET "epoch" = "epoch" + 1;
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- last_seen_at is touched once a minute per session and changes no decision: it does not bump.
CREATE TRIGGER "sessions_bump_auth_epoch"
  AFTER UPDATE OF "revoked_at", "expires_at", "user_id" OR DELETE ON "sessions"
  FOR EACH STATEMENT EXECUTE FUNCTION "bump_auth_epoch"();
--> statement-breakpoint
CREATE TRIGGER "users_bump_auth_epoch" AFTER UPDATE OR DELETE ON "users"
  FOR EACH STATEMENT EXECUTE FUNCTION "bump_auth_epoch"();
--> statement-breakpoint
CREATE TRIGGER "memberships_bump_auth_epoch" AFTER INSERT OR UPDATE OR DELETE ON "memberships"
  FOR EACH STATEMENT EXECUTE FUNCTION "bump_auth_epoch"();
--> statement-breakpoint
CREATE TRIGGER "tenants_bump_auth_epoch" AFTER UPDATE OR DELETE ON "tenants"
  FOR EACH STATEMENT EXECUTE FUNCTION "bump_auth_epoch"();
