import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, SUB_A, vmBody, vmId } from "../support/enforcerStack.js";
import { startHostedStack, type HostedStack } from "../support/hostedStack.js";

/**
 * Issue 10, fail closed on scope, end to end in the local Functions host: a VM in a subscription
 * the app does not watch is refused by the pass itself, whichever trigger names it, before any ARM
 * call; `..` segments never make a VM id, whichever trigger carries them.
 */
const UNWATCHED = "7e7e7e7e-0000-4000-8000-0000000000cc";
const outside = vmId(UNWATCHED, "rg-outside", "app-01");
let stack: HostedStack;

beforeAll(async () => {
  stack = await startHostedStack();
  stack.emulator.addSubscription(UNWATCHED);
  // Seeded (the tenant admin's way): the VM exists in ARM, in a subscription the app does not watch.
  stack.emulator.seed({ resourceGroups: [{ id: `/subscriptions/${UNWATCHED}/resourceGroups/rg-outside`, location: "westeurope" }], vms: [{ id: outside, body: vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }) }] });
  await stack.settle();
});

afterAll(async () => {
  await stack?.close();
});

const reconcileNow = (body: unknown) =>
  fetch(`${stack.host.url}/api/reconcile`, { method: "POST", headers: { "content-type": "application/json", "x-functions-key": stack.host.functionKey }, body: JSON.stringify(body) });

describe("a VM outside the watched subscriptions", () => {
  it("reconcileNow: refused by the pass, recorded, not one ARM request", async () => {
    const before = stack.requestSeq();
    const response = await reconcileNow({ vmId: outside });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ state: "ineligible", reason: "subscription-not-watched", armRequests: 0 });
    expect(stack.enforcerRequests(before)).toEqual([]);
    const [decision] = await stack.services.store.listLog(outside, 1);
    expect(decision).toMatchObject({ kind: "decision", trigger: "http", reason: "subscription-not-watched" });
    // No row is made up for a VM the enforcer does not govern.
    expect(await stack.services.store.getVm(outside)).toBeUndefined();
  });

  it("a queue message naming it (not routed by any event): refused by the pass, not one ARM request", async () => {
    const before = stack.requestSeq();
    await stack.services.queue.send({ vmId: outside, trigger: "audit" });
    await stack.settle();
    expect(stack.enforcerRequests(before)).toEqual([]);
    expect((await stack.services.store.listLog(outside, 1))[0]).toMatchObject({ trigger: "audit", reason: "subscription-not-watched" });
    expect(stack.host.stats().functions["reconcileVm"]?.failures ?? 0).toBe(0);
  });

  it("the VMs of the watched subscriptions are still enforced", async () => {
    const inside = vmId(SUB_A, "rg-inside", "app-01");
    await stack.owner.putResourceGroup(SUB_A, "rg-inside", "westeurope");
    await stack.owner.putVm(inside, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
    await stack.settle();
    expect((await stack.services.store.getVm(inside))?.state).toBe("remediated");
  });
});

describe("'.' and '..' segments never make a VM id", () => {
  it.each([
    `/subscriptions/${SUB_A}/resourceGroups/rg-inside/providers/Microsoft.Compute/virtualMachines/..`,
    `/subscriptions/${SUB_A}/resourceGroups/../providers/Microsoft.Compute/virtualMachines/app-01`,
    `/subscriptions/${SUB_A}/resourceGroups/rg-inside/providers/Microsoft.Compute/virtualMachines/.`,
  ])("reconcileNow refuses %s with 400 and no ARM request", async (id) => {
    const before = stack.requestSeq();
    const response = await reconcileNow({ vmId: id });
    expect(response.status).toBe(400);
    expect(stack.enforcerRequests(before)).toEqual([]);
  });
});
