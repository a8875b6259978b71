import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The core must stay pure: the adapters are the only place SDK types, I/O and the clock appear.
const dir = fileURLToPath(new URL("../../src/domain/", import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));

const forbidden: ReadonlyArray<readonly [string, RegExp]> = [
  ["an @azure import", /from\s+["']@azure\//],
  ["a node: import other than node:crypto", /from\s+["']node:(?!crypto["'])/],
  ["a bare Node built-in import", /from\s+["'](fs|path|os|http|https|net|child_process|crypto)["']/],
  ["process.env or any process access", /\bprocess\./],
  ["a clock read (Date.now)", /\bDate\.now\s*\(/],
  ["a clock read (new Date())", /new\s+Date\s*\(\s*\)/],
  ["randomness", /\bMath\.random\s*\(|randomUUID/],
  ["network access", /\bfetch\s*\(/],
  ["an import from outside the core", /from\s+["']\.\.\//],
];

describe("src/domain is pure", () => {
  it("has files to check", () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it.each(files)("%s", (file) => {
    const source = readFileSync(`${dir}${file}`, "utf8");
    for (const [what, pattern] of forbidden) {
      expect(pattern.test(source), `${file} contains ${what}`).toBe(false);
    }
  });
});
