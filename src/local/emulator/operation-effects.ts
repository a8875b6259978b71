import type { HandlerContext } from "./context.js";
import type { ArmError } from "./errors.js";
import { extensionOutcome, isAadLogin } from "./extension-outcome.js";
import type { DeviceDirectory } from "./graph-devices.js";
import { guestOsFor } from "./os-catalog.js";
import { isObject } from "./http-io.js";
import type { LroOperation, OperationEffects } from "./lro.js";
import type { EmulatorLimits, EmulatorState, ExtensionRecord, VmRecord } from "./state.js";
import { renderVm } from "./virtual-machines.js";
import { renderExtension } from "./vm-extensions.js";

/**
 * The one registry of what a long-running operation does when it settles, by kind. The VM (and
 * extension) is looked up again by name at that moment: a VM deleted meanwhile (resource group
 * delete) makes the operation a no-op.
 */
function findVm(state: EmulatorState, op: LroOperation): VmRecord | undefined {
  return state.vm(op.target.subscriptionId, op.target.resourceGroup, op.target.vmName);
}

function findExtension(vm: VmRecord | undefined, op: LroOperation): ExtensionRecord | undefined {
  return op.target.extensionName ? vm?.extensions.get(op.target.extensionName.toLowerCase()) : undefined;
}

function failVm(vm: VmRecord | undefined, error: ArmError): void {
  if (!vm) return;
  vm.provisioningState = "Failed";
  vm.failure = { code: error.code, message: error.message };
}

/** After an operation that put the VM into Updating: back to Succeeded, or Failed while an extension is. */
function releaseVm(vm: VmRecord): void {
  if (vm.failure && [...vm.extensions.values()].some((x) => x.provisioningState === "Failed")) {
    vm.provisioningState = "Failed";
    return;
  }
  vm.provisioningState = "Succeeded";
  delete vm.failure;
}

export function createOperationEffects(state: EmulatorState, directory: DeviceDirectory, limits: Pick<EmulatorLimits, "staleDeviceBlocksJoin">): OperationEffects {
  return {
    complete(op, now) {
      const vm = findVm(state, op);
      switch (op.kind) {
        case "vm-create":
        case "vm-update":
          if (vm) {
            vm.provisioningState = "Succeeded";
            delete vm.failure;
          }
          return undefined;
        case "vm-delete": {
          if (!vm) return undefined;
          state.deleteVm(vm);
          const identity = vm.model["identity"];
          if (isObject(identity) && typeof identity["principalId"] === "string") state.principals.delete(identity["principalId"].toLowerCase());
          return undefined;
        }
        case "vm-power":
          if (vm && op.args?.powerState) vm.simulation.powerState = op.args.powerState;
          if (vm && op.args?.vmUpdating) {
            delete vm.powerTransition;
            releaseVm(vm);
          }
          return undefined;
        case "extension-put": {
          const ext = findExtension(vm, op);
          if (!vm || !ext) return undefined;
          const stale = limits.staleDeviceBlocksJoin ? staleNamesake(state, directory, vm, ext) : undefined;
          const outcome = extensionOutcome(vm, ext, new Date(now).toISOString(), { network: state.network, ...(stale ? { staleDeviceName: stale.displayName } : {}) });
          if (outcome.instanceView) ext.instanceView = outcome.instanceView;
          else delete ext.instanceView;
          if (outcome.error) {
            ext.provisioningState = "Failed";
            failVm(vm, outcome.error);
            return outcome.error;
          }
          ext.provisioningState = "Succeeded";
          vm.provisioningState = "Succeeded";
          delete vm.failure;
          joinDirectory(directory, vm, ext, new Date(now).toISOString());
          return undefined;
        }
        case "extension-delete": {
          if (!vm || !op.target.extensionName) return undefined;
          vm.extensions.delete(op.target.extensionName.toLowerCase());
          if (vm.provisioningState === "Failed" && ![...vm.extensions.values()].some((x) => x.provisioningState === "Failed")) {
            vm.provisioningState = "Succeeded";
            delete vm.failure;
          } else if (op.args?.vmUpdating && vm.provisioningState === "Updating") {
            releaseVm(vm);
          }
          return undefined;
        }
      }
    },
    fail(op, error) {
      const vm = findVm(state, op);
      switch (op.kind) {
        case "vm-create":
        case "vm-update":
        case "vm-delete":
          failVm(vm, error);
          return;
        case "vm-power":
          if (vm && op.args?.vmUpdating) {
            delete vm.powerTransition;
            failVm(vm, error);
          }
          return;
        case "extension-put": {
          const ext = findExtension(vm, op);
          if (ext) ext.provisioningState = "Failed";
          failVm(vm, error);
          return;
        }
        case "extension-delete":
          return;
      }
    },
  };
}

/** What the Location poll of a finished operation answers: the resource for PUT/PATCH, nothing for DELETE and actions. */
export function operationResult(ctx: HandlerContext, op: LroOperation): unknown {
  const vm = findVm(ctx.state, op);
  switch (op.kind) {
    case "vm-create":
    case "vm-update":
      return vm ? renderVm(ctx, vm) : undefined;
    case "extension-put": {
      const ext = findExtension(vm, op);
      return vm && ext ? renderExtension(vm, ext, false) : undefined;
    }
    default:
      return undefined;
  }
}

function computerNameOf(vm: VmRecord): string {
  const osProfile = vm.properties["osProfile"];
  return isObject(osProfile) && typeof osProfile["computerName"] === "string" ? osProfile["computerName"] : vm.name;
}

/**
 * The device a deleted VM left under this VM's computer name, when this VM's AADLoginForWindows is
 * about to join (not yet joined; `joins: false` VMs never join). The story: "a deleted VM
 * leaves its device object in Entra ID, which later blocks a new VM with the same name". Which devices
 * block is modelled (only those a deleted VM's join created; see DeviceDirectory.staleNamesake).
 */
function staleNamesake(state: EmulatorState, directory: DeviceDirectory, vm: VmRecord, ext: ExtensionRecord) {
  if (!isAadLogin(ext) || vm.simulation.joins === false || directory.joinedDevice(vm.vmId)) return undefined;
  const live = new Set([...state.vms.values()].map((v) => v.vmId.toLowerCase()));
  return directory.staleNamesake(computerNameOf(vm), vm.vmId, live);
}

/**
 * A successful AADLoginForWindows install joins the VM to Microsoft Entra ID: a device object named
 * after the computer, trust type AzureAd, whose physicalIds carry the VM's resource id
 * (`[AzureResourceId]:<id>`, as users report for Azure VMs). A reinstall keeps the VM's device; a VM
 * whose simulation says `joins: false` "succeeds" without one. A deleted VM's device stays behind, as
 * in Entra ID, and fails a later VM's join under the same computer name (`staleNamesake` above; the
 * limit `staleDeviceBlocksJoin: false` lets it join as a second device of that name instead).
 */
function joinDirectory(directory: DeviceDirectory, vm: VmRecord, ext: ExtensionRecord, nowIso: string): void {
  if (!isAadLogin(ext) || vm.simulation.joins === false) return;
  const id = `/subscriptions/${vm.subscriptionId}/resourceGroups/${vm.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${vm.name}`;
  if (directory.joinedDevice(vm.vmId)) return;
  const computerName = computerNameOf(vm);
  const guest = vm.simulation.agent ?? guestOsFor(vm.properties);
  const device = directory.add({ displayName: computerName, operatingSystem: "Windows", operatingSystemVersion: guest.osVersion, physicalIds: [`[AzureResourceId]:${id}`] }, nowIso);
  directory.recordJoin(vm.vmId, device.id);
}
