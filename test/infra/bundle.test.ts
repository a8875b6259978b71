// The deployable bundle: esbuild builds it from src/functions/index.ts, and loading it the way the
// Functions worker does registers every function, under Node 20 (this machine) and Node 22 (the
// runtime the infra deploys). Prints size and load times for the record.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { SETTINGS } from "../../src/config/settings.js";
import { loadFunctionApp } from "../../src/local/host/functionApp.js";
import { azureAppSettingNames } from "../../scripts/app-settings.mjs";
import { BUNDLE_FILE, DEFAULT_ENTRY, bundle, type BundleResult } from "../../scripts/bundle.mjs";
import { ROOT, node22Path } from "../../scripts/tools.mjs";
import { requireTool } from "./arm.js";

/** The functions the app must register at least (issue 5), with the trigger the host must see for each. */
const EXPECTED = [
  { name: "onResourceWrite", trigger: "eventGridTrigger" },
  { name: "driftAudit", trigger: "timerTrigger" },
  { name: "reconcileVm", trigger: "queueTrigger" },
  { name: "compliance", trigger: "httpTrigger", methods: ["GET"] },
  { name: "reconcileNow", trigger: "httpTrigger", methods: ["POST"] },
  { name: "dashboard", trigger: "httpTrigger", methods: ["GET"] },
];

interface Loaded {
  node: string;
  loadMs: number;
  functions: { name: string; trigger: string; config: Record<string, unknown> }[];
}

function sortByName<T extends { name: string }>(xs: T[]): T[] {
  return [...xs].sort((a, b) => a.name.localeCompare(b.name));
}

/** Loads the bundle in a fresh process of the given Node binary (cold start, like the worker). */
function loadInProcess(nodeBinary: string, bundleFile: string): Loaded {
  const r = spawnSync(nodeBinary, ["--import", "tsx", join("test", "infra", "load-bundle.ts"), bundleFile], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`${nodeBinary} could not load the bundle (exit ${r.status}):\n${r.stderr}${r.stdout}`);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as Loaded;
}

type Registered = Loaded["functions"];

function summary(fns: Registered): { name: string; trigger: string; config: Record<string, unknown> }[] {
  return sortByName(fns).map((f) => ({ name: f.name, trigger: f.trigger, config: f.config }));
}

/** The bundle registers exactly what the source registers: same names, triggers and bindings. */
function expectSameAsSource(loaded: Registered, source: Registered): void {
  expect(summary(loaded)).toEqual(summary(source));
}

describe("deploy bundle", () => {
  let built: BundleResult;
  let source: Registered;
  beforeAll(async () => {
    // What the TypeScript source registers (run through tsx, in its own process): the reference
    // the bundle must reproduce.
    source = loadInProcess(process.execPath, DEFAULT_ENTRY).functions;
    built = await bundle({ outdir: mkdtempSync(join(tmpdir(), "aadlogin-bundle-")) });
    console.log(`[bundle] ${BUNDLE_FILE}: ${built.bytes} bytes (${(built.bytes / 1024 / 1024).toFixed(2)} MiB), built in ${built.ms.toFixed(0)} ms from ${DEFAULT_ENTRY}`);
  }, 120_000);

  it("has a source that registers (at least) the five functions of the design", () => {
    for (const e of EXPECTED) {
      const f = source.find((x) => x.name === e.name);
      expect(f, `${e.name} is not registered by ${DEFAULT_ENTRY}`).toBeDefined();
      expect(f!.trigger, e.name).toBe(e.trigger);
      if (e.methods) expect(f!.config["methods"], e.name).toEqual(e.methods);
    }
    console.log(`[bundle] source registers: ${source.map((f) => `${f.name} (${f.trigger})`).join(", ")}`);
  });

  it("builds with esbuild without warnings, leaving @azure/functions-core to the worker", () => {
    expect(built.warnings).toEqual([]);
    const text = readFileSync(built.outfile, "utf8");
    expect(text).toContain('"@azure/functions-core"');
    // Bundled, the library would be resolved by import from node_modules, which the package lacks.
    expect(text).not.toMatch(/from\s+["']@azure\/functions["']/);
  });

  it("lays out the deploy folder the host reads: package.json main, host.json", () => {
    const dir = join(built.outfile, "..");
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
    expect(pkg["main"]).toBe(BUNDLE_FILE);
    expect(pkg["type"]).toBe("module");
    expect(pkg).not.toHaveProperty("dependencies");
    expect(readFileSync(join(dir, "host.json"), "utf8")).toBe(readFileSync(join(ROOT, "host.json"), "utf8"));
  });

  it("registers every function when imported under Node 20 (this process)", async () => {
    const started = performance.now();
    const registry = await loadFunctionApp(pathToFileURL(built.outfile));
    console.log(`[bundle] in-process load under ${process.version}: ${(performance.now() - started).toFixed(0)} ms`);
    expectSameAsSource(registry.functions.map((f) => ({ name: f.name, trigger: f.trigger.type, config: { ...f.trigger.config } })), source);
    // Every %SETTING% a binding refers to, and every connection, is an app setting the infra sets.
    const appSettings = azureAppSettingNames(SETTINGS);
    for (const f of registry.functions) {
      for (const value of Object.values(f.trigger.config)) {
        for (const ref of String(value).match(/%([^%]+)%/g) ?? []) expect(appSettings, `${f.name} ${ref}`).toContain(ref.slice(1, -1));
      }
      // A queue trigger's identity-based connection, as the host reads it in any cloud.
      const connection = f.trigger.config["connection"];
      if (typeof connection === "string") {
        expect(appSettings, `${f.name} connection`).toContain(`${connection}__queueServiceUri`);
        expect(appSettings, `${f.name} connection`).toContain(`${connection}__credential`);
      }
    }
  });

  it("registers every function in a fresh Node 20 process (cold load time)", () => {
    const loaded = loadInProcess(process.execPath, built.outfile);
    console.log(`[bundle] cold load under ${loaded.node}: ${loaded.loadMs.toFixed(0)} ms`);
    expect(loaded.node.startsWith("v20.")).toBe(true);
    expectSameAsSource(loaded.functions, source);
  });

  requireTool("Node 22", node22Path(), (node22) => {
    it("registers every function in a fresh Node 22 process, the runtime Azure runs (cold load time)", () => {
      const loaded = loadInProcess(node22, built.outfile);
      console.log(`[bundle] cold load under ${loaded.node}: ${loaded.loadMs.toFixed(0)} ms`);
      expect(loaded.node.startsWith("v22.")).toBe(true);
      expectSameAsSource(loaded.functions, source);
    });
  });
});
