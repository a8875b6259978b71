import type { AuthorizationManagementClient } from "@azure/arm-authorization";
import { isRestError } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { useTestEmulator, type TestEmulator } from "../../support/emulator.js";

const SUB = "0f0e0d0c-0b0a-4909-8807-060504030201";
const VM_SCOPE = `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1`;
const USER = "a1a1a1a1-0000-4000-8000-000000000001";
const ADMIN_LOGIN = "1c0163c0-47e6-4577-8991-ea5c82e286e4";
const USER_LOGIN = "fb879df8-f326-4884-b1cf-06f3ad86be52";
const roleId = (guid: string): string => `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
const name = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

let t: TestEmulator;
let auth: AuthorizationManagementClient;

useTestEmulator((started) => {
  t = started;
  t.emulator.setLimits({ pageSize: 2 });
  t.emulator.addResourceGroup(SUB, "rg1");
  t.emulator.addPrincipal({ id: USER, type: "User", displayName: "Ann Lee", upn: "ann@contoso.com" });
  auth = t.authorizationClient(SUB);
});

const collect = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};

describe("role assignments through @azure/arm-authorization", () => {
  it("creates, reads, lists with atScope() and principalId filters, deletes (200 then 204)", async () => {
    const created = await auth.roleAssignments.create(VM_SCOPE, name(1), { roleDefinitionId: roleId(ADMIN_LOGIN), principalId: USER });
    expect(created).toMatchObject({ name: name(1), principalId: USER, principalType: "User", scope: VM_SCOPE, roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${ADMIN_LOGIN}` });
    expect((await auth.roleAssignments.get(VM_SCOPE, name(1))).id).toBe(`${VM_SCOPE}/providers/Microsoft.Authorization/roleAssignments/${name(1)}`);
    await auth.roleAssignments.create(`/subscriptions/${SUB}`, name(2), { roleDefinitionId: roleId(USER_LOGIN), principalId: USER });
    await auth.roleAssignments.create(`/subscriptions/${SUB}/resourceGroups/rg1`, name(3), { roleDefinitionId: roleId(USER_LOGIN), principalId: t.emulator.managedIdentity.principalId, principalType: "ServicePrincipal" });
    await auth.roleAssignments.create(`${VM_SCOPE}/extensions/x`, name(4), { roleDefinitionId: roleId(USER_LOGIN), principalId: USER });

    // The test caller's own Owner grant at "/" is inherited everywhere, as a root assignment is in Azure.
    const callerGrant = (a: { scope?: string }) => a.scope !== "/";
    const atScope = (await collect(auth.roleAssignments.listForScope(VM_SCOPE, { filter: "atScope()" }))).filter(callerGrant);
    expect(atScope.map((a) => a.name).sort()).toEqual([name(1), name(2), name(3)]);
    const all = (await collect(auth.roleAssignments.listForScope(VM_SCOPE))).filter(callerGrant);
    expect(all.map((a) => a.name).sort()).toEqual([name(1), name(2), name(3), name(4)]);
    const mine = await collect(auth.roleAssignments.listForScope(VM_SCOPE, { filter: `principalId eq '${USER}'` }));
    expect(mine.map((a) => a.name).sort()).toEqual([name(1), name(2), name(4)]);
    const bySub = (await collect(auth.roleAssignments.listForSubscription())).filter(callerGrant);
    expect(bySub).toHaveLength(4);

    const deleted = await auth.roleAssignments.delete(VM_SCOPE, name(1));
    expect(deleted.name).toBe(name(1));
    const again = await auth.roleAssignments.delete(VM_SCOPE, name(1));
    expect(again.name).toBeUndefined();
  });

  const rejections: Array<{ case: string; assignment: string; body: () => { roleDefinitionId: string; principalId: string; principalType?: string }; status: number; code: string }> = [
    { case: "name not a GUID", assignment: "not-a-guid", body: () => ({ roleDefinitionId: roleId(ADMIN_LOGIN), principalId: USER }), status: 400, code: "InvalidRoleAssignmentId" },
    { case: "unknown role", assignment: name(9), body: () => ({ roleDefinitionId: roleId("99999999-9999-4999-8999-999999999999"), principalId: USER }), status: 400, code: "RoleDefinitionDoesNotExist" },
    { case: "unknown principal", assignment: name(9), body: () => ({ roleDefinitionId: roleId(ADMIN_LOGIN), principalId: "b2b2b2b2-0000-4000-8000-000000000002" }), status: 400, code: "PrincipalNotFound" },
    { case: "principal id not a GUID", assignment: name(9), body: () => ({ roleDefinitionId: roleId(ADMIN_LOGIN), principalId: "ann" }), status: 400, code: "InvalidPrincipalId" },
    { case: "wrong principalType", assignment: name(9), body: () => ({ roleDefinitionId: roleId(ADMIN_LOGIN), principalId: USER, principalType: "Group" }), status: 400, code: "UnmatchedPrincipalType" },
    { case: "same scope+role+principal under another name", assignment: name(9), body: () => ({ roleDefinitionId: roleId(ADMIN_LOGIN), principalId: USER }), status: 409, code: "RoleAssignmentExists" },
  ];
  for (const r of rejections) {
    it(`rejects: ${r.case} -> ${r.status} ${r.code}`, async () => {
      await auth.roleAssignments.create(VM_SCOPE, name(1), { roleDefinitionId: roleId(ADMIN_LOGIN), principalId: USER });
      const error = await auth.roleAssignments.create(VM_SCOPE, r.assignment, r.body()).catch((e: unknown) => e);
      expect(isRestError(error) && [error.statusCode, error.code]).toEqual([r.status, r.code]);
    });
  }

  it("a freshly created principal is not found until replication, unless principalType is sent", async () => {
    t.emulator.setLimits({ principalReplicationDelayMs: 60_000 });
    const fresh = "c3c3c3c3-0000-4000-8000-000000000003";
    t.emulator.addPrincipal({ id: fresh, type: "ServicePrincipal", displayName: "new app" });
    const error = await auth.roleAssignments.create(VM_SCOPE, name(5), { roleDefinitionId: roleId(USER_LOGIN), principalId: fresh }).catch((e: unknown) => e);
    expect(isRestError(error) && error.code).toBe("PrincipalNotFound");
    const ok = await auth.roleAssignments.create(VM_SCOPE, name(5), { roleDefinitionId: roleId(USER_LOGIN), principalId: fresh, principalType: "ServicePrincipal" });
    expect(ok.principalType).toBe("ServicePrincipal");
  });
});

describe("role definitions through @azure/arm-authorization", () => {
  it("gets the login roles by id with their real data actions", async () => {
    const admin = await auth.roleDefinitions.get(`/subscriptions/${SUB}`, ADMIN_LOGIN);
    expect(admin.roleName).toBe("Virtual Machine Administrator Login");
    expect(admin.permissions?.[0]?.dataActions).toContain("Microsoft.Compute/virtualMachines/loginAsAdmin/action");
    const byId = await auth.roleDefinitions.getById(`/providers/Microsoft.Authorization/roleDefinitions/${USER_LOGIN}`);
    expect(byId.roleName).toBe("Virtual Machine User Login");
  });

  it.each([
    ["Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"],
    ["Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"],
    ["Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7"],
    ["Virtual Machine Contributor", "9980e02c-c2be-4d73-94e8-173b1dc7cf3c"],
    ["User Access Administrator", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"],
    ["Role Based Access Control Administrator", "f58310d9-a9f6-439a-9e8d-f62e7b41a168"],
  ])("lists %s by roleName filter", async (roleName, guid) => {
    const found = await collect(auth.roleDefinitions.list(`/subscriptions/${SUB}`, { filter: `roleName eq '${roleName}'` }));
    expect(found.map((r) => r.name)).toEqual([guid]);
  });

  it("404s an unknown role definition", async () => {
    const error = await auth.roleDefinitions.get(`/subscriptions/${SUB}`, "99999999-9999-4999-8999-999999999999").catch((e: unknown) => e);
    expect(isRestError(error) && error.statusCode).toBe(404);
  });
});
