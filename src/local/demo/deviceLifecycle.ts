import type { VmRecord } from "../../store/tableStore.js";
import { API_VERSIONS } from "../armUser.js";
import type { LocalStack } from "../stack.js";
import type { Fleet } from "./fleet.js";

export interface DeviceLifecycleResult {
  readonly vmId: string;
  /** The device the enforcer confirmed after its install (status joined). */
  readonly joined?: VmRecord["device"];
  /** What the row says about that device once the VM was deleted. */
  readonly afterDelete?: VmRecord["device"];
  /** Why the join failed, when it did (duplicate-device: a resumed run meets the last run's device). */
  readonly failed?: string;
  readonly state?: string;
}

/**
 * The Entra device's life, shown on one extra VM (not part of the fleet, whose expectations stay as
 * they are): its owner creates a Windows VM like a remediated one of the fleet, the enforcer installs
 * the extension and confirms the device, then the owner deletes the VM and the delete event's pass
 * handles the recorded device per DEVICE_CLEANUP (`report` locally: it says what would be deleted).
 * A run resumed on a state directory meets the device the last run's retired-01 left (report does not
 * delete it): the new retired-01's join fails with duplicate-device, the reason to run `enforce`.
 */
export async function demoDeviceLifecycle(stack: LocalStack, fleet: Fleet, log: (line: string) => void, timeoutMs = 60_000): Promise<DeviceLifecycleResult | undefined> {
  const model = fleet.vms.find((v) => v.expect === "remediated" && !v.simulation && !(v.extensions?.length) && !(v.assignments?.length));
  if (!model) return undefined;
  const rg = model.id.split("/").slice(0, 5).join("/");
  const vmId = `${rg}/providers/Microsoft.Compute/virtualMachines/retired-01`;
  const body = structuredClone(model.body) as { properties?: { osProfile?: { computerName?: string } } };
  if (body.properties?.osProfile) body.properties.osProfile.computerName = "retired-01";
  const owner = stack.userFor(fleet.owner.id);
  const until = async (what: (row: VmRecord | undefined) => boolean): Promise<VmRecord | undefined> => {
    const deadline = Date.now() + timeoutMs;
    let row: VmRecord | undefined;
    while (Date.now() < deadline) {
      row = await stack.services.store.getVm(vmId);
      if (what(row)) return row;
      await new Promise((r) => setTimeout(r, 250));
    }
    return row;
  };
  log("");
  log(`The Entra device's life, on one more VM (retired-01): created, remediated, its join confirmed, then deleted…`);
  await owner.putVm(vmId, body);
  // A resumed run finds the last run's row (gone, its device reported): wait for this VM's own pass.
  const joined = await until((row) => row !== undefined && row.state !== "gone" && (row.state === "failed" || (row.device !== undefined && row.device.status !== "pending")));
  const failed = joined?.state === "failed" ? joined.diagnosis?.code ?? joined.reason : undefined;
  log(`  join:    ${failed ? `failed: ${failed}: ${joined?.message ?? ""}` : joined?.device ? `${joined.device.status}. ${joined.device.message}` : "(no device recorded in time)"}`);
  await owner.write("DELETE", vmId, API_VERSIONS.compute);
  const gone = await until((row) => row?.state === "gone");
  log(`  delete:  VM ${gone?.state ?? "(not recorded gone in time)"}; device ${gone?.device ? `${gone.device.status}. ${gone.device.message}` : "(none recorded)"}`);
  return { vmId, ...(failed ? { failed } : {}), ...(joined?.device && !failed ? { joined: joined.device } : {}), ...(gone?.device ? { afterDelete: gone.device } : {}), ...(gone ? { state: gone.state } : {}) };
}
