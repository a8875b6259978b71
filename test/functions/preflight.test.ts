import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFunctionApp, type FunctionAppRegistry } from "../../src/local/host/index.js";
import { reconcile } from "../../src/orchestrator/reconcile.js";
import { vmTarget } from "../../src/domain/resourceId.js";
import { ADMIN_ROLE, ALICE, SUB_A, deliverEvents, startEnforcerStack, vmBody, vmId, type EnforcerStack } from "../support/enforcerStack.js";

/**
 * Preflight (issue 12) end to end: the emulator serves the VM's NIC, subnet and security groups
 * (Microsoft.Network GETs in the official examples' shape), events go through the registered
 * functions and the queue, and the emulator's request log shows what the enforcer sent.
 */
let stack: EnforcerStack;
let app: FunctionAppRegistry;
const RG = "rg-preflight";
const rgId = `/subscriptions/${SUB_A}/resourceGroups/${RG}`;
const SUBNET = `${rgId}/providers/Microsoft.Network/virtualNetworks/vnet-pre/subnets/default`;
const SUBNET_NSG = `${rgId}/providers/Microsoft.Network/networkSecurityGroups/nsg-subnet`;
const DENY_AAD = { name: "deny-entra-443", properties: { protocol: "Tcp", sourceAddressPrefix: "*", destinationAddressPrefix: "AzureActiveDirectory", destinationPortRange: "443", access: "Deny", priority: 100, direction: "Outbound" } };

beforeAll(async () => {
  stack = await startEnforcerStack({ mode: "enforce" });
  app = await loadFunctionApp("src/functions/index.ts");
  await stack.owner.putResourceGroup(SUB_A, RG, "westeurope");
  stack.emulator.addNetwork([
    { id: SUBNET_NSG, location: "westeurope", properties: {} },
    { id: SUBNET, properties: { addressPrefix: "10.10.0.0/24", networkSecurityGroup: { id: SUBNET_NSG } } },
  ]);
});

afterAll(async () => {
  await stack?.close();
});

/** A NIC on the shared subnet, with its own group when `rules` is given. */
function nicFor(name: string, rules?: unknown[]): string {
  const nic = `${rgId}/providers/Microsoft.Network/networkInterfaces/${name}-nic`;
  const nsg = `${rgId}/providers/Microsoft.Network/networkSecurityGroups/${name}-nsg`;
  stack.emulator.addNetwork([
    ...(rules ? [{ id: nsg, location: "westeurope", properties: { securityRules: rules } }] : []),
    { id: nic, location: "westeurope", properties: { ipConfigurations: [{ name: "ipconfig1", properties: { subnet: { id: SUBNET }, primary: true } }], ...(rules ? { networkSecurityGroup: { id: nsg } } : {}) } },
  ]);
  return nic;
}

function bodyWithNic(name: string, nic: string, tags: Record<string, string>) {
  const body = vmBody({ sku: "2022-datacenter-azure-edition", tags });
  const properties = body["properties"] as Record<string, unknown>;
  return { ...body, properties: { ...properties, osProfile: { computerName: name, adminUsername: "azureuser", adminPassword: "Test-Only-Passw0rd!" }, networkProfile: { networkInterfaces: [{ id: nic, properties: { primary: true } }] } } };
}

const deliver = () => deliverEvents(stack, app);

const mi = () => stack.emulator.managedIdentity.principalId;
const enforcerRequests = (since: number) => stack.emulator.requests(since).requests.filter((r) => r.caller === mi());

describe("a security group that denies outbound 443 to AzureActiveDirectory", () => {
  it("is never sent an extension PUT: failed, outbound-443-blocked with the rule's id, no grant; once fixed, the next pass installs and grants", async () => {
    const name = "pre-blocked";
    const id = vmId(SUB_A, RG, name);
    const nic = nicFor(name, [DENY_AAD]);
    const since = stack.requestSeq();
    stack.takeEvents();
    await stack.owner.putVm(id, bodyWithNic(name, nic, { "aadlogin-admins": ALICE }));
    await deliver();

    const record = await stack.services.store.getVm(id);
    expect(record).toMatchObject({ state: "failed", reason: "outbound-443-blocked", extensionStatus: "missing", access: [] });
    expect(record?.diagnosis?.code).toBe("outbound-443-blocked");
    expect(record?.message).toContain(`${rgId}/providers/Microsoft.Network/networkSecurityGroups/${name}-nsg/securityRules/deny-entra-443`);
    const sent = enforcerRequests(since);
    // The emulator's request log: the identity PATCH, the network reads, and no extension PUT nor grant.
    expect(sent.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.operation}`)).toEqual(["PATCH Microsoft.Compute/virtualMachines/write"]);
    expect(sent.some((r) => r.operation === "Microsoft.Compute/virtualMachines/extensions/write")).toBe(false);
    const reads = sent.filter((r) => r.operation.startsWith("Microsoft.Network/")).map((r) => r.operation);
    expect(new Set(reads)).toEqual(new Set(["Microsoft.Network/networkInterfaces/read", "Microsoft.Network/networkSecurityGroups/read", "Microsoft.Network/virtualNetworks/subnets/read"]));
    // Each group read once per pass even though two are named (the NIC's and the subnet's).
    expect(reads.filter((o) => o.endsWith("networkSecurityGroups/read"))).toHaveLength(2);
    expect(sent.filter((r) => r.path.includes(`${name}-nsg`))).toHaveLength(1);

    // The network team fixes the group: an allow for AzureActiveDirectory before the deny.
    stack.emulator.addNetwork([{ id: `${rgId}/providers/Microsoft.Network/networkSecurityGroups/${name}-nsg`, location: "westeurope", properties: { securityRules: [DENY_AAD, { name: "allow-entra", properties: { ...DENY_AAD.properties, access: "Allow", priority: 90 } }] } }]);
    const fixedSince = stack.requestSeq();
    await stack.services.queue.send({ vmId: id, trigger: "audit" });
    await stack.drain();
    const fixed = await stack.services.store.getVm(id);
    expect(fixed?.state).toBe("remediated");
    expect(fixed?.diagnosis).toBeUndefined();
    const writes = stack.enforcerWrites(fixedSince).map((w) => `${w.method} ${w.path.split("/").slice(-2, -1)[0]}`);
    expect(writes).toEqual(["PUT extensions", "PUT roleAssignments"]);
    const assignments = (await stack.owner.listRoleAssignments(id)).filter((a) => a.properties.scope.toLowerCase() === id.toLowerCase());
    expect(assignments.map((a) => `${a.properties.roleDefinitionId.split("/").pop()}:${a.properties.principalId}`)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
  });
});

describe("a security group that denies 443 to Entra's IP range (a prefix the preflight does not judge)", () => {
  it("is installed with the hint, the emulator's extension fails on the group (-2145648607): failed, autojoin-discovery-failed; once the rule is gone, the next pass reinstalls", async () => {
    const name = "pre-prefix";
    const id = vmId(SUB_A, RG, name);
    const nsg = `${rgId}/providers/Microsoft.Network/networkSecurityGroups/${name}-nsg`;
    // Microsoft's published range for Entra ID endpoints; the emulator places login.microsoftonline.com in it.
    const denyPrefix = { name: "deny-entra-prefix", properties: { ...DENY_AAD.properties, destinationAddressPrefix: "20.190.128.0/18" } };
    const nic = nicFor(name, [denyPrefix]);
    const since = stack.requestSeq();
    stack.takeEvents();
    await stack.owner.putVm(id, bodyWithNic(name, nic, {}));
    await deliver();

    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("failed");
    expect(record?.diagnosis).toMatchObject({ code: "autojoin-discovery-failed", exitCode: -2145648607 });
    expect(record?.hints?.map((h) => h.code)).toContain("network-not-verified");
    const sent = enforcerRequests(since);
    expect(sent.some((r) => r.method === "PUT" && r.operation === "Microsoft.Compute/virtualMachines/extensions/write")).toBe(true);
    // What the emulator's agent reported, read through ARM: enable failed with DSREG_AUTOJOIN_DISC_FAILED.
    const extension = () => stack.owner.request("GET", `${id}/extensions/AADLoginForWindows?$expand=instanceView`, "2024-07-01");
    const failedExt = (await extension()).body as { properties: { provisioningState: string; instanceView?: unknown } };
    expect(failedExt.properties.provisioningState).toBe("Failed");
    expect(JSON.stringify(failedExt.properties.instanceView)).toContain("Exit code: -2145648607");

    // The network team removes the rule; the next pass reinstalls and the VM joins.
    stack.emulator.addNetwork([{ id: nsg, location: "westeurope", properties: { securityRules: [] } }]);
    const fixedSince = stack.requestSeq();
    await stack.services.queue.send({ vmId: id, trigger: "audit" });
    await stack.drain();
    const fixed = await stack.services.store.getVm(id);
    expect(fixed?.state).toBe("remediated");
    expect(fixed?.diagnosis?.remediation).toMatch(/^Resolved: the reinstall succeeded/);
    expect(stack.enforcerWrites(fixedSince).map((w) => `${w.method} ${w.path.split("/").slice(-2, -1)[0]}`)).toContain("PUT extensions");
    expect(((await extension()).body as { properties: { provisioningState: string } }).properties.provisioningState).toBe("Succeeded");
  });
});

describe("an ordinary network (default rules only)", () => {
  it("preflight allows: installed and remediated; the install pass paid the network reads, a compliant pass still costs 2", async () => {
    const name = "pre-open";
    const id = vmId(SUB_A, RG, name);
    const nic = nicFor(name);
    stack.takeEvents();
    await stack.owner.putVm(id, bodyWithNic(name, nic, {}));
    await deliver();
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("remediated");
    expect(record?.hints ?? []).toEqual([]);
    const log = await stack.services.store.listLog(id, 50);
    const install = log.find((l) => l.kind === "decision" && (l.details as { plan?: string[] }).plan?.some((p) => p.startsWith("install")) && l.state === "in-progress");
    // GET VM + list assignments + NIC + subnet + subnet group, then the PUT.
    expect((install?.details as { armRequests: number }).armRequests).toBe(6);

    const since = stack.requestSeq();
    const again = await reconcile({ vm: vmTarget(id), trigger: "cli" }, stack.services);
    expect(again).toMatchObject({ state: "compliant", armRequests: 2 });
    expect(enforcerRequests(since)).toHaveLength(2);
  });
});

describe("a guest (B2B) written in a tag", () => {
  it("is rejected with guest-not-supported; the member beside it is granted", async () => {
    const name = "pre-guest";
    const id = vmId(SUB_A, RG, name);
    const nic = nicFor(name);
    stack.takeEvents();
    await stack.owner.putVm(id, bodyWithNic(name, nic, { "aadlogin-admins": `${ALICE},alice_contoso.com#EXT#@fabrikam.onmicrosoft.com` }));
    await deliver();
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("remediated");
    expect(record?.rejected).toEqual([{ tag: "aadlogin-admins", entry: "alice_contoso.com#EXT#@fabrikam.onmicrosoft.com", reason: "guest-not-supported" }]);
    expect(record?.access.map((a) => a.principalId)).toEqual([ALICE]);
  });
});
