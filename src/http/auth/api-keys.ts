// Personal API keys, managed with a browser session only (a key cannot mint
// keys): list, create (shown once), revoke. Creating and revoking need a
// verified address and a recent sign-in, which the key service checks.
import { type Context, Hono } from "hono";
import { z } from "zod";
import { ServiceError } from "../../errors.ts";
import type { AccountView } from "./account.ts";
import { buttonPost, errorPage, readBody, validate } from "./body.ts";
import type { AuthEnv, AuthKit } from "./kit.ts";
import type { SessionMiddleware, SignedInEnv } from "./session.ts";

/** The key's name as text, and its lifetime: absent or "" for none, else a number the service checks. */
const createBody = z
  .object({ name: z.unknown(), expiresInDays: z.unknown(), expires_in_days: z.unknown() })
  .transform(({ name, expiresInDays, expires_in_days }) => {
    const days = expiresInDays ?? expires_in_days;
    return {
      name: typeof name === "string" ? name : "",
      expiresInDays: days === undefined || days === "" ? undefined : Number(days),
    };
  });

export function apiKeyRoutes(kit: AuthKit, session: SessionMiddleware, account: AccountView) {
  const { apiKeys, prefix } = kit;
  const app = new Hono<AuthEnv>();

  app.get("/api-keys", session.requireSession, async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json({ apiKeys: await apiKeys.list(c.get("user").id) });
  });

  app.post(
    "/api-keys",
    session.requireSession,
    errorPage(account.errorPage),
    readBody,
    validate(createBody),
    async (c) => {
      const created = await apiKeys.create({
        userId: c.get("user").id,
        ...c.get("body"),
        session: c.get("session"),
      });
      kit.audit("api_key.created", {
        userId: c.get("user").id,
        ...kit.meta(c),
        detail: { keyId: created.apiKey.id },
      });
      c.header("Cache-Control", "no-store");
      if (c.get("form"))
        return account.render(c, { newKey: { name: created.apiKey.name, key: created.key } });
      return c.json(created, 201);
    },
  );

  // The account page's button gets the page back with the message; DELETE and JSON get JSON.
  const revoke = async (c: Context<SignedInEnv>) => {
    if (!(await apiKeys.revoke(c.get("user").id, c.req.param("id") ?? "", c.get("session"))))
      throw new ServiceError("not_found", "No such API key.");
    kit.audit("api_key.revoked", {
      userId: c.get("user").id,
      ...kit.meta(c),
      detail: { keyId: c.req.param("id") },
    });
    return c.req.method === "DELETE"
      ? c.json({ status: "ok" })
      : c.redirect(`${prefix}/account`, 303);
  };
  app.delete(
    "/api-keys/:id",
    session.requireSession,
    errorPage(account.errorPage),
    buttonPost,
    revoke,
  );
  app.post(
    "/api-keys/:id/revoke",
    session.requireSession,
    errorPage(account.errorPage),
    buttonPost,
    revoke,
  );

  return app;
}
