import type { Action } from "../domain/action.js";
import { decideEligibility, type Eligibility } from "../domain/eligibility.js";
import { desiredAccessFromTags, type DesiredAccess } from "../domain/access.js";
import { findLoginExtension, planActions } from "../domain/plan.js";
import { diagnoseExtension, type Diagnosis } from "../domain/diagnosis.js";
import type { ObservedAssignment } from "../domain/vm.js";
import { describeAction, type ReconcileDeps } from "./reconcile.js";
import type { VmTarget } from "./ports.js";

/** What a pass would decide and do on a VM now, from a fresh read: the CLI's `explain` and the dashboard's VM page. */
export interface Explanation {
  readonly vmId: string;
  readonly mode: "enforce" | "report";
  /** The tags the plan was made from, as ARM returned them (written by whoever may tag the VM: untrusted). */
  readonly tags: Readonly<Record<string, string>>;
  readonly eligibility: Eligibility;
  readonly desired: DesiredAccess;
  readonly plan: readonly (Action & { readonly summary: string })[];
  readonly diagnosis?: Diagnosis;
  readonly assignmentsAtVmScope: readonly ObservedAssignment[];
}

/**
 * Observe and plan exactly as a pass does (the same domain calls on the same two reads), and stop
 * there: nothing is written, not even the store. Undefined when ARM has no such VM (or hides it).
 */
export async function explainVm(vm: VmTarget, deps: Pick<ReconcileDeps, "arm" | "config" | "clock">): Promise<Explanation | undefined> {
  const { arm, config } = deps;
  const observed = await arm.getVm(vm);
  if (!observed) return undefined;
  const assignments = await arm.listVmAssignments(vm);
  const eligibility = decideEligibility(observed, config.eligibility);
  const desired = desiredAccessFromTags(observed.tags, config.access, deps.clock());
  const plan = planActions({ vm: observed, eligibility, desired, assignments, extension: config.extension });
  const diagnosis = diagnoseExtension(findLoginExtension(observed, config.extension), observed);
  return {
    vmId: vm.id,
    mode: config.mode,
    tags: observed.tags,
    eligibility,
    desired,
    plan: plan.map((action) => ({ ...action, summary: describeAction(action) })),
    ...(diagnosis ? { diagnosis } : {}),
    assignmentsAtVmScope: assignments,
  };
}
