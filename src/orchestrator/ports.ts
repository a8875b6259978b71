import type { Action } from "../domain/action.js";
import type { ObservedAssignment, ObservedVm } from "../domain/vm.js";

/**
 * What the orchestrator needs from Azure Resource Manager, in domain terms. The adapter in
 * `src/azure/` implements it with the real SDK clients; nothing here mentions the SDK.
 */
export interface ArmPort {
  /** One GET with `$expand=instanceView`; undefined when the VM does not exist. */
  getVm(vmId: string): Promise<ObservedVm | undefined>;
  /** Role assignments whose scope is exactly the VM (inherited ones are dropped). */
  listVmAssignments(vmId: string): Promise<ObservedAssignment[]>;
  enableIdentity(vm: ObservedVm, action: Extract<Action, { kind: "enableIdentity" }>): Promise<"updated">;
  /** Resolves when the extension reached Succeeded; rejects when the operation failed. */
  installExtension(vm: ObservedVm, action: Extract<Action, { kind: "installExtension" }>): Promise<"created" | "updated">;
  createAssignment(vmId: string, action: Extract<Action, { kind: "createAssignment" }>): Promise<"created" | "unchanged">;
  deleteAssignment(vmId: string, action: Extract<Action, { kind: "deleteAssignment" }>): Promise<"deleted" | "unchanged">;
  /** Every VM id in the subscription, page by page. */
  listVmIds(subscriptionId: string): AsyncIterable<string>;
  /** ARM requests sent so far through this port (retries included): the real cost. */
  requestCount(): number;
  /** Runs `work`, handing it a count of the ARM requests made by that work alone (not by others running meanwhile). */
  metered<T>(work: (count: () => number) => Promise<T>): Promise<T>;
}
