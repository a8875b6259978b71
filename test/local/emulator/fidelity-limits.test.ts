import { isRestError } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { useTestEmulator, type TestEmulator } from "../../support/emulator.js";

const SUB = "f1f1f1f1-0000-4000-8000-0000000000f1";
const SUB2 = "f2f2f2f2-0000-4000-8000-0000000000f2";
const USER = "f0f0f0f0-0000-4000-8000-0000000000f0";
const USER_LOGIN = "fb879df8-f326-4884-b1cf-06f3ad86be52";
const name = (n: number): string => `0000000${n}-0000-4000-8000-000000000000`;
const roleId = (sub: string): string => `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${USER_LOGIN}`;

let t: TestEmulator;

useTestEmulator((started) => {
  t = started;
  t.emulator.addResourceGroup(SUB, "rg1");
  t.emulator.addResourceGroup(SUB2, "rg2");
  t.emulator.addPrincipal({ id: USER, type: "User", displayName: "User" });
});

describe("role assignments per subscription", () => {
  it("refuses the assignment past the subscription's limit with RoleAssignmentLimitExceeded, counting every scope inside it", async () => {
    t.emulator.setLimits({ roleAssignmentsPerSubscription: 2 });
    const auth = t.authorizationClient(SUB);
    await auth.roleAssignments.create(`/subscriptions/${SUB}`, name(1), { roleDefinitionId: roleId(SUB), principalId: USER });
    await auth.roleAssignments.create(`/subscriptions/${SUB}/resourceGroups/rg1`, name(2), { roleDefinitionId: roleId(SUB), principalId: USER });
    const error = await auth.roleAssignments
      .create(`/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1`, name(3), { roleDefinitionId: roleId(SUB), principalId: USER })
      .catch((e: unknown) => e);
    expect(isRestError(error) && [error.statusCode, error.code]).toEqual([400, "RoleAssignmentLimitExceeded"]);
    expect((error as Error).message).toContain(`subscription '${SUB}' holds 2 role assignments, its limit is 2`);
    // Repeating an existing assignment is not a new one; another subscription has its own count.
    await auth.roleAssignments.create(`/subscriptions/${SUB}`, name(1), { roleDefinitionId: roleId(SUB), principalId: USER });
    await t.authorizationClient(SUB2).roleAssignments.create(`/subscriptions/${SUB2}`, name(4), { roleDefinitionId: roleId(SUB2), principalId: USER });
    await auth.roleAssignments.delete(`/subscriptions/${SUB}`, name(1));
    await auth.roleAssignments.create(`/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1`, name(3), { roleDefinitionId: roleId(SUB), principalId: USER });
  });

  it("is 4,000 by default", () => {
    expect(t.emulator.limits.roleAssignmentsPerSubscription).toBe(4000);
  });
});
