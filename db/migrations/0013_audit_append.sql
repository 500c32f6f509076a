-- Appends one row to the audit chain: takes the chain's lock, reads its tail and the clock after
-- the lock is held (so time never runs backwards along the chain), and hashes exactly as
-- auditRowHash in api/services/audit.ts does, which verification checks row by row. A function,
-- so a writer can append in the very statement that makes its change: with no client round trip
-- between taking the lock and committing, the lock is held for the shortest possible time.
-- p_rest is the row's canonical form after `seq`, `id` and the time, computed by the caller.
-- Returns the stored row: a value of the table's own row type, so a caller can embed the call in
-- a larger statement and read the fields it needs.
CREATE FUNCTION "audit_append"(
  p_id text, p_actor_kind text, p_actor_id text, p_tenant_id text, p_ip text, p_user_agent text,
  p_request_id text, p_action text, p_resource_type text, p_resource_id text, p_outcome text,
  p_details jsonb, p_rest text
) RETURNS "audit_log" LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  tail record;
  appended "audit_log";
  next_seq bigint;
  prev text;
  at timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(7242180602);
  -- A volatile function's statements each take a fresh snapshot: this one sees every row
  -- committed before the lock was granted.
  SELECT l."seq", l."hash" INTO tail FROM "audit_log" l ORDER BY l."seq" DESC LIMIT 1;
  next_seq := coalesce(tail."seq", 0) + 1;
  prev := coalesce(tail."hash", repeat('0', 64));
  at := date_trunc('milliseconds', clock_timestamp());
  INSERT INTO "audit_log" AS l ("seq", "id", "occurred_at", "actor_kind", "actor_id",
      "tenant_id", "ip", "user_agent", "request_id", "action", "resource_type", "resource_id",
      "outcome", "details", "prev_hash", "hash")
    VALUES (next_seq, p_id, at, p_actor_kind, p_actor_id, p_tenant_id, p_ip, p_user_agent,
      p_request_id, p_action, p_resource_type, p_resource_id, p_outcome, p_details, prev,
      encode(sha256(convert_to(prev || chr(10) || '[' || next_seq || ',' || to_json(p_id)::text ||
        ',"' || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '",' ||
        p_rest, 'UTF8')), 'hex'))
    RETURNING * INTO appended;
  RETURN appended;
END
$$;
