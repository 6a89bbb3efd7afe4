CREATE TABLE "provider_sessions" (
	"session_id" text PRIMARY KEY NOT NULL,
	"provider" text NOT NULL,
	"subject" text NOT NULL,
	"sid" text,
	"id_token" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "used_logout_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "provider_sessions" ADD CONSTRAINT "provider_sessions_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "provider_sessions_provider_sid_idx" ON "provider_sessions" USING btree ("provider","sid");--> statement-breakpoint
CREATE INDEX "provider_sessions_provider_subject_idx" ON "provider_sessions" USING btree ("provider","subject");--> statement-breakpoint
CREATE INDEX "used_logout_tokens_expires_idx" ON "used_logout_tokens" USING btree ("expires_at");