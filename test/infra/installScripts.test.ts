// npm 11 skips dependency install scripts that package.json's `allowScripts` does not cover and ends
// `npm install` with an "install scripts not yet covered by allowScripts" warning. The same check,
// offline, over the lockfile: every dependency with an install script is approved or denied on
// purpose, and an approval by name cannot widen silently because the package is pinned exactly.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/tools.mjs";

interface PackageJson {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
}
interface LockEntry {
  version?: string;
  hasInstallScript?: boolean;
}

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as PackageJson;
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };

/** Dependencies (not the project itself) that run a script at install, as name@version. */
const withInstallScripts = Object.entries(lock.packages)
  .filter(([path, entry]) => path !== "" && entry.hasInstallScript)
  .map(([path, entry]) => ({ name: path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length), version: entry.version ?? "" }));

/** allowScripts keys are a name or name@version (npm install-scripts approve writes either). */
function decision(name: string, version: string): boolean | undefined {
  const policy = pkg.allowScripts ?? {};
  return policy[`${name}@${version}`] ?? policy[name];
}

describe("install scripts (npm 11 allowScripts)", () => {
  it("every dependency with an install script has a decision in package.json allowScripts", () => {
    expect(withInstallScripts.map((p) => p.name)).toContain("esbuild");
    for (const { name, version } of withInstallScripts) expect(decision(name, version), `${name}@${version}`).toBeTypeOf("boolean");
  });

  it("allows esbuild's postinstall (it checks the platform binary the bundle step runs)", () => {
    const esbuild = withInstallScripts.find((p) => p.name === "esbuild")!;
    expect(decision(esbuild.name, esbuild.version)).toBe(true);
  });

  it("approves only direct dependencies pinned to one version, so an approval never covers an unreviewed version", () => {
    const direct = { ...pkg.dependencies, ...pkg.devDependencies };
    for (const [key, allowed] of Object.entries(pkg.allowScripts ?? {})) {
      if (!allowed) continue;
      const name = key.replace(/(?<=.)@[^@]*$/, "");
      expect(direct[name], `${key} is a direct dependency`).toBeDefined();
      expect(direct[name], `${name} is pinned exactly`).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });
});
