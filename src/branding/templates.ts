// The hosted pages' frame as Mustache templates: `layout.html` (the whole
// document), and the partials it includes, `header.html` (logo and name above
// the card) and `footer.html` (below it). PAGE_TEMPLATES_DIR (or a brand's
// page_templates_dir) replaces any of them; what it leaves out stays built
// in. Values are HTML-escaped; only the page body and the brand's stylesheet
// (both gatehouse's own) are inserted raw, with triple braces. A template
// that does not parse, or a file that is not one of these, stops startup
// naming it (as EMAIL_TEMPLATES_DIR does for mails).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Mustache from "mustache";
import { ConfigError } from "../kernel/config-error.ts";

export const PAGE_TEMPLATE_FILES = ["layout.html", "header.html", "footer.html"] as const;

/**
 * What a template may use: {{locale}}, {{title}}, {{siteName}}, {{prefix}},
 * {{logo}}, {{favicon}}, {{stylesheet}} (URLs, empty when not set),
 * {{colorScheme}}, {{#wide}}, {{{style}}}, {{{body}}} and {{{languages}}} (the
 * language selector's form; empty with one language).
 */
export type FrameValues = {
  locale: string;
  title: string;
  siteName: string;
  prefix: string;
  logo?: string | undefined;
  favicon?: string | undefined;
  stylesheet?: string | undefined;
  colorScheme: string;
  wide: boolean;
  style: string;
  body: string;
  languages: string;
};

const LAYOUT = `<!doctype html>
<html lang="{{locale}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{{title}} · {{siteName}}</title>
{{#favicon}}<link rel="icon" href="{{favicon}}">
{{/favicon}}<style>{{{style}}}</style>
{{#stylesheet}}<link rel="stylesheet" href="{{stylesheet}}">
{{/stylesheet}}</head>
<body>
{{> header}}
<main{{#wide}} class="wide"{{/wide}}>
{{{body}}}
</main>
{{> footer}}
{{{languages}}}
</body>
</html>`;

const HEADER = `<header class="brand">{{#logo}}<img src="{{logo}}" alt="">{{/logo}}<span>{{siteName}}</span></header>`;

const FOOTER = "";

export type PageTemplates = { render(values: FrameValues): string };

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
/** As the pages' html tag escapes: enough for text and quoted attributes, and URLs stay readable. */
const escapeHtml = (value: unknown) =>
  String(value).replace(/[&<>"']/g, (c) => ENTITIES[c] as string);

/** The frame, with the overrides from `dir`; throws ConfigError naming the file. */
export function loadPageTemplates(
  dir: string | undefined,
  setting = "PAGE_TEMPLATES_DIR",
): PageTemplates {
  const sources: Record<(typeof PAGE_TEMPLATE_FILES)[number], string> = {
    "layout.html": LAYOUT,
    "header.html": HEADER,
    "footer.html": FOOTER,
  };
  if (dir) {
    let names: string[];
    try {
      names = readdirSync(dir).filter((name) => !name.startsWith("."));
    } catch (error) {
      throw new ConfigError([`${setting}: cannot read ${dir}: ${(error as Error).message}`]);
    }
    const unknown = names.filter(
      (name) => !(PAGE_TEMPLATE_FILES as readonly string[]).includes(name),
    );
    if (unknown.length > 0)
      throw new ConfigError([
        `${setting}: ${unknown.map((name) => join(dir, name)).join(", ")}: not a page template; the valid names are ${PAGE_TEMPLATE_FILES.join(", ")}`,
      ]);
    for (const name of names as (typeof PAGE_TEMPLATE_FILES)[number][]) {
      const file = join(dir, name);
      const text = readFileSync(file, "utf8");
      try {
        Mustache.parse(text);
      } catch (error) {
        throw new ConfigError([`${setting}: ${file}: ${(error as Error).message}`]);
      }
      sources[name] = text;
    }
  }
  const partials = { header: sources["header.html"], footer: sources["footer.html"] };
  return {
    render: (values) =>
      Mustache.render(sources["layout.html"], values, partials, { escape: escapeHtml }),
  };
}
