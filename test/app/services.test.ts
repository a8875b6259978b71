import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { TokenCredential } from "@azure/core-auth";
import { startAzurite, type AzuriteInstance } from "../../src/local/azurite.js";
import { createServices, NO_WATCHED_SUBSCRIPTIONS } from "../../src/app/services.js";

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
