import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SETTINGS } from "../../src/config/settings.js";

const readme = readFileSync("README.md", "utf8");
const sample = JSON.parse(readFileSync("local.settings.sample.json", "utf8")) as { Values: Record<string, string> };

describe("the settings list, the sample settings file and the README agree", () => {
  it("local.settings.sample.json has exactly every setting the code reads, with its default", () => {
    expect(sample.Values).toEqual(Object.fromEntries(SETTINGS.map((s) => [s.name, s.default])));
  });

  it.each(SETTINGS.map((s) => [s.name, s.default]))("the README documents %s with its default", (name, value) => {
    const row = readme.split("\n").find((line) => line.startsWith(`| \`${name}\` |`));
    expect(row, `README settings table row for ${name}`).toBeDefined();
    expect(row).toContain(value === "" ? "(empty)" : `\`${value}\``);
  });

  it("the README's test command is what CI runs", () => {
    expect(readme).toContain("npm test");
    expect(readFileSync(".ci/run", "utf8")).toMatch(/^npm test$/m);
  });
});
