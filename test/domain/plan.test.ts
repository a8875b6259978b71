import { describe, expect, it } from "vitest";
import { DEFAULT_ACCESS_POLICY, desiredAccessFromTags, type DesiredAccess } from "../../src/domain/access.js";
import type { Action } from "../../src/domain/action.js";
import { assignmentDescription, assignmentName } from "../../src/domain/assignmentName.js";
import { decideEligibility, type Eligibility, type Verdict } from "../../src/domain/eligibility.js";
import { DEFAULT_POLICY } from "../../src/domain/osPolicy.js";
import { extensionPolicy, extensionStatus, planActions, type PlanInput } from "../../src/domain/plan.js";
import { LOGIN_ROLES, type LoginRoleKey } from "../../src/domain/roles.js";
import type { ObservedAssignment, ObservedVm } from "../../src/domain/vm.js";
import { exampleResponseBody, loadArmExample, observedVmFromArmJson } from "../support/armJson.js";
import { aadExtension, assignment, extension, failedStatus, p, SUB, VM_ID, windowsVm } from "./builders.js";

const NOW = new Date("2025-06-01T12:00:00Z");
const EXT = extensionPolicy("1.0");
const ACCESS = { ...DEFAULT_ACCESS_POLICY, allowedPrincipals: [p(1), p(2), p(3)] };
const ELIGIBLE: Eligibility = { verdict: "eligible", reason: "eligible", message: "eligible" };
const compliantVm = (overrides: Partial<ObservedVm> = {}) =>
  windowsVm({ identity: { type: "SystemAssigned", principalId: p(900), userAssignedIdentityIds: [] }, extensions: [aadExtension("Succeeded")], ...overrides });

const roleDef = (role: LoginRoleKey) => `/providers/Microsoft.Authorization/roleDefinitions/${LOGIN_ROLES[role].guid}`;

/** An assignment the enforcer created earlier. */
function ours(role: LoginRoleKey, principal: string, scope = VM_ID): ObservedAssignment {
  return assignment({
    name: assignmentName(scope, LOGIN_ROLES[role].guid, principal),
    roleDefinitionId: roleDef(role),
    principalId: principal,
    scope,
    description: assignmentDescription(role === "admin" ? "aadlogin-admins" : "aadlogin-users"),
  });
}

/** An assignment somebody else created (portal, Bicep, another tool). */
function theirs(role: LoginRoleKey | string, principal: string, scope = VM_ID): ObservedAssignment {
  const roleDefinitionId = role === "admin" || role === "user" ? roleDef(role) : `/providers/Microsoft.Authorization/roleDefinitions/${role}`;
  return assignment({ name: "5d4f3e2a-0000-4000-8000-00000000abcd", roleDefinitionId, principalId: principal, scope, description: "granted by hand" });
}

function plan(overrides: Partial<PlanInput> & { tags?: Record<string, string> } = {}): Action[] {
  const vm = overrides.vm ?? compliantVm(overrides.tags ? { tags: overrides.tags } : {});
  return planActions({
    vm,
    eligibility: overrides.eligibility ?? ELIGIBLE,
    desired: overrides.desired ?? desiredAccessFromTags(vm.tags, ACCESS, NOW),
    assignments: overrides.assignments ?? [],
    extension: overrides.extension ?? EXT,
  });
}

const kinds = (actions: readonly Action[]) => actions.map((a) => (a.kind === "installExtension" ? `${a.kind}:${a.why}` : a.kind === "deleteAssignment" ? `${a.kind}:${a.role}:${a.principalId}:${a.why}` : a.kind === "createAssignment" ? `${a.kind}:${a.role}:${a.principalId}` : `${a.kind}:${a.identityType}`));

describe("planActions: compliance", () => {
  it("is empty for a compliant VM without access tags", () => {
    expect(plan()).toEqual([]);
  });

  it("is empty when every desired grant exists (ours)", () => {
    const tags = { "aadlogin-admins": p(1), "aadlogin-users": p(2) };
    expect(plan({ vm: compliantVm({ tags }), assignments: [ours("admin", p(1)), ours("user", p(2))] })).toEqual([]);
  });

  it("is empty when every desired grant exists (made by someone else)", () => {
    const tags = { "aadlogin-admins": p(1) };
    expect(plan({ vm: compliantVm({ tags }), assignments: [theirs("admin", p(1).toUpperCase())] })).toEqual([]);
  });

  it("orders identity → extension → creates → deletes", () => {
    const vm = windowsVm({ tags: { "aadlogin-admins": p(1), "aadlogin-users": p(2) } });
    expect(kinds(plan({ vm, assignments: [ours("user", p(3))] }))).toEqual([
      "enableIdentity:SystemAssigned",
      "installExtension:missing",
      `createAssignment:admin:${p(1)}`,
      `createAssignment:user:${p(2)}`,
      `deleteAssignment:user:${p(3)}:not-requested`,
    ]);
  });
});

describe("planActions: identity", () => {
  const uai = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/MyIdentity";
  it.each<[string, ObservedVm["identity"], Action | undefined]>([
    ["none → system-assigned", { type: "None", userAssignedIdentityIds: [] }, { kind: "enableIdentity", identityType: "SystemAssigned", keepUserAssigned: [] }],
    ["user-assigned → both, keeping it exactly", { type: "UserAssigned", userAssignedIdentityIds: [uai] }, { kind: "enableIdentity", identityType: "SystemAssigned, UserAssigned", keepUserAssigned: [uai] }],
    ["two user-assigned → both kept in order", { type: "UserAssigned", userAssignedIdentityIds: [uai, `${uai}2`] }, { kind: "enableIdentity", identityType: "SystemAssigned, UserAssigned", keepUserAssigned: [uai, `${uai}2`] }],
    ["system-assigned → nothing", { type: "SystemAssigned", principalId: p(900), userAssignedIdentityIds: [] }, undefined],
    ["both → nothing", { type: "SystemAssigned, UserAssigned", userAssignedIdentityIds: [uai] }, undefined],
  ])("%s", (_label, identity, expected) => {
    const first = plan({ vm: compliantVm({ identity }) })[0];
    expect(first).toEqual(expected);
  });

  it("keeps the user-assigned identity of VirtualMachine_Create_WithEncryptionIdentity.json", () => {
    const body = exampleResponseBody(loadArmExample("compute/VirtualMachine_Create_WithEncryptionIdentity.json"));
    const vm = { ...observedVmFromArmJson(body), powerState: "running" };
    const eligibility = decideEligibility(vm, DEFAULT_POLICY);
    expect(eligibility.verdict).toBe("eligible");
    const actions = plan({ vm, eligibility });
    expect(actions[0]).toEqual({
      kind: "enableIdentity",
      identityType: "SystemAssigned, UserAssigned",
      keepUserAssigned: ["/subscriptions/{subscription-id}/resourceGroups/myResourceGroup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/myIdentity"],
    });
    expect(actions[1]).toMatchObject({ kind: "installExtension", why: "missing", extensionName: "AADLoginForWindows" });
  });
});

describe("planActions: extension", () => {
  it.each<[string, ObservedVm["extensions"], string | undefined]>([
    ["missing", [], "missing"],
    ["only other extensions", [extension({ name: "CustomScriptExtension", publisher: "Microsoft.Compute", type: "CustomScriptExtension", provisioningState: "Succeeded" })], "missing"],
    ["failed", [aadExtension("Failed")], "failed"],
    ["failed, state in lower case", [aadExtension("failed")], "failed"],
    ["canceled", [aadExtension("Canceled")], "failed"],
    ["failed with a diagnosis that is not retryable (the runner decides)", [aadExtension("Failed", { statuses: [failedStatus("Exit code: 51")] })], "failed"],
    ["instance view only, failed status", [aadExtension(undefined, { statuses: [failedStatus("terminal error code '1007'")] })], "failed"],
    ["succeeded", [aadExtension("Succeeded")], undefined],
    ["creating", [aadExtension("Creating")], undefined],
    ["updating", [aadExtension("Updating")], undefined],
    ["deleting", [aadExtension("Deleting")], undefined],
    ["instance view only, fine", [aadExtension(undefined, { statuses: [{ code: "ProvisioningState/succeeded", level: "Info" }] })], undefined],
    ["other major version", [aadExtension("Succeeded", { typeHandlerVersion: "2.0" })], "version"],
    ["other minor version", [aadExtension("Succeeded", { typeHandlerVersion: "1.3" })], undefined],
    ["four-part version of the same major", [aadExtension("Succeeded", { typeHandlerVersion: "1.0.1.2" })], undefined],
    ["no version reported", [aadExtension("Succeeded", { typeHandlerVersion: undefined })], undefined],
    ["instance-view type spelling", [extension({ name: "AADLoginForWindows", type: "Microsoft.Azure.ActiveDirectory.AADLoginForWindows", typeHandlerVersion: "1.0", provisioningState: "Succeeded" })], undefined],
  ])("%s → %s", (_label, extensions, why) => {
    const install = plan({ vm: compliantVm({ extensions }) }).find((a) => a.kind === "installExtension");
    expect(install && install.kind === "installExtension" ? install.why : undefined).toBe(why);
  });

  it("reinstalls under the existing extension's own name", () => {
    const vm = compliantVm({ extensions: [aadExtension("Failed", { name: "AADLogin" })] });
    expect(plan({ vm })[0]).toMatchObject({ kind: "installExtension", extensionName: "AADLogin", why: "failed" });
  });

  it("installs the configured version and mdmId", () => {
    const actions = plan({ vm: compliantVm({ extensions: [] }), extension: extensionPolicy("2.0", "0000000a-0000-0000-c000-000000000000") });
    expect(actions).toEqual([
      {
        kind: "installExtension",
        extensionName: "AADLoginForWindows",
        publisher: "Microsoft.Azure.ActiveDirectory",
        type: "AADLoginForWindows",
        typeHandlerVersion: "2.0",
        settings: { mdmId: "0000000a-0000-0000-c000-000000000000" },
        why: "missing",
      },
    ]);
  });

  it("a 1.0 extension under a 2.0 policy is reinstalled", () => {
    expect(kinds(plan({ extension: extensionPolicy("2.0") }))).toEqual(["installExtension:version"]);
  });

  it.each([
    [[], "missing"],
    [[aadExtension("Succeeded")], "succeeded"],
    [[aadExtension(undefined)], "succeeded"],
    [[aadExtension("Failed")], "failed"],
    [[aadExtension("Canceled")], "failed"],
    [[aadExtension("Creating")], "transitioning"],
    [[aadExtension("Updating")], "transitioning"],
    [[aadExtension("Deleting")], "transitioning"],
    [[extension({ name: "aadloginforwindows", provisioningState: "Succeeded" })], "succeeded"],
    [[extension({ name: "AADLoginForWindows", publisher: "Someone.Else", type: "AADLoginForWindows", provisioningState: "Succeeded" })], "missing"],
  ] as const)("extensionStatus %# → %s", (extensions, status) => {
    expect(extensionStatus(compliantVm({ extensions: [...extensions] }), EXT)).toBe(status);
  });
});

describe("planActions: assignments", () => {
  it("creates with a deterministic name, the VM scope, the principal type and the marker", () => {
    const actions = plan({ tags: { "aadlogin-admins": `${p(1).toUpperCase()}:Group` } });
    expect(actions).toEqual([
      {
        kind: "createAssignment",
        name: assignmentName(VM_ID, LOGIN_ROLES.admin.guid, p(1)),
        scope: VM_ID,
        role: "admin",
        principalId: p(1),
        principalType: "Group",
        description: "Managed by aadlogin-enforcer: requested by tag aadlogin-admins",
      },
    ]);
  });

  it("a retry after the create landed plans nothing (no twin)", () => {
    const tags = { "aadlogin-users": p(2) };
    const first = plan({ tags });
    const created = first[0];
    expect(created?.kind).toBe("createAssignment");
    if (created?.kind !== "createAssignment") return;
    const landed = assignment({ name: created.name, roleDefinitionId: roleDef("user"), principalId: p(2), description: created.description });
    expect(plan({ tags, assignments: [landed] })).toEqual([]);
  });

  it.each<[string, Record<string, string>, ObservedAssignment[], string[]]>([
    ["desired, someone else's exists → nothing", { "aadlogin-users": p(1) }, [theirs("user", p(1))], []],
    ["desired admin, user exists → create admin (and leave theirs)", { "aadlogin-admins": p(1) }, [theirs("user", p(1))], [`createAssignment:admin:${p(1)}`]],
    ["desired, only inherited from the resource group → create at the VM", { "aadlogin-users": p(1) }, [theirs("user", p(1), `/subscriptions/${SUB}/resourceGroups/rg-app`)], [`createAssignment:user:${p(1)}`]],
    ["ours no longer requested → delete", {}, [ours("admin", p(1))], [`deleteAssignment:admin:${p(1)}:not-requested`]],
    ["theirs never requested → untouched", {}, [theirs("admin", p(1)), theirs("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", p(2))], []],
    ["moved from users to admins → create admin, delete our user", { "aadlogin-admins": p(1) }, [ours("user", p(1))], [`createAssignment:admin:${p(1)}`, `deleteAssignment:user:${p(1)}:not-requested`]],
    ["in both tags → admin only; our user grant goes", { "aadlogin-admins": p(1), "aadlogin-users": p(1) }, [ours("admin", p(1)), ours("user", p(1))], [`deleteAssignment:user:${p(1)}:not-requested`]],
    ["taken off the allow-list → delete, not-allowed", { "aadlogin-users": p(9) }, [ours("user", p(9))], [`deleteAssignment:user:${p(9)}:not-allowed`]],
    ["expired → delete ours, keep theirs", { "aadlogin-users": `${p(1)},${p(2)}`, "aadlogin-expires": "2025-01-01T00:00:00Z" }, [ours("user", p(1)), theirs("user", p(2))], [`deleteAssignment:user:${p(1)}:expired`]],
    ["unreadable expiry → delete ours (grant nothing)", { "aadlogin-users": p(1), "aadlogin-expires": "soon" }, [ours("user", p(1))], [`deleteAssignment:user:${p(1)}:not-requested`]],
    ["ours at another scope (not handed in correctly) → untouched", {}, [ours("user", p(1), `/subscriptions/${SUB}/resourceGroups/rg-app`)], []],
    ["a copy of our marker on someone else's name → untouched", {}, [{ ...theirs("user", p(1)), description: assignmentDescription("aadlogin-users") }], []],
  ])("%s", (_label, tags, assignments, expected) => {
    expect(kinds(plan({ tags, assignments }))).toEqual(expected);
  });

  it("deletes by the observed name and scope", () => {
    const a = { ...ours("admin", p(1)), scope: VM_ID.toLowerCase() };
    expect(plan({ assignments: [a] })).toEqual([
      { kind: "deleteAssignment", name: a.name, scope: VM_ID.toLowerCase(), role: "admin", principalId: p(1), why: "not-requested" },
    ]);
  });
});

describe("planActions: VMs that are not eligible", () => {
  const bare = windowsVm({ tags: { "aadlogin-admins": p(1), "aadlogin-users": p(2) } });
  const assignments = [ours("admin", p(1)), ours("user", p(3)), theirs("user", p(2))];

  it.each<Verdict>(["ineligible", "conflict", "exempt", "deferred"])(
    "%s: no identity, extension or create; still revokes our grants the tags no longer ask for",
    (verdict) => {
      const eligibility = { verdict, reason: "vm-not-running", message: "x" } as Eligibility;
      expect(kinds(plan({ vm: bare, eligibility, assignments }))).toEqual([`deleteAssignment:user:${p(3)}:not-requested`]);
    },
  );

  it.each<Verdict>(["ineligible", "conflict", "exempt", "deferred"])("%s: an expiry is honoured", (verdict) => {
    const vm = windowsVm({ tags: { ...bare.tags, "aadlogin-expires": "2020-01-01T00:00:00Z" } });
    const eligibility = { verdict, reason: "vm-not-running", message: "x" } as Eligibility;
    expect(kinds(plan({ vm, eligibility, assignments }))).toEqual([`deleteAssignment:admin:${p(1)}:expired`, `deleteAssignment:user:${p(3)}:expired`]);
  });

  it("a deallocated VM with nothing to revoke plans nothing", () => {
    const vm = windowsVm({ powerState: "deallocated", tags: { "aadlogin-admins": p(1) } });
    expect(plan({ vm, eligibility: decideEligibility(vm, DEFAULT_POLICY) })).toEqual([]);
  });

  it("VirtualMachine_Get.json (Server 2016) gets no identity, extension or grants", () => {
    const body = exampleResponseBody(loadArmExample("compute/VirtualMachine_Get.json"));
    const vm = { ...observedVmFromArmJson(body), tags: { "aadlogin-admins": p(1) } };
    expect(vm.extensions).toMatchObject([{ name: "CustomScriptExtension-DSC", type: "CustomScriptExtension", provisioningState: "Succeeded" }]);
    expect(plan({ vm, eligibility: decideEligibility(vm, DEFAULT_POLICY) })).toEqual([]);
  });
});

describe("planActions: an end-to-end table", () => {
  const desired = (tags: Record<string, string>): DesiredAccess => desiredAccessFromTags(tags, ACCESS, NOW);
  it.each<[string, Partial<ObservedVm>, ObservedAssignment[], string[]]>([
    ["fresh VM with tags", { identity: { type: "None", userAssignedIdentityIds: [] }, extensions: [], tags: { "aadlogin-admins": p(1) } }, [], ["enableIdentity:SystemAssigned", "installExtension:missing", `createAssignment:admin:${p(1)}`]],
    ["1007 failure (no identity) → identity then reinstall", { identity: { type: "None", userAssignedIdentityIds: [] }, extensions: [aadExtension("Failed", { statuses: [failedStatus("terminal error code '1007'. Exit code: -2145648574")] })] }, [], ["enableIdentity:SystemAssigned", "installExtension:failed"]],
    ["compliant with grants", { tags: { "aadlogin-users": `${p(1)},${p(2)}` } }, [ours("user", p(1)), ours("user", p(2))], []],
    ["tag removed", { tags: {} }, [ours("user", p(1)), ours("user", p(2))], [`deleteAssignment:user:${p(1)}:not-requested`, `deleteAssignment:user:${p(2)}:not-requested`]],
  ])("%s", (_label, overrides, assignments, expected) => {
    const vm = compliantVm(overrides);
    expect(kinds(planActions({ vm, eligibility: ELIGIBLE, desired: desired(vm.tags), assignments, extension: EXT }))).toEqual(expected);
  });
});
