// azure.yaml, read as azd reads it: `azd up` must publish the code between a provision without the
// Event Grid subscriptions and one with them (Event Grid refuses a subscription to a function that
// is not deployed yet), with no azd started from inside azd, and from any starting state.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../../scripts/tools.mjs";

type Yaml = null | boolean | number | string | Yaml[] | { [key: string]: Yaml };

const azureYaml = parse(readFileSync(join(ROOT, "azure.yaml"), "utf8")) as { [key: string]: Yaml };

/** Every `run` of every hook (project and service level, posix and windows), with where it is. */
function hookRuns(node: Yaml, path: string[] = []): { where: string; run: string }[] {
  if (node === null || typeof node !== "object") return [];
  if (Array.isArray(node)) return node.flatMap((n, i) => hookRuns(n, [...path, String(i)]));
  return Object.entries(node).flatMap(([key, value]) =>
    key === "run" && typeof value === "string" && path.includes("hooks") ? [{ where: path.join("."), run: value }] : hookRuns(value, [...path, key]),
  );
}

/** Lines that start azd (a command, not a mention in a comment or a message). */
function azdInvocations(script: string): string[] {
  return script.split("\n").filter((line) => /(^|[;&|(`$]\s*|\bthen\s+|\bdo\s+)azd(\.exe)?\s/.test(line.replace(/#.*$/, "").trim()));
}

describe("azure.yaml: the order `azd up` deploys in", () => {
  const steps = ((azureYaml["workflows"] as { up: { steps: { azd: string }[] } }).up.steps ?? []).map((s) => s.azd);

  it("is a workflows.up sequence of azd commands (the schema's `steps: - azd: <command>`)", () => {
    expect(Object.keys(azureYaml["workflows"] as object)).toEqual(["up"]);
    expect(steps).toEqual([
      "env set EVENT_SUBSCRIPTIONS_ENABLED false",
      "provision",
      "deploy --all",
      "env set EVENT_SUBSCRIPTIONS_ENABLED true",
      "provision",
    ]);
  });

  it("publishes the code after a provision without event subscriptions and before the one with them", () => {
    const switchOff = steps.indexOf("env set EVENT_SUBSCRIPTIONS_ENABLED false");
    const deploy = steps.indexOf("deploy --all");
    const switchOn = steps.indexOf("env set EVENT_SUBSCRIPTIONS_ENABLED true");
    // Starting with the switch off makes `azd up` after `azd down` work: the environment keeps
    // `true` from the last run, and the app it pointed at is gone.
    expect(switchOff).toBe(0);
    expect(steps.slice(switchOff + 1, deploy)).toContain("provision");
    expect(switchOn).toBeGreaterThan(deploy);
    expect(steps.slice(switchOn + 1)).toEqual(["provision"]);
    // The switch reaches the Bicep parameter that gates the event subscriptions.
    const parameters = JSON.parse(readFileSync(join(ROOT, "infra", "main.parameters.json"), "utf8")) as { parameters: Record<string, { value: unknown }> };
    expect(parameters.parameters["eventSubscriptionsEnabled"]?.value).toBe("${EVENT_SUBSCRIPTIONS_ENABLED=false}");
  });

  it("starts no azd from a hook, inline or in a script the hook runs", () => {
    const runs = hookRuns(azureYaml);
    expect(runs.length, "the prepackage bundle hook is found").toBeGreaterThan(0);
    for (const { where, run } of runs) {
      expect(azdInvocations(run), where).toEqual([]);
      for (const file of run.match(/[\w./-]+\.(sh|ps1|mjs|js|ts)\b/g) ?? []) {
        if (existsSync(join(ROOT, file))) expect(azdInvocations(readFileSync(join(ROOT, file), "utf8")), `${where}: ${file}`).toEqual([]);
      }
    }
  });

  it("the azd-in-azd detector catches what the old postdeploy hook did", () => {
    expect(azdInvocations("azd env set EVENT_SUBSCRIPTIONS_ENABLED true\nazd provision --no-prompt")).toHaveLength(2);
    expect(azdInvocations("if [ x ]; then azd provision; fi")).toHaveLength(1);
    expect(azdInvocations("# azd provision is not run here\necho 'see azd docs'\nnpm run bundle")).toEqual([]);
  });
});
