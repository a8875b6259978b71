import type { DesiredAccess } from "./access.js";
import type { Action } from "./action.js";
import { assignmentDescription, assignmentName, isEnforcerAssignment } from "./assignmentName.js";
import { diagnoseExtension, documentedLinuxFailure } from "./diagnosis.js";
import type { Eligibility } from "./eligibility.js";
import { isLinuxVm, LEGACY_LINUX_EXTENSION } from "./linuxPolicy.js";
import type { EligibilityPolicy } from "./osPolicy.js";
import { isExtensionType } from "./extensionType.js";
import { sameResourceId } from "./resourceId.js";
import { LOGIN_ROLES, loginRoleById } from "./roles.js";
import { hasSystemAssignedIdentity, type ObservedAssignment, type ObservedExtension, type ObservedVm } from "./vm.js";

/** The login extension as the enforcer installs it: AADLoginForWindows, or AADSSHLoginForLinux on Linux. */
export interface ExtensionPolicy {
  readonly name: "AADLoginForWindows" | "AADSSHLoginForLinux";
  readonly publisher: "Microsoft.Azure.ActiveDirectory";
  readonly type: "AADLoginForWindows" | "AADSSHLoginForLinux";
  /** `major.minor`; Microsoft's VM page shows 1.0, Azure Verified Modules install 2.0. */
  readonly typeHandlerVersion: string;
  /** Optional `mdmId` setting (`0000000a-0000-0000-c000-000000000000` also enrolls in Intune). */
  readonly mdmId?: string;
}

export function extensionPolicy(typeHandlerVersion: string, mdmId?: string): ExtensionPolicy {
  const base = { name: "AADLoginForWindows", publisher: "Microsoft.Azure.ActiveDirectory", type: "AADLoginForWindows", typeHandlerVersion } as const;
  return mdmId ? { ...base, mdmId } : base;
}

/**
 * AADSSHLoginForLinux, publisher Microsoft.Azure.ActiveDirectory; Microsoft's article installs it with
 * `az vm extension set` (no version) and the VMs in public reports carry typeHandlerVersion "1.0"
 * (e.g. Azure/azure-cli#33171). No settings.
 */
export function linuxExtensionPolicy(typeHandlerVersion = "1.0"): ExtensionPolicy {
  return { name: "AADSSHLoginForLinux", publisher: "Microsoft.Azure.ActiveDirectory", type: "AADSSHLoginForLinux", typeHandlerVersion };
}

/** What picks a VM's login extension: the Windows one, and the Linux one when Linux is enforced. */
export interface LoginExtensionPolicies {
  readonly eligibility: EligibilityPolicy;
  readonly extension: ExtensionPolicy;
  /** Absent: `linuxExtensionPolicy()`. */
  readonly linuxExtension?: ExtensionPolicy;
}

/**
 * The login extension for this VM: AADSSHLoginForLinux for a Linux VM when Linux is enforced,
 * otherwise AADLoginForWindows (so a Linux VM with enforcement off reads exactly as before).
 */
export function loginExtensionFor(vm: ObservedVm, policies: LoginExtensionPolicies): ExtensionPolicy {
  if (policies.eligibility.linux?.enforce && isLinuxVm(vm)) return policies.linuxExtension ?? linuxExtensionPolicy();
  return policies.extension;
}

/**
 * The extension types a decision reads (the Resource Graph audit asks only for these): the Windows
 * login extension, and with Linux enforced the Linux one and the legacy AADLoginForLinux (a conflict).
 */
export function loginExtensionTypes(policies: LoginExtensionPolicies): string[] {
  if (!policies.eligibility.linux?.enforce) return [policies.extension.type];
  return [policies.extension.type, (policies.linuxExtension ?? linuxExtensionPolicy()).type, LEGACY_LINUX_EXTENSION.type];
}

export interface PlanInput {
  readonly vm: ObservedVm;
  readonly eligibility: Eligibility;
  readonly desired: DesiredAccess;
  /** Role assignments at the VM's own scope (inherited ones are not handed in). */
  readonly assignments: readonly ObservedAssignment[];
  readonly extension: ExtensionPolicy;
}

export type ExtensionStatus = "missing" | "succeeded" | "failed" | "transitioning";

/** The VM's login extension of the policy's type, whatever the deployer named it. */
export function findLoginExtension(vm: ObservedVm, policy: ExtensionPolicy): ObservedExtension | undefined {
  return (
    vm.extensions.find((e) => isExtensionType(e, policy.publisher, policy.type)) ??
    vm.extensions.find((e) => e.type === undefined && e.name.toLowerCase() === policy.name.toLowerCase())
  );
}

/**
 * `Failed` and `Canceled` need a reinstall; `Creating`/`Updating`/`Deleting` are in flight and
 * must be left alone. A status without a provisioning state (instance view only) counts as
 * succeeded unless a status says it failed.
 */
export function extensionStatus(vm: ObservedVm, policy: ExtensionPolicy): ExtensionStatus {
  const ext = findLoginExtension(vm, policy);
  if (!ext) return "missing";
  const state = (ext.provisioningState ?? "").toLowerCase();
  if (state === "failed" || state === "canceled") return "failed";
  // AADSSHLoginForLinux exits 22/23 may be shown as transitioning (Microsoft's troubleshooting): failed.
  if ((state === "creating" || state === "updating") && documentedLinuxFailure(ext)) return "failed";
  if (state === "creating" || state === "updating" || state === "deleting") return "transitioning";
  if (state === "" && diagnoseExtension(ext, vm)) return "failed";
  return "succeeded";
}

function majorOf(version: string | undefined): string | undefined {
  const major = (version ?? "").trim().split(".")[0];
  return major === "" ? undefined : major;
}

function extensionAction(vm: ObservedVm, policy: ExtensionPolicy): Action | undefined {
  const ext = findLoginExtension(vm, policy);
  const status = extensionStatus(vm, policy);
  let why: "missing" | "failed" | "version" | undefined;
  if (status === "missing") why = "missing";
  // A failure the reinstall cannot fix (diagnosis not retryable, e.g. exit 51) is still planned:
  // whoever runs the plan reads the diagnosis first and records it instead of hammering.
  else if (status === "failed") why = "failed";
  else if (status === "succeeded") {
    const observed = majorOf(ext?.typeHandlerVersion);
    if (observed !== undefined && observed !== majorOf(policy.typeHandlerVersion)) why = "version";
  }
  if (!why) return undefined;
  return {
    kind: "installExtension",
    // Keep an existing extension's name: a second extension of one handler type under another name is refused.
    extensionName: ext?.name ?? policy.name,
    publisher: policy.publisher,
    type: policy.type,
    typeHandlerVersion: policy.typeHandlerVersion,
    settings: policy.mdmId ? { mdmId: policy.mdmId } : {},
    why,
  };
}

function identityAction(vm: ObservedVm): Action | undefined {
  if (hasSystemAssignedIdentity(vm.identity)) return undefined;
  const keep = vm.identity.userAssignedIdentityIds;
  const hasUserAssigned = /userassigned/i.test(vm.identity.type) || keep.length > 0;
  return {
    kind: "enableIdentity",
    identityType: hasUserAssigned ? "SystemAssigned, UserAssigned" : "SystemAssigned",
    keepUserAssigned: [...keep],
  };
}

const key = (roleGuid: string, principalId: string): string => `${roleGuid.toLowerCase()}|${principalId.toLowerCase()}`;

/**
 * The ordered actions that bring a VM to the desired state; empty means compliant. Order:
 * identity (the extension fails with 1007 without it) → extension → create missing assignments →
 * delete our assignments that are no longer wanted.
 *
 * Only an *eligible* VM gets identity, extension and new assignments. Revocation never waits on
 * eligibility: for every other verdict (ineligible, conflict, exempt, and deferred too) the plan
 * still deletes the assignments *we* created that the tags no longer ask for (expired, removed,
 * not allowed), because deleting a role assignment does not need the VM running or supported, and
 * an expiry must hold even on a VM whose agent is silent. Grants still asked for are kept on those
 * VMs: they give nothing without the extension, and removing them would take access away from a
 * deallocated VM the moment it starts again.
 * Assignments we did not create are never touched, whatever they grant.
 */
export function planActions(input: PlanInput): Action[] {
  const { vm, eligibility, desired, extension } = input;
  const actions: Action[] = [];
  const atVm = input.assignments.filter((a) => sameResourceId(a.scope, vm.id));
  const eligible = eligibility.verdict === "eligible";

  if (eligible) {
    const identity = identityAction(vm);
    if (identity) actions.push(identity);
    const install = extensionAction(vm, extension);
    if (install) actions.push(install);

    const present = new Set(
      atVm.flatMap((a) => {
        const role = loginRoleById(a.roleDefinitionId);
        return role ? [key(role.guid, a.principalId)] : [];
      }),
    );
    for (const grant of desired.grants) {
      const role = LOGIN_ROLES[grant.role];
      if (present.has(key(role.guid, grant.principalId))) continue;
      actions.push({
        kind: "createAssignment",
        name: assignmentName(vm.id, role.guid, grant.principalId),
        scope: vm.id,
        role: role.key,
        principalId: grant.principalId.toLowerCase(),
        principalType: grant.principalType,
        description: assignmentDescription(grant.tag),
      });
    }
  }

  const wanted = new Set(desired.grants.map((g) => key(LOGIN_ROLES[g.role].guid, g.principalId)));
  const notAllowed = new Set(desired.rejected.filter((r) => r.reason === "not-allowed" && r.principalId).map((r) => r.principalId));
  for (const a of atVm) {
    if (!isEnforcerAssignment(a, vm.id)) continue;
    const role = loginRoleById(a.roleDefinitionId);
    if (!role || wanted.has(key(role.guid, a.principalId))) continue;
    const principalId = a.principalId.toLowerCase();
    actions.push({
      kind: "deleteAssignment",
      name: a.name,
      scope: a.scope,
      role: role.key,
      principalId,
      why: desired.expired ? "expired" : notAllowed.has(principalId) ? "not-allowed" : "not-requested",
    });
  }
  return actions;
}
