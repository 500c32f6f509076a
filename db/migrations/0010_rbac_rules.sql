-- Built-in roles are global and synced from code; custom roles belong to exactly one tenant.
ALTER TABLE "roles" ADD CONSTRAINT "roles_built_in_has_no_tenant"
  CHECK ("built_in" = ("tenant_id" IS NULL));
--> statement-breakpoint
-- Defence in depth behind the service's own check: a parent must be built-in or in the same
-- tenant, and following parents from the new row must never come back to it.
CREATE FUNCTION "roles_check_parent"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cursor_id text := NEW."parent_id";
  cursor_tenant text;
  depth int := 0;
BEGIN
  IF NEW."parent_id" IS NULL THEN RETURN NEW; END IF;
  SELECT "tenant_id" INTO cursor_tenant FROM "roles" WHERE "id" = NEW."parent_id";
  IF cursor_tenant IS NOT NULL AND cursor_tenant IS DISTINCT FROM NEW."tenant_id" THEN
    RAISE EXCEPTION 'role % cannot inherit from another tenant''s role', NEW."id"
      USING ERRCODE = 'check_violation';
  END IF;
  WHILE cursor_id IS NOT NULL LOOP
    IF cursor_id = NEW."id" OR depth > 32 THEN
      RAISE EXCEPTION 'role % would inherit from itself', NEW."id"
        USING ERRCODE = 'check_violation';
    END IF;
    SELECT "parent_id" INTO cursor_id FROM "roles" WHERE "id" = cursor_id;
    depth := depth + 1;
  END LOOP;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "roles_check_parent" BEFORE INSERT OR UPDATE OF "parent_id" ON "roles"
  FOR EACH ROW EXECUTE FUNCTION "roles_check_parent"();
--> statement-breakpoint
-- Grants are cached per auth epoch like session checks: any change to who may do what bumps it
-- in the same transaction, so it takes effect on the next request on every replica.
CREATE TRIGGER "roles_bump_auth_epoch" AFTER UPDATE OR DELETE ON "roles"
  FOR EACH STATEMENT EXECUTE FUNCTION "bump_auth_epoch"();
--> statement-breakpoint
CREATE TRIGGER "role_permissions_bump_auth_epoch"
  AFTER INSERT OR UPDATE OR DELETE ON "role_permissions"
  FOR EACH STATEMENT EXECUTE FUNCTION "bump_auth_epoch"();
--> statement-breakpoint
CREATE TRIGGER "user_roles_bump_auth_epoch" AFTER INSERT OR UPDATE OR DELETE ON "user_roles"
  FOR EACH STATEMENT EXECUTE FUNCTION "bump_auth_epoch"();
--> statement-breakpoint
-- last_used_* is touched once a minute per token and changes no decision: it does not bump.
CREATE TRIGGER "api_tokens_bump_auth_epoch"
  AFTER UPDATE OF "revoked_at", "expires_at", "permissions", "ip_allowlist", "user_id", "tenant_id"
    OR DELETE ON "api_tokens"
  FOR EACH STATEMENT EXECUTE FUNCTION "bump_auth_epoch"();
