// The pages' one inline stylesheet, per brand: the built-in rules (written
// against CSS custom properties) and the palette they read, light and dark,
// with the brand's colours worked in. The CSP allows this text by its hash,
// so it is computed once per brand at startup and never holds anything but
// validated colours. Every pair of text and background colours here reaches
// WCAG AA (4.5:1): the built-in palettes by choice (checked by a test), a
// configured primary colour by choosing the text on it and nudging the links
// made from it (colors.ts).
import { createHash } from "node:crypto";
import { readableOn, textOn } from "./colors.ts";
import type { ColorScheme } from "./settings.ts";

export type Palette = {
  bg: string;
  /** Text written straight on the page background (the header and footer). */
  "on-bg": string;
  card: string;
  text: string;
  muted: string;
  /** Buttons' fill, focus rings, notice borders. */
  accent: string;
  "accent-text": string;
  /** Links and outlined buttons: the accent as text on the card. */
  link: string;
  error: string;
  "error-bg": string;
  "notice-bg": string;
  border: string;
  "input-bg": string;
};

export const LIGHT: Palette = {
  bg: "#f5f6f8",
  "on-bg": "#1d2330",
  card: "#ffffff",
  text: "#1d2330",
  muted: "#5b6475",
  accent: "#2b59c3",
  "accent-text": "#ffffff",
  link: "#2b59c3",
  error: "#a4262c",
  "error-bg": "#fdf3f4",
  "notice-bg": "#f1f5fd",
  border: "#d5d9e0",
  "input-bg": "#ffffff",
};

export const DARK: Palette = {
  bg: "#0f1218",
  "on-bg": "#e6e9ef",
  card: "#1a1f29",
  text: "#e6e9ef",
  muted: "#a6aebd",
  accent: "#8ab4f8",
  "accent-text": "#0f1218",
  link: "#8ab4f8",
  error: "#ff9b9b",
  "error-bg": "#3b1e22",
  "notice-bg": "#1b2740",
  border: "#3a4150",
  "input-bg": "#11151c",
};

export type BrandColors = { primary?: string | undefined; background?: string | undefined };

/** A built-in palette with the brand's colours in it, every text still readable. */
export function brandPalette(base: Palette, colors: BrandColors): Palette {
  const palette = { ...base };
  if (colors.primary) {
    palette.accent = colors.primary;
    palette["accent-text"] = textOn(colors.primary);
    palette.link = readableOn(colors.primary, base.card);
    // A link also sits on the notice's tint.
    palette.link = readableOn(palette.link, base["notice-bg"]);
  }
  if (colors.background) {
    palette.bg = colors.background;
    palette["on-bg"] = textOn(colors.background);
  }
  return palette;
}

const RULES = `
* { box-sizing: border-box; }
body { margin: 0; background: var(--gh-bg); color: var(--gh-text); font: 16px/1.5 var(--gh-font); }
main { max-width: 26rem; margin: 2rem auto 8vh; padding: 2rem; background: var(--gh-card);
  border: 1px solid var(--gh-border); border-radius: var(--gh-radius); }
main.wide { max-width: 44rem; }
.brand { max-width: 44rem; margin: 6vh auto 0; padding: 0 1rem; display: flex; align-items: center;
  justify-content: center; gap: .75rem; color: var(--gh-on-bg); font-weight: 600; font-size: 1.1rem; }
.brand img { max-height: 3rem; max-width: 12rem; }
footer.brand-footer { max-width: 44rem; margin: 0 auto 2rem; padding: 0 1rem; text-align: center;
  color: var(--gh-on-bg); font-size: .9rem; }
footer.brand-footer a { color: var(--gh-on-bg); }
h1 { font-size: 1.4rem; margin: 0 0 1.25rem; }
a { color: var(--gh-link); }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input { width: 100%; padding: .6rem .7rem; font: inherit; color: var(--gh-text); background: var(--gh-input-bg);
  border: 1px solid var(--gh-border); border-radius: 6px; }
input:focus-visible, button:focus-visible, a:focus-visible { outline: 3px solid var(--gh-accent); outline-offset: 2px; }
button { margin-top: 1.25rem; width: 100%; padding: .65rem; font: inherit; font-weight: 600; cursor: pointer;
  color: var(--gh-accent-text); background: var(--gh-accent); border: 0; border-radius: 6px; }
button.secondary { background: transparent; color: var(--gh-link); border: 1px solid var(--gh-link); }
table button { width: auto; margin: 0; padding: .3rem .7rem; }
.error { color: var(--gh-error); border-left: 4px solid var(--gh-error); padding: .5rem .75rem; background: var(--gh-error-bg); }
.notice { border-left: 4px solid var(--gh-accent); padding: .5rem .75rem; background: var(--gh-notice-bg); }
.muted, .hint { color: var(--gh-muted); font-size: .9rem; }
.providers { margin-top: 1rem; display: grid; gap: .5rem; }
a.provider { display: block; text-align: center; padding: .6rem; border: 1px solid var(--gh-border); border-radius: 6px;
  color: var(--gh-text); text-decoration: none; font-weight: 600; }
table { width: 100%; border-collapse: collapse; font-size: .9rem; }
.table-scroll { overflow-x: auto; }
main { overflow-wrap: break-word; }
select { max-width: 100%; font: inherit; }
select:focus-visible { outline: 3px solid var(--gh-accent); outline-offset: 2px; }
@media (max-width: 30rem) { main { margin: 0 auto; padding: 1.25rem 1rem; border-width: 0; border-radius: 0; } }
th, td { text-align: left; padding: .4rem; border-bottom: 1px solid var(--gh-border); }
input[type="checkbox"] { width: auto; accent-color: var(--gh-accent); }
.locale-selector form { display: flex; gap: .5rem; align-items: center; justify-content: center; margin: 1rem; }
.locale-selector label, .locale-selector button { margin: 0; width: auto; }
.locale-selector label { color: var(--gh-on-bg); }
`;

const SHAPE = `--gh-radius: 8px; --gh-font: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;`;

const declarations = (palette: Palette) =>
  Object.entries(palette)
    .map(([name, value]) => `--gh-${name}: ${value};`)
    .join(" ");

/** The stylesheet for a brand: light, dark, or both by `prefers-color-scheme`. */
export function brandStylesheet(colors: BrandColors, scheme: ColorScheme): string {
  const light = declarations(brandPalette(LIGHT, colors));
  const dark = declarations(brandPalette(DARK, colors));
  const root =
    scheme === "auto"
      ? `:root { color-scheme: light dark; ${SHAPE} ${light} }
@media (prefers-color-scheme: dark) { :root { ${dark} } }`
      : `:root { color-scheme: ${scheme}; ${SHAPE} ${scheme === "dark" ? dark : light} }`;
  return `\n${root}${RULES}`;
}

/** The CSP source that allows exactly this stylesheet inline. */
export function styleHashSource(css: string): string {
  return `'sha256-${createHash("sha256").update(css).digest("base64")}'`;
}
