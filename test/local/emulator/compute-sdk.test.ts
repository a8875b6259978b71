import type { ComputeManagementClient, VirtualMachine } from "@azure/arm-compute";
import { isRestError } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { useTestEmulator, type TestEmulator } from "../../support/emulator.js";

const SUB = "6b0c5a3e-1f2d-4e5a-9b8c-7d6e5f4a3b2c";
const RG = "rg-vms";
const FAST = { updateIntervalInMs: 2 };
const AAD = { location: "westus", publisher: "Microsoft.Azure.ActiveDirectory", typePropertiesType: "AADLoginForWindows", typeHandlerVersion: "1.0", autoUpgradeMinorVersion: true };

const windowsVm = (sku = "2019-Datacenter", extra: Partial<VirtualMachine> = {}): VirtualMachine =>
  ({
    location: "westus",
    hardwareProfile: { vmSize: "Standard_D2s_v3" },
    storageProfile: { imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku, version: "latest" } },
    osProfile: { computerName: "vm", adminUsername: "azureuser", adminPassword: "Secr3t!Secr3t!" },
    networkProfile: { networkInterfaces: [{ id: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/networkInterfaces/nic` }] },
    ...extra,
  }) as VirtualMachine;

let t: TestEmulator;
let compute: ComputeManagementClient;

useTestEmulator((started) => {
  t = started;
  t.emulator.setLimits({ lroDelayMs: 5, pageSize: 2 });
  t.emulator.addResourceGroup(SUB, RG, "westus");
  compute = t.computeClient(SUB);
});

const vmId = (name: string): string => `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${name}`;

describe("virtual machines through @azure/arm-compute", () => {
  it("creates (LRO) and reads back Succeeded, with instance view from the image", async () => {
    const created = await compute.virtualMachines.createOrUpdate(RG, "vm1", windowsVm(), FAST);
    expect(created.provisioningState).toBe("Succeeded");
    expect(created.osProfile?.adminPassword).toBeUndefined();
    expect(created.etag).toBe('"1"');
    const got = await compute.virtualMachines.get(RG, "VM1", { expand: "instanceView" });
    expect(got.name).toBe("vm1");
    expect(got.instanceView?.osName).toBe("Windows Server 2019 Datacenter");
    expect(got.instanceView?.statuses?.map((s) => s.code)).toEqual(["ProvisioningState/succeeded", "PowerState/running"]);
    const view = await compute.virtualMachines.instanceView(RG, "vm1");
    expect(view.vmAgent?.vmAgentVersion).toBeTruthy();
  });

  it("answers 404 ResourceGroupNotFound / SubscriptionNotFound", async () => {
    const missingRg = await compute.virtualMachines.createOrUpdate("nope", "vm1", windowsVm(), FAST).catch((e: unknown) => e);
    expect(isRestError(missingRg) && [missingRg.statusCode, missingRg.code]).toEqual([404, "ResourceGroupNotFound"]);
    const other = t.computeClient("00000000-0000-0000-0000-00000000dead");
    const missingSub = await other.virtualMachines.get(RG, "vm1").catch((e: unknown) => e);
    expect(isRestError(missingSub) && [missingSub.statusCode, missingSub.code]).toEqual([404, "SubscriptionNotFound"]);
  });

  it("PATCH adds a system-assigned identity, keeps user-assigned ones, registers the principal", async () => {
    const uai = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai1`;
    await compute.virtualMachines.createOrUpdate(RG, "vm1", windowsVm("2022-datacenter", { identity: { type: "UserAssigned", userAssignedIdentities: { [uai]: {} } } }), FAST);
    const updated = await compute.virtualMachines.update(RG, "vm1", { identity: { type: "SystemAssigned, UserAssigned" } }, FAST);
    expect(updated.identity?.type).toBe("SystemAssigned, UserAssigned");
    expect(updated.identity?.tenantId).toBe(t.emulator.tenantId);
    expect(Object.keys(updated.identity?.userAssignedIdentities ?? {})).toEqual([uai]);
    expect(updated.identity?.userAssignedIdentities?.[uai]?.principalId).toMatch(/^[0-9a-f-]{36}$/);
    const principalId = updated.identity?.principalId ?? "";
    expect(t.emulator.state.principal(principalId)?.type).toBe("ServicePrincipal");
    const dropped = await compute.virtualMachines.update(RG, "vm1", { identity: { type: "UserAssigned" } }, FAST);
    expect(dropped.identity?.principalId).toBeUndefined();
    expect(t.emulator.state.principal(principalId)).toBeUndefined();
  });

  it("PATCH replaces tags and bumps the etag; a stale If-Match gets 412", async () => {
    await compute.virtualMachines.createOrUpdate(RG, "vm1", windowsVm(), FAST);
    const tagged = await compute.virtualMachines.update(RG, "vm1", { tags: { "aad-login-users": "ann@contoso.com" } }, { ...FAST, ifMatch: '"1"' });
    expect(tagged.tags).toEqual({ "aad-login-users": "ann@contoso.com" });
    expect(tagged.etag).toBe('"2"');
    const stale = await compute.virtualMachines.update(RG, "vm1", { tags: {} }, { ...FAST, ifMatch: '"1"' }).catch((e: unknown) => e);
    expect(isRestError(stale) && [stale.statusCode, stale.code]).toEqual([412, "PreconditionFailed"]);
    const createOnly = await compute.virtualMachines.createOrUpdate(RG, "vm1", windowsVm(), { ...FAST, ifNoneMatch: "*" }).catch((e: unknown) => e);
    expect(isRestError(createOnly) && createOnly.statusCode).toBe(412);
  });

  it("lists per resource group and subscription across nextLink pages", async () => {
    t.emulator.addResourceGroup(SUB, "rg-other");
    for (const name of ["a", "b", "c"]) await compute.virtualMachines.createOrUpdate(RG, name, windowsVm(), FAST);
    await compute.virtualMachines.createOrUpdate("rg-other", "d", windowsVm(), FAST);
    t.emulator.clearRequests();
    const inRg: string[] = [];
    for await (const vm of compute.virtualMachines.list(RG)) inRg.push(vm.name ?? "");
    const all: string[] = [];
    for await (const vm of compute.virtualMachines.listAll()) all.push(vm.name ?? "");
    expect(inRg.sort()).toEqual(["a", "b", "c"]);
    expect(all.sort()).toEqual(["a", "b", "c", "d"]);
    expect(t.emulator.requests().counts.byOperation["Microsoft.Compute/virtualMachines/read"]).toBe(2 + 2);
  });

  it("deallocate / start / powerOff / restart change the power state; delete removes the VM", async () => {
    await compute.virtualMachines.createOrUpdate(RG, "vm1", windowsVm(), FAST);
    const power = async (): Promise<string | undefined> =>
      (await compute.virtualMachines.instanceView(RG, "vm1")).statuses?.find((s) => s.code?.startsWith("PowerState/"))?.code;
    await compute.virtualMachines.deallocate(RG, "vm1", FAST);
    expect(await power()).toBe("PowerState/deallocated");
    expect((await compute.virtualMachines.instanceView(RG, "vm1")).osName).toBeUndefined();
    await compute.virtualMachines.start(RG, "vm1", FAST);
    expect(await power()).toBe("PowerState/running");
    await compute.virtualMachines.powerOff(RG, "vm1", FAST);
    expect(await power()).toBe("PowerState/stopped");
    await compute.virtualMachines.start(RG, "vm1", FAST);
    await compute.virtualMachines.restart(RG, "vm1", FAST);
    expect(await power()).toBe("PowerState/running");
    await compute.virtualMachines.delete(RG, "vm1", FAST);
    const gone = await compute.virtualMachines.get(RG, "vm1").catch((e: unknown) => e);
    expect(isRestError(gone) && [gone.statusCode, gone.code]).toEqual([404, "ResourceNotFound"]);
    await compute.virtualMachines.delete(RG, "vm1", FAST);
  });
});

describe("VM extensions: AADLoginForWindows outcome follows what the VM is", () => {
  const cases: Array<{ name: string; sku?: string; identity: boolean; simulation?: object; exit?: string; terminal?: string }> = [
    { name: "Server 2019 with identity succeeds", identity: true },
    { name: "Server 2016 exits 51", sku: "2016-Datacenter", identity: true, exit: "51", terminal: "1007" },
    { name: "custom image reporting build 14393 exits 51", identity: true, simulation: { agent: { osName: "Windows Server 2016 Datacenter", osVersion: "10.0.14393.0" } }, exit: "51", terminal: "1007" },
    { name: "no system-assigned identity: terminal 1007, exit -2145648574", identity: false, exit: "-2145648574", terminal: "1007" },
    { name: "no outbound network: exit -2145648607", identity: true, simulation: { outboundNetwork: false }, exit: "-2145648607", terminal: "1009" },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      await compute.virtualMachines.createOrUpdate(RG, "vm1", windowsVm(c.sku, c.identity ? { identity: { type: "SystemAssigned" } } : {}), FAST);
      if (c.simulation) t.emulator.setVmSimulation({ id: vmId("vm1"), ...c.simulation });
      const result = await compute.virtualMachineExtensions.createOrUpdate(RG, "vm1", "AADLoginForWindows", AAD, FAST).catch((e: unknown) => e);
      const ext = await compute.virtualMachineExtensions.get(RG, "vm1", "AADLoginForWindows", { expand: "instanceView" });
      const status = ext.instanceView?.statuses?.[0];
      if (!c.exit) {
        expect((result as { provisioningState?: string }).provisioningState).toBe("Succeeded");
        expect(status?.code).toBe("ProvisioningState/succeeded");
        return;
      }
      // core-lro 3 reports a Failed operation as a plain Error: "The long-running operation has failed. {code}. {message}".
      const error = result as Error;
      expect(error.message).toMatch(/^The long-running operation has failed\. VMExtensionProvisioningError\. /);
      expect(error.message).toContain(
        "VM has reported a failure when processing extension 'AADLoginForWindows' (publisher 'Microsoft.Azure.ActiveDirectory' and type 'AADLoginForWindows'). Error message: \"Handler 'Microsoft.Azure.ActiveDirectory.AADLoginForWindows' has reported failure for VM Extension 'AADLoginForWindows' with terminal error code",
      );
      expect(error.message).toContain(`Exit code: ${c.exit}'`);
      expect(ext.provisioningState).toBe("Failed");
      expect(status).toMatchObject({ code: `ProvisioningState/failed/${c.terminal}`, level: "Error" });
      const vm = await compute.virtualMachines.get(RG, "vm1", { expand: "instanceView" });
      expect(vm.provisioningState).toBe("Failed");
      expect(vm.instanceView?.extensions?.[0]?.statuses?.[0]?.code).toBe(`ProvisioningState/failed/${c.terminal}`);
    });
  }

  it("Linux VM exits 51", async () => {
    await compute.virtualMachines.createOrUpdate(RG, "lin", { ...windowsVm(), identity: { type: "SystemAssigned" }, storageProfile: { imageReference: { publisher: "Canonical", offer: "ubuntu-24_04-lts", sku: "server", version: "latest" } } } as VirtualMachine, FAST);
    const result = await compute.virtualMachineExtensions.createOrUpdate(RG, "lin", "AADLoginForWindows", AAD, FAST).catch((e: unknown) => e);
    expect((result as Error).message).toContain("Exit code: 51'");
  });

  it("a VM that is not running refuses extension writes with 409 OperationNotAllowed", async () => {
    await compute.virtualMachines.createOrUpdate(RG, "vm1", windowsVm(), FAST);
    t.emulator.setVmSimulation({ id: vmId("vm1"), powerState: "deallocated" });
    const result = await compute.virtualMachineExtensions.createOrUpdate(RG, "vm1", "AADLoginForWindows", AAD, FAST).catch((e: unknown) => e);
    expect(isRestError(result) && [result.statusCode, result.code, result.message]).toEqual([409, "OperationNotAllowed", "Cannot modify extensions in the VM when the VM is not running."]);
  });

  it("lists, shows in the VM's resources, and deletes extensions", async () => {
    await compute.virtualMachines.createOrUpdate(RG, "vm1", windowsVm(undefined, { identity: { type: "SystemAssigned" } }), FAST);
    await compute.virtualMachineExtensions.createOrUpdate(RG, "vm1", "AADLoginForWindows", AAD, FAST);
    const list = await compute.virtualMachineExtensions.list(RG, "vm1");
    expect(list.value?.map((x) => x.name)).toEqual(["AADLoginForWindows"]);
    const vm = await compute.virtualMachines.get(RG, "vm1");
    expect(vm.resources?.[0]?.publisher).toBe("Microsoft.Azure.ActiveDirectory");
    await compute.virtualMachineExtensions.delete(RG, "vm1", "AADLoginForWindows", FAST);
    expect((await compute.virtualMachineExtensions.list(RG, "vm1")).value).toEqual([]);
  });
});
