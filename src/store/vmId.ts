/**
 * The shape of a VM resource id, just enough for the adapters to derive keys and reject garbage at
 * the edge. The domain owns the full parser; this one only has to agree with it on what a VM id is.
 */
const VM_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)$/i;

export interface VmIdParts {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
}

export function isVmId(value: unknown): value is string {
  return typeof value === "string" && VM_ID.test(value);
}

/** The parts of a VM id, as written (case kept); throws naming the input when it is not one. */
export function parseVmId(vmId: string): VmIdParts {
  const match = typeof vmId === "string" ? VM_ID.exec(vmId) : null;
  if (!match?.[1] || !match[2] || !match[3]) {
    throw new Error(
      `Not a VM resource id: ${JSON.stringify(vmId)}. Expected ` +
        "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.Compute/virtualMachines/{name}.",
    );
  }
  return { subscriptionId: match[1], resourceGroup: match[2], name: match[3] };
}
