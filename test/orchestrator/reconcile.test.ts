import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcile } from "../../src/orchestrator/reconcile.js";
import { vmTarget } from "../../src/domain/resourceId.js";
import { runDriftAudit } from "../../src/orchestrator/driftAudit.js";
import { ALICE, SUB_A, startEnforcerStack, vmBody, vmId, type EnforcerStack } from "../support/enforcerStack.js";

let stack: EnforcerStack;

beforeAll(async () => {
  stack = await startEnforcerStack({ mode: "enforce" });
  await stack.owner.putResourceGroup(SUB_A, "rg-meter", "westeurope");
});

afterAll(async () => {
  await stack?.close();
});

/** The enforcer's requests about one VM in the emulator's log (every pass request names the VM in its path). */
function loggedFor(id: string, since: number): number {
  const mi = stack.emulator.managedIdentity.principalId;
  return stack.emulator.requests(since).requests.filter((r) => r.caller === mi && r.path.toLowerCase().includes(id.toLowerCase())).length;
}

describe("ARM request metering", () => {
  it("concurrent passes each report exactly the requests they made", async () => {
    const ids = ["m-1", "m-2", "m-3", "m-4"].map((n) => vmId(SUB_A, "rg-meter", n));
    for (const [i, id] of ids.entries()) {
      await stack.owner.putVm(id, vmBody({ sku: i % 2 ? "2016-Datacenter" : "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
    }
    const since = stack.requestSeq();
    const results = await Promise.all(ids.map((id) => reconcile({ vm: vmTarget(id), trigger: "cli" }, stack.services)));
    // No pass polls an operation any more, so every request names the VM it was about.
    const mi = stack.emulator.managedIdentity.principalId;
    const total = stack.emulator.requests(since).requests.filter((r) => r.caller === mi).length;
    expect(results.reduce((sum, r) => sum + r.armRequests, 0)).toBe(total);
    for (const result of results) expect(result.armRequests, result.vmId).toBe(loggedFor(result.vmId, since));
    // Eligible ones read twice and started the identity PATCH (the rest follows up); ineligible ones only read.
    expect(results.map((r) => r.state)).toEqual(["in-progress", "ineligible", "in-progress", "ineligible"]);
    expect(results.map((r) => r.armRequests)).toEqual([3, 2, 3, 2]);
    const decision = (await stack.services.store.listLog(ids[0], 10)).find((l) => l.kind === "decision");
    expect((decision?.details as { armRequests: number }).armRequests).toBe(results[0]?.armRequests);
  });

  it("the audit-run row counts the selection's own requests (Resource Graph pages, ARM lists), not passes running meanwhile", async () => {
    const since = stack.requestSeq();
    const busy = Promise.all([1, 2, 3].map(() => reconcile({ vm: vmTarget(vmId(SUB_A, "rg-meter", "m-1")), trigger: "cli" }, stack.services)));
    const run = await runDriftAudit(stack.services, { subscriptions: [SUB_A], trigger: "test" });
    await busy;
    const mi = stack.emulator.managedIdentity.principalId;
    const lists = stack.emulator.requests(since).requests.filter((r) => r.caller === mi && /\/virtualMachines$|^\/providers\/Microsoft\.ResourceGraph\/resources$/i.test(r.path.split("?")[0] ?? ""));
    expect(run.armCalls).toBe(lists.length);
    expect(run.selection?.requests.resourceGraph).toBe(lists.filter((r) => /ResourceGraph/i.test(r.path)).length);
    expect(run.vmCount).toBeGreaterThanOrEqual(4);
  });
});
