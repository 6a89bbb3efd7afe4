// The shipped message catalogues: every language has every English key, with
// the same placeholders, and each message renders.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type MessageFormatElement, parse, TYPE } from "@formatjs/icu-messageformat-parser";
import { loadCatalogues, SHIPPED_LOCALES_DIR, translator } from "../../src/i18n/catalogue.ts";

const SHIPPED = ["en", "de", "fr", "es"];
const catalogues = loadCatalogues([SHIPPED_LOCALES_DIR]);

function placeholders(elements: MessageFormatElement[], into = new Set<string>()): Set<string> {
  for (const element of elements) {
    if (element.type === TYPE.literal || element.type === TYPE.pound) continue;
    into.add(element.value);
    if (element.type === TYPE.plural || element.type === TYPE.select) {
      for (const option of Object.values(element.options)) placeholders(option.value, into);
    }
    if (element.type === TYPE.tag) placeholders(element.children, into);
  }
  return into;
}

test("every shipped language has every English message, with the same placeholders", () => {
  const english = catalogues.get("en");
  assert.ok(english && english.size > 0);
  for (const locale of SHIPPED) {
    const messages = catalogues.get(locale);
    assert.ok(messages, `no catalogue for ${locale}`);
    const missing: string[] = [...english.keys()].filter((key) => !messages.has(key));
    assert.deepEqual(missing, [], `${locale} lacks these keys`);
    const extra: string[] = [...messages.keys()].filter((key) => !english.has(key));
    assert.deepEqual(extra, [], `${locale} has keys English does not`);
    for (const [key, source] of messages) {
      const expected = [...placeholders(parse(english.get(key) as string))].sort();
      assert.deepEqual([...placeholders(parse(source))].sort(), expected, `${locale} ${key}`);
    }
  }
});

test("a message renders in the asked language, and falls back to English, then to its key", () => {
  assert.equal(translator("de")("common.continue"), "Weiter");
  assert.equal(translator("pt")("common.continue"), "Continue");
  assert.equal(translator("de")("common.no-such-key"), "common.no-such-key");
});
