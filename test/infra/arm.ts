// Helpers over compiled ARM templates (the JSON `bicep build` emits) and over the tools the
// infra tests need, so the tests read as statements about the deployment.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { it } from "vitest";
import { INSTALL_HINT, ROOT } from "../../scripts/tools.mjs";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export interface ArmTemplate {
  readonly parameters?: Record<string, { type: string; defaultValue?: Json; allowedValues?: Json[] }>;
  readonly variables?: Record<string, Json>;
  readonly resources: ArmResource[] | Record<string, ArmResource>;
  readonly outputs?: Record<string, { type: string; value: Json }>;
}
export interface ArmResource {
  readonly type: string;
  readonly name: string;
  readonly scope?: string;
  readonly condition?: Json;
  readonly copy?: { name: string; count: Json };
  readonly subscriptionId?: string;
  readonly resourceGroup?: string;
  readonly properties?: Record<string, Json> & { template?: ArmTemplate };
  readonly [key: string]: unknown;
}
/** A resource with the template it is declared in (whose variables its expressions use) and the nested deployments that lead to it. */
export interface Located {
  readonly resource: ArmResource;
  readonly template: ArmTemplate;
  readonly path: readonly string[];
}

export const INFRA_DIR = join(ROOT, "infra");

/**
 * Registers the tests of a suite that needs an installed tool. Missing tool: under CI=true one
 * failing test says how to install it (CI must not pass by skipping); elsewhere the tests are
 * reported as skipped, with the reason in their name.
 */
export function requireTool(tool: string, path: string | undefined, register: (path: string) => void): void {
  if (path) {
    register(path);
    return;
  }
  const reason = `${tool} is not installed: ${INSTALL_HINT}`;
  if (process.env["CI"] === "true") {
    it(`${tool} is installed (required under CI=true)`, () => {
      throw new Error(reason);
    });
  } else {
    // Printed as well: the default reporter shows only a count of skipped tests.
    console.warn(`[infra tests] SKIPPED: ${reason}`);
    it.skip(`SKIPPED: ${reason}`, () => {});
  }
}

export function bicepFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith(".bicep")) out.push(join(dir, e.name));
    }
  };
  walk(INFRA_DIR);
  return out.sort();
}

export interface BuildResult {
  /** Compiled template per .bicep file, keyed by its path relative to infra/ with .json (e.g. "app/function.json"). */
  readonly templates: Map<string, ArmTemplate>;
  /** Compiled JSON text, for searches over everything. */
  readonly texts: Map<string, string>;
  /** Diagnostics the compiler printed (warnings and errors), one per line. */
  readonly diagnostics: string[];
  readonly status: number | null;
}

/** Compiles every .bicep under infra/ with the real compiler into a temporary folder. */
export function buildAll(bicep: string): BuildResult {
  const outdir = mkdtempSync(join(tmpdir(), "aadlogin-bicep-"));
  const r = spawnSync(bicep, ["build", "--pattern", "infra/**/*.bicep", "--outdir", outdir], { cwd: ROOT, encoding: "utf8" });
  const templates = new Map<string, ArmTemplate>();
  const texts = new Map<string, string>();
  for (const file of bicepFiles()) {
    const key = relative(INFRA_DIR, file).replace(/\.bicep$/, ".json");
    try {
      const text = readFileSync(join(outdir, key), "utf8");
      texts.set(key, text);
      templates.set(key, JSON.parse(text) as ArmTemplate);
    } catch {
      // missing output: reported by the test that compares files with outputs
    }
  }
  const diagnostics = `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => /\) : (Error|Warning|Info)/.test(l));
  return { templates, texts, diagnostics, status: r.status };
}

export interface LintFinding {
  readonly rule: string;
  readonly level: string;
  readonly message: string;
  readonly where: string;
}

/** Lints every .bicep under infra/ (infra/bicepconfig.json applies) and returns every finding. */
export function lintAll(bicep: string): { findings: LintFinding[]; status: number | null; raw: string } {
  const r = spawnSync(bicep, ["lint", "--pattern", "infra/**/*.bicep", "--diagnostics-format", "sarif"], { cwd: ROOT, encoding: "utf8" });
  const raw = `${r.stdout}${r.stderr}`;
  // With --pattern, one SARIF document per file, back to back.
  const docs = jsonDocuments(r.stdout) as {
    runs: { results?: { ruleId: string; level?: string; message: { text: string }; locations?: { physicalLocation?: { artifactLocation?: { uri?: string }; region?: { startLine?: number } } }[] }[] }[];
  }[];
  if (docs.length !== bicepFiles().length) throw new Error(`bicep lint printed ${docs.length} SARIF documents for ${bicepFiles().length} files:\n${raw}`);
  const findings = docs.flatMap((d) => d.runs).flatMap((run) =>
    (run.results ?? []).map((res) => {
      const loc = res.locations?.[0]?.physicalLocation;
      return {
        rule: res.ruleId,
        level: res.level ?? "warning",
        message: res.message.text,
        where: `${loc?.artifactLocation?.uri ?? "?"}:${loc?.region?.startLine ?? "?"}`,
      };
    }),
  );
  return { findings, status: r.status, raw };
}

/** Parses concatenated JSON documents (`{...}{...}`). */
export function jsonDocuments(text: string): unknown[] {
  const docs: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}" && --depth === 0) {
      docs.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return docs;
}

function resourcesOf(template: ArmTemplate): ArmResource[] {
  return Array.isArray(template.resources) ? template.resources : Object.values(template.resources);
}

/** Every resource of the template and of its nested deployments (modules), depth first. */
export function allResources(template: ArmTemplate, path: readonly string[] = []): Located[] {
  const out: Located[] = [];
  for (const resource of resourcesOf(template)) {
    out.push({ resource, template, path });
    const nested = resource.type === "Microsoft.Resources/deployments" ? resource.properties?.template : undefined;
    if (nested) out.push(...allResources(nested, [...path, resource.name]));
  }
  return out;
}

export function resourcesOfType(template: ArmTemplate, type: string): Located[] {
  return allResources(template).filter((l) => l.resource.type.toLowerCase() === type.toLowerCase());
}

/** The nested deployment (module) whose name expression contains `namePart`. */
export function moduleDeployment(template: ArmTemplate, namePart: string): ArmResource {
  const modules = resourcesOf(template).filter((r) => r.type === "Microsoft.Resources/deployments");
  const exact = modules.filter((r) => r.name === namePart);
  const found = exact.length > 0 ? exact : modules.filter((r) => r.name.includes(namePart));
  if (found.length !== 1) throw new Error(`expected one module deployment named like "${namePart}", found ${found.length}`);
  return found[0]!;
}

/**
 * Replaces `variables('x')` in an ARM expression by the variable's literal value when it is a
 * string, so a role definition GUID kept in a variable can be read. A string that is exactly
 * `[variables('x')]` resolves to the variable's value of any type.
 */
export function resolveVariables(value: Json | undefined, template: ArmTemplate): Json | undefined {
  if (typeof value !== "string") return value;
  const whole = /^\[variables\('([^']+)'\)\]$/.exec(value);
  if (whole) return resolveVariables(template.variables?.[whole[1]!], template);
  return value.replace(/variables\('([^']+)'\)/g, (m, name: string) => {
    const v = template.variables?.[name];
    return typeof v === "string" ? `'${v}'` : m;
  });
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

export function guidsIn(text: string): string[] {
  return [...new Set((text.match(GUID) ?? []).map((g) => g.toLowerCase()))];
}
