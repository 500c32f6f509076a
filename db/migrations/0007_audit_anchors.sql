CREATE TABLE "audit_anchors" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"prev_hash" text NOT NULL,
	"pruned_rows" bigint NOT NULL,
	"pruned_at" timestamp with time zone DEFAULT now() NOT NULL
);
