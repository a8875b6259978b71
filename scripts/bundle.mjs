#!/usr/bin/env node
// Bundles the function app into one ES module for deployment, and lays out the deploy folder
// the way the Functions host reads it:
//   dist/deploy/main.mjs (+ .map)   every dependency inlined
//   dist/deploy/host.json           copied from the root
//   dist/deploy/package.json        { type: module, main: main.mjs }, no dependencies
// So the package that goes to Azure carries no node_modules (azure.yaml: dist: dist/deploy).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT } from "./tools.mjs";

export const DEFAULT_ENTRY = join(ROOT, "src", "functions", "index.ts");
export const DEFAULT_OUTDIR = join(ROOT, "dist", "deploy");
export const BUNDLE_FILE = "main.mjs";

/**
 * @param {{ entry?: string, outdir?: string }} [options]
 * @returns {Promise<{ outfile: string, bytes: number, ms: number, warnings: string[] }>}
 */
export async function bundle(options = {}) {
  const entry = options.entry ?? DEFAULT_ENTRY;
  const outdir = options.outdir ?? DEFAULT_OUTDIR;
  const outfile = join(outdir, BUNDLE_FILE);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const started = performance.now();
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    // The lowest Node the app supports locally; Azure runs 22 (functionAppConfig.runtime).
    target: "node20",
    format: "esm",
    // The Functions worker provides this module at run time by intercepting require(); bundling
    // any copy of it would cut the app off from the host.
    external: ["@azure/functions-core"],
    // CommonJS dependencies (@azure/functions itself) call require(); an ES module has none, so
    // give the bundle one. It goes through Module.prototype.require, which the worker hooks.
    banner: {
      js: "import { createRequire as __enforcerCreateRequire } from 'node:module'; const require = __enforcerCreateRequire(import.meta.url);",
    },
    sourcemap: "linked",
    sourcesContent: false,
    legalComments: "linked",
    logLevel: "silent",
    metafile: true,
  });
  const ms = performance.now() - started;
  copyFileSync(join(ROOT, "host.json"), join(outdir, "host.json"));
  const rootPkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const deployPkg = {
    name: rootPkg.name,
    version: rootPkg.version,
    private: true,
    type: "module",
    main: BUNDLE_FILE,
    engines: { node: ">=20" },
  };
  writeFileSync(join(outdir, "package.json"), JSON.stringify(deployPkg, null, 2) + "\n");
  const warnings = result.warnings.map((w) => `${w.location?.file ?? ""}:${w.location?.line ?? ""} ${w.text}`);
  return { outfile, bytes: statSync(outfile).size, ms, warnings };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await bundle();
  for (const w of r.warnings) console.warn(`[bundle] warning: ${w}`);
  console.log(`[bundle] ${relative(ROOT, r.outfile)}: ${(r.bytes / 1024).toFixed(0)} KiB in ${r.ms.toFixed(0)} ms`);
}
