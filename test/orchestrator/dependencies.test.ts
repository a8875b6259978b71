import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The orchestrator decides with the domain and acts through ports: it imports neither the SDK nor
 * an adapter, so a fake of a port can stand in for Azure and the rule below keeps it so. `ports.ts`
 * is the one file that names the store's record and message shapes, as types only.
 */
const dir = fileURLToPath(new URL("../../src/orchestrator/", import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
const IMPORT = /^\s*import\s+(type\s+)?[^;]*?from\s+["']([^"']+)["']/gm;
const ALLOWED = [/^\.\/[A-Za-z]+\.js$/, /^\.\.\/domain\//, /^\.\.\/config\/policy\.js$/, /^node:crypto$/];
const TYPE_ONLY_FROM_PORTS = [/^\.\.\/store\/(records|reconcileRequest)\.js$/];

function importsOf(file: string): { from: string; typeOnly: boolean }[] {
  const source = readFileSync(`${dir}${file}`, "utf8");
  return [...source.matchAll(IMPORT)].map((m) => ({ from: m[2] ?? "", typeOnly: m[1] !== undefined }));
}

describe("src/orchestrator depends on ports and the domain only", () => {
  it("has files to check", () => {
    expect(files).toEqual(expect.arrayContaining(["ports.ts", "reconcile.ts", "leasedPass.ts"]));
  });

  it.each(files)("%s", (file) => {
    for (const { from, typeOnly } of importsOf(file)) {
      const allowed = ALLOWED.some((p) => p.test(from)) || (file === "ports.ts" && typeOnly && TYPE_ONLY_FROM_PORTS.some((p) => p.test(from)));
      expect(allowed, `${file} imports ${from}${typeOnly ? " (types)" : ""}`).toBe(true);
    }
  });

  it("catches an adapter import (the rule can fail)", () => {
    const sample = 'import { classifyArmError } from "../azure/errors.js";';
    const from = [...sample.matchAll(IMPORT)][0]?.[2] ?? "";
    expect(ALLOWED.some((p) => p.test(from))).toBe(false);
  });
});
