CREATE TABLE "agent_commands" (
	"id" text PRIMARY KEY NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "agent_commands_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"host_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"site_id" text,
	"kind" text NOT NULL,
	"payload" jsonb NOT NULL,
	"body" text NOT NULL,
	"signature" text NOT NULL,
	"state" text DEFAULT 'queued' NOT NULL,
	"issued_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"not_before" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"deliveries" integer DEFAULT 0 NOT NULL,
	"result" jsonb,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "host_alerts" (
	"id" text PRIMARY KEY NOT NULL,
	"host_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"kind" text NOT NULL,
	"message" text NOT NULL,
	"raised_at" timestamp with time zone NOT NULL,
	"resolved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "host_metrics" (
	"host_id" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"cpu_percent" real NOT NULL,
	"load1" real NOT NULL,
	"load5" real NOT NULL,
	"load15" real NOT NULL,
	"memory_used_bytes" bigint NOT NULL,
	"memory_total_bytes" bigint NOT NULL,
	"disk_used_bytes" bigint NOT NULL,
	"disk_total_bytes" bigint NOT NULL,
	CONSTRAINT "host_metrics_host_id_at_pk" PRIMARY KEY("host_id","at")
);
--> statement-breakpoint
CREATE TABLE "hosts" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"is_local" boolean DEFAULT false NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"enrolment_token_hash" text,
	"enrolment_expires_at" timestamp with time zone,
	"public_key" text,
	"enrolled_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"agent_version" text,
	"protocol_version" integer,
	"mode" text,
	"mode_reason" text,
	"facts" jsonb,
	"inventory" jsonb,
	"desired_revision" bigint DEFAULT 1 NOT NULL,
	"observed_revision" bigint,
	"observed" jsonb,
	"observed_at" timestamp with time zone,
	"connected_replica" text,
	"connected_at" timestamp with time zone,
	"last_seen_at" timestamp with time zone,
	CONSTRAINT "hosts_enrolment_token_hash_unique" UNIQUE("enrolment_token_hash")
);
--> statement-breakpoint
ALTER TABLE "agent_commands" ADD CONSTRAINT "agent_commands_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "host_alerts" ADD CONSTRAINT "host_alerts_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "host_metrics" ADD CONSTRAINT "host_metrics_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "hosts" ADD CONSTRAINT "hosts_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "hosts" ADD CONSTRAINT "hosts_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agent_commands_host_seq_idx" ON "agent_commands" USING btree ("host_id","seq");--> statement-breakpoint
CREATE INDEX "agent_commands_open_idx" ON "agent_commands" USING btree ("host_id","seq") WHERE "agent_commands"."state" in ('queued', 'sent', 'running');--> statement-breakpoint
CREATE INDEX "host_alerts_tenant_idx" ON "host_alerts" USING btree ("tenant_id","raised_at");--> statement-breakpoint
CREATE UNIQUE INDEX "host_alerts_one_open" ON "host_alerts" USING btree ("host_id","kind") WHERE "host_alerts"."resolved_at" is null;--> statement-breakpoint
CREATE INDEX "host_metrics_at_idx" ON "host_metrics" USING btree ("at");--> statement-breakpoint
CREATE INDEX "hosts_tenant_idx" ON "hosts" USING btree ("tenant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "hosts_tenant_name_live_unique" ON "hosts" USING btree ("tenant_id","name") WHERE "hosts"."revoked_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "hosts_single_local" ON "hosts" USING btree ("is_local") WHERE "hosts"."is_local" and "hosts"."revoked_at" is null;--> statement-breakpoint
ALTER TABLE "agent_commands" ADD CONSTRAINT "agent_commands_state_check" CHECK ("state" in ('queued', 'sent', 'running', 'succeeded', 'failed', 'expired', 'superseded', 'cancelled'));
