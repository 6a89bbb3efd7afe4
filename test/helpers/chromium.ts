// Headless Chromium for the browser journeys: Debian's build, started with the
// flags that keep it off the network (this machine's network is closed, and
// background requests would be refused many at a time). And what the
// accessibility tests ask of a page: axe-core's verdict, the focused element
// and whether it shows its focus, and a virtual authenticator for passkeys.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type CDPSession, chromium, type Page } from "playwright-core";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

let axeSource: string | undefined;

/**
 * axe-core's violations on the page (or within `include`), one line per
 * element: "<rule id> at <selector>: <help>". axe is evaluated through
 * DevTools, which the page's CSP does not govern; it runs with the page's
 * own scripts off too.
 */
export async function axeViolations(page: Page, include?: string): Promise<string[]> {
  axeSource ??= readFileSync(
    join(import.meta.dirname, "../../node_modules/axe-core/axe.min.js"),
    "utf8",
  );
  await page.evaluate(axeSource);
  return page.evaluate(async (context) => {
    type Violation = { id: string; help: string; nodes: { target: string[] }[] };
    // biome-ignore lint/suspicious/noExplicitAny: axe is a global the evaluation above defined
    const axe = (window as any).axe;
    const result: { violations: Violation[] } = await axe.run(context ?? document, {
      resultTypes: ["violations"],
    });
    return result.violations.flatMap((v) =>
      v.nodes.map((node) => `${v.id} at ${node.target.join(" ")}: ${v.help}`),
    );
  }, include);
}

export type FocusedElement = {
  /** tag#id.class, or "body" when nothing has the focus. */
  selector: string;
  tag: string;
  type: string | null;
  /** Its accessible-ish name: aria-label, text, or the value of an input. */
  name: string;
  /** Computed outline and box-shadow: "none" for both means no visible focus. */
  outline: string;
  boxShadow: string;
  /** The element is inside the visible viewport after scrolling into view. */
  visible: boolean;
};

/** What has the keyboard focus now, and how it shows it. */
export function focusedElement(page: Page): Promise<FocusedElement> {
  return page.evaluate(() => {
    const element = document.activeElement as HTMLElement | null;
    if (!element || element === document.body)
      return {
        selector: "body",
        tag: "body",
        type: null,
        name: "",
        outline: "none",
        boxShadow: "none",
        visible: false,
      };
    const style = getComputedStyle(element);
    const rect = element.getBoundingClientRect();
    const classes = Array.from(element.classList)
      .map((name) => `.${name}`)
      .join("");
    return {
      selector: `${element.tagName.toLowerCase()}${element.id ? `#${element.id}` : ""}${classes}`,
      tag: element.tagName.toLowerCase(),
      type: element.getAttribute("type"),
      name: (
        element.getAttribute("aria-label") ??
        element.textContent ??
        (element as HTMLInputElement).value ??
        ""
      ).trim(),
      outline:
        style.outlineStyle === "none" || style.outlineWidth === "0px"
          ? "none"
          : `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor}`,
      boxShadow: style.boxShadow,
      visible: rect.width > 0 && rect.height > 0,
    };
  });
}

/** A platform authenticator that answers at once, for passkeys (after `WebAuthn.enable`). */
export async function addVirtualAuthenticator(cdp: CDPSession): Promise<string> {
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return authenticatorId;
}
