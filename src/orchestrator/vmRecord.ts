import { parseVmId } from "../domain/resourceId.js";
import type { VmRecord } from "../store/tableStore.js";

/** The record of a VM seen for the first time; every pass then overwrites what it learned. */
export function newVmRecord(vmId: string, at: string): VmRecord {
  const ref = parseVmId(vmId);
  return {
    vmId,
    subscriptionId: ref.subscriptionId.toLowerCase(),
    resourceGroup: ref.resourceGroup,
    name: ref.name,
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
