import { ComputeManagementClient, type VirtualMachine, type VirtualMachineExtension } from "@azure/arm-compute";
import { AuthorizationManagementClient, type RoleAssignment } from "@azure/arm-authorization";
import type { Action } from "../domain/action.js";
import { loginRoleById, LOGIN_ROLES, roleDefinitionId } from "../domain/roles.js";
import type { InstanceStatus, ObservedAssignment, ObservedExtension, ObservedVm } from "../domain/vm.js";
import { parseVmId, sameResourceId } from "../domain/resourceId.js";
import { ArmFailure, type ArmPort, type EstateSnapshot, type VmTarget } from "../orchestrator/ports.js";
import { pipelineOptions, requestCounter, type ArmConnection } from "./armConnection.js";
import { classifyArmError, isNotFound } from "./errors.js";
import { normalizeIdentityType } from "./identityType.js";
import { readEstateSnapshot } from "./graphSnapshot.js";
import { ResourceGraph } from "./resourceGraph.js";
import { NetworkReader } from "./networkPath.js";
import type { NetworkPath } from "../domain/nsg.js";

/**
 * ArmPort over the real SDK clients. One Compute and one Authorization client per subscription,
 * created lazily and shared by every pass in the process (they hold the token cache and sockets).
 * Retries (429 with Retry-After, 5xx, resets) and LRO polling are the SDK's; nothing here loops.
 */
export class AzureArm implements ArmPort {
  private readonly counter = requestCounter();
  private readonly compute = new Map<string, ComputeManagementClient>();
  private readonly authorization = new Map<string, AuthorizationManagementClient>();

  private graph: ResourceGraph | undefined;
  private network: NetworkReader | undefined;

  constructor(private readonly connection: ArmConnection) {}

  requestCount(): number {
    return this.counter.count();
  }

  metered<T>(work: (count: () => number) => Promise<T>): Promise<T> {
    return this.counter.metered(work);
  }

  getVm(vm: VmTarget): Promise<ObservedVm | undefined> {
    return armCall(async () => {
      try {
        const found = await this.computeFor(vm.subscriptionId).virtualMachines.get(vm.resourceGroup, vm.name, { expand: "instanceView" });
        return toObservedVm(found, vm.id);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  getVmTags(vm: VmTarget): Promise<Readonly<Record<string, string>> | undefined> {
    return armCall(async () => {
      try {
        // No instance view: the tags are all this look needs, and the model GET is the cheapest read of them.
        const found = await this.computeFor(vm.subscriptionId).virtualMachines.get(vm.resourceGroup, vm.name);
        return { ...(found.tags ?? {}) };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  listVmAssignments(vm: VmTarget): Promise<ObservedAssignment[]> {
    return armCall(async () => {
      const client = this.authorizationFor(vm.subscriptionId);
      const result: ObservedAssignment[] = [];
      // atScope() also returns assignments inherited from the resource group and subscription:
      // only those whose scope is the VM itself are ours to reason about.
      for await (const a of client.roleAssignments.listForScope(vm.id, { filter: "atScope()" })) {
        if (!a.scope || !sameResourceId(a.scope, vm.id)) continue;
        result.push({
          id: a.id ?? "",
          name: a.name ?? "",
          scope: a.scope,
          roleDefinitionId: a.roleDefinitionId ?? "",
          principalId: (a.principalId ?? "").toLowerCase(),
          ...(a.principalType ? { principalType: a.principalType } : {}),
          ...(a.description ? { description: a.description } : {}),
        });
      }
      return result;
    });
  }

  readNetworkPath(vm: ObservedVm): Promise<NetworkPath> {
    this.network ??= new NetworkReader(this.connection, this.counter.policy);
    return this.network.read(vm);
  }

  startEnableIdentity(vm: ObservedVm, action: Extract<Action, { kind: "enableIdentity" }>): Promise<void> {
    const ref = parseVmId(vm.id);
    const userAssigned = Object.fromEntries(action.keepUserAssigned.map((id) => [id, {}]));
    return armCall(async () => {
      // begin* sends the PATCH and resolves once ARM accepted it (201/202); the returned poller is
      // never polled: a later pass reads the result from the VM, so no invocation waits on it.
      await this.computeFor(ref.subscriptionId).virtualMachines.beginUpdate(
        ref.resourceGroup,
        ref.name,
        {
          identity: {
            type: action.identityType,
            ...(action.keepUserAssigned.length > 0 ? { userAssignedIdentities: userAssigned } : {}),
          },
        },
        // The identity decision was made on this version of the VM; a concurrent change makes ARM
        // answer 412, which is transient: the next pass re-reads and decides again.
        vm.etag ? { ifMatch: vm.etag } : {},
      );
    });
  }

  startInstallExtension(vm: ObservedVm, action: Extract<Action, { kind: "installExtension" }>): Promise<void> {
    const ref = parseVmId(vm.id);
    const extension: VirtualMachineExtension = {
      location: vm.location,
      publisher: action.publisher,
      typePropertiesType: action.type,
      typeHandlerVersion: action.typeHandlerVersion,
      autoUpgradeMinorVersion: true,
      ...(Object.keys(action.settings).length > 0 ? { settings: { ...action.settings } } : {}),
      // A failed extension must run its handler again: a changed forceUpdateTag makes ARM reinstall.
      ...(action.why === "failed" ? { forceUpdateTag: `aadlogin-${Date.now()}` } : {}),
    };
    return armCall(async () => {
      await this.computeFor(ref.subscriptionId).virtualMachineExtensions.beginCreateOrUpdate(ref.resourceGroup, ref.name, action.extensionName, extension);
    });
  }

  createAssignment(vm: VmTarget, action: Extract<Action, { kind: "createAssignment" }>): Promise<"created" | "unchanged"> {
    // Belt and braces: the plan only produces these, but this is the line that talks to ARM.
    const role = LOGIN_ROLES[action.role];
    if (!role || !sameResourceId(action.scope, vm.id)) {
      return Promise.reject(refusal(`Refusing to create assignment ${action.name}: role "${action.role}" at scope "${action.scope}" is not a login role at the VM ${vm.id}.`));
    }
    return armCall(async () => {
      try {
        await this.authorizationFor(vm.subscriptionId).roleAssignments.create(vm.id, action.name, {
          roleDefinitionId: roleDefinitionId(vm.subscriptionId, role),
          principalId: action.principalId,
          principalType: action.principalType,
          description: action.description,
        });
        return "created";
      } catch (error) {
        // Someone else already assigned the same role to the same principal here: the desired state holds.
        if (classifyArmError(error).code === "RoleAssignmentExists") return "unchanged";
        throw error;
      }
    });
  }

  deleteAssignment(vm: VmTarget, action: Extract<Action, { kind: "deleteAssignment" }>): Promise<"deleted" | "unchanged"> {
    if (!sameResourceId(action.scope, vm.id)) {
      return Promise.reject(refusal(`Refusing to delete assignment ${action.name}: scope "${action.scope}" is not the VM ${vm.id}.`));
    }
    const client = this.authorizationFor(vm.subscriptionId);
    return armCall(async () => {
      // Re-check just before deleting that the assignment is still a login role: the name is ours, but
      // the role is what the ABAC condition (and our promise) is about.
      let existing: RoleAssignment | undefined;
      try {
        existing = await client.roleAssignments.get(vm.id, action.name);
      } catch (error) {
        if (isNotFound(error)) return "unchanged";
        throw error;
      }
      if (!existing.roleDefinitionId || !loginRoleById(existing.roleDefinitionId)) {
        throw refusal(`Refusing to delete assignment ${action.name} at ${vm.id}: its role ${existing.roleDefinitionId ?? "(none)"} is not a login role.`);
      }
      const deleted = await client.roleAssignments.delete(vm.id, action.name);
      return deleted?.id ? "deleted" : "unchanged";
    });
  }

  snapshot(subscriptionIds: readonly string[], extensionTypes: readonly string[]): Promise<EstateSnapshot> {
    this.graph ??= new ResourceGraph(this.connection, this.counter.policy);
    return readEstateSnapshot(this.graph, subscriptionIds, extensionTypes);
  }

  async *listVmIds(subscriptionId: string): AsyncIterable<string> {
    try {
      for await (const vm of this.computeFor(subscriptionId).virtualMachines.listAll()) {
        if (vm.id) yield vm.id;
      }
    } catch (error) {
      throw toArmFailure(error);
    }
  }

  private computeFor(subscriptionId: string): ComputeManagementClient {
    let client = this.compute.get(subscriptionId);
    if (!client) {
      client = new ComputeManagementClient(this.connection.credential, subscriptionId, {
        endpoint: this.connection.endpoint,
        credentials: { scopes: [this.connection.scope] },
        ...pipelineOptions(this.connection, this.counter.policy),
      });
      this.compute.set(subscriptionId, client);
    }
    return client;
  }

  private authorizationFor(subscriptionId: string): AuthorizationManagementClient {
    let client = this.authorization.get(subscriptionId);
    if (!client) {
      client = new AuthorizationManagementClient(this.connection.credential, subscriptionId, {
        endpoint: this.connection.endpoint,
        credentialScopes: [this.connection.scope],
        ...pipelineOptions(this.connection, this.counter.policy),
      });
      this.authorization.set(subscriptionId, client);
    }
    return client;
  }
}

/** Runs one SDK call and turns whatever it throws into the port's ArmFailure, classified here once. */
async function armCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toArmFailure(error);
  }
}

function toArmFailure(error: unknown): ArmFailure {
  return error instanceof ArmFailure ? error : new ArmFailure(classifyArmError(error));
}

/** A write this adapter refuses to send: terminal, never retried. */
function refusal(message: string): ArmFailure {
  return new ArmFailure({ class: "terminal", code: "RefusedByEnforcer", message });
}

function toObservedVm(vm: VirtualMachine, requestedId: string): ObservedVm {
  const view = vm.instanceView;
  const power = view?.statuses?.find((s) => s.code?.toLowerCase().startsWith("powerstate/"))?.code;
  const image = vm.storageProfile?.imageReference;
  const extensionViews = view?.extensions ?? [];
  const extensions: ObservedExtension[] = (vm.resources ?? []).map((ext) => {
    const name = ext.name ?? "";
    const ev = extensionViews.find((v) => (v.name ?? "").toLowerCase() === name.toLowerCase());
    return {
      name,
      ...(ext.publisher ? { publisher: ext.publisher } : {}),
      ...(ext.typePropertiesType ? { type: ext.typePropertiesType } : ev?.type ? { type: ev.type } : {}),
      ...(ext.typeHandlerVersion ? { typeHandlerVersion: ext.typeHandlerVersion } : {}),
      ...(ext.provisioningState ? { provisioningState: ext.provisioningState } : {}),
      statuses: (ev?.statuses ?? []).map(toStatus),
      substatuses: (ev?.substatuses ?? []).map(toStatus),
    };
  });
  // An extension can show in the instance view before it is listed in `resources`.
  for (const ev of extensionViews) {
    if (!extensions.some((e) => e.name.toLowerCase() === (ev.name ?? "").toLowerCase())) {
      const type = ev.type?.split(".").pop();
      extensions.push({
        name: ev.name ?? "",
        ...(type ? { type } : {}),
        ...(ev.typeHandlerVersion ? { typeHandlerVersion: ev.typeHandlerVersion } : {}),
        statuses: (ev.statuses ?? []).map(toStatus),
        substatuses: (ev.substatuses ?? []).map(toStatus),
      });
    }
  }
  const userAssigned = Object.keys(vm.identity?.userAssignedIdentities ?? {});
  return {
    id: vm.id ?? requestedId,
    name: vm.name ?? parseVmId(requestedId).name,
    location: vm.location,
    tags: { ...(vm.tags ?? {}) },
    ...(vm.storageProfile?.osDisk?.osType ? { osType: vm.storageProfile.osDisk.osType } : {}),
    ...(image
      ? {
          imageReference: {
            ...(image.publisher ? { publisher: image.publisher } : {}),
            ...(image.offer ? { offer: image.offer } : {}),
            ...(image.sku ? { sku: image.sku } : {}),
            ...(image.version ? { version: image.version } : {}),
            ...(image.id ? { id: image.id } : {}),
            ...(image.sharedGalleryImageId ? { sharedGalleryImageId: image.sharedGalleryImageId } : {}),
            ...(image.communityGalleryImageId ? { communityGalleryImageId: image.communityGalleryImageId } : {}),
          },
        }
      : {}),
    ...(vm.hardwareProfile?.vmSize ? { vmSize: vm.hardwareProfile.vmSize } : {}),
    ...(vm.provisioningState ? { provisioningState: vm.provisioningState } : {}),
    ...(vm.timeCreated ? { createdAt: new Date(vm.timeCreated).toISOString() } : {}),
    ...(power ? { powerState: power.slice("PowerState/".length).toLowerCase() } : {}),
    ...(view?.osName ? { agentOsName: view.osName } : {}),
    ...(view?.osVersion ? { agentOsVersion: view.osVersion } : {}),
    ...(vm.osProfile?.computerName ? { computerName: vm.osProfile.computerName } : view?.computerName ? { computerName: view.computerName } : {}),
    ...(vm.networkProfile?.networkInterfaces
      ? { networkInterfaces: vm.networkProfile.networkInterfaces.filter((n) => n.id).map((n) => ({ id: n.id as string, ...(n.primary !== undefined ? { primary: n.primary } : {}) })) }
      : {}),
    identity: {
      type: normalizeIdentityType(vm.identity?.type),
      ...(vm.identity?.principalId ? { principalId: vm.identity.principalId } : {}),
      ...(vm.identity?.tenantId ? { tenantId: vm.identity.tenantId } : {}),
      userAssignedIdentityIds: userAssigned,
    },
    extensions,
    ...(vm.etag ? { etag: vm.etag } : {}),
  };
}

function toStatus(s: { code?: string; level?: string; displayStatus?: string; message?: string }): InstanceStatus {
  return {
    ...(s.code ? { code: s.code } : {}),
    ...(s.level ? { level: s.level } : {}),
    ...(s.displayStatus ? { displayStatus: s.displayStatus } : {}),
    ...(s.message ? { message: s.message } : {}),
  };
}
