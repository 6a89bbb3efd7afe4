// The brands, built once at startup from the settings: each one's name,
// stylesheet (and its CSP hash), page templates, and where its logo, favicon
// and extra stylesheet come from. A file in the brand's directory is served
// by gatehouse (assets.ts) under AUTH_PREFIX/brand/<brand>/<file>, linked
// with a hash of its content so it can be cached for long; a URL must be on
// the public host (PUBLIC_URL or a SITES domain). Invariant: only regular
// files inside the configured directory are ever read, never a dotfile, and
// never through a symbolic link leading out of it.
import { createHash } from "node:crypto";
import { readFileSync, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import { ConfigError } from "../kernel/config-error.ts";
import { originOf, type Site, type SiteTable } from "../sites/sites.ts";
import { textOn } from "./colors.ts";
import {
  ASSET_FILE_NAME,
  ASSET_TYPES,
  type BrandEntry,
  type BrandingSettings,
  type ColorScheme,
  DEFAULT_BRAND,
  defaultBrandEntry,
} from "./settings.ts";
import { brandStylesheet, LIGHT, styleHashSource } from "./style.ts";
import { loadPageTemplates, type PageTemplates } from "./templates.ts";

/** Where one of the brand's pictures or stylesheets comes from. */
type AssetSource = { file: string } | { url: string };

export type Brand = {
  id: string;
  name: string;
  colorScheme: ColorScheme;
  /** The inline stylesheet and the CSP source that allows it. */
  style: string;
  styleHash: string;
  /** CSP sources the brand's pictures and stylesheet need: 'self' for served files, else exact URLs. */
  imgSources: string[];
  styleSources: string[];
  fontSources: string[];
  templates: PageTemplates;
  /** The links to put in pages, served files with ?v=<content hash>. */
  links(): { logo?: string; favicon?: string; stylesheet?: string };
};

export type AssetFile = { body: Buffer; etag: string; type: string; version: string };

export type Brands = {
  default: Brand;
  /** Every brand, the default first. */
  all: Brand[];
  named(id: string): Brand | undefined;
  /** The brand of a site (its `branding:`), the default for none. */
  forSite(site: Site | undefined): Brand;
  /** A file of a brand's directory, or undefined when it is not one gatehouse serves. */
  asset(brandId: string, file: string): AssetFile | undefined;
};

export type BrandsSettings = BrandingSettings & {
  auth_prefix: string;
  public_url: URL;
  sites: SiteTable;
};

/** A URL as a CSP source: a source names no query (browsers match the path only). */
const cspSource = (href: string) => {
  const url = new URL(href);
  return `${url.origin}${url.pathname}`;
};

const extension = (name: string) => name.slice(name.lastIndexOf(".") + 1).toLowerCase();

/** Reads files of one directory, each once per change (by size and modification time). */
function fileReader(dir: string) {
  const known = new Map<string, { stamp: string; file: AssetFile }>();
  return (name: string): AssetFile | undefined => {
    const type = ASSET_TYPES[extension(name)];
    if (!ASSET_FILE_NAME.test(name) || !type) return undefined;
    let path: string;
    let stamp: string;
    try {
      path = realpathSync(join(dir, name));
      // A symbolic link may point within the folder, never out of it.
      if (!path.startsWith(`${dir}${sep}`)) return undefined;
      const stat = statSync(path);
      if (!stat.isFile()) return undefined;
      stamp = `${stat.size}:${stat.mtimeMs}`;
    } catch {
      return undefined;
    }
    const cached = known.get(name);
    if (cached?.stamp === stamp) return cached.file;
    let body: Buffer;
    try {
      body = readFileSync(path);
    } catch {
      return undefined;
    }
    const version = createHash("sha256").update(body).digest("base64url").slice(0, 16);
    const file = { body, etag: `"${version}"`, type, version };
    known.set(name, { stamp, file });
    return file;
  };
}

function buildBrand(
  id: string,
  entry: BrandEntry,
  settings: BrandsSettings,
  where: (field: string) => string,
  problems: string[],
): { brand: Brand; read?: (name: string) => AssetFile | undefined } {
  const table = settings.sites;
  const publicOrigins = new Set([
    settings.public_url.origin,
    ...table.sites.map((site) => originOf(table, site.domain)),
  ]);
  let dir: string | undefined;
  if (entry.assets_dir) {
    try {
      dir = realpathSync(entry.assets_dir);
      if (!statSync(dir).isDirectory()) throw new Error("not a directory");
    } catch (error) {
      problems.push(
        `${where("assets_dir")}: cannot read ${entry.assets_dir}: ${(error as Error).message}`,
      );
      dir = undefined;
    }
  }
  const read = dir ? fileReader(dir) : undefined;
  const source = (field: "logo" | "favicon" | "stylesheet"): AssetSource | undefined => {
    const value = entry[field];
    if (!value) return undefined;
    if (value.startsWith("/")) return { url: `${settings.public_url.origin}${value}` };
    if (/^https?:\/\//i.test(value)) {
      const url = new URL(value);
      if (!publicOrigins.has(url.origin)) {
        problems.push(
          `${where(field)}: ${value} is not on the public host (${[...publicOrigins].join(", ")}); put the file in the brand directory instead`,
        );
        return undefined;
      }
      url.hash = "";
      return { url: url.href };
    }
    if (!entry.assets_dir) {
      problems.push(
        `${where(field)}: ${value} is a file name, but ${where("assets_dir")} is not set`,
      );
      return undefined;
    }
    if (read && !read(value))
      problems.push(`${where(field)}: ${value} is not a file in ${entry.assets_dir}`);
    return { file: value };
  };
  const sources = {
    logo: source("logo"),
    favicon: source("favicon"),
    stylesheet: source("stylesheet"),
  };
  const cspFor = (...items: (AssetSource | undefined)[]) => [
    ...new Set(
      items
        .filter((item) => item !== undefined)
        .map((item) => ("url" in item ? cspSource(item.url) : "'self'")),
    ),
  ];
  const base = `${settings.auth_prefix}/brand/${id}/`;
  const link = (item: AssetSource | undefined) => {
    if (!item) return undefined;
    if ("url" in item) return item.url;
    const file = read?.(item.file);
    return `${base}${item.file}${file ? `?v=${file.version}` : ""}`;
  };
  let templates: PageTemplates;
  try {
    templates = loadPageTemplates(entry.page_templates_dir, where("page_templates_dir"));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
    templates = loadPageTemplates(undefined);
  }
  const scheme = entry.color_scheme ?? "auto";
  const style = brandStylesheet(
    { primary: entry.primary_color, background: entry.background_color },
    scheme,
  );
  const brand: Brand = {
    id,
    name: entry.name ?? settings.site_name,
    colorScheme: scheme,
    style,
    styleHash: styleHashSource(style),
    imgSources: cspFor(sources.logo, sources.favicon),
    styleSources: cspFor(sources.stylesheet),
    // The extra stylesheet may bring its fonts, from the same folder.
    fontSources: sources.stylesheet && "file" in sources.stylesheet ? ["'self'"] : [],
    templates,
    links: () => {
      const links: { logo?: string; favicon?: string; stylesheet?: string } = {};
      for (const field of ["logo", "favicon", "stylesheet"] as const) {
        const href = link(sources[field]);
        if (href) links[field] = href;
      }
      return links;
    },
  };
  return read ? { brand, read } : { brand };
}

/** The mails' button colours: the default brand's primary colour and the text on it (no file is read). */
export function mailColors(settings: { brand_primary_color?: string | undefined }) {
  const primary = settings.brand_primary_color ?? LIGHT.accent;
  return { buttonColor: primary, buttonTextColor: textOn(primary) };
}

/** Builds every brand; throws ConfigError listing every problem (a missing file, a foreign URL, a bad template). */
export function loadBrands(settings: BrandsSettings): Brands {
  const problems: string[] = [];
  const readers = new Map<string, (name: string) => AssetFile | undefined>();
  const built = [
    buildBrand(
      DEFAULT_BRAND,
      defaultBrandEntry(settings),
      settings,
      (field) =>
        field === "page_templates_dir"
          ? "PAGE_TEMPLATES_DIR"
          : field === "name"
            ? "SITE_NAME"
            : `BRAND_${field.toUpperCase()}`,
      problems,
    ),
    ...Object.entries(settings.brands).map(([id, entry]) =>
      buildBrand(
        id,
        {
          ...entry,
          assets_dir: entry.assets_dir ?? settings.brand_assets_dir,
          page_templates_dir: entry.page_templates_dir ?? settings.page_templates_dir,
        },
        settings,
        (field) => `BRANDS.${id}.${field}`,
        problems,
      ),
    ),
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  for (const { brand, read } of built) if (read) readers.set(brand.id, read);
  const all = built.map(({ brand }) => brand);
  const byId = new Map(all.map((brand) => [brand.id, brand]));
  const fallback = all[0] as Brand;
  return {
    default: fallback,
    all,
    named: (id) => byId.get(id),
    forSite: (site) => (site?.branding ? (byId.get(site.branding) ?? fallback) : fallback),
    asset: (brandId, file) => readers.get(brandId)?.(file),
  };
}
