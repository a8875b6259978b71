import type { Action } from "./action.js";

/** The state a VM is in after a pass. */
export type ComplianceState =
  | "compliant" // nothing to do
  | "remediated" // actions ran and the VM is now compliant
  | "in-progress" // a long-running operation (VM provisioning, identity, extension install) is in flight; a follow-up looks again
  | "would-remediate" // report mode: actions were planned, none ran
  | "ineligible" // not a supported Windows VM / region
  | "conflict" // domain-joined: cannot also be Azure AD joined
  | "deferred" // cannot tell or cannot act now (deallocated, agent not reporting)
  | "exempt" // opted out by tag
  | "failed" // an action or the extension failed terminally
  | "gone"; // the VM no longer exists

export const COMPLIANCE_STATES: readonly ComplianceState[] = [
  "compliant", "remediated", "in-progress", "would-remediate", "ineligible", "conflict", "deferred", "exempt", "failed", "gone",
];

export type ErrorClass = "transient" | "terminal";

export interface ClassifiedError {
  readonly class: ErrorClass;
  /** ARM error code when there is one (e.g. `RoleAssignmentExists`, `OperationNotAllowed`). */
  readonly code: string;
  readonly statusCode?: number;
  readonly message: string;
}

/** What one action returned. */
export type ActionResult =
  /** started: ARM accepted a long-running operation, which runs on; a follow-up pass reads its result. */
  | { readonly status: "unchanged" | "created" | "updated" | "deleted" | "skipped" | "started" }
  | { readonly status: "failed"; readonly error: ClassifiedError };

/** One planned action and what running it returned. */
export interface ActionOutcome {
  readonly action: Action;
  readonly result: ActionResult;
}
