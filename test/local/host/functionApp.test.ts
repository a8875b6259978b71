import { describe, expect, it } from "vitest";
import { loadFunctionApp } from "../../../src/local/host/functionApp.js";

const entry = new URL("./fixtures/app.ts", import.meta.url);

describe("loadFunctionApp", () => {
  it("captures each function's real binding metadata from @azure/functions", async () => {
    const registry = await loadFunctionApp(entry);
    const byName = Object.fromEntries(registry.functions.map((f) => [f.name, f.trigger]));
    expect(byName["onResourceEvent"]?.type).toBe("eventGridTrigger");
    expect(byName["audit"]).toMatchObject({ type: "timerTrigger", config: { schedule: "%AUDIT_SCHEDULE%" } });
    expect(byName["reconcile"]).toMatchObject({
      type: "queueTrigger",
      config: { queueName: "%RECONCILE_QUEUE_NAME%", connection: "AzureWebJobsStorage" },
    });
    expect(byName["status"]).toMatchObject({
      type: "httpTrigger",
      config: { authLevel: "function", methods: ["GET"], route: "status/{id?}" },
    });
    expect(registry.get("STATUS")?.name).toBe("status");
  });

  it("returns the same registry when the entry is loaded again (the module runs once per process)", async () => {
    const [a, b] = await Promise.all([loadFunctionApp(entry), loadFunctionApp(entry.pathname)]);
    expect(b).toBe(a);
  });

  it("invokes a handler through the programming model with a real InvocationContext and camel-cased metadata", async () => {
    const registry = await loadFunctionApp(entry);
    const { seen } = await import("./fixtures/app.js");
    const before = seen.messages.length;
    await registry.get("reconcile")!.invoke(JSON.stringify({ vmId: "vm-direct" }), {
      invocationId: "inv-1",
      triggerMetadata: { DequeueCount: 3, Id: "0042" },
    });
    expect(seen.messages.slice(before)).toEqual([
      {
        functionName: "reconcile",
        invocationId: "inv-1",
        isInvocationContext: true,
        input: { vmId: "vm-direct" },
        triggerMetadata: { dequeueCount: 3, id: "0042" },
      },
    ]);
  });

  it("rejects with the handler's error", async () => {
    const registry = await loadFunctionApp(entry);
    await expect(registry.get("reconcile")!.invoke({ failUntilAttempt: 9 }, { triggerMetadata: { DequeueCount: 1 } })).rejects.toThrow(
      "attempt 1 fails on purpose",
    );
  });

  it("says why when the entry registers nothing", async () => {
    await expect(loadFunctionApp(new URL("./fixtures/empty.ts", import.meta.url))).rejects.toThrow(/registered no functions/);
  });
});
