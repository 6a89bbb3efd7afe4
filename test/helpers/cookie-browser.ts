// A browser reduced to what redirect flows need: a cookie jar (by host, as
// browsers keep cookies: ports do not separate them) and redirect following,
// with a way to stop before a URL so a test can tamper with it.

export type Hop = { url: URL; status: number };

export class CookieBrowser {
  readonly cookies = new Map<string, string>();

  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  private remember(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some(
        (attribute) =>
          /^\s*max-age=0\s*$/i.test(attribute) || /^\s*expires=Thu, 01 Jan 1970/i.test(attribute),
      );
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** One request, no redirects followed. */
  async request(
    url: string | URL,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const response = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: { ...(init.headers ?? {}), cookie: this.cookieHeader() },
    });
    this.remember(response);
    return response;
  }

  /**
   * Follows redirects from a first request until an answer that is not a
   * redirect, or until the next URL satisfies `stopBefore` (returned unrequested).
   */
  async follow(
    url: string | URL,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
    stopBefore?: (next: URL) => boolean,
  ): Promise<{ response?: Response; stoppedAt?: URL; hops: Hop[] }> {
    const hops: Hop[] = [];
    let current = new URL(url);
    let response = await this.request(current, init);
    for (let i = 0; i < 20; i++) {
      hops.push({ url: current, status: response.status });
      const location = response.headers.get("location");
      if (response.status < 300 || response.status >= 400 || !location) return { response, hops };
      await response.body?.cancel();
      current = new URL(location, current);
      if (stopBefore?.(current)) return { stoppedAt: current, hops };
      response = await this.request(current);
    }
    throw new Error(`too many redirects: ${hops.map((hop) => hop.url.href).join(" → ")}`);
  }
}
