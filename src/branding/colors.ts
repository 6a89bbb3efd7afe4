// Colour arithmetic for the brand's palette: parsing the #rgb/#rrggbb values
// the settings accept, WCAG 2 relative luminance and contrast ratio, and the
// two choices made from them: the text colour a filled background needs, and
// a colour nudged towards black or white until text in it is readable on a
// given background. Pure functions; the settings are already validated.

export type Rgb = [number, number, number];

/** "#2b59c3" or "#25c" → [43, 89, 195]. Throws on anything else (settings validate first). */
export function parseHex(value: string): Rgb {
  const match = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(value);
  if (!match?.[1]) throw new Error(`not a #rgb or #rrggbb colour: ${value}`);
  const hex =
    match[1].length === 3 ? [...match[1]].map((digit) => digit + digit).join("") : match[1];
  return [0, 2, 4].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as Rgb;
}

export function toHex(rgb: Rgb): string {
  return `#${rgb.map((channel) => Math.round(channel).toString(16).padStart(2, "0")).join("")}`;
}

/** WCAG 2 relative luminance, 0 (black) to 1 (white). */
export function luminance(color: string): number {
  const [r, g, b] = parseHex(color).map((channel) => {
    const c = channel / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as Rgb;
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG 2 contrast ratio, 1 to 21. */
export function contrast(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

export const DARK_TEXT = "#000000";
export const LIGHT_TEXT = "#ffffff";

/** The text colour for a filled `background`: whichever of black and white contrasts more (always at least 4.58:1). */
export function textOn(background: string): string {
  return contrast(background, LIGHT_TEXT) >= contrast(background, DARK_TEXT)
    ? LIGHT_TEXT
    : DARK_TEXT;
}

/**
 * `color` itself when text in it reaches `ratio` on `background`; otherwise
 * mixed step by step towards black (on a light background) or white (on a
 * dark one) until it does: the brand's hue, kept readable.
 */
export function readableOn(color: string, background: string, ratio = 4.5): string {
  if (contrast(color, background) >= ratio) return color;
  const towards: Rgb = luminance(background) > 0.18 ? [0, 0, 0] : [255, 255, 255];
  const start = parseHex(color);
  for (let step = 1; step <= 20; step++) {
    const share = step / 20;
    const mixed = toHex(start.map((c, i) => c + ((towards[i] as number) - c) * share) as Rgb);
    if (contrast(mixed, background) >= ratio) return mixed;
  }
  return toHex(towards);
}
