import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { TokenCredential } from "@azure/core-auth";
import { startAzurite, type AzuriteInstance } from "../../src/local/azurite.js";
import { createServices, NO_WATCHED_SUBSCRIPTIONS } from "../../src/app/services.js";
import { main } from "../../src/cli/main.js";

/** Issue 10, fail closed on scope: an app with nothing to watch says so when it starts. */
let azurite: AzuriteInstance;
const credential: TokenCredential = { getToken: async () => ({ token: "unused", expiresOnTimestamp: Date.now() + 3600_000 }) };

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.close();
});

describe("the startup message", () => {
  it("an empty WATCHED_SUBSCRIPTION_IDS is announced once, saying every VM is refused", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      await createServices({ AzureWebJobsStorage: azurite.connectionString, WATCHED_SUBSCRIPTION_IDS: "" }, credential);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenCalledWith(NO_WATCHED_SUBSCRIPTIONS);
      expect(NO_WATCHED_SUBSCRIPTIONS).toMatch(/WATCHED_SUBSCRIPTION_IDS is empty: the enforcer refuses every VM/);
      warn.mockClear();
      await createServices({ AzureWebJobsStorage: azurite.connectionString, WATCHED_SUBSCRIPTION_IDS: "6b1f5a36-3d3c-4b7e-9d0a-1f3e5c7a9b21" }, credential);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });
});

describe("the CLI with nothing to watch, or asked for more than is watched", () => {
  const SUB = "6b1f5a36-3d3c-4b7e-9d0a-1f3e5c7a9b21";
  const OTHER = "0f0f0f0f-1111-4222-8333-444444444444";
  const run = async (env: Record<string, string>, argv: string[]) => {
    const saved = { ...process.env };
    const stderr: string[] = [];
    const write = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (stderr.push(String(chunk)), true));
    const warn = vi.spyOn(console, "warn").mockImplementation((...args) => void stderr.push(args.join(" ")));
    Object.assign(process.env, { AzureWebJobsStorage: azurite.connectionString, ...env });
    try {
      return { code: await main(argv), stderr: stderr.join("") };
    } finally {
      write.mockRestore();
      warn.mockRestore();
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  };

  it("audit says every VM is refused and exits 2, before any ARM call", async () => {
    const { code, stderr } = await run({ WATCHED_SUBSCRIPTION_IDS: "" }, ["audit"]);
    expect(code).toBe(2);
    expect(stderr).toContain(NO_WATCHED_SUBSCRIPTIONS);
  });

  it("audit --subscription outside the watched list exits 2", async () => {
    const { code, stderr } = await run({ WATCHED_SUBSCRIPTION_IDS: SUB }, ["audit", "--subscription", OTHER]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/is not in WATCHED_SUBSCRIPTION_IDS/);
  });

  it("audit --enforce cannot raise a report-mode configuration", async () => {
    const { code, stderr } = await run({ WATCHED_SUBSCRIPTION_IDS: SUB, ENFORCER_MODE: "report" }, ["audit", "--enforce"]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--enforce cannot raise ENFORCER_MODE=report/);
  });

  it("explain refuses a VM outside the watched subscriptions before any ARM call", async () => {
    const vm = `/subscriptions/${OTHER}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm`;
    const { code, stderr } = await run({ WATCHED_SUBSCRIPTION_IDS: SUB }, ["explain", vm]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/is not in WATCHED_SUBSCRIPTION_IDS/);
  });
});
