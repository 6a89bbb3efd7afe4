// The relying party passkeys are made for: its id (a domain), its name, and
// the origins whose pages may run the ceremonies. Derived from PUBLIC_URL
// (and COOKIE_DOMAIN, when sessions are shared across subdomains), each
// overridable; checked at startup, since a wrong id makes every passkey
// ever made useless: the browser binds a passkey to its relying-party id for
// good.
import { z } from "zod";
import { list } from "../settings-types.ts";

export const passkeySettings = {
  /** A domain: the host of PUBLIC_URL, or COOKIE_DOMAIN when set. */
  webauthn_rp_id: z
    .string()
    .transform((value) => value.trim().toLowerCase())
    .optional(),
  /** The name authenticators show; default SITE_NAME. */
  webauthn_rp_name: z.string().min(1).max(100).optional(),
  /** Origins (scheme://host[:port]) whose pages run the ceremonies; default PUBLIC_URL's. */
  webauthn_origins: list(),
};

export type RelyingParty = {
  id: string;
  name: string;
  /** Exact origins, as browsers write them in clientDataJSON. */
  origins: string[];
};

const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const IP_LIKE = /^(\d+\.){3}\d+$|:/;

/** True when `host` is the relying-party id or one of its subdomains. */
export function hostBelongsTo(host: string, rpId: string): boolean {
  return host === rpId || host.endsWith(`.${rpId}`);
}

/**
 * The relying party from the parsed settings. When a WEBAUTHN_* setting is
 * given, what keeps passkeys from working is an error (`problems`), each
 * naming the setting to change. When everything is derived and cannot work
 * (PUBLIC_URL on an IP address, or plain http off localhost), passkeys are
 * off (`party` null) and `warning` says why: a deployment that never asked
 * for passkeys still starts.
 */
export function relyingParty(settings: {
  public_url: URL;
  cookie_domain?: string | undefined;
  site_name: string;
  webauthn_rp_id?: string | undefined;
  webauthn_rp_name?: string | undefined;
  webauthn_origins: string[];
}): { party: RelyingParty | null; problems: string[]; warning?: string } {
  const problems: string[] = [];
  const explicit = settings.webauthn_rp_id;
  const id = explicit ?? settings.cookie_domain ?? settings.public_url.hostname;
  const from = explicit
    ? "WEBAUTHN_RP_ID"
    : settings.cookie_domain
      ? "COOKIE_DOMAIN"
      : "PUBLIC_URL";
  const origins: string[] = [];
  for (const text of settings.webauthn_origins.length > 0
    ? settings.webauthn_origins
    : [settings.public_url.origin]) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      problems.push(`WEBAUTHN_ORIGINS: "${text}" is not a URL`);
      continue;
    }
    if (url.origin !== text.replace(/\/$/, "")) {
      problems.push(`WEBAUTHN_ORIGINS: "${text}" must be an origin only, like ${url.origin}`);
      continue;
    }
    const local = url.hostname === "localhost" || url.hostname.endsWith(".localhost");
    if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) {
      problems.push(
        `WEBAUTHN_ORIGINS: ${url.origin}: browsers offer passkeys only on https (or http://localhost)`,
      );
      continue;
    }
    origins.push(url.origin);
  }
  if (IP_LIKE.test(id) || id.startsWith("[")) {
    problems.push(
      `${from}: the passkey relying-party id must be a domain name, not an IP address ("${id}"); browsers refuse passkeys on IP addresses: use a host name, or set WEBAUTHN_RP_ID`,
    );
  } else if (!DOMAIN.test(id)) {
    problems.push(`${from}: "${id}" is not a domain for passkeys (the relying-party id)`);
  } else if (!id.includes(".") && id !== "localhost") {
    problems.push(
      `${from}: "${id}" cannot be a relying-party id: browsers refuse a top-level domain`,
    );
  } else {
    for (const origin of origins) {
      const host = new URL(origin).hostname;
      if (!hostBelongsTo(host, id))
        problems.push(
          `WEBAUTHN_ORIGINS: ${origin} is not on the relying-party id "${id}" (from ${from}) or a subdomain of it: browsers would refuse passkeys there`,
        );
    }
  }
  const party = { id, name: settings.webauthn_rp_name ?? settings.site_name, origins };
  if (problems.length === 0) return { party, problems };
  const asked =
    explicit !== undefined ||
    settings.webauthn_rp_name !== undefined ||
    settings.webauthn_origins.length > 0;
  if (asked) return { party: null, problems };
  return {
    party: null,
    problems: [],
    warning: `passkeys are off: ${problems.join("; ")}`,
  };
}
