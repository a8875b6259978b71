import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFunctionApp, type FunctionAppRegistry } from "../../src/local/host/index.js";
import { ALICE, ADMIN_ROLE, BOB, MALLORY, OWNER, SUB_A, USER_ROLE, startEnforcerStack, vmBody, vmId, type EnforcerStack } from "../support/enforcerStack.js";

let stack: EnforcerStack;
let app: FunctionAppRegistry;

/** Delivers the events the emulator raised since the last call to the registered Event Grid function. */
async function deliver(events = stack.takeEvents()) {
  const fn = app.get("onResourceWrite");
  if (!fn) throw new Error("onResourceWrite is not registered");
  for (const event of events) await fn.invoke(event);
  return events;
}

beforeAll(async () => {
  stack = await startEnforcerStack({ mode: "enforce" });
  app = await loadFunctionApp("src/functions/index.ts");
  await stack.owner.putResourceGroup(SUB_A, "rg-web", "westeurope");
});

afterAll(async () => {
  await stack?.close();
});

describe("a new Windows Server 2019 VM created by a user", () => {
  const id = vmId(SUB_A, "rg-web", "web-01");

  it("gets a system identity, the extension and the tag-requested access, recorded with the requester", async () => {
    stack.takeEvents();
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE, "aadlogin-users": `${BOB};${MALLORY}` } }));
    const events = await deliver();
    expect(events.some((e) => e.data.operationName === "Microsoft.Compute/virtualMachines/write")).toBe(true);

    const vm = await stack.owner.getVm(id);
    expect((vm?.["identity"] as { type: string }).type).toBe("SystemAssigned");
    const resources = (vm?.["resources"] as { name: string; properties: { provisioningState: string } }[]) ?? [];
    expect(resources.find((r) => r.name === "AADLoginForWindows")?.properties.provisioningState).toBe("Succeeded");
    const assignments = await stack.owner.listRoleAssignments(id);
    const pairs = assignments.map((a) => `${a.properties.roleDefinitionId.split("/").pop()}:${a.properties.principalId}`).sort();
    expect(pairs).toEqual([`${ADMIN_ROLE}:${ALICE}`, `${USER_ROLE}:${BOB}`].sort());

    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("remediated");
    expect(record?.lastRequestedBy).toContain(OWNER);
    expect(record?.rejected.map((r) => r.reason)).toEqual(["not-allowed"]);
    const log = await stack.services.store.listLog(id, 20);
    expect(log.some((l) => l.kind === "decision" && l.requestedBy?.includes(OWNER))).toBe(true);
    expect(log.filter((l) => l.kind === "action").map((l) => l.action).sort()).toEqual(["createAssignment", "createAssignment", "enableIdentity", "installExtension"]);
  });

  it("its own write events start no second pass (loop guard)", async () => {
    const events = stack.takeEvents();
    // The enforcer's PATCH, extension PUT and role-assignment PUTs each raised an event.
    expect(events.length).toBeGreaterThan(0);
    const since = stack.requestSeq();
    await deliver(events);
    expect(stack.enforcerWrites(since)).toEqual([]);
    expect(stack.emulator.requests(since).requests.filter((r) => r.caller === stack.emulator.managedIdentity.principalId)).toEqual([]);
  });
});
