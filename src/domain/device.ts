/**
 * The VM's Microsoft Entra device: confirming the join after an install, and what happens to the
 * device when the VM is deleted. Pure decisions; the orchestrator reads Graph and records.
 *
 * How the device of an Azure VM is identified (README "The Entra device" lists the sources):
 * the device object a VM joined with by AADLoginForWindows carries the VM's Azure resource id in
 * `physicalIds` as `[AzureResourceId]:<vm id>` (users report it and filter on it; Microsoft's device
 * reference documents `physicalIds` as "for internal use only", so the exact form is unverified
 * against Microsoft's own text), and is named after the computer name, which another VM may share.
 * So a device is tied to a VM only by that physical id, never by display name.
 */

export type DeviceCleanupMode = "off" | "report" | "enforce";

export interface DevicePolicy {
  /** Look the device up after an install of ours succeeds (needs Graph Device.Read.All). */
  readonly confirmation: boolean;
  /** On a recorded VM's deletion: nothing, report, or delete its recorded device (Device.ReadWrite.All). */
  readonly cleanup: DeviceCleanupMode;
  /** Delay before the one retry look when the first found no device. */
  readonly joinWaitMs: number;
}

/** A device as the directory shows it (the fields decisions need). */
export interface DeviceFact {
  readonly id: string;
  readonly deviceId: string;
  readonly displayName: string;
  readonly physicalIds: readonly string[];
  readonly registeredAt?: string;
}

export type DeviceStatus =
  | "pending"
  | "joined"
  | "not-confirmed"
  | "lookup-refused"
  | "would-delete"
  | "deleted"
  | "already-gone"
  | "kept"
  | "cleanup-refused";

/** What the VM's row says about its device. */
export interface DeviceState {
  readonly status: DeviceStatus;
  /** Graph object id of the device recorded at join: the only device cleanup may ever touch. */
  readonly id?: string;
  readonly deviceId?: string;
  readonly displayName?: string;
  readonly confirmedAt?: string;
  /** First look without a device (ISO). */
  readonly since?: string;
  /** When the retry look is due (ISO). */
  readonly lookAgainAt?: string;
  readonly message: string;
  readonly at: string;
}

/** The reason code of an install that succeeded without a device appearing. */
export const JOIN_NOT_CONFIRMED = "join-not-confirmed";

export const AZURE_RESOURCE_ID_TAG = "[AzureResourceId]:";

const LOOK_AGAIN_SLACK_MS = 5_000;

export function vmPhysicalId(vmId: string): string {
  return `${AZURE_RESOURCE_ID_TAG}${vmId}`;
}

/** Whether the device carries the VM's resource id (ARM ids compare case-insensitively). */
export function carriesVm(device: Pick<DeviceFact, "physicalIds">, vmId: string): boolean {
  const wanted = vmPhysicalId(vmId).toLowerCase();
  return device.physicalIds.some((p) => p.toLowerCase() === wanted);
}

export interface ConfirmationInput {
  readonly policy: DevicePolicy | undefined;
  readonly windows: boolean;
  readonly extensionSucceeded: boolean;
  /** This pass sees the install the enforcer itself started succeed. */
  readonly ourInstallSucceeded: boolean;
  readonly device: DeviceState | undefined;
  /** A follow-up (routine look) rather than an event, the audit or an operator. */
  readonly routine: boolean;
  readonly nowMs: number;
}

/**
 * Whether this pass looks the device up, and which look it is. Costs: one Graph read when our
 * install is seen to succeed, one retry after `joinWaitMs` when that found nothing, none on a VM whose
 * row holds the device, none on VMs not installed by us (we cannot tell their device from a stale one
 * and never delete it either). A VM left not-confirmed (or refused) is looked at again by
 * non-routine passes only (event, audit, operator).
 */
export function confirmationLook(input: ConfirmationInput): 1 | 2 | undefined {
  const { policy, device } = input;
  if (!policy?.confirmation || !input.windows || !input.extensionSucceeded) return undefined;
  if (!device) return input.ourInstallSucceeded ? 1 : undefined;
  switch (device.status) {
    case "pending":
      // A few seconds of slack: the follow-up that carries the retry may run on another instance's clock.
      return input.nowMs + LOOK_AGAIN_SLACK_MS >= Date.parse(device.lookAgainAt ?? "") ? 2 : undefined;
    case "not-confirmed":
    case "lookup-refused":
      return input.routine ? undefined : 2;
    default:
      return input.ourInstallSucceeded && device.status !== "joined" ? 1 : undefined;
  }
}

/** The row's device after a look that found `found` (devices carrying the VM id, as Graph answered). */
export function afterLook(look: 1 | 2, found: readonly DeviceFact[], vmId: string, vmName: string, previous: DeviceState | undefined, policy: DevicePolicy, nowMs: number): DeviceState {
  const at = new Date(nowMs).toISOString();
  const mine = found.filter((d) => carriesVm(d, vmId)).sort((a, b) => (b.registeredAt ?? "").localeCompare(a.registeredAt ?? ""));
  const device = mine[0];
  if (device) {
    const more = mine.length > 1 ? ` ${mine.length - 1} older device(s) carry the same VM id; only the newest is recorded.` : "";
    return {
      status: "joined", id: device.id, deviceId: device.deviceId, displayName: device.displayName, confirmedAt: at, at,
      message: `VM ${vmName} is joined to Microsoft Entra ID as device ${device.displayName} (object id ${device.id}, device id ${device.deviceId}).${more}`,
    };
  }
  if (look === 1) {
    const lookAgainAt = new Date(nowMs + policy.joinWaitMs).toISOString();
    return { status: "pending", since: at, lookAgainAt, at, message: `The extension reported success but no device carries VM ${vmName}'s resource id yet; one more look at ${lookAgainAt}.` };
  }
  return {
    status: "not-confirmed", since: previous?.since ?? at, at,
    message:
      `The extension reported success on VM ${vmName} but no Microsoft Entra device carries its resource id (first looked ${previous?.since ?? at}, again ${at}): ` +
      "Entra login will not work. On the VM, run dsregcmd /status and read the AADLoginForWindows logs; a device with the same name may already exist in the directory (remove the stale one), then reinstall the extension.",
  };
}

/** The row's device when Graph refused the look (403): recorded, the pass otherwise unaffected. */
export function lookupRefused(vmName: string, detail: string, nowMs: number, previous: DeviceState | undefined): DeviceState {
  return {
    ...(previous?.since ? { since: previous.since } : {}),
    status: "lookup-refused", at: new Date(nowMs).toISOString(),
    message: `Could not confirm VM ${vmName}'s Entra join: Microsoft Graph refused the device lookup (${detail}). Grant the app's identity the Graph application permission Device.Read.All (README "The Entra device") or set DEVICE_CONFIRMATION=false.`,
  };
}

/** The cleanup mode a pass may use: the enforcer's report mode lowers it, never raises it. */
export function effectiveCleanup(configured: DeviceCleanupMode | undefined, mode: "enforce" | "report"): DeviceCleanupMode {
  if (!configured || configured === "off") return "off";
  return mode === "report" ? "report" : configured;
}

/** Whether a pass that found the VM gone re-reads its recorded device (the only device it may touch). */
export function cleanupWanted(mode: DeviceCleanupMode, device: DeviceState | undefined): boolean {
  if (mode === "off" || !device?.id) return false;
  return device.status === "joined" || (mode === "enforce" && (device.status === "would-delete" || device.status === "cleanup-refused"));
}

/**
 * What to do with the recorded device once re-read by its id: delete it only when it still carries
 * the deleted VM's resource id (the object id was recorded at join, so a device that merely shares
 * the VM's name is never even read).
 */
export function cleanupDecision(mode: "report" | "enforce", recorded: DeviceState, current: DeviceFact | undefined, vmId: string, vmName: string, nowMs: number): { readonly delete: boolean; readonly state: DeviceState } {
  const at = new Date(nowMs).toISOString();
  const base = { id: recorded.id, ...(recorded.deviceId ? { deviceId: recorded.deviceId } : {}), ...(recorded.displayName ? { displayName: recorded.displayName } : {}), ...(recorded.confirmedAt ? { confirmedAt: recorded.confirmedAt } : {}), at };
  if (!current) return { delete: false, state: { ...base, status: "already-gone", message: `VM ${vmName} was deleted; its device ${recorded.id} is no longer in the directory.` } };
  if (!carriesVm(current, vmId)) {
    return { delete: false, state: { ...base, status: "kept", message: `VM ${vmName} was deleted; device ${current.id} (${current.displayName}) no longer carries its resource id, so it was left alone.` } };
  }
  if (mode === "report") {
    return { delete: false, state: { ...base, status: "would-delete", message: `VM ${vmName} was deleted; DEVICE_CLEANUP=report: its device ${current.displayName} (${current.id}) would be deleted from Microsoft Entra ID.` } };
  }
  return { delete: true, state: { ...base, status: "deleted", message: `VM ${vmName} was deleted; its device ${current.displayName} (${current.id}) was deleted from Microsoft Entra ID.` } };
}

/** Graph refused the re-read or the delete (403): recorded with what to grant. */
export function cleanupRefused(recorded: DeviceState, vmName: string, detail: string, nowMs: number): DeviceState {
  return {
    ...recorded, status: "cleanup-refused", at: new Date(nowMs).toISOString(),
    message: `VM ${vmName} was deleted but Microsoft Graph refused to let the enforcer handle its device ${recorded.id} (${detail}). Grant Device.ReadWrite.All for DEVICE_CLEANUP=enforce (README "The Entra device"), or delete the device by hand.`,
  };
}

/** How many blocking devices a duplicate-device remediation names (the rest are counted). */
export const MAX_BLOCKERS_NAMED = 5;

export interface BlockersInput {
  /** Devices whose display name is the VM's computer name, as Graph answered. */
  readonly found: readonly DeviceFact[];
  readonly vmId: string;
  /** When this VM was created (ARM `timeCreated`), if known. */
  readonly vmCreatedAt?: string;
  /** The device the row recorded as this VM's own at join, if any. */
  readonly recordedDeviceId?: string;
}

/**
 * Which of the devices named like a VM block its join (duplicate-device), and the sentence that names
 * them. A device carrying another VM's resource id, or none, is a blocker. A device carrying this
 * VM's id is its own, unless it was registered before this VM was created: then an earlier VM under
 * the same resource id (deleted and recreated, the usual way a name comes back) left it. The device
 * the row recorded for this VM is never a blocker. Only names them: nothing found here is ever deleted.
 */
export function duplicateDeviceBlockers(input: BlockersInput): { readonly ids: readonly string[]; readonly text: string } {
  const created = input.vmCreatedAt ? Date.parse(input.vmCreatedAt) : NaN;
  const recorded = input.recordedDeviceId?.toLowerCase();
  const blockers = input.found
    .filter((d) => d.id.toLowerCase() !== recorded)
    .filter((d) => {
      if (!carriesVm(d, input.vmId)) return true;
      const registered = d.registeredAt ? Date.parse(d.registeredAt) : NaN;
      return Number.isFinite(created) && Number.isFinite(registered) && registered < created;
    })
    .sort((a, b) => (a.registeredAt ?? "").localeCompare(b.registeredAt ?? "") || a.id.localeCompare(b.id));
  if (blockers.length === 0) {
    return { ids: [], text: "Microsoft Graph shows no other device of this name now (it may have been deleted since the join failed): reinstall the extension." };
  }
  const named = blockers.slice(0, MAX_BLOCKERS_NAMED).map((d) => {
    const vm = d.physicalIds.find((p) => p.toLowerCase().startsWith(AZURE_RESOURCE_ID_TAG.toLowerCase()))?.slice(AZURE_RESOURCE_ID_TAG.length);
    return `device ${JSON.stringify(d.displayName.slice(0, 64))} (object id ${d.id})` +
      (vm ? ` registered for VM ${vm.slice(0, 300)}` : " carrying no VM resource id") +
      (d.registeredAt ? ` at ${d.registeredAt}` : "");
  });
  const more = blockers.length > MAX_BLOCKERS_NAMED ? `; and ${blockers.length - MAX_BLOCKERS_NAMED} more` : "";
  const them = blockers.length === 1 ? "it" : "them";
  return {
    ids: blockers.map((d) => d.id),
    text: `Blocking: ${named.join("; ")}${more}. Delete ${them} in Entra ID (back up ${blockers.length === 1 ? "its" : "their"} BitLocker keys first), or run DEVICE_CLEANUP=enforce so deleted VMs take their devices with them; then reinstall the extension.`,
  };
}

/** The OData filter for devices of one display name (single quotes doubled, as OData escapes them). */
export function displayNameFilter(name: string): string {
  return `displayName eq '${name.replace(/'/g, "''")}'`;
}
