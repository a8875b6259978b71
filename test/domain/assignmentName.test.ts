import { describe, expect, it } from "vitest";
import {
  assignmentDescription,
  assignmentName,
  ENFORCER_MARKER,
  isEnforcerAssignment,
  uuidV5,
} from "../../src/domain/assignmentName.js";
import { LOGIN_ROLES } from "../../src/domain/roles.js";
import { exampleResponseBody, loadArmExample, observedAssignmentFromArmJson } from "../support/armJson.js";
import { assignment, p, SUB, VM_ID } from "./builders.js";

const ADMIN = LOGIN_ROLES.admin.guid;
const USER = LOGIN_ROLES.user.guid;
const roleDef = (guid: string) => `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;

describe("uuidV5", () => {
  it.each([
    // RFC 4122 / Python uuid.uuid5 reference values.
    ["www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "2ed6657d-e927-568b-95e1-2665a8aea6a2"],
    ["python.org", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "886313e1-3b8a-5372-9b90-0c9aee199e5d"],
  ])("%s in %s", (name, ns, expected) => {
    expect(uuidV5(name, ns)).toBe(expected);
  });

  it("refuses a namespace that is not a UUID", () => {
    expect(() => uuidV5("x", "not-a-uuid")).toThrow(/namespace/);
  });
});

describe("assignmentName", () => {
  const name = assignmentName(VM_ID, ADMIN, p(1));

  it("is a version-5 UUID", () => {
    expect(name).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it.each([
    ["the scope in lower case", assignmentName(VM_ID.toLowerCase(), ADMIN, p(1))],
    ["the scope in upper case", assignmentName(VM_ID.toUpperCase(), ADMIN, p(1))],
    ["a trailing slash", assignmentName(`${VM_ID}/`, ADMIN, p(1))],
    ["the principal in upper case", assignmentName(VM_ID, ADMIN, p(1).toUpperCase())],
    ["the role GUID in upper case", assignmentName(VM_ID, ADMIN.toUpperCase(), p(1))],
    ["a full role definition id", assignmentName(VM_ID, roleDef(ADMIN), p(1))],
    ["a tenant-level role definition id", assignmentName(VM_ID, `/providers/Microsoft.Authorization/roleDefinitions/${ADMIN}`, p(1))],
  ])("is the same for %s", (_label, other) => {
    expect(other).toBe(name);
  });

  it.each([
    ["another VM", assignmentName(VM_ID.replace("vm-app-01", "vm-app-02"), ADMIN, p(1))],
    ["another role", assignmentName(VM_ID, USER, p(1))],
    ["another principal", assignmentName(VM_ID, ADMIN, p(2))],
  ])("differs for %s", (_label, other) => {
    expect(other).not.toBe(name);
  });

  it("describes the tag that requested it", () => {
    expect(assignmentDescription("aadlogin-admins")).toBe("Managed by aadlogin-enforcer: requested by tag aadlogin-admins");
    expect(assignmentDescription()).toBe(ENFORCER_MARKER);
  });
});

describe("isEnforcerAssignment", () => {
  const ours = assignment({
    name: assignmentName(VM_ID, ADMIN, p(1)),
    roleDefinitionId: roleDef(ADMIN),
    principalId: p(1),
    description: assignmentDescription("aadlogin-admins"),
  });

  it.each<[string, Parameters<typeof assignment>[0] | typeof ours, boolean]>([
    ["ours", ours, true],
    ["ours, as ARM spells it back (tenant-level role id, lower-case scope)", { ...ours, roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${ADMIN}`, scope: VM_ID.toLowerCase() }, true],
    ["ours, name in upper case", { ...ours, name: ours.name.toUpperCase() }, true],
    ["ours, principal id in upper case", { ...ours, principalId: p(1).toUpperCase() }, true],
    ["the marker without our name", { ...ours, name: "b0f43c54-e787-4862-89b1-a653fa9cf747" }, false],
    ["our name without the marker", { ...ours, description: "granted by hand" }, false],
    ["our name, no description", { ...ours, description: undefined }, false],
    ["the marker not at the start", { ...ours, description: `Copied: ${ENFORCER_MARKER}` }, false],
    ["our name for another principal", { ...ours, principalId: p(2) }, false],
    ["our name for another role", { ...ours, roleDefinitionId: roleDef(USER) }, false],
    ["a non-login role with the marker", { ...ours, roleDefinitionId: roleDef("8e3af657-a8ff-443c-a75c-2fe8c4bcb635") }, false],
    ["at another scope", { ...ours, scope: `/subscriptions/${SUB}/resourceGroups/rg-app` }, false],
  ])("%s → %s", (_label, a, expected) => {
    expect(isEnforcerAssignment(a as typeof ours, VM_ID)).toBe(expected);
  });

  it("the official RoleAssignments_Get example is not ours", () => {
    const a = observedAssignmentFromArmJson(exampleResponseBody(loadArmExample("authorization/RoleAssignments_Get.json")));
    expect(a.name).toBe("b0f43c54-e787-4862-89b1-a653fa9cf747");
    expect(isEnforcerAssignment(a, VM_ID)).toBe(false);
    expect(isEnforcerAssignment({ ...a, description: ENFORCER_MARKER }, a.scope)).toBe(false);
  });
});
