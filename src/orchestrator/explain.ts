import type { Action } from "../domain/action.js";
import type { DesiredAccess } from "../domain/access.js";
import type { Diagnosis } from "../domain/diagnosis.js";
import { diagnoseExtension } from "../domain/diagnosis.js";
import type { Eligibility } from "../domain/eligibility.js";
import { findLoginExtension, loginExtensionFor } from "../domain/plan.js";
import { nameHints, type Hint } from "../domain/preflight.js";
import type { ObservedAssignment } from "../domain/vm.js";
import type { VmRecord, VmTarget } from "./ports.js";
import { describeAction, observe, type ObserveDeps } from "./reconcile.js";

/** What a pass would see and do on one VM now, and what was recorded about it. */
export interface Explanation {
  readonly vmId: string;
  readonly mode: "enforce" | "report";
  /** The tags the plan was made from, as ARM returned them (written by whoever may tag the VM: untrusted). */
  readonly tags: Readonly<Record<string, string>>;
  readonly eligibility: Eligibility;
  readonly desired: DesiredAccess;
  readonly plan: readonly (Action & { readonly summary: string })[];
  readonly diagnosis: Diagnosis | undefined;
  /** Name hints from the VM as read now (the network verdict needs reads a pass makes only before an install). */
  readonly hints: readonly Hint[];
  readonly assignmentsAtVmScope: readonly ObservedAssignment[];
  readonly lastRecord: VmRecord | undefined;
  /** Set when Table Storage could not be read: the explanation stands without the history. */
  readonly storeNote?: string;
  readonly armRequests: number;
}

/**
 * The pass's own observe-and-plan on one VM, writing nothing: the same reads, decisions and plan a
 * pass would act on now. Undefined when ARM says the VM does not exist (or this identity cannot see it).
 */
export function explainVm(target: VmTarget, deps: ObserveDeps): Promise<Explanation | undefined> {
  return deps.arm.metered(async (armRequests) => {
    let storeNote: string | undefined;
    // The history is a nice-to-have here: an operator may explain from a machine that can read ARM only.
    const store = {
      getVm: (vmId: string) =>
        deps.store.getVm(vmId).catch((error: unknown) => {
          storeNote = `Table Storage not reachable (${(error as Error).message.split("\n")[0]}); no recorded history shown.`;
          return undefined;
        }),
    };
    const seen = await observe(target, { ...deps, store });
    if (!seen) return undefined;
    return {
      vmId: target.id,
      mode: deps.config.mode,
      tags: seen.vm.tags,
      eligibility: seen.eligibility,
      desired: seen.desired,
      plan: seen.plan.map((a) => ({ ...a, summary: describeAction(a) })),
      diagnosis: diagnoseExtension(findLoginExtension(seen.vm, loginExtensionFor(seen.vm, deps.config)), seen.vm),
      hints: nameHints(seen.vm),
      assignmentsAtVmScope: seen.assignments,
      lastRecord: seen.row,
      ...(storeNote ? { storeNote } : {}),
      armRequests: armRequests(),
    };
  });
}
