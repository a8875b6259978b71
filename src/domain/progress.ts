import type { DesiredAccess } from "./access.js";
import type { Action } from "./action.js";
import { extensionStatus, type ExtensionPolicy } from "./plan.js";
import type { ObservedVm } from "./vm.js";

/**
 * Azure's long-running operations take minutes (a VM create 1–2 min, an extension install several),
 * so a pass never waits on one: it starts it, or notices one in flight, and a follow-up looks again.
 */
export type WaitingFor = "vm-provisioning" | "identity" | "extension";

/** What the VM is busy with right now, as its own state shows; undefined when nothing is in flight. */
export function operationInFlight(vm: ObservedVm, policy: ExtensionPolicy): WaitingFor | undefined {
  const state = (vm.provisioningState ?? "").toLowerCase();
  // Compute serializes a VM's updates: another write now would be refused or preempt this one.
  if (state === "creating" || state === "updating") return "vm-provisioning";
  if (extensionStatus(vm, policy) === "transitioning") return "extension";
  return undefined;
}

export interface FollowUpPolicy {
  /** Delay of the first look after an operation started. */
  readonly initialDelayMs: number;
  /** The delay doubles with each look, up to this. */
  readonly maxDelayMs: number;
}

/** A storage queue hides a message for at most 7 days (its default time-to-live): the longest any look can be put off. */
export const MAX_QUEUE_DELAY_MS = 7 * 24 * 3600_000 - 60_000;

/** Looks at one operation before the chain stops and the drift audit takes over (about an hour at the defaults). */
export const MAX_FOLLOW_UPS = 30;

/** The delay before follow-up number `attempt` (0 = the first look after a start): doubling, capped. */
export function followUpDelayMs(attempt: number, policy: FollowUpPolicy): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 20);
  return Math.min(policy.initialDelayMs * 2 ** exponent, policy.maxDelayMs);
}

/**
 * Whether a role-assignment write planned earlier in the pass is still wanted by the tags as they
 * are now (read again just before the write, with the clock read then): a grant only if the tags
 * still ask for exactly that role and principal; a revocation only if they no longer do.
 */
export function stillWanted(action: Extract<Action, { kind: "createAssignment" | "deleteAssignment" }>, now: DesiredAccess): boolean {
  const asked = now.grants.some(
    (g) => g.role === action.role && g.principalId.toLowerCase() === action.principalId.toLowerCase(),
  );
  return action.kind === "createAssignment" ? asked : !asked;
}
