import { describe, expect, it } from "vitest";
import { MAX_KEY_LENGTH, decodeKey, encodeKey, vmKey } from "../../src/store/keys.js";

// Characters Table Storage forbids in keys, plus ones that URL handling mangles.
const FORBIDDEN = /[/\\#?\u0000-\u001f\u007f-\u009f%'+]/;

const HOSTILE: readonly [string, string][] = [
  ["ARM VM id", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-Prod/providers/Microsoft.Compute/virtualMachines/vm-01"],
  ["empty", ""],
  ["forbidden punctuation", "a/b\\c#d?e"],
  ["control characters", "\u0000\u0001\u001f\u007f\u0080\u009f"],
  ["escape-like text", "~002F~~|||~ZZZZ~"],
  ["quotes and percent", "it's 100% 'quoted' + %2F"],
  ["odata injection", "x' or PartitionKey ne '"],
  ["unicode", "rg-ünïcödé/虚拟机/🙂"],
  ["lone surrogates", "\ud800x\udfff"],
  ["whitespace", " \t\r\n "],
  ["resource group with parens", "/subscriptions/s/resourceGroups/rg(1).test/providers/x"],
];

describe("encodeKey / decodeKey", () => {
  it.each(HOSTILE)("round-trips %s and yields a legal key", (_label, value) => {
    const key = encodeKey(value);
    expect(key).not.toMatch(FORBIDDEN);
    expect(decodeKey(key)).toBe(value);
  });

  it("round-trips 500 random strings drawn from a hostile alphabet", () => {
    const alphabet = ["/", "\\", "#", "?", "~", "|", "%", "'", "a", "Z", "0", "-", "_", ".", " ", "\u0000", "\u0085", "é", "\ud83d", "\ude42"];
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let n = 0; n < 500; n++) {
      let value = "";
      const length = next() % 40;
      for (let i = 0; i < length; i++) value += alphabet[next() % alphabet.length];
      const key = encodeKey(value);
      expect(key).not.toMatch(FORBIDDEN);
      expect(decodeKey(key)).toBe(value);
    }
  });

  it("keeps distinct inputs distinct", () => {
    const keys = new Set(HOSTILE.map(([, v]) => encodeKey(v)));
    expect(keys.size).toBe(HOSTILE.length);
    expect(encodeKey("a/b")).not.toBe(encodeKey("a|b"));
    expect(encodeKey("~")).not.toBe(encodeKey("|"));
  });

  it("keeps ARM ids readable", () => {
    expect(encodeKey("/subscriptions/abc/resourceGroups/rg")).toBe("|subscriptions|abc|resourceGroups|rg");
  });

  it("rejects values whose key would exceed 1 KiB, naming the value", () => {
    expect(encodeKey("a".repeat(MAX_KEY_LENGTH))).toHaveLength(MAX_KEY_LENGTH);
    expect(() => encodeKey("a".repeat(MAX_KEY_LENGTH + 1))).toThrow(/too long: "aaaa.*1025 characters/);
    expect(() => encodeKey("#".repeat(300))).toThrow(/1500 characters/);
  });

  it.each([
    ["raw slash", "a/b", /unexpected character "\/"/],
    ["truncated escape", "~00", /bad escape at position 0/],
    ["lower-case hex", "~002f", /bad escape/],
    ["non-canonical escape of a plain letter", "~0041", /bad escape/],
    ["non-canonical escape of a slash", "~002F", /bad escape/],
    ["space", "a b", /unexpected character " "/],
  ])("decodeKey rejects %s", (_label, key, error) => {
    expect(() => decodeKey(key)).toThrow(error);
  });
});

describe("vmKey", () => {
  it("is case-insensitive, as ARM ids are", () => {
    const id = "/subscriptions/S1/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/VM";
    expect(vmKey(id)).toBe(vmKey(id.toLowerCase()));
    expect(decodeKey(vmKey(id))).toBe(id.toLowerCase());
  });

  it.each([[""], ["   "]])("rejects the blank id %j", (id) => {
    expect(() => vmKey(id)).toThrow(/VM id is required/);
  });
});
