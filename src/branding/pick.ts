// Which brand a request's pages wear. A satellite's own pages wear its
// site's brand. The home site's pages wear the brand of the site the visitor
// is signing in for, when the return target (rd) says so: a satellite's
// address, or the hop back to one (/sites/authorize?host=...); otherwise the
// home site's own brand. The choice is only ever among configured sites and
// brands, so a forged rd can at most show another configured brand.
import { type Site, type SiteTable, siteOf } from "../sites/sites.ts";
import type { Brand, Brands } from "./brands.ts";

export function requestBrand(
  brands: Brands,
  table: SiteTable,
  request: { site: Site | undefined; returnTo: string | undefined; prefix: string },
): Brand {
  const { site } = request;
  if (table.sites.length === 0) return brands.default;
  if (site && !site.home) return brands.forSite(site);
  const target = returnSite(table, request.returnTo, request.prefix);
  return brands.forSite(target && !target.home ? target : (site ?? table.home));
}

function returnSite(table: SiteTable, returnTo: string | undefined, prefix: string) {
  if (!returnTo) return undefined;
  let url: URL;
  try {
    url = new URL(returnTo);
  } catch {
    return undefined;
  }
  const site = siteOf(table, url.host);
  if (site?.home && url.pathname === `${prefix}/sites/authorize`)
    return siteOf(table, url.searchParams.get("host") ?? undefined);
  return site;
}
