CREATE TABLE "site_codes" (
	"id" text PRIMARY KEY NOT NULL,
	"sign_in_id" text NOT NULL,
	"user_id" text NOT NULL,
	"host" text NOT NULL,
	"site" text NOT NULL,
	"state_hash" text NOT NULL,
	"return_to" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "sign_in_id" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "site" text;--> statement-breakpoint
ALTER TABLE "site_codes" ADD CONSTRAINT "site_codes_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "sessions_sign_in_id_idx" ON "sessions" USING btree ("sign_in_id");