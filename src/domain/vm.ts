/**
 * The observed state of one VM, as the adapters hand it inward: plain data, no SDK types.
 * Filled from one `GET virtualMachines/{vm}?$expand=instanceView` and one role-assignment list at
 * the VM scope.
 */
export type PrincipalType = "User" | "Group" | "ServicePrincipal" | "ForeignGroup";

export interface ImageReference {
  readonly publisher?: string;
  readonly offer?: string;
  readonly sku?: string;
  readonly version?: string;
  /** Custom/gallery images: a resource id instead of publisher/offer/sku. */
  readonly id?: string;
  readonly sharedGalleryImageId?: string;
  readonly communityGalleryImageId?: string;
}

export interface InstanceStatus {
  readonly code?: string;
  readonly level?: string;
  readonly displayStatus?: string;
  readonly message?: string;
}

export interface ObservedExtension {
  readonly name: string;
  readonly publisher?: string;
  /** Extension type, e.g. `AADLoginForWindows`, `JsonADDomainExtension`. */
  readonly type?: string;
  readonly typeHandlerVersion?: string;
  readonly provisioningState?: string;
  /** From the VM instance view's `extensions[]`: statuses and substatuses. */
  readonly statuses: readonly InstanceStatus[];
  readonly substatuses: readonly InstanceStatus[];
}

export type IdentityType = "None" | "SystemAssigned" | "UserAssigned" | "SystemAssigned, UserAssigned";

export interface ObservedIdentity {
  readonly type: IdentityType;
  readonly principalId?: string;
  readonly tenantId?: string;
  /** Resource ids of user-assigned identities, kept exactly as ARM returned them. */
  readonly userAssignedIdentityIds: readonly string[];
}

export interface ObservedVm {
  /** ARM id as returned by ARM. */
  readonly id: string;
  readonly name: string;
  readonly location: string;
  readonly tags: Readonly<Record<string, string>>;
  /** `storageProfile.osDisk.osType`: Windows | Linux | undefined. */
  readonly osType?: string;
  readonly imageReference?: ImageReference;
  readonly vmSize?: string;
  readonly provisioningState?: string;
  /** From instance view statuses `PowerState/xxx`: running, deallocated, stopped, starting, ... */
  readonly powerState?: string;
  /** VM agent's report in the instance view (custom images are known only from these). */
  readonly agentOsName?: string;
  readonly agentOsVersion?: string;
  readonly identity: ObservedIdentity;
  /** `osProfile.computerName` (else the instance view's): the guest's name, the Entra device's name. */
  readonly computerName?: string;
  /** `timeCreated` (ISO): tells a VM recreated under the same id from the one before it. */
  readonly createdAt?: string;
  /** `networkProfile.networkInterfaces`: what the preflight reads (absent when the source did not say). */
  readonly networkInterfaces?: readonly { readonly id: string; readonly primary?: boolean }[];
  readonly extensions: readonly ObservedExtension[];
  readonly etag?: string;
}

export interface ObservedAssignment {
  /** Full ARM id of the assignment. */
  readonly id: string;
  /** The assignment's name (a GUID). */
  readonly name: string;
  /** Scope as ARM reports it; only assignments whose scope is the VM itself are handed inward. */
  readonly scope: string;
  /** Role definition id as ARM reports it (any prefix; compare by the trailing GUID). */
  readonly roleDefinitionId: string;
  readonly principalId: string;
  readonly principalType?: string;
  readonly description?: string;
}

/** Whether the identity includes a system-assigned one (ARM spells the pair with or without a space). */
export function hasSystemAssignedIdentity(identity: ObservedIdentity | undefined): boolean {
  return /systemassigned/i.test(identity?.type ?? "");
}

/** Whether ARM says the VM runs Windows (`storageProfile.osDisk.osType`); a VM that does not say is not counted as Windows. */
export function isWindowsVm(vm: Pick<ObservedVm, "osType">): boolean {
  return (vm.osType ?? "").trim().toLowerCase() === "windows";
}
