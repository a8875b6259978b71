import { fileURLToPath } from "node:url";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { grantOwnerAtRoot, startTestEmulator, type TestEmulator } from "../../support/emulator.js";
import { armCall, type RawResponse } from "./arm-http.js";

/**
 * Driven by every file in ../shared/reference/arm-examples: each example's request is sent at the
 * example's path (placeholders substituted), the status must be one the example documents and the
 * body must carry the example's keys at the levels that matter.
 *
 * Documented deviations: Compute never returns `protectedSettings` (secrets) nor an extension's
 * `instanceView` without `$expand=instanceView`, so those keys are not required in extension write
 * responses; the generated examples' placeholder `$expand` values ("aaaa...") are sent as
 * `instanceView`, the only value the service accepts.
 */
const ROOT = fileURLToPath(new URL("../../fixtures/reference/arm-examples", import.meta.url));
const SUB = "a925f2f7-5c63-4b7b-8799-25a5f97bc3b2";
const RG = "myResourceGroup";
const EXAMPLE_PRINCIPAL = "ce2ce14e-85d7-4629-bdbc-454d0519d987";
const EXAMPLE_ROLE = "0b5fe924-9a61-425c-96af-cfe6e287ca2d";

type Example = { parameters: Record<string, any>; responses: Record<string, { body?: any; headers?: Record<string, string> }> };

const load = (dir: string, file: string): Example => JSON.parse(readFileSync(join(ROOT, dir, file), "utf8")) as Example;
const keys = (o: unknown): string[] => (o && typeof o === "object" && !Array.isArray(o) ? Object.keys(o).sort() : []);

function expectKeysIncluded(actual: unknown, expected: unknown, where: string, skip: string[] = []): void {
  const missing = keys(expected).filter((k) => !skip.includes(k) && !keys(actual).includes(k));
  expect(missing, `keys missing at ${where}`).toEqual([]);
}

/** Placeholder-heavy compute bodies, made concrete the way a real caller would. */
function substitute<T>(value: T): T {
  return JSON.parse(JSON.stringify(value).replaceAll("{subscription-id}", SUB).replaceAll("{subscriptionId}", SUB)) as T;
}

let t: TestEmulator;
let token: string;
const call = (method: string, path: string, body?: unknown): Promise<RawResponse> =>
  armCall(t.emulator.armUrl, t.emulator.caPem, method, path, { token, ...(body === undefined ? {} : { body }) });

const vmPath = (vm: string, apiVersion: string): string =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${vm}?api-version=${apiVersion}`;

const createExample = load("compute", "VirtualMachine_Create_WithPasswordAuthentication.json");

function seedVm(name: string, body: unknown = createExample.parameters["parameters"]): void {
  t.emulator.seed({ vms: [{ id: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${name}`, body: substitute(body) as never }] });
}

function seedExtension(vm: string, ext: string): void {
  const body = substitute(load("compute", "VirtualMachineExtension_CreateOrUpdate_MaximumSet_Gen.json").parameters["extensionParameters"]);
  seedVm(vm, { ...(createExample.parameters["parameters"] as object), resources: [{ name: ext, ...body }] });
}

const authExamplesNeedingAssignment = (name: string, scope: string): Promise<RawResponse> =>
  call("PUT", `/${scope}/providers/Microsoft.Authorization/roleAssignments/${name}?api-version=2022-04-01`, {
    properties: { roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${EXAMPLE_ROLE}`, principalId: EXAMPLE_PRINCIPAL, principalType: "User" },
  });

type Recipe = (ex: Example) => Promise<void>;

const compute: Record<string, Recipe> = {
  "VirtualMachine_Create_WithPasswordAuthentication.json": createVmRecipe,
  "VirtualMachine_Create_WithEncryptionIdentity.json": createVmRecipe,
  "VirtualMachine_Get.json": async (ex) => {
    const body = ex.responses["200"]?.body;
    seedVm(ex.parameters["vmName"], body);
    const res = await call("GET", `${vmPath(ex.parameters["vmName"], ex.parameters["api-version"])}&$expand=${ex.parameters["$expand"]}`);
    expect(res.status).toBe(200);
    expectKeysIncluded(res.body, body, "vm");
    expectKeysIncluded(res.body.properties, body.properties, "vm.properties");
    expectKeysIncluded(res.body.resources[0], body.resources[0], "vm.resources[0]");
    expectKeysIncluded(res.body.resources[0].properties, body.resources[0].properties, "vm.resources[0].properties");
  },
  "VirtualMachine_Get_InstanceView.json": instanceViewRecipe(["bootDiagnostics", "patchStatus"]),
  "VirtualMachine_Get_InstanceViewAutoPlacedOnDedicatedHostGroup.json": instanceViewRecipe(["assignedHost"]),
  "VirtualMachine_ListAll_MaximumSet_Gen.json": listAllRecipe,
  "VirtualMachine_ListAll_MinimumSet_Gen.json": listAllRecipe,
  "VirtualMachine_Delete_Force.json": async (ex) => {
    seedVm(ex.parameters["vmName"]);
    const path = `${vmPath(ex.parameters["vmName"], ex.parameters["api-version"])}&forceDeletion=${ex.parameters["forceDeletion"]}`;
    const res = await call("DELETE", path);
    expect(Object.keys(ex.responses)).toContain(String(res.status));
    expect(res.headers["location"]).toMatch(/\/providers\/Microsoft\.Compute\/locations\/westus\/operations\/[^?]+\?.*monitor=true/);
    await expect.poll(async () => (await call("DELETE", path)).status).toBe(204);
  },
  "VirtualMachine_Update_DetachDataDiskUsingToBeDetachedProperty.json": async (ex) => {
    seedVm(ex.parameters["vmName"]);
    const res = await call("PATCH", vmPath(ex.parameters["vmName"], ex.parameters["api-version"]), substitute(ex.parameters["parameters"]));
    expect(Object.keys(ex.responses)).toContain(String(res.status));
    const expected = ex.responses["200"]?.body;
    expectKeysIncluded(res.body, expected, "vm");
    expectKeysIncluded(res.body.properties, expected.properties, "vm.properties");
    expectKeysIncluded(res.body.properties.storageProfile, expected.properties.storageProfile, "vm.properties.storageProfile");
    expect(res.body.properties.provisioningState).toBe("Updating");
  },
  "VirtualMachineExtension_CreateOrUpdate_MaximumSet_Gen.json": async (ex) => {
    seedVm(ex.parameters["vmName"]);
    const path = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${ex.parameters["vmName"]}/extensions/${ex.parameters["vmExtensionName"]}?api-version=${ex.parameters["api-version"]}`;
    const res = await call("PUT", path, ex.parameters["extensionParameters"]);
    expect(res.status).toBe(201);
    expect(res.headers["azure-asyncoperation"]).toBeDefined();
    expect(res.headers["location"]).toBeDefined();
    const expected = ex.responses["200"]?.body;
    expectKeysIncluded(res.body, expected, "extension");
    expectKeysIncluded(res.body.properties, expected.properties, "extension.properties", ["protectedSettings", "instanceView"]);
    expect(res.body.properties.provisioningState).toBe("Creating");
    const again = await call("PUT", path, ex.parameters["extensionParameters"]);
    expect(again.status).toBe(200);
  },
  "VirtualMachineExtension_Get_MaximumSet_Gen.json": async (ex) => {
    seedExtension(ex.parameters["vmName"], ex.parameters["vmExtensionName"]);
    const path = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${ex.parameters["vmName"]}/extensions/${ex.parameters["vmExtensionName"]}?api-version=${ex.parameters["api-version"]}&$expand=instanceView`;
    // Seeded extensions have no agent report yet; one PUT through ARM produces it.
    await call("PUT", path.replace("&$expand=instanceView", ""), substitute(load("compute", "VirtualMachineExtension_CreateOrUpdate_MaximumSet_Gen.json").parameters["extensionParameters"]));
    await expect.poll(async () => (await call("GET", path)).body?.properties?.provisioningState).toBe("Succeeded");
    const res = await call("GET", path);
    const expected = ex.responses["200"]?.body;
    expectKeysIncluded(res.body, expected, "extension");
    expectKeysIncluded(res.body.properties, expected.properties, "extension.properties", ["protectedSettings"]);
    expectKeysIncluded(res.body.properties.instanceView, expected.properties.instanceView, "extension.properties.instanceView", ["substatuses"]);
    expectKeysIncluded(res.body.properties.instanceView.statuses[0], expected.properties.instanceView.statuses[0], "instanceView.statuses[0]");
  },
  "VirtualMachineExtension_List_MaximumSet_Gen.json": async (ex) => {
    seedExtension(ex.parameters["vmName"], "myVMExtension");
    const res = await call("GET", `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${ex.parameters["vmName"]}/extensions?api-version=${ex.parameters["api-version"]}`);
    expect(res.status).toBe(200);
    const expected = ex.responses["200"]?.body;
    expectKeysIncluded(res.body, expected, "list");
    expect(res.body.nextLink).toBeUndefined();
    expectKeysIncluded(res.body.value[0], expected.value[0], "list.value[0]");
    expectKeysIncluded(res.body.value[0].properties, expected.value[0].properties, "list.value[0].properties", ["protectedSettings", "instanceView"]);
  },
  "VirtualMachineExtension_Update.json": async (ex) => {
    seedExtension(ex.parameters["vmName"], ex.parameters["vmExtensionName"]);
    const res = await call("PATCH", `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${ex.parameters["vmName"]}/extensions/${ex.parameters["vmExtensionName"]}?api-version=${ex.parameters["api-version"]}`, ex.parameters["extensionParameters"]);
    expect(Object.keys(ex.responses)).toContain(String(res.status));
    const expected = ex.responses["200"]?.body;
    expectKeysIncluded(res.body, expected, "extension");
    expectKeysIncluded(res.body.properties, expected.properties, "extension.properties");
    expect(res.body.properties.settings).toEqual(expected.properties.settings);
  },
  "VirtualMachineExtension_Delete_MaximumSet_Gen.json": async (ex) => {
    seedExtension(ex.parameters["vmName"], ex.parameters["vmExtensionName"]);
    const path = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${ex.parameters["vmName"]}/extensions/${ex.parameters["vmExtensionName"]}?api-version=${ex.parameters["api-version"]}`;
    const res = await call("DELETE", path);
    expect(res.status).toBe(202);
    expect(Object.keys(ex.responses)).toContain("202");
    expect(res.headers["location"]).toBeDefined();
    await expect.poll(async () => (await call("DELETE", path)).status).toBe(204);
  },
};

async function createVmRecipe(ex: Example): Promise<void> {
  const res = await call("PUT", vmPath(ex.parameters["vmName"], ex.parameters["api-version"]), substitute(ex.parameters["parameters"]));
  expect(res.status).toBe(201);
  expect(res.headers["azure-asyncoperation"]).toBeDefined();
  const expected = ex.responses["201"]?.body;
  expectKeysIncluded(res.body, expected, "vm");
  expectKeysIncluded(res.body.properties, expected.properties, "vm.properties");
  expectKeysIncluded(res.body.properties.osProfile, expected.properties.osProfile, "vm.properties.osProfile");
  expectKeysIncluded(res.body.properties.storageProfile, expected.properties.storageProfile, "vm.properties.storageProfile");
  expectKeysIncluded(res.body.properties.storageProfile.osDisk, expected.properties.storageProfile.osDisk, "vm.properties.storageProfile.osDisk");
  expect(res.body.properties.provisioningState).toBe("Creating");
  expect(res.body.properties.osProfile.adminPassword).toBeUndefined();
  if (expected.identity) expect(res.body.identity.type).toBe(expected.identity.type);
  const again = await call("PUT", vmPath(ex.parameters["vmName"], ex.parameters["api-version"]), substitute(ex.parameters["parameters"]));
  expect(again.status).toBe(200);
}

function instanceViewRecipe(notEmulated: string[]): Recipe {
  return async (ex) => {
    seedVm(ex.parameters["vmName"]);
    const res = await call("GET", `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${ex.parameters["vmName"]}/instanceView?api-version=${ex.parameters["api-version"]}`);
    expect(res.status).toBe(200);
    const expected = ex.responses["200"]?.body;
    expectKeysIncluded(res.body, expected, "instanceView", [...notEmulated, "extensions"]);
    expectKeysIncluded(res.body.vmAgent, expected.vmAgent, "instanceView.vmAgent", ["extensionHandlers"]);
    expectKeysIncluded(res.body.vmAgent.statuses[0], expected.vmAgent.statuses[0], "instanceView.vmAgent.statuses[0]");
    expectKeysIncluded(res.body.disks[0], expected.disks[0], "instanceView.disks[0]");
    expect(res.body.statuses.map((s: { code: string }) => s.code)).toEqual(expected.statuses.map((s: { code: string }) => s.code));
  };
}

async function listAllRecipe(ex: Example): Promise<void> {
  // The example's own first item is the seed, so optional keys it shows (plan, zones, identity, ...) exist.
  const item = ex.responses["200"]?.body.value[0];
  for (let i = 0; i < 7; i++) seedVm(`vm${i}`, item.properties ? item : undefined);
  const first = await call("GET", `/subscriptions/${SUB}/providers/Microsoft.Compute/virtualMachines?api-version=${ex.parameters["api-version"]}`);
  expect(first.status).toBe(200);
  const expected = ex.responses["200"]?.body;
  expectKeysIncluded(first.body, expected, "list");
  expectKeysIncluded(first.body.value[0], expected.value[0], "list.value[0]");
  const next = await call("GET", new URL(first.body.nextLink).pathname + new URL(first.body.nextLink).search);
  expect(first.body.value.length + next.body.value.length).toBe(7);
  expect(next.body.nextLink).toBeUndefined();
}

const authorization: Record<string, Recipe> = {
  "RoleAssignments_CreateForSubscription.json": createAssignmentRecipe,
  "RoleAssignments_CreateForResourceGroup.json": createAssignmentRecipe,
  "RoleAssignments_CreateForResource.json": createAssignmentRecipe,
  "RoleAssignments_Get.json": async (ex) => {
    await authExamplesNeedingAssignment(ex.parameters["roleAssignmentName"], ex.parameters["scope"]);
    const res = await call("GET", `/${ex.parameters["scope"]}/providers/Microsoft.Authorization/roleAssignments/${ex.parameters["roleAssignmentName"]}?api-version=${ex.parameters["api-version"]}`);
    expect(res.status).toBe(200);
    expectAssignment(res.body, ex.responses["200"]?.body);
  },
  "RoleAssignments_Delete.json": async (ex) => {
    await authExamplesNeedingAssignment(ex.parameters["roleAssignmentName"], ex.parameters["scope"]);
    const path = `/${ex.parameters["scope"]}/providers/Microsoft.Authorization/roleAssignments/${ex.parameters["roleAssignmentName"]}?api-version=${ex.parameters["api-version"]}`;
    const res = await call("DELETE", path);
    expect(res.status).toBe(200);
    expectAssignment(res.body, ex.responses["200"]?.body);
    expect((await call("DELETE", path)).status).toBe(204);
  },
  "RoleAssignments_ListForScope.json": async (ex) => {
    await authExamplesNeedingAssignment("b0f43c54-e787-4862-89b1-a653fa9cf747", ex.parameters["scope"]);
    const res = await call("GET", `/${ex.parameters["scope"]}/providers/Microsoft.Authorization/roleAssignments?api-version=${ex.parameters["api-version"]}`);
    expect(res.status).toBe(200);
    expectKeysIncluded(res.body, ex.responses["200"]?.body, "list");
    // The test caller's Owner grant at "/" is listed too (inherited), as a root assignment is in Azure.
    expectAssignment(res.body.value.find((a: { properties: { scope: string } }) => a.properties.scope !== "/"), ex.responses["200"]?.body.value[0]);
  },
  "GetRoleDefinitionById.json": async (ex) => {
    const res = await call("GET", `/providers/Microsoft.Authorization/roleDefinitions/${EXAMPLE_ROLE}?api-version=${ex.parameters["api-version"]}`);
    expectRoleDefinition(res, ex.responses["200"]?.body);
    expect(res.body.id).toBe(`/providers/Microsoft.Authorization/roleDefinitions/${EXAMPLE_ROLE}`);
  },
  "GetRoleDefinitionByName.json": async (ex) => {
    const res = await call("GET", `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${EXAMPLE_ROLE}?api-version=${ex.parameters["api-version"]}`);
    expectRoleDefinition(res, ex.responses["200"]?.body);
    expect(res.body.id).toBe(`/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${EXAMPLE_ROLE}`);
  },
  "GetRoleDefinitionAtScope.json": async (ex) => {
    const res = await call("GET", `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions?api-version=${ex.parameters["api-version"]}`);
    expect(res.status).toBe(200);
    expectKeysIncluded(res.body, ex.responses["200"]?.body, "list");
    expectRoleDefinition({ ...res, body: res.body.value[0] }, ex.responses["200"]?.body.value[0]);
  },
};

async function createAssignmentRecipe(ex: Example): Promise<void> {
  const path = `/${ex.parameters["scope"]}/providers/Microsoft.Authorization/roleAssignments/${ex.parameters["roleAssignmentName"]}?api-version=${ex.parameters["api-version"]}`;
  const created = await call("PUT", path, ex.parameters["parameters"]);
  expect(created.status).toBe(201);
  expectAssignment(created.body, ex.responses["201"]?.body);
  const again = await call("PUT", path, ex.parameters["parameters"]);
  expect(again.status).toBe(200);
  expectAssignment(again.body, ex.responses["200"]?.body);
}

/** Values compared too: the examples use real ids; roleDefinitionId loosely (by GUID), as SOURCES.md advises. */
function expectAssignment(actual: any, expected: any): void {
  expectKeysIncluded(actual, expected, "assignment");
  expectKeysIncluded(actual.properties, expected.properties, "assignment.properties");
  expect(actual.id).toBe(expected.id);
  expect(actual.name).toBe(expected.name);
  expect(actual.type).toBe(expected.type);
  expect(actual.properties.scope).toBe(expected.properties.scope);
  expect(actual.properties.principalId).toBe(expected.properties.principalId);
  expect(actual.properties.roleDefinitionId.split("/").pop()).toBe(expected.properties.roleDefinitionId.split("/").pop());
}

function expectRoleDefinition(res: RawResponse, expected: any): void {
  expect(res.status).toBe(200);
  expectKeysIncluded(res.body, expected, "roleDefinition");
  expectKeysIncluded(res.body.properties, expected.properties, "roleDefinition.properties");
  expectKeysIncluded(res.body.properties.permissions[0], expected.properties.permissions[0], "roleDefinition.properties.permissions[0]");
}

/**
 * Microsoft.Network (read-only in the emulator): each example's resource is seeded with only what a
 * landing zone would set (rules, the subnet and group references) and read back with a GET. Keys the
 * emulator leaves out: an ipConfiguration's `publicIPAddress` and `privateIPAddressPrefixLength` and the
 * NIC's `dscpConfiguration` (optional resources it does not model). The default rules must be the
 * example's, exactly.
 */
const NETWORK_SUB = (text: string): string => text.replaceAll("/subscriptions/subid/", `/subscriptions/${SUB}/`);
const networkGet = async (ex: Example, path: string): Promise<{ res: RawResponse; expected: any }> => {
  const expected = JSON.parse(NETWORK_SUB(JSON.stringify(ex.responses["200"]?.body)));
  const res = await call("GET", `${NETWORK_SUB(path)}?api-version=${ex.parameters["api-version"]}`);
  expect(res.status).toBe(200);
  expectKeysIncluded(res.body, expected, path.split("/").slice(-2)[0] ?? path);
  return { res, expected };
};
const network: Record<string, Recipe> = {
  "NetworkInterfaceGet.json": async (ex) => {
    const body = JSON.parse(NETWORK_SUB(JSON.stringify(ex.responses["200"]?.body)));
    const ipConfigurations = body.properties.ipConfigurations.map((c: any) => ({ name: c.name, properties: { subnet: c.properties.subnet, primary: c.properties.primary } }));
    t.emulator.addNetwork([{ id: body.id, location: body.location, properties: { ipConfigurations, networkSecurityGroup: body.properties.networkSecurityGroup, virtualMachine: body.properties.virtualMachine } }]);
    const { res, expected } = await networkGet(ex, body.id);
    expectKeysIncluded(res.body.properties, expected.properties, "networkInterface.properties", ["dscpConfiguration"]);
    expectKeysIncluded(res.body.properties.dnsSettings, expected.properties.dnsSettings, "networkInterface.properties.dnsSettings");
    expectKeysIncluded(res.body.properties.ipConfigurations[0], expected.properties.ipConfigurations[0], "ipConfigurations[0]");
    expectKeysIncluded(res.body.properties.ipConfigurations[0].properties, expected.properties.ipConfigurations[0].properties, "ipConfigurations[0].properties", ["publicIPAddress"]);
    expectKeysIncluded(res.body.properties.ipConfigurations[1].properties, expected.properties.ipConfigurations[1].properties, "ipConfigurations[1].properties", ["privateIPAddressPrefixLength"]);
    expect(res.body.properties.ipConfigurations.map((c: any) => c.id)).toEqual(expected.properties.ipConfigurations.map((c: any) => c.id));
    expect(res.body.properties.networkSecurityGroup).toEqual(expected.properties.networkSecurityGroup);
    expect(res.body.properties.ipConfigurations[0].properties.subnet).toEqual(expected.properties.ipConfigurations[0].properties.subnet);
    expect(res.body.type).toBe(expected.type);
  },
  "NetworkSecurityGroupGet.json": async (ex) => {
    const body = JSON.parse(NETWORK_SUB(JSON.stringify(ex.responses["200"]?.body)));
    const securityRules = body.properties.securityRules.map((r: any) => ({ name: r.name, properties: { ...r.properties, provisioningState: undefined } }));
    t.emulator.addNetwork([{ id: body.id, location: body.location, properties: { securityRules: JSON.parse(JSON.stringify(securityRules)) } }]);
    const { res, expected } = await networkGet(ex, body.id);
    expectKeysIncluded(res.body.properties, expected.properties, "networkSecurityGroup.properties");
    expect(res.body.properties.securityRules).toEqual(expected.properties.securityRules);
    expect(res.body.properties.defaultSecurityRules).toEqual(expected.properties.defaultSecurityRules);
  },
  "SubnetGet.json": async (ex) => {
    const body = JSON.parse(NETWORK_SUB(JSON.stringify(ex.responses["200"]?.body)));
    t.emulator.addNetwork([{ id: body.id, properties: { addressPrefix: body.properties.addressPrefix } }]);
    const { res, expected } = await networkGet(ex, body.id);
    expectKeysIncluded(res.body.properties, expected.properties, "subnet.properties");
    expect(res.body.properties).toMatchObject(expected.properties);
    // A subnet's group, when it has one, is a reference like the NIC's.
    const withGroup = `${body.id.replace(/subnet1$/, "subnet2")}`;
    const nsg = `/subscriptions/${SUB}/resourceGroups/subnet-test/providers/Microsoft.Network/networkSecurityGroups/nsg1`;
    t.emulator.addNetwork([{ id: withGroup, properties: { networkSecurityGroup: { id: nsg } } }]);
    const second = await call("GET", `${withGroup}?api-version=2024-05-01`);
    expect(second.body.properties.networkSecurityGroup).toEqual({ id: nsg });
    const missing = await call("GET", `${withGroup.replace(/subnet2$/, "nope")}?api-version=2024-05-01`);
    expect([missing.status, missing.body.error.code]).toEqual([404, "ResourceNotFound"]);
  },
};

beforeAll(async () => {
  t = await startTestEmulator({ lroDelayMs: 0 });
});
afterAll(async () => {
  await t.emulator.close();
});
beforeEach(() => {
  t.emulator.reset();
  grantOwnerAtRoot(t.emulator);
  t.emulator.setLimits({ lroDelayMs: 0, pageSize: 5 });
  t.emulator.addSubscription(SUB);
  t.emulator.addResourceGroup(SUB, RG, "westus");
  t.emulator.addPrincipal({ id: EXAMPLE_PRINCIPAL, type: "User", displayName: "Example User" });
  t.emulator.seed({ roleDefinitions: [{ name: EXAMPLE_ROLE, roleName: "Example Role", permissions: [{ actions: ["action"], notActions: [], dataActions: ["dataAction"], notDataActions: [] }] }] });
  token = t.emulator.tokenFor(t.emulator.managedIdentity.principalId);
});

for (const [dir, recipes] of [["compute", compute], ["authorization", authorization], ["network", network]] as const) {
  describe(`official ${dir} examples`, () => {
    const files = readdirSync(join(ROOT, dir)).filter((f) => f.endsWith(".json")).sort();
    it("has a recipe for every example file", () => {
      expect(files.filter((f) => !(f in recipes))).toEqual([]);
    });
    for (const file of files) {
      it(file, async () => {
        const recipe = recipes[file];
        if (!recipe) throw new Error(`no recipe for ${file}`);
        await recipe(load(dir, file));
      });
    }
  });
}
