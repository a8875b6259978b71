import { describe, expect, it } from "vitest";
import { loadAppSettings } from "../../src/app/settings.js";
import { loadEnforcerConfig } from "../../src/config/policy.js";
import { SETTINGS } from "../../src/config/settings.js";

const credential = { getToken: async () => null };
const DEV = { AzureWebJobsStorage: "UseDevelopmentStorage=true" };

describe("loadAppSettings: the one settings loader", () => {
  it("prefers the identity-based account name for tables and queue, and reads their names", () => {
    const settings = loadAppSettings({ AzureWebJobsStorage__accountName: "acct", AzureWebJobsStorage: "x", RECONCILE_QUEUE_NAME: "my-q" }, credential);
    expect(settings.store).toEqual({ accountName: "acct", credential, tablePrefix: "aadlogin" });
    expect(settings.queue).toEqual({ accountName: "acct", credential, queueName: "my-q" });
  });

  it("uses the connection string otherwise, with the defaults of SETTINGS", () => {
    const settings = loadAppSettings({ ...DEV, TABLE_PREFIX: "mine" }, credential);
    expect(settings.store).toEqual({ connectionString: "UseDevelopmentStorage=true", tablePrefix: "mine" });
    expect(settings.queue).toEqual({ connectionString: "UseDevelopmentStorage=true", queueName: "reconcile-requests" });
    expect(settings.arm).toMatchObject({ endpoint: "https://management.azure.com", maxRetries: 5, retryDelayInMs: 1000 });
    expect(settings.config).toEqual(loadEnforcerConfig({}));
  });

  it("reads the same as with every default written out: SETTINGS is the one place defaults live", () => {
    const written = Object.fromEntries(SETTINGS.filter((s) => s.default !== "").map((s) => [s.name, s.default]));
    const { arm: a, ...fromDefaults } = loadAppSettings({ ...written, ...DEV }, credential);
    const { arm: b, ...fromNothing } = loadAppSettings(DEV, credential);
    expect(fromDefaults).toEqual(fromNothing);
    expect({ ...a, credential: undefined }).toEqual({ ...b, credential: undefined });
  });

  it("reports every bad value at once: policy, ARM and storage settings in one error", () => {
    let message = "";
    try {
      loadAppSettings(
        {
          ENFORCER_MODE: "sideways",
          ARM_ENDPOINT: "http://management.azure.com",
          ARM_CA_FILE: "/nonexistent/ca.pem",
          ARM_MAX_RETRIES: "-1",
          FOLLOW_UP_DELAY_MS: "soon",
          TABLE_PREFIX: "1bad",
          RECONCILE_QUEUE_NAME: "Bad_Queue",
        },
        credential,
      );
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration:/);
    const lines = message.split("\n- ").slice(1);
    expect(lines).toHaveLength(8);
    for (const name of ["ENFORCER_MODE", "ARM_ENDPOINT", "ARM_CA_FILE", "ARM_MAX_RETRIES", "FOLLOW_UP_DELAY_MS", "TABLE_PREFIX", "RECONCILE_QUEUE_NAME", "No storage connection configured"]) {
      expect(lines.filter((l) => l.includes(name)), name).toHaveLength(1);
    }
    expect(message).toContain('"soon"');
    expect(message).toContain('"Bad_Queue"');
  });

  it("cuts hostile values in its messages", () => {
    expect(() => loadAppSettings({ ...DEV, ARM_ENDPOINT: `ftp://${"x".repeat(10_000)}` }, credential)).toThrow(/x{70,80}…"/);
    expect(() => loadAppSettings({ ...DEV, RECONCILE_QUEUE_NAME: "Q".repeat(10_000) }, credential)).toThrow(/^(?![\s\S]{2000})/);
  });
});
