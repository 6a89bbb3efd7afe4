// The operator's journey in headless Chromium through real nginx in front of
// two gatehouse replicas sharing PostgreSQL and Redis (60 s caches, so only
// revocation messages can end a cached session): the admin invites an
// address from the console, the invitee opens the mailed link (real SMTP
// listener), chooses a password and lands signed in with the role; the admin
// disables them from the console (confirming on a page), and their next
// requests through nginx, whichever replica answers, are refused.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { loadConfig } from "../../src/config.ts";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { createLogger } from "../../src/logger.ts";
import { connectRedis, type SharedRedis } from "../../src/redis/client.ts";
import { createPostgresDatabase } from "../helpers/backends.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { startEchoApp } from "../helpers/echo-app.ts";
import {
  GOOD_PASSWORD,
  type RunningGatehouse,
  startGatehouse,
  uniqueEmail,
} from "../helpers/gatehouse.ts";
import { startNginx } from "../helpers/nginx.ts";
import { freePort } from "../helpers/ports.ts";
import { startRedis } from "../helpers/redis-server.ts";
import { linkTo, type RunningSmtp, startSmtp } from "../helpers/smtp.ts";

let redis: Awaited<ReturnType<typeof startRedis>>;
let smtp: RunningSmtp;
let app: Awaited<ReturnType<typeof startEchoApp>>;
let nginx: Awaited<ReturnType<typeof startNginx>>;
let browser: Browser;
let base: string;
const databases: DatabaseHandle[] = [];
const shared: SharedRedis[] = [];
const replicas: RunningGatehouse[] = [];

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  [redis, smtp, app] = await Promise.all([startRedis(), startSmtp(), startEchoApp()]);
  const url = await createPostgresDatabase();
  for (let i = 0; i < 2; i++) {
    const database = await openDatabase({ kind: "postgres", url });
    const client = connectRedis(
      loadConfig({ REDIS_URL: redis.url }),
      createLogger("silent"),
    ) as SharedRedis;
    databases.push(database);
    shared.push(client);
    replicas.push(
      await startGatehouse(
        database,
        {
          PUBLIC_URL: base,
          DATABASE_URL: url,
          REDIS_URL: redis.url,
          SMTP_URL: smtp.url,
          SESSION_CACHE_TTL: "60s",
          REGISTRATION_MODE: "invite",
        },
        { redis: client },
      ),
    );
  }
  nginx = await startNginx({
    gatehousePort: replicas[0]?.port as number,
    gatehousePorts: replicas.map((replica) => replica.port),
    appPort: app.port,
    port,
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await nginx?.stop();
  await app?.stop();
  for (const replica of replicas) await replica.stop();
  for (const client of shared) await client.close();
  for (const database of databases) await database.close();
  await redis?.stop();
  await smtp?.stop();
});

test("invite from the console, accept from the mail with the role, disable: refused on every replica", async () => {
  const [first] = replicas as [RunningGatehouse];
  // The first admin, as the CLI's `users create --email … --role admin` and a reset would make it.
  const bossEmail = uniqueEmail("boss");
  await first.gatehouse.invitations.create(
    { email: bossEmail, roles: ["admin"] },
    { actorId: "cli" },
  );
  const bossLink = linkTo(await smtp.next(bossEmail), "/invitation");
  const admin = await browser.newContext();
  const console_ = await admin.newPage();
  await console_.goto(bossLink.href);
  await console_.getByLabel("Choose a password").fill(GOOD_PASSWORD);
  await console_.getByRole("button", { name: "Create my account" }).click();
  await console_.waitForURL(/\/auth\/account/);

  // The admin invites a colleague with a role.
  const invitee = uniqueEmail("colleague");
  await console_.goto(`${base}/auth/admin/invitations`);
  await console_.getByLabel("Address to invite").fill(invitee);
  await console_.getByLabel("Roles, separated by commas (optional)").fill("editor");
  await console_.getByRole("button", { name: "Send the invitation" }).click();
  await console_.waitForURL(/done=invite/);
  assert.ok((await console_.content()).includes(invitee));

  // The colleague accepts from the mail and lands signed in, with the role.
  const colleague = await (await browser.newContext()).newPage();
  await colleague.goto(linkTo(await smtp.next(invitee), "/invitation").href);
  assert.ok((await colleague.content()).includes(invitee));
  await colleague.getByLabel("Choose a password").fill(GOOD_PASSWORD);
  await colleague.getByRole("button", { name: "Create my account" }).click();
  await colleague.waitForURL(/\/auth\/account/);
  for (let i = 0; i < 4; i++) {
    await colleague.goto(`${base}/projects/${i}`);
    const echoed = JSON.parse(((await colleague.locator("body").textContent()) ?? "").trim());
    assert.equal(echoed.headers["x-auth-email"], invitee);
    assert.equal(echoed.headers["x-auth-roles"], "editor");
  }

  // The admin finds and disables them, confirming on a page.
  await console_.goto(`${base}/auth/admin/users?q=${encodeURIComponent(invitee)}`);
  await console_.getByRole("link", { name: invitee }).click();
  await console_.getByRole("button", { name: "Disable the account" }).click();
  assert.ok((await console_.content()).includes("Every session and API key stops working"));
  await console_.getByRole("button", { name: "Disable the account" }).click();
  await console_.waitForURL(/done=disable/);

  // Their next requests, whichever replica answers, go to the login page.
  for (let i = 0; i < 4; i++) {
    await colleague.goto(`${base}/projects/${i}`);
    assert.equal(new URL(colleague.url()).pathname, "/auth/login", `request ${i}`);
  }
  await colleague.getByLabel("Email").fill(invitee);
  await colleague.getByLabel("Password").fill(GOOD_PASSWORD);
  await colleague.getByRole("button", { name: "Sign in" }).click();
  assert.ok((await colleague.content()).includes("This account is disabled."));
});
