// The branding settings as written: BRAND_* for the default brand, BRANDS for
// named ones (a SITES entry's `branding:` picks one), PAGE_TEMPLATES_DIR and
// PREVIEW_PAGES. Only the syntax is checked here; whether files exist and
// URLs are on the public host is checked when the brands are built
// (brands.ts). Invariant: nothing an operator writes here reaches the pages'
// stylesheet but a validated #rgb/#rrggbb colour, so no setting can inject CSS.
import { z } from "zod";
import { bool } from "../settings-types.ts";

export const COLOR_SCHEMES = ["auto", "light", "dark"] as const;
export type ColorScheme = (typeof COLOR_SCHEMES)[number];

/** The brand of the BRAND_* settings: its name in asset URLs; a BRANDS key may not take it. */
export const DEFAULT_BRAND = "default";

/** File types the brand directory may serve, and their Content-Type. */
export const ASSET_TYPES: Record<string, string> = {
  png: "image/png",
  svg: "image/svg+xml",
  ico: "image/x-icon",
  webp: "image/webp",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  css: "text/css; charset=utf-8",
  woff2: "font/woff2",
};

/** A plain file name in the brand directory: no folders, no dotfiles. */
export const ASSET_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const colorMessage =
  'must be a colour like "#2b59c3" or "#25c" (in YAML, quote it: # starts a comment)';
const cssColor = z
  .string({ error: colorMessage })
  .trim()
  .regex(/^#([0-9a-f]{3}|[0-9a-f]{6})$/i, colorMessage)
  .transform((value) => value.toLowerCase());

const extension = (name: string) => name.slice(name.lastIndexOf(".") + 1).toLowerCase();

/** A file in the brand directory, an absolute http(s) URL, or a path on the public host (/img/logo.png). */
const assetRef = (kinds: string[]) =>
  z
    .string()
    .trim()
    .min(1)
    .max(1000)
    .refine(
      (value) =>
        /^https?:\/\/[^\s"'<>;,]+$/i.test(value) ||
        /^\/(?!\/)[^\s"'<>;,\\]*$/.test(value) ||
        (ASSET_FILE_NAME.test(value) && kinds.includes(extension(value))),
      `must be a file name in the brand directory (${kinds.map((kind) => `.${kind}`).join(", ")}), an https URL or a path like /img/logo.png`,
    );

const IMAGE_KINDS = ["png", "svg", "ico", "webp", "jpg", "jpeg", "gif"];

/** One brand's look; the same fields as the BRAND_* settings, without their prefix. */
export const brandFields = {
  /** Shown on the pages and in mails; default SITE_NAME. */
  name: z.string().trim().min(1).max(100).optional(),
  logo: assetRef(IMAGE_KINDS).optional(),
  favicon: assetRef(IMAGE_KINDS).optional(),
  /** A .css file in the brand directory, linked after the built-in stylesheet. */
  stylesheet: z
    .string()
    .trim()
    .refine(
      (value) => ASSET_FILE_NAME.test(value) && extension(value) === "css",
      "must be the name of a .css file in the brand directory",
    )
    .optional(),
  primary_color: cssColor.optional(),
  background_color: cssColor.optional(),
  color_scheme: z.enum(COLOR_SCHEMES).optional(),
  /** The folder the brand's files are served from; default BRAND_ASSETS_DIR. */
  assets_dir: z.string().min(1).optional(),
  /** Page templates for this brand only; default PAGE_TEMPLATES_DIR. */
  page_templates_dir: z.string().min(1).optional(),
};

export const brandEntrySchema = z.object(brandFields).strict();
export type BrandEntry = z.output<typeof brandEntrySchema>;

const brandKey = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/i, "a brand name: letters, digits, _ and - only");

/** Spread into the configuration schema (config.ts). */
export const brandingSettings = {
  brand_assets_dir: z.string().min(1).optional(),
  brand_logo: brandFields.logo,
  brand_favicon: brandFields.favicon,
  brand_stylesheet: brandFields.stylesheet,
  brand_primary_color: brandFields.primary_color,
  brand_background_color: brandFields.background_color,
  brand_color_scheme: z.enum(COLOR_SCHEMES).default("auto"),
  /** Named brands: YAML map of name → { name, logo, favicon, stylesheet, primary_color, ... }. */
  brands: z.record(brandKey, brandEntrySchema).default({}),
  /** layout.html, header.html, footer.html overriding the built-in page frame. */
  page_templates_dir: z.string().min(1).optional(),
  /** AUTH_PREFIX/preview for everyone (development); otherwise signed-in admins only. */
  preview_pages: bool(false),
};

export type BrandingSettings = {
  site_name: string;
  brand_assets_dir?: string | undefined;
  brand_logo?: string | undefined;
  brand_favicon?: string | undefined;
  brand_stylesheet?: string | undefined;
  brand_primary_color?: string | undefined;
  brand_background_color?: string | undefined;
  brand_color_scheme: ColorScheme;
  brands: Record<string, BrandEntry>;
  page_templates_dir?: string | undefined;
};

/** The BRAND_* settings as a brand entry. */
export function defaultBrandEntry(settings: BrandingSettings): BrandEntry {
  const entry: BrandEntry = {
    name: settings.site_name,
    logo: settings.brand_logo,
    favicon: settings.brand_favicon,
    stylesheet: settings.brand_stylesheet,
    primary_color: settings.brand_primary_color,
    background_color: settings.brand_background_color,
    color_scheme: settings.brand_color_scheme,
    assets_dir: settings.brand_assets_dir,
    page_templates_dir: settings.page_templates_dir,
  };
  return Object.fromEntries(
    Object.entries(entry).filter(([, value]) => value !== undefined),
  ) as BrandEntry;
}

/** A BRANDS key that takes the default brand's name, and SITES entries whose `branding:` names no brand in BRANDS. */
export function brandNameProblems(
  sites: { domain: string; branding?: string | undefined }[],
  brands: Record<string, BrandEntry>,
): string[] {
  const reserved =
    DEFAULT_BRAND in brands
      ? [
          `BRANDS.${DEFAULT_BRAND}: "${DEFAULT_BRAND}" is the BRAND_* settings' brand; name yours otherwise`,
        ]
      : [];
  return reserved.concat(
    sites
      .filter(
        (site) => site.branding && site.branding !== DEFAULT_BRAND && !(site.branding in brands),
      )
      .map(
        (site) =>
          `SITES: ${site.domain} has branding: ${site.branding}, which BRANDS does not define${Object.keys(brands).length > 0 ? ` (there are ${Object.keys(brands).join(", ")})` : ""}`,
      ),
  );
}
