import type { VmRecord, VmTarget } from "./ports.js";

/** The record of a VM seen for the first time; every pass then overwrites what it learned. */
export function newVmRecord(vm: VmTarget, at: string): VmRecord {
  return {
    vmId: vm.id,
    subscriptionId: vm.subscriptionId.toLowerCase(),
    resourceGroup: vm.resourceGroup,
    name: vm.name,
    state: "deferred",
    reason: "",
    message: "",
    access: [],
    rejected: [],
    passCount: 0,
    firstSeenAt: at,
    updatedAt: at,
  };
}
