// What a browser journey through nginx starts: the embedded database, one
// gatehouse with the journey's settings, an application (the echo app unless
// the journey brings its own), nginx from the shipped files in front of both
// on `port`, and Chromium. Stopped in the reverse order; a start that fails
// halfway stops what it had started before it throws.
import type { Browser } from "playwright-core";
import { type DatabaseHandle, openDatabase } from "../../src/db/client.ts";
import { launchChromium } from "./chromium.ts";
import { startEchoApp } from "./echo-app.ts";
import { type RunningGatehouse, startGatehouse } from "./gatehouse.ts";
import { type ProxyOptions, startNginx } from "./nginx.ts";
import { freePort } from "./ports.ts";

type App = { port: number; stop(): Promise<void> };
type EchoApp = Awaited<ReturnType<typeof startEchoApp>>;

export type BrowserStack<A extends App = EchoApp> = {
  /** The origin the browser uses: nginx, on the host name asked for. */
  base: string;
  database: DatabaseHandle;
  gatehouse: RunningGatehouse;
  app: A;
  browser: Browser;
  stop(): Promise<void>;
};

export async function startBrowserStack<A extends App = EchoApp>(
  options: {
    /** nginx's port, when the journey needs its origin before the stack starts. */
    port?: number;
    /** `localhost` where a browser would refuse an address (passkeys). */
    host?: "127.0.0.1" | "localhost";
    /** gatehouse's settings, PUBLIC_URL (the base) added. */
    env?: Record<string, string>;
    gatehouse?: Parameters<typeof startGatehouse>[2];
    nginx?: Pick<ProxyOptions, "authCache" | "editSite">;
    startApp?: () => Promise<A>;
  } = {},
): Promise<BrowserStack<A>> {
  const port = options.port ?? (await freePort());
  const base = `http://${options.host ?? "127.0.0.1"}:${port}`;
  const started: { stop(): Promise<unknown> }[] = [];
  const stop = async () => {
    for (let one = started.pop(); one; one = started.pop()) await one.stop();
  };
  try {
    const database = await openDatabase({ kind: "pglite" });
    started.push({ stop: () => database.close() });
    const gatehouse = await startGatehouse(
      database,
      { PUBLIC_URL: base, ...options.env },
      options.gatehouse,
    );
    started.push(gatehouse);
    const app = await (options.startApp ?? (startEchoApp as unknown as () => Promise<A>))();
    started.push(app);
    const nginx = await startNginx({
      gatehousePort: gatehouse.port,
      appPort: app.port,
      port,
      ...options.nginx,
    });
    started.push(nginx);
    const browser = await launchChromium();
    started.push({ stop: () => browser.close() });
    return { base, database, gatehouse, app, browser, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
