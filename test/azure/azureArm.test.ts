import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Action } from "../../src/domain/action.js";
import { assignmentName, ENFORCER_MARKER } from "../../src/domain/assignmentName.js";
import { vmTarget } from "../../src/domain/resourceId.js";
import { ArmFailure } from "../../src/orchestrator/ports.js";
import { ALICE, BOB, MALLORY, SUB_A, startEnforcerStack, vmBody, vmId, type EnforcerStack } from "../support/enforcerStack.js";

const OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
let stack: EnforcerStack;
const id = vmId(SUB_A, "rg-guard", "guard-01");
const target = vmTarget(id);

beforeAll(async () => {
  stack = await startEnforcerStack({ mode: "enforce" });
  await stack.owner.putResourceGroup(SUB_A, "rg-guard", "westeurope");
  await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter" }));
});

afterAll(async () => {
  await stack?.close();
});

type Create = Extract<Action, { kind: "createAssignment" }>;
type Delete = Extract<Action, { kind: "deleteAssignment" }>;

describe("the ARM adapter's last line of defence (whatever the plan says)", () => {
  const grant: Create = {
    kind: "createAssignment", name: assignmentName(id, "1c0163c0-47e6-4577-8991-ea5c82e286e4", ALICE), scope: id,
    role: "admin", principalId: ALICE, principalType: "User", description: `${ENFORCER_MARKER}: test`,
  };

  it.each([
    ["a role other than the two login roles", { ...grant, role: "owner" as unknown as Create["role"] }],
    ["a scope other than the VM (its resource group)", { ...grant, scope: `/subscriptions/${SUB_A}/resourceGroups/rg-guard` }],
    ["a scope other than the VM (the subscription)", { ...grant, scope: `/subscriptions/${SUB_A}` }],
  ])("refuses to create an assignment with %s, and sends nothing", async (_what, action) => {
    const since = stack.requestSeq();
    await expect(stack.services.arm.createAssignment(target, action)).rejects.toThrow(/Refusing/);
    expect(stack.enforcerWrites(since)).toEqual([]);
  });

  it("refuses to delete an assignment at another scope", async () => {
    const since = stack.requestSeq();
    const action: Delete = { kind: "deleteAssignment", name: grant.name, scope: `/subscriptions/${SUB_A}`, role: "admin", principalId: ALICE, why: "not-requested" };
    await expect(stack.services.arm.deleteAssignment(target, action)).rejects.toThrow(/Refusing/);
    expect(stack.enforcerWrites(since)).toEqual([]);
  });

  it("refuses to delete an assignment whose role is not a login role, even under our name", async () => {
    const forged = assignmentName(id, "1c0163c0-47e6-4577-8991-ea5c82e286e4", ALICE);
    await stack.owner.putRoleAssignment(id, forged, {
      roleDefinitionId: `/subscriptions/${SUB_A}/providers/Microsoft.Authorization/roleDefinitions/${OWNER_ROLE}`,
      principalId: ALICE, principalType: "User", description: `${ENFORCER_MARKER}: forged`,
    });
    const since = stack.requestSeq();
    const action: Delete = { kind: "deleteAssignment", name: forged, scope: id, role: "admin", principalId: ALICE, why: "not-requested" };
    await expect(stack.services.arm.deleteAssignment(target, action)).rejects.toThrow(/not a login role/);
    expect(stack.enforcerWrites(since)).toEqual([]);
    expect((await stack.owner.listRoleAssignments(id)).map((a) => a.name)).toContain(forged);
  });

  it("a whole pass never touches a forged Owner assignment carrying our name and marker", async () => {
    const since = stack.requestSeq();
    const { reconcile } = await import("../../src/orchestrator/reconcile.js");
    const first = await reconcile({ vm: target, trigger: "cli" }, stack.services);
    expect(first.state).toBe("in-progress");
    await stack.drain();
    expect((await stack.services.store.getVm(id))?.state).toBe("remediated");
    const deletes = stack.enforcerWrites(since).filter((w) => w.method === "DELETE");
    expect(deletes).toEqual([]);
    const owner = (await stack.owner.listRoleAssignments(id)).find((a) => a.properties.roleDefinitionId.endsWith(OWNER_ROLE));
    expect(owner).toBeDefined();
  });

  it("a grant to a principal outside the allow-list is refused by ARM's ABAC condition (the infra's), even with the code's checks bypassed", async () => {
    // The tag parser would never ask for Mallory; call the adapter directly, as a bug or a tampered plan would.
    const forbidden: Create = { ...grant, name: assignmentName(id, "1c0163c0-47e6-4577-8991-ea5c82e286e4", MALLORY), principalId: MALLORY };
    const since = stack.requestSeq();
    const failure = await stack.services.arm.createAssignment(target, forbidden).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ArmFailure);
    expect((failure as ArmFailure).classified).toMatchObject({ class: "terminal", statusCode: 403, code: "AuthorizationFailed" });
    expect((failure as Error).message).toMatch(/does not have authorization or an ABAC condition not fulfilled to perform action 'Microsoft\.Authorization\/roleAssignments\/write'/);
    expect(stack.enforcerWrites(since)).toEqual([{ method: "PUT", path: `${id}/providers/Microsoft.Authorization/roleAssignments/${forbidden.name}`, status: 403 }]);
    expect((await stack.owner.listRoleAssignments(id)).map((a) => a.properties.principalId)).not.toContain(MALLORY);
    // The same call for an allowed principal goes through: it is the condition that refused, not the call.
    const allowed: Create = { ...grant, name: assignmentName(id, "1c0163c0-47e6-4577-8991-ea5c82e286e4", BOB), principalId: BOB };
    expect(await stack.services.arm.createAssignment(target, allowed)).toBe("created");
  });
});

describe("the preflight's network reads (NetworkReader through the adapter)", () => {
  const base = `/subscriptions/${SUB_A}/resourceGroups/rg-guard/providers/Microsoft.Network`;
  const shared = `${base}/networkSecurityGroups/nsg-shared`;
  const subnet = `${base}/virtualNetworks/vnet-guard/subnets/default`;

  it("maps the VM's computer name and NICs, reads a group shared by the NIC and its subnet once, and reports a missing one instead of throwing", async () => {
    const nic = `${base}/networkInterfaces/guard-nic`;
    const gone = `${base}/networkInterfaces/guard-nic-gone`;
    stack.emulator.addNetwork([
      { id: shared, location: "westeurope", properties: { securityRules: [{ name: "deny-web", properties: { protocol: "Tcp", sourceAddressPrefix: "*", destinationAddressPrefix: "Internet", destinationPortRange: "443", access: "Deny", priority: 300, direction: "Outbound" } }] } },
      { id: subnet, properties: { networkSecurityGroup: { id: shared } } },
      { id: nic, location: "westeurope", properties: { ipConfigurations: [{ name: "ipconfig1", properties: { subnet: { id: subnet } } }], networkSecurityGroup: { id: shared } } },
    ]);
    const body = vmBody({ sku: "2019-Datacenter" });
    const netId = vmId(SUB_A, "rg-guard", "guard-net");
    await stack.owner.putVm(netId, { ...body, properties: { ...(body["properties"] as object), osProfile: { computerName: "guardnet", adminUsername: "azureuser", adminPassword: "Test-Only-Passw0rd!" }, networkProfile: { networkInterfaces: [{ id: nic, properties: { primary: true } }, { id: gone, properties: { primary: false } }] } } });
    const vm = await stack.services.arm.getVm(vmTarget(netId));
    expect(vm?.computerName).toBe("guardnet");
    expect(vm?.networkInterfaces).toEqual([{ id: nic, primary: true }, { id: gone, primary: false }]);

    const since = stack.requestSeq();
    const path = await stack.services.arm.readNetworkPath(vm!);
    expect(path.nics).toHaveLength(1);
    expect(path.nics[0]).toMatchObject({ id: nic, primary: true, subnetId: subnet });
    expect(path.nics[0]?.nsg?.rules.map((r) => r.name)).toEqual(["deny-web", "AllowVnetInBound", "AllowAzureLoadBalancerInBound", "DenyAllInBound", "AllowVnetOutBound", "AllowInternetOutBound", "DenyAllOutBound"]);
    expect(path.nics[0]?.subnetNsg).toEqual(path.nics[0]?.nsg);
    expect(path.unreadable).toEqual([{ id: gone, why: "ResourceNotFound" }]);
    const reads = stack.emulator.requests(since).requests.filter((r) => r.caller === stack.emulator.managedIdentity.principalId).map((r) => r.operation);
    expect(reads.sort()).toEqual(["Microsoft.Network/networkInterfaces/read", "Microsoft.Network/networkInterfaces/read", "Microsoft.Network/networkSecurityGroups/read", "Microsoft.Network/virtualNetworks/subnets/read"]);
  });
});
