// Who may create an account (REGISTRATION_MODE): `open` (anyone), `domains`
// (addresses at REGISTRATION_DOMAINS: example.com exactly, *.example.com its
// subdomains), `invite` (only with an invitation), `closed` (nobody: admins
// create accounts with the CLI). The address checked is the canonical one
// (accounts/email.ts already refuses a second @, quotes, separators and
// control characters); its domain and the patterns are compared in their
// ASCII (punycode) form, label by label, so a look-alike, a suffix
// ("example.com.evil.test", "evilexample.com") or a trailing dot never
// matches. A provider's address counts only when the provider verified it.
import { domainToASCII } from "node:url";
import { ServiceError } from "../errors.ts";
import { canonicalizeEmail } from "./email.ts";

export type RegistrationMode = "open" | "domains" | "invite" | "closed";

export function registrationMode(config: {
  registration_mode?: RegistrationMode;
  registration_enabled: boolean;
}): RegistrationMode {
  return config.registration_mode ?? (config.registration_enabled ? "open" : "closed");
}

function asciiDomain(domain: string): string | null {
  if (domain.endsWith(".") || domain.startsWith(".") || domain.includes("..")) return null;
  const ascii = domainToASCII(domain);
  return ascii === "" ? null : ascii.toLowerCase();
}

/** Whether the address's domain is one of the patterns. */
export function addressInDomains(email: string, patterns: string[]): boolean {
  const canonical = canonicalizeEmail(email);
  if (!canonical || canonical !== email.trim().normalize("NFKC").toLowerCase()) return false;
  const at = canonical.lastIndexOf("@");
  if (at < 1 || canonical.indexOf("@") !== at) return false;
  const domain = asciiDomain(canonical.slice(at + 1));
  if (!domain) return false;
  return patterns.some((pattern) => {
    const wildcard = pattern.startsWith("*.");
    const base = asciiDomain(wildcard ? pattern.slice(2) : pattern);
    if (!base) return false;
    return wildcard
      ? domain.endsWith(`.${base}`) && domain.length > base.length + 1
      : domain === base;
  });
}

export type RegistrationPolicy = ReturnType<typeof registrationPolicy>;

/** What a provider sign-in that would create an account asks (oauth/identity-links.ts). */
export type ProviderRegistrationGate = {
  /** null when it may create the account, else the reason. */
  refuse(email: string, verified: boolean): Promise<string | null>;
  /** The account was created: the roles an invitation gave it (none without one). */
  registered(
    userId: string,
    email: string,
    verified: boolean,
    meta?: { ip: string | null; userAgent: string | null },
  ): Promise<string[]>;
};

export function registrationPolicy(settings: {
  mode: RegistrationMode;
  domains: string[];
  /** A live invitation for this address (invitations.ts), for the provider path. */
  invited: (email: string) => Promise<boolean>;
}) {
  const { mode, domains } = settings;
  const closedMessage =
    mode === "invite" ? "Accounts here are by invitation only." : "Registration is closed.";
  return {
    mode,
    /** Whether the registration form is offered at all. */
    selfService: mode === "open" || mode === "domains",

    /** Password registration (the address not yet proven): throws registration_closed when refused. */
    checkSelfService(email: string): void {
      if (mode === "open") return;
      if (mode === "domains" && addressInDomains(email, domains)) return;
      throw new ServiceError(
        "registration_closed",
        mode === "domains" ? "Addresses at this domain cannot register here." : closedMessage,
      );
    },

    /**
     * A provider's sign-in that would create an account: null when allowed,
     * else the reason. An invitation for the verified address lets it in
     * (in every mode but closed); otherwise the mode decides.
     */
    async refuseProvider(email: string, verified: boolean): Promise<string | null> {
      if (mode === "closed") return closedMessage;
      if (verified && (await settings.invited(email))) return null;
      if (mode === "open") return null;
      if (mode === "domains")
        return verified && addressInDomains(email, domains)
          ? null
          : "Addresses at this domain cannot register here (or the provider has not verified it).";
      return closedMessage;
    },
  };
}
