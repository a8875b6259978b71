import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcile } from "../../src/orchestrator/reconcile.js";
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
    const results = await Promise.all(ids.map((id) => reconcile({ vmId: id, trigger: "cli" }, stack.services)));
    // Long-running operations are polled at .../locations/{loc}/operations/{id}, a path that names no
    // VM: per VM the metered count covers at least the VM's own paths, and all of them add up.
    const mi = stack.emulator.managedIdentity.principalId;
    const total = stack.emulator.requests(since).requests.filter((r) => r.caller === mi).length;
    expect(results.reduce((sum, r) => sum + r.armRequests, 0)).toBe(total);
    for (const result of results) {
      const own = loggedFor(result.vmId, since);
      const lros = result.outcomes.filter((o) => o.action.kind === "enableIdentity" || o.action.kind === "installExtension").length;
      expect(result.armRequests, result.vmId).toBeGreaterThanOrEqual(own + lros);
      if (lros === 0) expect(result.armRequests, result.vmId).toBe(own);
    }
    // Eligible ones wrote (identity, extension, grant) and polled; ineligible ones only read.
    expect(results.map((r) => r.state)).toEqual(["remediated", "ineligible", "remediated", "ineligible"]);
    expect(results[1]?.armRequests).toBe(2);
    const decision = (await stack.services.store.listLog(ids[0], 10)).find((l) => l.kind === "decision");
    expect((decision?.details as { armRequests: number }).armRequests).toBe(results[0]?.armRequests);
  });

  it("the audit-run row counts the listing's own ARM calls, not passes running meanwhile", async () => {
    const since = stack.requestSeq();
    const busy = Promise.all([1, 2, 3].map(() => reconcile({ vmId: vmId(SUB_A, "rg-meter", "m-1"), trigger: "cli" }, stack.services)));
    const run = await runDriftAudit(stack.services, { subscriptions: [SUB_A], trigger: "test" });
    await busy;
    const mi = stack.emulator.managedIdentity.principalId;
    const lists = stack.emulator.requests(since).requests.filter((r) => r.caller === mi && /\/virtualMachines$/i.test(r.path.split("?")[0] ?? ""));
    expect(run.armCalls).toBe(lists.length);
    expect(run.vmCount).toBeGreaterThanOrEqual(4);
  });
});
