import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, BOB, OPS_GROUP, SUB_A, SUB_B, vmBody, vmId } from "../support/enforcerStack.js";
import { startHostedStack, type HostedStack } from "../support/hostedStack.js";

/**
 * ENFORCER_MODE=report: the whole pipeline runs (events, audit, queue, HTTP) and records what it
 * would do, and the emulator's request log shows the enforcer's identity never wrote anything.
 */
let stack: HostedStack;
let since: number;

const fleet = [
  { id: vmId(SUB_A, "rg-report", "app-01"), body: vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }) },
  { id: vmId(SUB_A, "rg-report", "app-02"), body: vmBody({ sku: "2022-datacenter-g2", tags: { "aadlogin-users": `${OPS_GROUP}:Group;${BOB}` } }) },
  { id: vmId(SUB_B, "rg-report-b", "db-01"), body: vmBody({ location: "eastus", sku: "2022-datacenter-azure-edition" }) },
];
const legacy = vmId(SUB_A, "rg-report", "legacy-01");

beforeAll(async () => {
  stack = await startHostedStack({ settings: { ENFORCER_MODE: "report" } });
  await stack.owner.putResourceGroup(SUB_A, "rg-report", "westeurope");
  await stack.owner.putResourceGroup(SUB_B, "rg-report-b", "eastus");
  since = stack.requestSeq();
  for (const vm of fleet) await stack.owner.putVm(vm.id, vm.body);
  await stack.owner.putVm(legacy, vmBody({ sku: "2016-Datacenter", tags: { "aadlogin-admins": ALICE } }));
  await stack.settle();
});

afterAll(async () => {
  await stack?.close();
});

const mi = () => stack.emulator.managedIdentity.principalId;

describe("report mode", () => {
  it("marks every eligible VM would-remediate and records the plan it would run", async () => {
    for (const { id } of fleet) {
      const record = await stack.services.store.getVm(id);
      expect(record?.state, id).toBe("would-remediate");
      expect(record?.lastTrigger).toBe("event");
    }
    expect((await stack.services.store.getVm(legacy))?.state).toBe("ineligible");

    const decision = (await stack.services.store.listLog(fleet[1]!.id, 10)).find((l) => l.kind === "decision");
    expect(decision?.state).toBe("would-remediate");
    expect(decision?.details).toMatchObject({
      mode: "report",
      plan: [
        "enable identity SystemAssigned",
        "install Microsoft.Azure.ActiveDirectory/AADLoginForWindows 1.0 (missing)",
        `grant user login to Group ${OPS_GROUP}`,
        `grant user login to User ${BOB}`,
      ],
    });
    expect(decision?.message).toMatch(/^Report mode: 4 action\(s\) would run/);
    // Nothing was done, so there is no action entry.
    expect((await stack.services.store.listLog(fleet[1]!.id, 10)).filter((l) => l.kind === "action")).toEqual([]);
  });

  it("the drift audit in report mode also writes nothing", async () => {
    await stack.host.fireTimer("driftAudit");
    await stack.settle();
    for (const { id } of fleet) {
      const record = await stack.services.store.getVm(id);
      expect(record?.state).toBe("would-remediate");
      expect(record?.lastTrigger).toBe("audit");
    }
  });

  it("the emulator's request log shows reads but zero PUT/PATCH/DELETE/POST from the enforcer's identity (Resource Graph queries aside: POSTs that only read)", async () => {
    const fromEnforcer = stack.emulator.requests(since).requests.filter((r) => r.caller === mi());
    expect(fromEnforcer.filter((r) => r.method !== "GET" && r.operation !== "Microsoft.ResourceGraph/resources/read")).toEqual([]);
    // It did look: a VM GET and a role-assignment list per pass, two passes per fleet VM (its event, then the audit: would-remediate is a suspect).
    expect(fromEnforcer.filter((r) => r.method === "GET").length).toBeGreaterThanOrEqual(2 * 2 * fleet.length);
    for (const { id } of fleet) {
      const vm = await stack.owner.getVm(id);
      expect(vm?.["identity"]).toBeUndefined();
      expect(vm?.["resources"] ?? []).toEqual([]);
      expect(await stack.owner.listRoleAssignments(id)).toEqual([]);
    }
  });

  it('reconcileNow with mode "enforce" cannot raise report mode: 403, nothing written, the caller recorded', async () => {
    const [target] = fleet;
    const before = stack.requestSeq();
    const response = await fetch(`${stack.host.url}/api/reconcile`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-functions-key": stack.host.functionKey, "x-forwarded-for": "203.0.113.7" },
      body: JSON.stringify({ vmId: target!.id, mode: "enforce" }),
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { code: "ModeEscalationRefused" } });
    await stack.settle();
    // Not one ARM request, let alone a write (before the fix: PATCH, PUT, PUT).
    expect(stack.enforcerRequests(before)).toEqual([]);
    expect((await stack.services.store.getVm(target!.id))?.state).toBe("would-remediate");
    const [refusal] = await stack.services.store.listLog(target!.id, 1);
    expect(refusal).toMatchObject({ kind: "error", trigger: "http", reason: "mode-escalation-refused", requestedBy: "function key holder at 203.0.113.7" });
  });

  it("a queue message asking for enforce runs in report mode", async () => {
    const [target] = fleet;
    const before = stack.requestSeq();
    await stack.services.queue.send({ vmId: target!.id, trigger: "follow-up", mode: "enforce" });
    await stack.settle();
    expect(stack.enforcerWrites(before)).toEqual([]);
    const decision = (await stack.services.store.listLog(target!.id, 5)).find((l) => l.kind === "decision");
    expect(decision).toMatchObject({ state: "would-remediate", trigger: "follow-up", details: { mode: "report", requestedMode: "enforce" } });
  });

  it("reconcileNow in report mode records who asked on the row", async () => {
    const [target] = fleet;
    const response = await fetch(`${stack.host.url}/api/reconcile`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-functions-key": stack.host.functionKey, "x-forwarded-for": "203.0.113.8" },
      body: JSON.stringify({ vmId: target!.id }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ mode: "report", state: "would-remediate" });
    expect((await stack.services.store.getVm(target!.id))?.lastRequestedBy).toBe("function key holder at 203.0.113.8");
  });

  it("a client cannot name itself: x-ms-client-principal-* headers are App Service's, not the caller's", async () => {
    const [target] = fleet;
    const response = await fetch(`${stack.host.url}/api/reconcile`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-functions-key": stack.host.functionKey, "x-forwarded-for": "203.0.113.9", "x-ms-client-principal-name": "ceo@contoso.com" },
      body: JSON.stringify({ vmId: target!.id }),
    });
    expect(response.status).toBe(200);
    expect((await stack.services.store.getVm(target!.id))?.lastRequestedBy).toBe("function key holder at 203.0.113.9");
  });
});
