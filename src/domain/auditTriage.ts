import type { AccessPolicy } from "./access.js";
import { desiredAccessFromTags } from "./access.js";
import { decideEligibility } from "./eligibility.js";
import type { EligibilityPolicy } from "./osPolicy.js";
import type { ComplianceState } from "./outcome.js";
import { extensionStatus, loginExtensionFor, planActions, type ExtensionPolicy } from "./plan.js";
import { loginRoleById } from "./roles.js";
import type { ObservedAssignment, ObservedVm } from "./vm.js";

/**
 * The drift audit's read model: Resource Graph shows every VM of an estate in a few paged queries,
 * but seconds (with no promised bound) behind ARM, and without the extensions' instance view. So a
 * snapshot never causes a write: it only picks the *suspects*, the VMs that get the normal pass,
 * which reads ARM and decides from fresh state. A VM is left alone only when the snapshot and our
 * record agree that there is nothing to do.
 */
export type SuspectReason =
  /** Our table has no row for it: never seen, or its row was lost. */
  | "not-recorded"
  /** Our table has it but the snapshot does not: deleted, moved, or Resource Graph behind. Only ARM may say `gone`. */
  | "not-in-snapshot"
  /** The snapshot lacks what eligibility needs (power state, the agent's OS report). */
  | "incomplete"
  /** The plan from the snapshot is not empty: identity, extension or assignments to change. */
  | "plan-not-empty"
  /** The login extension is not `Succeeded` in the snapshot (installing, failed, deleting). */
  | "extension-not-succeeded"
  /** Our row's state is not the one the snapshot implies (e.g. recorded ineligible, now eligible). */
  | "state-disagrees"
  /** Our row's access is not the login-role assignments the snapshot shows at the VM. */
  | "access-disagrees"
  /** The last pass did not settle (failed, deferred, in-progress with no follow-up pending). */
  | "unsettled"
  /** A recorded grant's expiry instant has passed. */
  | "expiry-due"
  /** Compliant by the snapshot, confirmed through ARM anyway: this run's rotating slice. */
  | "confirm-slice";

/** What triage needs of our row: the store's record, seen through the fields that matter here. */
export interface TriageRecord {
  readonly state: ComplianceState;
  readonly access: readonly { readonly role: string; readonly principalId: string; readonly expiresAt?: string }[];
  readonly followUpAt?: string;
}

export interface TriageInput {
  readonly vmId: string;
  /** The VM as the snapshot shows it (extensions without statuses); undefined: not in the snapshot. */
  readonly vm?: ObservedVm;
  /** Login-role (and other) assignments the snapshot shows at the VM's scope. */
  readonly assignments: readonly ObservedAssignment[];
  readonly record?: TriageRecord;
}

export interface TriagePolicy {
  readonly eligibility: EligibilityPolicy;
  readonly access: AccessPolicy;
  readonly extension: ExtensionPolicy;
  /** AADSSHLoginForLinux, used for Linux VMs when `eligibility.linux.enforce` is on. */
  readonly linuxExtension?: ExtensionPolicy;
}

export interface Triage {
  readonly suspect: boolean;
  /** Empty when the VM is left alone. */
  readonly reasons: readonly SuspectReason[];
}

/** States a settled pass leaves on a VM, against which the snapshot is compared. */
const SETTLED: readonly ComplianceState[] = ["compliant", "remediated", "would-remediate", "ineligible", "conflict", "exempt"];

export function triageVm(input: TriageInput, policy: TriagePolicy, now: Date): Triage {
  const reasons: SuspectReason[] = [];
  const { vm, record } = input;
  if (!record) reasons.push("not-recorded");
  if (!vm) {
    if (record && record.state !== "gone") reasons.push("not-in-snapshot");
    return verdict(reasons);
  }

  const eligibility = decideEligibility(vm, policy.eligibility);
  if (eligibility.reason === "power-state-unknown" || eligibility.reason === "os-unknown-agent-not-reporting") reasons.push("incomplete");
  const desired = desiredAccessFromTags(vm.tags, policy.access, now);
  const extension = loginExtensionFor(vm, policy);
  const plan = planActions({ vm, eligibility, desired, assignments: input.assignments, extension });
  if (plan.length > 0) reasons.push("plan-not-empty");
  if (eligibility.verdict === "eligible" && extensionStatus(vm, extension) !== "succeeded") reasons.push("extension-not-succeeded");

  if (record) {
    if (record.state === "gone") {
      reasons.push("state-disagrees");
    } else if (record.state === "in-progress") {
      // Its own follow-up is queued; an extra pass would only look sooner.
      if (!record.followUpAt || Date.parse(record.followUpAt) <= now.getTime()) reasons.push("unsettled");
    } else if (!SETTLED.includes(record.state)) {
      reasons.push("unsettled");
    } else if (impliedState(eligibility.verdict) !== settledAs(record.state)) {
      reasons.push("state-disagrees");
    }
    if (!sameAccess(record.access, loginAccessAt(vm.id, input.assignments))) reasons.push("access-disagrees");
    if (record.access.some((a) => a.expiresAt !== undefined && Date.parse(a.expiresAt) <= now.getTime())) reasons.push("expiry-due");
  }
  return verdict(reasons);
}

/**
 * Whether a VM the snapshot calls compliant is confirmed through ARM in this run: a fixed share of
 * the estate, a different part each run (by a hash of the id), so an error in Resource Graph's
 * picture cannot hide a VM for longer than `slices` runs.
 */
export function inConfirmSlice(vmId: string, run: number, slices: number): boolean {
  if (!Number.isInteger(slices) || slices < 1) return false;
  return fnv1a(vmId.toLowerCase()) % slices === ((run % slices) + slices) % slices;
}

function verdict(reasons: SuspectReason[]): Triage {
  return { suspect: reasons.length > 0, reasons };
}

/** What a settled pass would record, told apart only as far as the snapshot can tell. */
function impliedState(verdict: string): "ok" | ComplianceState {
  if (verdict === "eligible") return "ok";
  if (verdict === "ineligible" || verdict === "conflict" || verdict === "exempt") return verdict;
  return "deferred";
}

function settledAs(state: ComplianceState): "ok" | ComplianceState {
  return state === "compliant" || state === "remediated" || state === "would-remediate" ? "ok" : state;
}

function loginAccessAt(vmId: string, assignments: readonly ObservedAssignment[]): string[] {
  return assignments.flatMap((a) => {
    const role = loginRoleById(a.roleDefinitionId);
    return role && a.scope.toLowerCase() === vmId.toLowerCase() ? [`${role.key}|${a.principalId.toLowerCase()}`] : [];
  });
}

function sameAccess(recorded: TriageRecord["access"], observed: readonly string[]): boolean {
  const a = new Set(recorded.map((g) => `${g.role}|${g.principalId.toLowerCase()}`));
  const b = new Set(observed);
  return a.size === b.size && [...a].every((k) => b.has(k));
}

/** FNV-1a, 32 bits: a stable spread of ids over the slices, the same on every machine. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
