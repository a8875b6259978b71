import { describe, expect, it } from "vitest";
import { extensionQuery, vmFromRow } from "../../src/azure/graphSnapshot.js";
import { parseResetsAfter } from "../../src/azure/resourceGraph.js";
import { decideEligibility } from "../../src/domain/eligibility.js";
import { DEFAULT_POLICY } from "../../src/domain/osPolicy.js";

const VM = "/subscriptions/6b1f5a36-3d3c-4b7e-9d0a-1f3e5c7a9b21/resourceGroups/RG-APP/providers/Microsoft.Compute/virtualMachines/vm-app-01";

describe("Resource Graph rows → the domain's VM", () => {
  it("maps a VM row as the audit's query projects it (the agent's report from properties.extended.instanceView)", () => {
    const vm = vmFromRow({
      id: VM, name: "vm-app-01", location: "westeurope", tags: { "aadlogin-admins": "x", odd: 3 },
      identity: { type: "SystemAssigned, UserAssigned", principalId: "p", tenantId: "t", userAssignedIdentities: { "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u": {} } },
      osType: "Windows",
      imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2022-datacenter-azure-edition", version: "latest" },
      vmSize: "Standard_D2s_v5", provisioningState: "Succeeded", powerState: "PowerState/running",
      osName: "Windows Server 2022 Datacenter Azure Edition", osVersion: "10.0.20348.2340",
    }, [{ name: "AADLoginForWindows", type: "AADLoginForWindows", provisioningState: "Succeeded", statuses: [], substatuses: [] }]);
    expect(vm).toMatchObject({
      id: VM, tags: { "aadlogin-admins": "x" }, powerState: "running", agentOsVersion: "10.0.20348.2340",
      identity: { type: "SystemAssigned, UserAssigned", userAssignedIdentityIds: ["/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"] },
    });
    expect(vm?.tags).not.toHaveProperty("odd");
    expect(decideEligibility(vm!, DEFAULT_POLICY).verdict).toBe("eligible");
  });

  it("a row without the agent's report or power state is kept, with those left out (triage calls it incomplete)", () => {
    const vm = vmFromRow({ id: VM, name: "vm-app-01", location: "westeurope", identity: null, powerState: null }, []);
    expect(vm).toMatchObject({ identity: { type: "None", userAssignedIdentityIds: [] }, tags: {} });
    expect(vm).not.toHaveProperty("powerState");
    expect(vmFromRow({ id: `${VM}/extensions/x` }, [])).toBeUndefined();
  });

  it("the extension query names only safe types, and always the domain join", () => {
    expect(extensionQuery(["AADLoginForWindows", "x') or 1==1 //"])).toMatch(/in~ \('AADLoginForWindows', 'JsonADDomainExtension'\)/);
  });

  it("reads Resource Graph's quota reset (hh:mm:ss)", () => {
    expect(parseResetsAfter("00:00:03")).toBe(3000);
    expect(parseResetsAfter("1.00:00:01")).toBe(86_401_000);
    expect(parseResetsAfter("soon")).toBeUndefined();
  });
});
