// The emulator authorizes every ARM call as Azure RBAC does: role assignments with actions/notActions,
// scope inheritance, ABAC conditions on role-assignment writes and deletes, 403 AuthorizationFailed.
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { ComputeManagementClient } from "@azure/arm-compute";
import { describe, expect, it } from "vitest";
import { enforcerGrants, loadEnforcerRoles } from "../../../src/local/enforcerRoles.js";
import { ARM_SCOPE, useTestEmulator, type TestEmulator } from "../../support/emulator.js";
import { armCall } from "./arm-http.js";

const SUB = "4bac0000-0000-4000-8000-0000000000a1";
const RG = `/subscriptions/${SUB}/resourceGroups/rg1`;
const VM = `${RG}/providers/Microsoft.Compute/virtualMachines/vm1`;
const OTHER_VM = `/subscriptions/${SUB}/resourceGroups/rg2/providers/Microsoft.Compute/virtualMachines/vm2`;
const NOBODY = "40b0d000-0000-4000-8000-0000000000b1";
const ANN = "a1110000-0000-4000-8000-0000000000b2";
const DELEGATE = "de1e0000-0000-4000-8000-0000000000b3";
const ALLOWED = "a11ce000-0000-4000-8000-000000000001";
const MALLORY = "ba4d0000-0000-4000-8000-000000000005";
const ROLE = {
  owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
  vmContributor: "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
  rbacAdmin: "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
  adminLogin: "1c0163c0-47e6-4577-8991-ea5c82e286e4",
  userLogin: "fb879df8-f326-4884-b1cf-06f3ad86be52",
};
const VM_BODY = {
  location: "westeurope",
  properties: {
    hardwareProfile: { vmSize: "Standard_D2s_v5" },
    storageProfile: { imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2019-Datacenter", version: "latest" }, osDisk: { osType: "Windows", createOption: "FromImage" } },
    osProfile: { computerName: "vm1", adminUsername: "azureuser", adminPassword: "Test-Only-Passw0rd!" },
  },
};
const AAD = { location: "westeurope", properties: { publisher: "Microsoft.Azure.ActiveDirectory", type: "AADLoginForWindows", typeHandlerVersion: "1.0" } };

let t: TestEmulator;
useTestEmulator((started) => {
  t = started;
  t.emulator.setLimits({ lroDelayMs: 0 });
  t.emulator.addResourceGroup(SUB, "rg1", "westeurope");
  t.emulator.addResourceGroup(SUB, "rg2", "westeurope");
  for (const [id, type, displayName] of [[NOBODY, "User", "No role"], [ANN, "User", "Ann"], [DELEGATE, "ServicePrincipal", "Delegate"], [ALLOWED, "User", "Alice"], [MALLORY, "User", "Mallory"]] as const) {
    t.emulator.addPrincipal({ id, type, displayName });
  }
  t.emulator.seed({ vms: [{ id: VM, body: { ...VM_BODY, identity: { type: "SystemAssigned" } } }, { id: OTHER_VM, body: VM_BODY }] });
});

const as = (principal: string, method: string, path: string, body?: unknown) =>
  armCall(t.emulator.armUrl, t.emulator.caPem, method, path, { token: t.emulator.tokenFor(principal), ...(body === undefined ? {} : { body }) });
const api = (path: string, version = "2025-04-01") => `${path}${path.includes("?") ? "&" : "?"}api-version=${version}`;
const grant = (principalId: string, roleDefinitionId: string, scope: string, extra: Record<string, string> = {}) =>
  t.emulator.addRoleAssignment({ principalId, roleDefinitionId, scope, ...extra });
const assignment = (scope: string, name: string) => `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
const assignBody = (role: string, principalId: string) => ({ properties: { roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${role}`, principalId } });
const denial = (principal: string, action: string, scope: string, abac = false) =>
  `The client '${principal}' with object id '${principal}' does not have authorization${abac ? " or an ABAC condition not fulfilled" : ""} to perform action '${action}' ` +
  `over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`;

describe("RBAC on every ARM call", () => {
  it("a principal with no role gets 403 AuthorizationFailed on a VM PUT, in ARM's shape, and the VM is unchanged", async () => {
    const res = await as(NOBODY, "PUT", api(VM), { ...VM_BODY, tags: { owner: "nobody" } });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: { code: "AuthorizationFailed", message: denial(NOBODY, "Microsoft.Compute/virtualMachines/write", VM) } });
    expect((await as(t.emulator.managedIdentity.principalId, "GET", api(VM))).body.tags).toBeUndefined();
    // Authorization comes before existence: no hint whether a resource exists.
    const missing = await as(NOBODY, "GET", api(`${RG}/providers/Microsoft.Compute/virtualMachines/nope`));
    expect(missing.status).toBe(403);
    expect(t.emulator.requests().requests.at(-1)).toMatchObject({ caller: NOBODY, status: 403, operation: "Microsoft.Compute/virtualMachines/read" });
  });

  it("inherits down scopes: a grant on one resource group covers its VMs, not the other group's nor the subscription", async () => {
    grant(ANN, ROLE.vmContributor, RG);
    expect((await as(ANN, "GET", api(VM))).status).toBe(200);
    expect((await as(ANN, "PATCH", api(VM), { tags: { a: "1" } })).status).toBe(200);
    expect((await as(ANN, "GET", api(OTHER_VM))).status).toBe(403);
    expect((await as(ANN, "GET", api(`/subscriptions/${SUB}/providers/Microsoft.Compute/virtualMachines`))).status).toBe(403);
    expect((await as(ANN, "GET", api(`${RG}/providers/Microsoft.Compute/virtualMachines`))).status).toBe(200);
    grant(ANN, ROLE.reader, `/subscriptions/${SUB}`);
    expect((await as(ANN, "GET", api(OTHER_VM))).status).toBe(200);
    expect((await as(ANN, "PATCH", api(OTHER_VM), { tags: { a: "1" } })).status).toBe(403);
  });

  it("notActions remove what actions grant: a Contributor manages VMs but cannot assign roles", async () => {
    grant(ANN, ROLE.contributor, `/subscriptions/${SUB}`);
    expect((await as(ANN, "PUT", api(`/subscriptions/${SUB}/resourceGroups/rg3`), { location: "westeurope" })).status).toBe(201);
    const name = "c0c0c0c0-0000-4000-8000-0000000000c1";
    const res = await as(ANN, "PUT", api(assignment(VM, name), "2022-04-01"), assignBody(ROLE.adminLogin, ALLOWED));
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe(denial(ANN, "Microsoft.Authorization/roleAssignments/write", assignment(VM, name), true));
    expect((await as(ANN, "GET", api(`${VM}/providers/Microsoft.Authorization/roleAssignments`, "2022-04-01"))).status).toBe(200);
  });

  it("matches a custom role's actions with wildcards in any case", async () => {
    const custom = "c5740000-0000-4000-8000-0000000000c2";
    t.emulator.seed({ roleDefinitions: [{ name: custom, roleName: "VM reader (custom)", permissions: [{ actions: ["microsoft.compute/VIRTUALMACHINES/*/read", "Microsoft.Compute/virtualMachines/read"], notActions: [], dataActions: [], notDataActions: [] }] }] });
    grant(ANN, custom, RG);
    expect((await as(ANN, "GET", api(`${VM}/instanceView`))).status).toBe(200);
    expect((await as(ANN, "GET", api(`${VM}/extensions`))).status).toBe(200);
    expect((await as(ANN, "PUT", api(`${VM}/extensions/AADLoginForWindows`), AAD)).status).toBe(403);
    expect((await as(ANN, "POST", api(`${VM}/deallocate`))).status).toBe(403);
  });

  it("tags: Microsoft.Resources/tags/write or write access to the resource itself (Contributor-like), not Reader", async () => {
    const tags = api(`${VM}/providers/Microsoft.Resources/tags/default`, "2021-04-01");
    grant(ANN, ROLE.reader, RG);
    expect((await as(ANN, "PATCH", tags, { operation: "Merge", properties: { tags: { a: "1" } } })).status).toBe(403);
    expect((await as(ANN, "GET", tags)).status).toBe(200);
    grant(DELEGATE, ROLE.vmContributor, RG);
    expect((await as(DELEGATE, "PATCH", tags, { operation: "Merge", properties: { tags: { a: "1" } } })).status).toBe(200);
  });
});

describe("ABAC conditions on role-assignment writes and deletes", () => {
  // Azure's "Constrain roles and specific groups", with the VM login roles: what the infra gives the app.
  const CONDITION =
    `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${ROLE.adminLogin}, ${ROLE.userLogin}} ` +
    `AND @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {${ALLOWED}})) AND ` +
    `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${ROLE.adminLogin}, ${ROLE.userLogin}}))`;
  const names = ["ab000000-0000-4000-8000-000000000001", "ab000000-0000-4000-8000-000000000002", "ab000000-0000-4000-8000-000000000003", "ab000000-0000-4000-8000-000000000004"] as const;

  it("allows only the condition's roles for the condition's principals; deletes only the condition's roles", async () => {
    grant(DELEGATE, ROLE.rbacAdmin, `/subscriptions/${SUB}`, { condition: CONDITION, conditionVersion: "2.0" });
    const put = (name: string, role: string, principal: string) => as(DELEGATE, "PUT", api(assignment(VM, name), "2022-04-01"), assignBody(role, principal));
    expect((await put(names[0], ROLE.adminLogin, ALLOWED)).status).toBe(201);
    const outside = await put(names[1], ROLE.userLogin, MALLORY);
    expect(outside.status).toBe(403);
    expect(outside.body.error).toEqual({ code: "AuthorizationFailed", message: denial(DELEGATE, "Microsoft.Authorization/roleAssignments/write", assignment(VM, names[1]), true) });
    expect((await put(names[2], ROLE.owner, ALLOWED)).status).toBe(403);
    // Deletes: a login-role assignment (any principal) yes, an Owner assignment no.
    grant(MALLORY, ROLE.userLogin, VM, { name: names[3] });
    grant(ALLOWED, ROLE.owner, VM, { name: names[2] });
    expect((await as(DELEGATE, "DELETE", api(assignment(VM, names[3]), "2022-04-01"))).status).toBe(200);
    const ownerDelete = await as(DELEGATE, "DELETE", api(assignment(VM, names[2]), "2022-04-01"));
    expect(ownerDelete.status).toBe(403);
    expect(ownerDelete.body.error.message).toBe(denial(DELEGATE, "Microsoft.Authorization/roleAssignments/delete", assignment(VM, names[2]), true));
    // The same role without the condition would have allowed all of it.
    expect((await as(DELEGATE, "GET", api(VM))).status).toBe(200);
  });

  it("a second, unconditioned assignment of the same action bypasses the condition (as Azure documents)", async () => {
    grant(DELEGATE, ROLE.rbacAdmin, `/subscriptions/${SUB}`, { condition: CONDITION });
    grant(DELEGATE, ROLE.owner, RG);
    expect((await as(DELEGATE, "PUT", api(assignment(VM, names[1]), "2022-04-01"), assignBody(ROLE.owner, MALLORY))).status).toBe(201);
  });

  it("refuses an unparseable condition on a role-assignment PUT with 400, naming where", async () => {
    const res = await as(t.emulator.managedIdentity.principalId, "PUT", api(assignment(VM, names[0]), "2022-04-01"), {
      properties: { ...assignBody(ROLE.adminLogin, ALLOWED).properties, condition: "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}))", conditionVersion: "2.0" },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("InvalidRoleAssignmentCondition");
    expect(res.body.error.message).toMatch(/could not be parsed at character \d+/);
  });
});

describe("long-running operation status needs Microsoft.Compute/locations/operations/read at the subscription", () => {
  /** The enforcer's grants as infra/ defines them (the generated file from the compiled Bicep), optionally without some actions. */
  function grantInfraRoles(principalId: string, without: readonly string[] = []): void {
    const grants = enforcerGrants(loadEnforcerRoles(), { subscriptionId: SUB, environmentName: "test", principalId, allowedPrincipals: [ALLOWED] });
    t.emulator.seed({
      roleDefinitions: grants.roleDefinitions.map((d) => ({
        name: d.guid, roleName: d.roleName, assignableScopes: d.assignableScopes,
        permissions: d.permissions.map((p) => ({ ...p, actions: p.actions.filter((a) => !without.includes(a)) })),
      })),
    });
    for (const a of grants.assignments) grant(principalId, a.roleDefinitionGuid, a.scope, { ...(a.condition ? { condition: a.condition } : {}) });
  }
  const credential = (principalId: string): TokenCredential => ({
    getToken: async (): Promise<AccessToken> => ({ token: t.emulator.tokenFor(principalId), expiresOnTimestamp: Date.now() + 3600_000 }),
  });
  const compute = (principalId: string) =>
    new ComputeManagementClient(credential(principalId), SUB, { endpoint: t.emulator.armUrl, tlsOptions: { ca: t.emulator.caPem }, credentials: { scopes: [ARM_SCOPE] }, retryOptions: { maxRetries: 0 } });

  it("with the infra's role the extension install is accepted and its status polled to the end", async () => {
    grantInfraRoles(DELEGATE);
    const poller = await compute(DELEGATE).virtualMachineExtensions.beginCreateOrUpdate("rg1", "vm1", "AADLoginForWindows", { location: "westeurope", publisher: AAD.properties.publisher, typePropertiesType: AAD.properties.type, typeHandlerVersion: "1.0" }, { updateIntervalInMs: 5 });
    const result = await poller.pollUntilDone();
    expect(result.provisioningState).toBe("Succeeded");
  });

  it("with Microsoft.Compute/locations/operations/read removed from the role, the install is accepted but its poll fails 403", async () => {
    grantInfraRoles(DELEGATE, ["Microsoft.Compute/locations/operations/read"]);
    const poller = await compute(DELEGATE).virtualMachineExtensions.beginCreateOrUpdate("rg1", "vm1", "AADLoginForWindows", { location: "westeurope", publisher: AAD.properties.publisher, typePropertiesType: AAD.properties.type, typeHandlerVersion: "1.0" }, { updateIntervalInMs: 5 });
    await expect(poller.pollUntilDone()).rejects.toMatchObject({ statusCode: 403, code: "AuthorizationFailed" });
    const poll = t.emulator.requests().requests.filter((r) => r.caller === DELEGATE).at(-1);
    expect(poll).toMatchObject({ method: "GET", status: 403, operation: "Microsoft.Compute/locations/operations/read" });
    expect(poll?.path).toMatch(new RegExp(`^/subscriptions/${SUB}/providers/Microsoft.Compute/locations/westeurope/operations/`));
  });

  it("the infra's role reads a NIC, its security group and its subnet (the preflight); without networkSecurityGroups/read the group's GET is 403", async () => {
    const nic = `${RG}/providers/Microsoft.Network/networkInterfaces/vm1-nic`;
    const nsg = `${RG}/providers/Microsoft.Network/networkSecurityGroups/vm1-nsg`;
    const subnet = `${RG}/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/default`;
    t.emulator.addNetwork([
      { id: nic, properties: { ipConfigurations: [{ name: "ipconfig1", properties: { subnet: { id: subnet } } }], networkSecurityGroup: { id: nsg } } },
      { id: nsg, properties: {} },
      { id: subnet, properties: { networkSecurityGroup: { id: nsg } } },
    ]);
    grantInfraRoles(DELEGATE);
    for (const path of [nic, nsg, subnet]) expect((await as(DELEGATE, "GET", api(path, "2024-05-01"))).status, path).toBe(200);
    expect((await as(NOBODY, "GET", api(nic, "2024-05-01"))).status).toBe(403);
    t.emulator.reset();
    t.emulator.addResourceGroup(SUB, "rg1", "westeurope");
    t.emulator.addPrincipal({ id: DELEGATE, type: "ServicePrincipal", displayName: "Delegate" });
    t.emulator.addNetwork([{ id: nsg, properties: {} }]);
    grantInfraRoles(DELEGATE, ["Microsoft.Network/networkSecurityGroups/read"]);
    const denied = await as(DELEGATE, "GET", api(nsg, "2024-05-01"));
    expect([denied.status, denied.body.error.code]).toEqual([403, "AuthorizationFailed"]);
    expect(denied.body.error.message).toBe(denial(DELEGATE, "Microsoft.Network/networkSecurityGroups/read", nsg));
  });

  it("the infra's role cannot grant Owner, nor a login role to a principal outside the allow-list (through the SDK)", async () => {
    grantInfraRoles(DELEGATE);
    const auth = new AuthorizationManagementClient(credential(DELEGATE), SUB, { endpoint: t.emulator.armUrl, tlsOptions: { ca: t.emulator.caPem }, credentialScopes: [ARM_SCOPE], retryOptions: { maxRetries: 0 } });
    const role = (guid: string) => `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
    await expect(auth.roleAssignments.create(VM, spare(0), { roleDefinitionId: role(ROLE.owner), principalId: ALLOWED })).rejects.toMatchObject({ statusCode: 403, code: "AuthorizationFailed" });
    await expect(auth.roleAssignments.create(VM, spare(1), { roleDefinitionId: role(ROLE.adminLogin), principalId: MALLORY })).rejects.toMatchObject({ statusCode: 403 });
    expect((await auth.roleAssignments.create(VM, spare(2), { roleDefinitionId: role(ROLE.adminLogin), principalId: ALLOWED })).principalId).toBe(ALLOWED);
  });
});

function spare(i: number): string {
  return `fa000000-0000-4000-8000-00000000000${i}`;
}

describe("custom role definitions (PUT/GET/DELETE through @azure/arm-authorization)", () => {
  const CUSTOM = "c0570000-0000-4000-8000-0000000000d1";
  const client = (principalId: string) => {
    const credential: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: t.emulator.tokenFor(principalId), expiresOnTimestamp: Date.now() + 3600_000 }) };
    return new AuthorizationManagementClient(credential, SUB, { endpoint: t.emulator.armUrl, tlsOptions: { ca: t.emulator.caPem }, credentialScopes: [ARM_SCOPE], retryOptions: { maxRetries: 0 } });
  };
  const definition = { roleName: "VM extension installer", description: "test", roleType: "CustomRole", permissions: [{ actions: ["Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/extensions/*"], notActions: [] }], assignableScopes: [`/subscriptions/${SUB}`] };

  it("an Owner creates one that grants exactly what it lists; a Contributor may not; names are unique; in use it cannot be deleted", async () => {
    grant(ANN, ROLE.contributor, `/subscriptions/${SUB}`);
    await expect(client(ANN).roleDefinitions.createOrUpdate(`/subscriptions/${SUB}`, CUSTOM, definition)).rejects.toMatchObject({ statusCode: 403, code: "AuthorizationFailed" });
    grant(DELEGATE, ROLE.owner, `/subscriptions/${SUB}`);
    const created = await client(DELEGATE).roleDefinitions.createOrUpdate(`/subscriptions/${SUB}`, CUSTOM, definition);
    expect(created).toMatchObject({ name: CUSTOM, roleName: "VM extension installer", roleType: "CustomRole", assignableScopes: [`/subscriptions/${SUB}`] });
    expect((await client(DELEGATE).roleDefinitions.get(`/subscriptions/${SUB}`, CUSTOM)).permissions?.[0]?.actions).toEqual(definition.permissions[0]!.actions);
    await expect(client(DELEGATE).roleDefinitions.createOrUpdate(`/subscriptions/${SUB}`, "c0570000-0000-4000-8000-0000000000d2", definition)).rejects.toMatchObject({ statusCode: 409, code: "RoleDefinitionWithSameNameExists" });
    await expect(client(DELEGATE).roleDefinitions.createOrUpdate(`/subscriptions/${SUB}`, ROLE.owner, definition)).rejects.toMatchObject({ statusCode: 400 });

    grant(NOBODY, CUSTOM, RG);
    expect((await as(NOBODY, "PUT", api(`${VM}/extensions/AADLoginForWindows`), AAD)).status).toBe(201);
    expect((await as(NOBODY, "PATCH", api(VM), { tags: { a: "1" } })).status).toBe(403);
    await expect(client(DELEGATE).roleDefinitions.delete(`/subscriptions/${SUB}`, CUSTOM)).rejects.toMatchObject({ statusCode: 400, code: "RoleDefinitionHasAssignments" });
  });
});

describe("POST {admin}/roleAssignments (stable): the tenant admin's grant, validated", () => {
  const admin = (body: unknown) => armCall(t.emulator.armUrl, t.emulator.caPem, "POST", "/admin/roleAssignments", { body });

  it("creates with a GUID or a full role id, answers 201 with the assignment, and 200 for the same grant again", async () => {
    const first = await admin({ principalId: ANN, roleDefinitionId: ROLE.reader, scope: RG });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ type: "Microsoft.Authorization/roleAssignments", properties: { principalId: ANN, principalType: "User", scope: RG, roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${ROLE.reader}`, condition: null } });
    expect(first.body.id).toBe(assignment(RG, first.body.name));
    const again = await admin({ principalId: ANN, roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${ROLE.reader}`, scope: `${RG}/` });
    expect(again.status).toBe(200);
    expect(again.body.name).toBe(first.body.name);
    expect((await as(ANN, "GET", api(VM))).status).toBe(200);
    // Tenant-wide ("/") and with a condition.
    expect((await admin({ principalId: DELEGATE, roleDefinitionId: ROLE.rbacAdmin, scope: "/", condition: "!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})" })).status).toBe(201);
  });

  it.each([
    ["no body object", [], 400, "InvalidRequestContent", /needs a JSON object/],
    ["principalId missing", { roleDefinitionId: ROLE.reader, scope: RG }, 400, "InvalidRequestContent", /'principalId' is required/],
    ["principalId not a GUID", { principalId: "ann", roleDefinitionId: ROLE.reader, scope: RG }, 400, "InvalidPrincipalId", /must be a GUID/],
    ["principal not registered", { principalId: "99990000-0000-4000-8000-000000000009", roleDefinitionId: ROLE.reader, scope: RG }, 400, "PrincipalNotFound", /POST it to \/admin\/principals/],
    ["roleDefinitionId neither a GUID nor a role id", { principalId: ANN, roleDefinitionId: "Reader", scope: RG }, 400, "InvalidRoleDefinitionId", /must be a GUID or/],
    ["an unknown role", { principalId: ANN, roleDefinitionId: "99990000-0000-4000-8000-0000000000ff", scope: RG }, 400, "RoleDefinitionDoesNotExist", /does not exist/],
    ["scope missing", { principalId: ANN, roleDefinitionId: ROLE.reader }, 400, "InvalidRequestContent", /'scope' is required/],
    ["scope not a scope", { principalId: ANN, roleDefinitionId: ROLE.reader, scope: "/resourceGroups/rg1" }, 400, "InvalidScope", /must be '\/'/],
    ["a subscription the emulator does not have", { principalId: ANN, roleDefinitionId: ROLE.reader, scope: "/subscriptions/00000000-0000-4000-8000-0000000000ee" }, 400, "SubscriptionNotFound", /POST it to \/admin\/subscriptions/],
    ["an unparseable condition", { principalId: ANN, roleDefinitionId: ROLE.reader, scope: RG, condition: "@Request[x] GuidEquals" }, 400, "InvalidRoleAssignmentCondition", /could not be parsed/],
    ["an unsupported conditionVersion", { principalId: ANN, roleDefinitionId: ROLE.reader, scope: RG, condition: "!(ActionMatches{'a/b'})", conditionVersion: "1.0" }, 400, "InvalidRoleAssignmentCondition", /'2.0'/],
    ["a condition over 8 KB", { principalId: ANN, roleDefinitionId: ROLE.reader, scope: RG, condition: `!(ActionMatches{'${"a".repeat(8200)}'})` }, 400, "InvalidRoleAssignmentCondition", /up to 8 KB/],
    ["an unknown field", { principalId: ANN, roleDefinitionId: ROLE.reader, scope: RG, role: "Reader" }, 400, "InvalidRequestContent", /Unknown field\(s\) 'role'/],
  ])("%s → %i %s", async (_case, body, status, code, message) => {
    const res = await admin(body);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toMatch(message);
    expect([...t.emulator.state.roleAssignments.values()].filter((a) => a.principalId === ANN)).toEqual([]);
  });
});
