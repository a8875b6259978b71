import { createHash, randomUUID } from "node:crypto";
import type { Json } from "./http-io.js";
import type { NetworkResource } from "./network.js";
import type { GuestOs } from "./os-catalog.js";
import { BUILT_IN_ROLES, type RoleDefinitionRecord } from "./role-definitions.js";

export type PrincipalType = "User" | "Group" | "ServicePrincipal";

export interface Principal {
  readonly id: string;
  readonly type: PrincipalType;
  readonly displayName: string;
  /** Application (client) id; service principals only. */
  readonly appId?: string;
  readonly upn?: string;
  /** When the principal appeared in the directory (epoch ms): role assignments may not see it until replication. */
  readonly createdAt: number;
  /**
   * Realistic timing: when role-assignment writes start to see it (epoch ms). Absent: the instant rule
   * (`createdAt + limits.principalReplicationDelayMs`).
   */
  readonly replicatedAt?: number;
}

export interface SubscriptionRecord {
  readonly subscriptionId: string;
  displayName: string;
  tags: Record<string, string>;
}

export interface ResourceGroupRecord {
  readonly subscriptionId: string;
  readonly name: string;
  location: string;
  tags: Record<string, string>;
}

export type PowerState = "running" | "deallocated" | "stopped";

/** What the VM "is" beyond its ARM model: power, what the guest agent reports, whether its network lets it join. */
export interface VmSimulation {
  powerState: PowerState;
  /** undefined: derived from the image; null: no agent reporting (agent missing or broken). */
  agent: GuestOs | null | undefined;
  outboundNetwork: boolean;
  /** false: AADLoginForWindows reports success but the VM never joins (no device object); absent: it joins. */
  joins?: boolean;
}

export interface ExtensionRecord {
  name: string;
  location: string;
  tags?: Record<string, string>;
  properties: Json;
  provisioningState: string;
  /** The handler's status as the agent reports it, once the operation settled. */
  instanceView?: Json;
}

export interface VmRecord {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
  /** Every top-level key of the model except the computed ones (location, tags, identity, zones, plan, ...). */
  model: Json;
  properties: Json;
  provisioningState: string;
  /** Why the last operation left the VM Failed (e.g. an extension's VMExtensionProvisioningError). */
  failure?: { code: string; message: string };
  etagVersion: number;
  readonly vmId: string;
  readonly timeCreated: string;
  simulation: VmSimulation;
  extensions: Map<string, ExtensionRecord>;
  /** Realistic timing, while a power action runs: what the instance view's PowerState shows (starting, stopping, deallocating). */
  powerTransition?: string;
}

export interface RoleAssignmentRecord {
  readonly name: string;
  readonly scope: string;
  readonly roleDefinitionGuid: string;
  readonly principalId: string;
  readonly principalType: string;
  readonly description?: string;
  readonly condition?: string;
  readonly conditionVersion?: string;
  readonly createdOn: string;
  updatedOn: string;
  readonly createdBy: string;
  updatedBy: string;
}

export interface EmulatorLimits {
  throttleScale: number | false;
  pageSize: number;
  lroDelayMs: number;
  retryAfterSeconds: number;
  principalReplicationDelayMs: number;
  /** Resource Graph: queries a user may send per window (0: no quota) and the window's length. */
  resourceGraphQueriesPerWindow: number;
  resourceGraphWindowMs: number;
  /** How far Resource Graph lags ARM; absent: the timing profile's default (instant 0, realistic 5 s × timeScale). */
  resourceGraphLagMs?: number;
  /** Pages of 1…pageSize items (deterministic per offset) instead of pageSize each. */
  variablePageSizes: boolean;
  /** Compute's read throttles (per VM, per subscription) times this; false (the default) never refuses. */
  computeThrottleScale: number | false;
  /** Role assignments a subscription may hold (all scopes inside it together); Azure's is 4,000. */
  roleAssignmentsPerSubscription: number;
  /**
   * A Windows VM's join fails while a device of a deleted VM holds its computer name (the duplicate-device
   * failure, graph-devices.ts `staleNamesake`); false: it joins as a second device of that name.
   * Absent in state files written before it existed: read as the default (true).
   */
  staleDeviceBlocksJoin: boolean;
}

const key = (...parts: string[]): string => parts.map((p) => p.toLowerCase()).join("/");

/** The key of a VM in `EmulatorState.vms` (and in a state file's change tracking). */
export const vmKey = (subscriptionId: string, resourceGroup: string, name: string): string => key(subscriptionId, resourceGroup, name);

/** A stable GUID derived from text, for ids that must not change between runs (user-assigned identities). */
export function stableGuid(text: string): string {
  const h = createHash("sha256").update(text.toLowerCase()).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** All ARM-visible data of the emulator. Keys are lower-cased: ARM names are case-insensitive. */
export class EmulatorState {
  readonly subscriptions = new Map<string, SubscriptionRecord>();
  readonly resourceGroups = new Map<string, ResourceGroupRecord>();
  readonly vms = new Map<string, VmRecord>();
  readonly principals = new Map<string, Principal>();
  readonly roleAssignments = new Map<string, RoleAssignmentRecord>();
  readonly customRoles = new Map<string, RoleDefinitionRecord>();
  readonly userAssignedIdentities = new Map<string, { principalId: string; clientId: string }>();
  /** What a VM not created yet will "be" once it is (keyed by lower-case VM id): see setVmSimulation. */
  readonly pendingSimulations = new Map<string, Partial<VmSimulation>>();
  /** Network interfaces, security groups and subnets (seeded, read-only through ARM), by lower-case id. */
  readonly network = new Map<string, NetworkResource>();

  /**
   * How long a principal created now stays unknown to role-assignment writes (realistic timing);
   * undefined: the instant rule applies. Set by the emulator core from its timing profile.
   */
  replicationDelayMs: () => number | undefined = () => undefined;

  constructor(readonly tenantId: string) {}

  /** The simulation preset for a VM about to be created, removed once used. */
  takePendingSimulation(vmId: string): Partial<VmSimulation> {
    const key = vmId.toLowerCase();
    const preset = this.pendingSimulations.get(key) ?? {};
    this.pendingSimulations.delete(key);
    return preset;
  }

  clear(): void {
    this.subscriptions.clear();
    this.resourceGroups.clear();
    this.vms.clear();
    this.principals.clear();
    this.roleAssignments.clear();
    this.customRoles.clear();
    this.userAssignedIdentities.clear();
    this.pendingSimulations.clear();
    this.network.clear();
  }

  subscription(id: string): SubscriptionRecord | undefined {
    return this.subscriptions.get(id.toLowerCase());
  }

  addSubscription(subscriptionId: string, displayName = `Subscription ${subscriptionId}`): SubscriptionRecord {
    const existing = this.subscription(subscriptionId);
    if (existing) {
      existing.displayName = displayName;
      return existing;
    }
    const record: SubscriptionRecord = { subscriptionId, displayName, tags: {} };
    this.subscriptions.set(subscriptionId.toLowerCase(), record);
    return record;
  }

  resourceGroup(sub: string, rg: string): ResourceGroupRecord | undefined {
    return this.resourceGroups.get(key(sub, rg));
  }

  putResourceGroup(record: ResourceGroupRecord): void {
    this.resourceGroups.set(key(record.subscriptionId, record.name), record);
  }

  deleteResourceGroup(sub: string, rg: string): void {
    this.resourceGroups.delete(key(sub, rg));
    for (const [k, vm] of this.vms) {
      if (vm.subscriptionId.toLowerCase() === sub.toLowerCase() && vm.resourceGroup.toLowerCase() === rg.toLowerCase()) this.vms.delete(k);
    }
  }

  vm(sub: string, rg: string, name: string): VmRecord | undefined {
    return this.vms.get(key(sub, rg, name));
  }

  putVm(vm: VmRecord): void {
    this.vms.set(key(vm.subscriptionId, vm.resourceGroup, vm.name), vm);
  }

  deleteVm(vm: VmRecord): void {
    this.vms.delete(key(vm.subscriptionId, vm.resourceGroup, vm.name));
  }

  principal(id: string): Principal | undefined {
    return this.principals.get(id.toLowerCase());
  }

  addPrincipal(principal: Omit<Principal, "createdAt"> & { createdAt?: number }, now: number): Principal {
    const createdAt = principal.createdAt ?? now;
    const delay = principal.replicatedAt === undefined ? this.replicationDelayMs() : undefined;
    const record: Principal = { ...principal, createdAt, ...(delay !== undefined ? { replicatedAt: createdAt + delay } : {}) };
    this.principals.set(record.id.toLowerCase(), record);
    return record;
  }

  roleDefinition(guid: string): RoleDefinitionRecord | undefined {
    const g = guid.toLowerCase();
    return BUILT_IN_ROLES.find((r) => r.guid === g) ?? this.customRoles.get(g);
  }

  roleDefinitions(): RoleDefinitionRecord[] {
    return [...BUILT_IN_ROLES, ...this.customRoles.values()];
  }

  /** A user-assigned identity's ids are fixed per resource id, as the real identity resource's would be. */
  userAssignedIdentity(resourceId: string): { principalId: string; clientId: string } {
    const k = resourceId.toLowerCase();
    let ids = this.userAssignedIdentities.get(k);
    if (!ids) {
      ids = { principalId: stableGuid(`uai-principal:${k}`), clientId: stableGuid(`uai-client:${k}`) };
      this.userAssignedIdentities.set(k, ids);
    }
    return ids;
  }

  newGuid(): string {
    return randomUUID();
  }
}
