import { describe, expect, it } from "vitest";
import { vmTarget } from "../../src/domain/resourceId.js";
import { assignmentDescription, assignmentName } from "../../src/domain/assignmentName.js";
import { LOGIN_ROLES, roleDefinitionId } from "../../src/domain/roles.js";
import { selectAuditTargets, type SelectOptions } from "../../src/orchestrator/auditTargets.js";
import { runDriftAudit } from "../../src/orchestrator/driftAudit.js";
import { ArmFailure, type VmRecord } from "../../src/orchestrator/ports.js";
import { newVmRecord } from "../../src/orchestrator/vmRecord.js";
import { aadExtension, p, SUB, windowsVm } from "../domain/builders.js";
import { memoryDeps, type MemoryDeps } from "../support/memoryPorts.js";

const ALICE = p(1);
const SUB2 = "0b1f5a36-3d3c-4b7e-9d0a-1f3e5c7a9b22";
const idOf = (n: number, sub = SUB) => `/subscriptions/${sub}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-${n}`;
const GRAPH: SelectOptions = { source: "resource-graph", run: 0, slices: 0 };

/** A converged VM: identity, extension Succeeded, Alice's admin grant, and a matching row. */
async function converged(deps: MemoryDeps, id: string): Promise<void> {
  const tags = { "aadlogin-admins": ALICE };
  deps.arm.put(windowsVm({ id, name: id.split("/").pop()!, tags, identity: { type: "SystemAssigned", principalId: p(9), userAssignedIdentityIds: [] }, extensions: [aadExtension("Succeeded")] }));
  const target = vmTarget(id);
  const name = assignmentName(id, LOGIN_ROLES.admin.guid, ALICE);
  deps.arm.assignments.push({ id: `${id}/providers/Microsoft.Authorization/roleAssignments/${name}`, name, scope: id, roleDefinitionId: roleDefinitionId(target.subscriptionId, LOGIN_ROLES.admin), principalId: ALICE, principalType: "User", description: assignmentDescription("aadlogin-admins") });
  await deps.store.updateVm(id, () => ({ ...newVmRecord(target, "2026-12-01T09:00:00Z"), state: "compliant", access: [{ role: "admin", principalId: ALICE }] } satisfies VmRecord));
}

async function fleet(n: number, subs = [SUB]) {
  const deps = memoryDeps({ ACCESS_ALLOWED_PRINCIPALS: `${ALICE},${p(2)}`, WATCHED_SUBSCRIPTION_IDS: subs.join(",") });
  for (const sub of subs) for (let i = 0; i < n; i++) await converged(deps, idOf(i, sub));
  return deps;
}

describe("selectAuditTargets: Resource Graph finds the suspects, ARM passes confirm them", () => {
  it("a converged fleet gets no pass at all: one snapshot, no ARM read per VM", async () => {
    const deps = await fleet(50);
    const before = deps.arm.requestCount();
    const selection = await selectAuditTargets(deps, [SUB], GRAPH);
    expect(selection).toMatchObject({ source: "resource-graph", vmCount: 50, suspects: 0, confirmed: 0, targets: [] });
    expect(deps.arm.requestCount() - before).toBe(1);
  });

  it("drift of every kind is a suspect, and nothing else is", async () => {
    const deps = await fleet(20);
    // Tag asks for more: a grant to make.
    deps.arm.put({ ...deps.arm.vm(idOf(1)), tags: { "aadlogin-admins": ALICE, "aadlogin-users": p(2) } });
    // Identity turned off by someone.
    deps.arm.put({ ...deps.arm.vm(idOf(2)), identity: { type: "None", userAssignedIdentityIds: [] } });
    // Deleted without an event reaching us: in the table, not in the snapshot.
    deps.arm.vms.delete(idOf(3).toLowerCase());
    // New VM never seen.
    deps.arm.put(windowsVm({ id: idOf(99), name: "vm-99" }));
    // Our row failed last time.
    await deps.store.updateVm(idOf(4), (r) => ({ ...r!, state: "failed" }));
    const selection = await selectAuditTargets(deps, [SUB], GRAPH);
    const byVm = Object.fromEntries(selection.targets.map((t) => [t.vmId.split("/").pop(), t.reasons]));
    expect(byVm).toEqual({
      "vm-1": ["plan-not-empty"],
      "vm-2": ["plan-not-empty"],
      "vm-3": ["not-in-snapshot"],
      "vm-4": ["unsettled"],
      "vm-99": ["not-recorded", "plan-not-empty", "extension-not-succeeded"],
    });
    expect(selection.suspects).toBe(5);
    expect(selection.suspectReasons).toMatchObject({ "plan-not-empty": 3, "not-in-snapshot": 1 });
  });

  it("the confirm slice sends a rotating share of compliant VMs to ARM; every VM within `slices` runs", async () => {
    const deps = await fleet(40);
    const confirmedEver = new Set<string>();
    for (let run = 0; run < 4; run++) {
      const selection = await selectAuditTargets(deps, [SUB], { ...GRAPH, run, slices: 4 });
      expect(selection.targets.every((t) => t.reasons.join() === "confirm-slice")).toBe(true);
      expect(selection.confirmed).toBe(selection.targets.length);
      for (const t of selection.targets) confirmedEver.add(t.vmId);
    }
    expect(confirmedEver.size).toBe(40);
  });

  it("Resource Graph refused: every VM is listed through ARM, the table's too, with a warning", async () => {
    const deps = await fleet(10);
    deps.arm.vms.delete(idOf(0).toLowerCase());
    deps.arm.snapshotRefusal = new ArmFailure({ class: "terminal", code: "AuthorizationFailed", message: "no Microsoft.ResourceGraph/resources/read" });
    const selection = await selectAuditTargets(deps, [SUB], GRAPH);
    expect(selection.source).toBe("arm");
    expect(selection.targets).toHaveLength(10);
    expect(selection.warnings.join()).toMatch(/Resource Graph could not be used \(AuthorizationFailed/);
  });

  it("a subscription the snapshot shows nothing of, though our table has VMs there, is listed through ARM", async () => {
    const deps = await fleet(3, [SUB, SUB2]);
    const original = deps.arm.snapshot.bind(deps.arm);
    deps.arm.snapshot = (subs: readonly string[]) => original(subs.filter((s) => s !== SUB2));
    const selection = await selectAuditTargets(deps, [SUB, SUB2], GRAPH);
    expect(selection.listedThroughArm).toEqual([SUB2]);
    expect(selection.targets.map((t) => [t.vmId.split("/")[2], t.reasons.join()])).toEqual([[SUB2, "listed"], [SUB2, "listed"], [SUB2, "listed"]]);
  });

  it("the arm source lists everything, as before Resource Graph", async () => {
    const deps = await fleet(5);
    const selection = await selectAuditTargets(deps, [SUB], { ...GRAPH, source: "arm" });
    expect(selection).toMatchObject({ source: "arm", vmCount: 5 });
    expect(selection.targets).toHaveLength(5);
  });

  it("warns at 80 % of the 4,000 role assignments a subscription can hold", async () => {
    const deps = await fleet(1);
    const original = deps.arm.snapshot.bind(deps.arm);
    deps.arm.snapshot = async (subs: readonly string[]) => ({ ...(await original(subs)), loginAssignmentsBySubscription: { [SUB]: 3300 } });
    const selection = await selectAuditTargets(deps, [SUB], GRAPH);
    expect(selection.warnings.join()).toMatch(/holds 3300 login-role assignments, 83 %/);
  });
});

describe("runDriftAudit with Resource Graph", () => {
  it("queues only the suspects and this run's slice, and records how it chose them; the slice moves on each run", async () => {
    const deps = await fleet(30);
    deps.arm.put({ ...deps.arm.vm(idOf(5)), tags: {} });
    const settings = { ...deps, config: { ...deps.config, audit: { source: "resource-graph" as const, confirmSlices: 3 } } };
    const first = await runDriftAudit(settings, { subscriptions: [SUB], trigger: "test" });
    const second = await runDriftAudit(settings, { subscriptions: [SUB], trigger: "test" });
    expect(first.selection).toMatchObject({ source: "resource-graph", sliceIndex: 0, slices: 3, suspects: 1, suspectReasons: { "plan-not-empty": 1 }, requests: { resourceGraph: 1, arm: 0 } });
    expect(second.selection?.sliceIndex).toBe(1);
    expect(first.vmCount).toBe(30);
    expect(first.countsByState).toEqual({ compliant: 30 });
    const queued = deps.queue.take().map((q) => q.request);
    expect(queued.filter((r) => r.vmId === idOf(5))).toHaveLength(2);
    expect(queued.every((r) => r.trigger === "audit")).toBe(true);
    expect(first.enqueued + second.enqueued).toBe(queued.length);
    // Slices 0 and 1 of 3: about two thirds of the 29 compliant VMs confirmed over the two runs, none twice.
    const confirmed = queued.filter((r) => r.vmId !== idOf(5)).map((r) => r.vmId);
    expect(new Set(confirmed).size).toBe(confirmed.length);
    expect(confirmed.length).toBe((first.selection?.confirmed ?? 0) + (second.selection?.confirmed ?? 0));
  });
});
