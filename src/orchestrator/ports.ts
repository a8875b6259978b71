import type { Action } from "../domain/action.js";
import type { NetworkPath } from "../domain/nsg.js";
import type { ClassifiedError } from "../domain/outcome.js";
import type { ObservedAssignment, ObservedVm } from "../domain/vm.js";
import type { VmTarget } from "../domain/resourceId.js";
import type { DeviceFact } from "../domain/device.js";
import type { AuditRun, Lease, LogEntry, LogEntryInput, VmRecord } from "../store/records.js";
import type { ReconcileRequest } from "../store/reconcileRequest.js";

/**
 * Everything the orchestrator needs from the outside world, in its own terms. Adapters implement
 * these (`src/azure/` over the SDK, `src/store/` over Table Storage and the queue); the orchestrator
 * imports nothing else from them, and a test keeps it so.
 */

export type { VmTarget };

/**
 * A failed ARM call, classified by the adapter (the only place that knows the SDK's errors):
 * transient (retry the pass later) or terminal (record and stop).
 */
export class ArmFailure extends Error {
  constructor(readonly classified: ClassifiedError) {
    super(`${classified.code}: ${classified.message}`);
    this.name = "ArmFailure";
  }
  get transient(): boolean {
    return this.classified.class === "transient";
  }
}

/**
 * A failed Microsoft Graph call, classified by the adapter: transient (throttled past the SDK's
 * retries, 5xx, network) or terminal (403 refused: a permission the admin has not granted).
 */
export class DirectoryFailure extends Error {
  constructor(readonly classified: ClassifiedError) {
    super(`${classified.code}: ${classified.message}`);
    this.name = "DirectoryFailure";
  }
}

/** What the orchestrator needs from Microsoft Entra ID (Microsoft Graph). Every method throws DirectoryFailure. */
export interface DirectoryPort {
  /** Devices whose physicalIds carry the VM's resource id (`[AzureResourceId]:<id>`), every page. */
  findVmDevices(vmId: string): Promise<DeviceFact[]>;
  /** Devices whose displayName is `name` (a plain filter, every page): read to name blockers, never to pick a device to change. */
  findDevicesByName(name: string): Promise<DeviceFact[]>;
  /** One device by its object id; undefined when it does not exist. */
  getDevice(id: string): Promise<DeviceFact | undefined>;
  /** Deletes one device by its object id; "unchanged" when it was already gone. */
  deleteDevice(id: string): Promise<"deleted" | "unchanged">;
  /** Graph requests sent so far (retries included). */
  requestCount(): number;
  /** Runs `work`, handing it a count of the Graph requests made by that work alone (retries included). */
  metered<T>(work: (count: () => number) => Promise<T>): Promise<T>;
}

/** One Event Grid resource event, parsed and checked by the function layer. */
export interface ResourceEvent {
  readonly id: string;
  readonly eventType: string;
  readonly subject: string;
  readonly operationName: string;
  readonly subscriptionId: string;
  readonly correlationId?: string;
  /** Object id of the caller (the `objectidentifier` claim), lowercased. */
  readonly callerObjectId?: string;
  readonly callerAppId?: string;
  readonly callerUpn?: string;
}

/** What the orchestrator needs from Azure Resource Manager. Every method throws ArmFailure. */
export interface ArmPort {
  /** One GET with `$expand=instanceView`; undefined when the VM does not exist. */
  getVm(vm: VmTarget): Promise<ObservedVm | undefined>;
  /** The VM's tags as ARM has them now (one plain GET): the fresh look before a grant or a revocation. */
  getVmTags(vm: VmTarget): Promise<Readonly<Record<string, string>> | undefined>;
  /** Role assignments whose scope is exactly the VM (inherited ones are dropped). */
  listVmAssignments(vm: VmTarget): Promise<ObservedAssignment[]>;
  /**
   * The preflight's reads (issue 12): the VM's network interfaces, their primary subnets and the
   * security groups of both, each read once. What cannot be read (not found, not allowed) comes back
   * in `unreadable`; throttling and server errors throw like any read. A VM that lists no interface
   * costs nothing.
   */
  readNetworkPath(vm: ObservedVm): Promise<NetworkPath>;
  /** Sends the identity PATCH and returns once ARM accepted it; the operation runs on without us. */
  startEnableIdentity(vm: ObservedVm, action: Extract<Action, { kind: "enableIdentity" }>): Promise<void>;
  /** Sends the extension PUT and returns once ARM accepted it; the install runs on without us. */
  startInstallExtension(vm: ObservedVm, action: Extract<Action, { kind: "installExtension" }>): Promise<void>;
  createAssignment(vm: VmTarget, action: Extract<Action, { kind: "createAssignment" }>): Promise<"created" | "unchanged">;
  deleteAssignment(vm: VmTarget, action: Extract<Action, { kind: "deleteAssignment" }>): Promise<"deleted" | "unchanged">;
  /** Every VM id in the subscription, page by page. */
  listVmIds(subscriptionId: string): AsyncIterable<string>;
  /**
   * The estate as Resource Graph shows it (seconds behind ARM, extensions without instance view):
   * for picking the audit's suspects only, never for a write. Throws ArmFailure when Resource Graph
   * refuses or cannot be reached; the audit then lists through ARM instead. `extensionTypes`: the
   * extension types decisions depend on (the login extension's; the domain join is always read).
   */
  snapshot(subscriptionIds: readonly string[], extensionTypes: readonly string[]): Promise<EstateSnapshot>;
  /** ARM requests sent so far through this port (retries included): the real cost. */
  requestCount(): number;
  /** Runs `work`, handing it a count of the ARM requests made by that work alone (not by others running meanwhile). */
  metered<T>(work: (count: () => number) => Promise<T>): Promise<T>;
}

/** What Resource Graph shows of the watched subscriptions, joined by VM id (lower case). */
export interface EstateSnapshot {
  readonly vms: ReadonlyMap<string, ObservedVm>;
  /** Login-role assignments, by their scope (lower case): a VM's are under its id. */
  readonly assignments: ReadonlyMap<string, readonly ObservedAssignment[]>;
  /** Login-role assignments per subscription (lower case): a subscription holds at most 4,000 assignments. */
  readonly loginAssignmentsBySubscription: Readonly<Record<string, number>>;
  /** Resource Graph pages read for it. */
  readonly requests: number;
}

export interface VmListFilter {
  readonly subscriptionId?: string;
  readonly state?: VmRecord["state"];
}

export interface VmPageOptions {
  /** Records in the page (1 to MAX_VM_PAGE_SIZE). */
  readonly top: number;
  /** From the previous page of the same filter; absent for the first page. */
  readonly continuationToken?: string;
}

export interface VmPage {
  readonly vms: VmRecord[];
  /** Absent on the last page. Opaque: only meaningful to the store that made it, with the same filter. */
  readonly continuationToken?: string;
}

/** The largest page a caller may ask for: Table Storage returns at most 1,000 entities per request. */
export const MAX_VM_PAGE_SIZE = 1000;

/** A continuation token that this store did not make, or made for another filter: `code` tells it apart. */
export const INVALID_CONTINUATION_TOKEN = "InvalidContinuationToken";

/** What the orchestrator keeps in Table Storage. */
export interface StorePort {
  getVm(vmId: string): Promise<VmRecord | undefined>;
  /** ETag read-modify-write; `mutate` may run more than once, so it must be pure. */
  updateVm(vmId: string, mutate: (current: VmRecord | undefined) => VmRecord): Promise<VmRecord>;
  listVms(filter?: VmListFilter): Promise<VmRecord[]>;
  /**
   * One page of `listVms`, in the store's own order. A token that does not belong to this filter is
   * refused with an error whose `code` is INVALID_CONTINUATION_TOKEN.
   */
  listVmsPage(filter: VmListFilter, options: VmPageOptions): Promise<VmPage>;
  /** Insert-only; the entry's `at` orders the log (the store never reads the clock). */
  appendLog(entry: LogEntryInput): Promise<LogEntry>;
  /** Newest first. Without a VM id: the entries not tied to a VM (malformed events and the like). */
  listLog(vmId: string | undefined, limit?: number): Promise<LogEntry[]>;
  /**
   * Takes the VM's lease for `holder` until `until` (ISO) when nobody holds it or the holder's time
   * ran out (a crashed pass); false while another holder's lease runs. Of two passes racing for it,
   * exactly one wins.
   */
  acquireLease(vmId: string, holder: string, now: string, until: string): Promise<boolean>;
  /** Gives the lease back if `holder` still holds it; someone else's lease is left alone. */
  releaseLease(vmId: string, holder: string): Promise<void>;
  recordAuditRun(run: AuditRun): Promise<void>;
  listAuditRuns(limit?: number): Promise<AuditRun[]>;
}

/** The reconcile queue: every pass runs from a message on it. */
export interface QueuePort {
  send(request: ReconcileRequest, options?: { readonly delayInMs?: number }): Promise<void>;
  sendMany(requests: readonly ReconcileRequest[]): Promise<number>;
}

export type { NetworkPath };
export type { AuditRun, Lease, LogEntry, LogEntryInput, ReconcileRequest, VmRecord };
