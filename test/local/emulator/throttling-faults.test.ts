import { describe, expect, it } from "vitest";
import { grantOwnerAtRoot, useTestEmulator, type TestEmulator } from "../../support/emulator.js";
import { armCall } from "./arm-http.js";

const SUB = "cccccccc-0000-4000-8000-0000000000cc";
const RG_PATH = `/subscriptions/${SUB}/resourceGroups/rg1?api-version=2025-04-01`;
let t: TestEmulator;

useTestEmulator((started) => {
  t = started;
  t.emulator.setLimits({ lroDelayMs: 0 });
  t.emulator.addResourceGroup(SUB, "rg1");
});

const get = (token = t.emulator.tokenFor(t.emulator.managedIdentity.principalId)) => armCall(t.emulator.armUrl, t.emulator.caPem, "GET", RG_PATH, { token });

describe("throttling", () => {
  it("counts down x-ms-ratelimit-remaining-subscription-reads and answers 429 with Retry-After when the bucket is empty", async () => {
    t.emulator.setLimits({ throttleScale: 0.01 }); // reads: bucket 2.5 -> 3 tokens, refill 0.25/s
    const first = await get();
    expect(first.headers["x-ms-ratelimit-remaining-subscription-reads"]).toBe("2");
    expect(first.headers["x-ms-ratelimit-remaining-subscription-writes"]).toBe("2");
    await get();
    await get();
    const throttled = await get();
    expect(throttled.status).toBe(429);
    expect(throttled.body.error.code).toBe("SubscriptionRequestsThrottled");
    expect(Number(throttled.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    // Buckets are per principal: another caller is not affected.
    t.emulator.addPrincipal({ id: "dddddddd-0000-4000-8000-0000000000dd", type: "User", displayName: "Other" });
    grantOwnerAtRoot(t.emulator, "dddddddd-0000-4000-8000-0000000000dd");
    expect((await get(t.emulator.tokenFor("dddddddd-0000-4000-8000-0000000000dd"))).status).toBe(200);
  });

  it("uses ARM's documented bucket sizes by default", async () => {
    const res = await get();
    expect([res.headers["x-ms-ratelimit-remaining-subscription-reads"], res.headers["x-ms-ratelimit-remaining-subscription-writes"], res.headers["x-ms-ratelimit-remaining-subscription-deletes"]]).toEqual(["249", "200", "200"]);
  });
});

describe("fault injection, observed through the SDK", () => {
  it("a few 429s and 503s with Retry-After 0 are retried transparently by the SDK", async () => {
    t.emulator.setFaults({ seed: 1, rules: [{ match: { operation: "Microsoft.Compute/virtualMachines/read" }, status: 429, count: 2, retryAfterSeconds: 0 }, { match: { method: "GET" }, status: 503, count: 1, retryAfterSeconds: 0 }] });
    const vms = [];
    for await (const vm of t.computeClient(SUB).virtualMachines.list("rg1")) vms.push(vm);
    expect(vms).toEqual([]);
    expect(t.emulator.requests().requests.map((r) => r.status)).toEqual([429, 429, 503, 200]);
  });

  it("500s and connection resets are retried by the SDK's exponential policy", async () => {
    t.emulator.setFaults({ seed: 2, rules: [{ status: "reset", count: 1 }, { status: 500, count: 1 }] });
    const vms = [];
    for await (const vm of t.computeClient(SUB).virtualMachines.list("rg1")) vms.push(vm);
    expect(t.emulator.requests().requests.map((r) => r.status)).toEqual([0, 500, 200]);
  });

  it("is deterministic by seed", async () => {
    const run = async (): Promise<number[]> => {
      t.emulator.clearRequests();
      t.emulator.setFaults({ seed: 42, rules: [{ status: 503, rate: 0.5 }] });
      for (let i = 0; i < 12; i++) await get();
      return t.emulator.requests().requests.map((r) => r.status);
    };
    const a = await run();
    expect(new Set(a)).toEqual(new Set([200, 503]));
    expect(await run()).toEqual(a);
  });

  it("adds latency and makes LROs end Failed", async () => {
    t.emulator.setFaults({ rules: [{ match: { method: "PUT" }, latencyMs: 40 }], lroFailures: [{ match: { operation: "Microsoft.Compute/virtualMachines/write" }, count: 1, error: { code: "AllocationFailed", message: "Allocation failed." } }] });
    const compute = t.computeClient(SUB);
    const body = { location: "westus", storageProfile: { imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2019-Datacenter", version: "latest" } } };
    const started = Date.now();
    const error = await compute.virtualMachines.createOrUpdate("rg1", "vm1", body, { updateIntervalInMs: 2 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect((error as Error).message).toBe("The long-running operation has failed. AllocationFailed. Allocation failed.");
    expect((await compute.virtualMachines.get("rg1", "vm1")).provisioningState).toBe("Failed");
    const ok = await compute.virtualMachines.createOrUpdate("rg1", "vm1", body, { updateIntervalInMs: 2 });
    expect(ok.provisioningState).toBe("Succeeded");
    t.emulator.clearFaults();
  });

  it("rejects malformed fault rules with a clear error", async () => {
    const res = await armCall(t.emulator.armUrl, t.emulator.caPem, "POST", "/admin/faults", { body: { rules: [{ status: 418 }] } });
    expect([res.status, res.body.error.code]).toEqual([400, "InvalidRequestContent"]);
  });
});
