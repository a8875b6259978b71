/** Small builders for the pure core's tests: plain data, no fakes of our modules. */
import type { InstanceStatus, ObservedAssignment, ObservedExtension, ObservedVm } from "../../src/domain/vm.js";

export const SUB = "6b1f5a36-3d3c-4b7e-9d0a-1f3e5c7a9b21";
export const VM_ID = `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app-01`;

/** A deterministic object id: `p(1)` → `00000000-0000-4000-8000-000000000001`. */
export function p(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

/** A running Windows Server 2022 VM from the marketplace, in westeurope, with no identity. */
export function windowsVm(overrides: Partial<ObservedVm> = {}): ObservedVm {
  return {
    id: VM_ID,
    name: "vm-app-01",
    location: "westeurope",
    tags: {},
    osType: "Windows",
    imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2022-datacenter-azure-edition", version: "latest" },
    vmSize: "Standard_D2s_v5",
    provisioningState: "Succeeded",
    powerState: "running",
    identity: { type: "None", userAssignedIdentityIds: [] },
    extensions: [],
    ...overrides,
  };
}

export function extension(overrides: Partial<ObservedExtension> & { name: string }): ObservedExtension {
  return { statuses: [], substatuses: [], ...overrides };
}

export function aadExtension(provisioningState: string | undefined, overrides: Partial<ObservedExtension> = {}): ObservedExtension {
  return extension({
    name: "AADLoginForWindows",
    publisher: "Microsoft.Azure.ActiveDirectory",
    type: "AADLoginForWindows",
    typeHandlerVersion: "1.0",
    ...(provisioningState !== undefined ? { provisioningState } : {}),
    ...overrides,
  });
}

export function failedStatus(message: string, code = "ProvisioningState/failed"): InstanceStatus {
  return { code, level: "Error", displayStatus: "Provisioning failed", message };
}

export function assignment(overrides: Partial<ObservedAssignment> & Pick<ObservedAssignment, "name" | "roleDefinitionId" | "principalId">): ObservedAssignment {
  return {
    id: `${VM_ID}/providers/Microsoft.Authorization/roleAssignments/${overrides.name}`,
    scope: VM_ID,
    ...overrides,
  };
}
