import { describe, expect, it } from "vitest";
import { formatVmId, parseVmId, sameResourceId, tryParseVmId, vmIdOfChild, VM_ID_SHAPE } from "../../src/domain/resourceId.js";
import { SUB } from "./builders.js";

const canonical = `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app-01`;

describe("parseVmId", () => {
  it.each([
    ["canonical", canonical, { subscriptionId: SUB, resourceGroup: "rg-app", name: "vm-app-01" }],
    ["ARM's lower-case spelling", `/subscriptions/${SUB}/resourcegroups/rg-app/providers/microsoft.compute/virtualmachines/vm-app-01`, { subscriptionId: SUB, resourceGroup: "rg-app", name: "vm-app-01" }],
    ["upper-case literals", `/SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/RG-App/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM-App-01`, { subscriptionId: SUB, resourceGroup: "RG-App", name: "VM-App-01" }],
    ["the official example's placeholders", "/subscriptions/{subscription-id}/resourceGroups/myResourceGroup/providers/Microsoft.Compute/virtualMachines/myVM", { subscriptionId: "{subscription-id}", resourceGroup: "myResourceGroup", name: "myVM" }],
    ["resource group with dots and parentheses", `/subscriptions/${SUB}/resourceGroups/rg.app(1)/providers/Microsoft.Compute/virtualMachines/a_b.c`, { subscriptionId: SUB, resourceGroup: "rg.app(1)", name: "a_b.c" }],
  ])("parses %s", (_label, id, expected) => {
    expect(parseVmId(id)).toEqual(expected);
    expect(tryParseVmId(id)).toEqual(expected);
  });

  it.each([
    ["empty", ""],
    ["no leading slash", canonical.slice(1)],
    ["trailing slash", `${canonical}/`],
    ["a child resource", `${canonical}/extensions/AADLoginForWindows`],
    ["a scale set VM", `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/0`],
    ["another provider", `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ClassicCompute/virtualMachines/vm`],
    ["another type", `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/vm`],
    ["a resource group", `/subscriptions/${SUB}/resourceGroups/rg`],
    ["an empty segment", `/subscriptions//resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm`],
    ["a double slash", `/subscriptions/${SUB}/resourceGroups/rg//providers/Microsoft.Compute/virtualMachines/vm`],
    ["a query string", `${canonical}?api-version=2025-04-01`],
    ["whitespace in a name", `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm 1`],
    ["surrounding whitespace", ` ${canonical}`],
    ["a control character", `${canonical}\u0000`],
    ["a URL", `https://management.azure.com${canonical}`],
    ["a VM name over ARM's 64 characters", `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${"v".repeat(65)}`],
    ["a resource group name over ARM's 90 characters", `/subscriptions/${SUB}/resourceGroups/${"r".repeat(91)}/providers/Microsoft.Compute/virtualMachines/vm`],
    ["a subscription segment over 64 characters", `/subscriptions/${"s".repeat(65)}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm`],
    ["a megabyte of id", `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/${"x/".repeat(500_000)}`],
  ])("rejects %s with an error naming the input and the expected shape", (_label, id) => {
    expect(tryParseVmId(id)).toBeUndefined();
    expect(() => parseVmId(id)).toThrow(VM_ID_SHAPE);
    expect(() => parseVmId(id)).toThrow(JSON.stringify(id).slice(0, 40));
  });

  it("accepts names at ARM's limits, which still fit a table key", async () => {
    const id = `/subscriptions/${SUB}/resourceGroups/${"é".repeat(90)}/providers/Microsoft.Compute/virtualMachines/${"ü".repeat(64)}`;
    expect(tryParseVmId(id)).toBeDefined();
    const { vmKey } = await import("../../src/store/keys.js");
    expect(() => vmKey(id)).not.toThrow();
  });

  it("cuts a very long bad input short in the message", () => {
    const long = `/x/${"a".repeat(5000)}`;
    let message = "";
    try {
      parseVmId(long);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.length).toBeLessThan(400);
    expect(message).toContain("Expected /subscriptions/{sub}");
  });

  it("round-trips through formatVmId in ARM's documented casing", () => {
    const lower = canonical.toLowerCase();
    expect(formatVmId(parseVmId(lower))).toBe(`/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app-01`);
    expect(formatVmId(parseVmId(canonical))).toBe(canonical);
  });
});

describe("sameResourceId", () => {
  it.each([
    [canonical, canonical.toLowerCase(), true],
    [canonical, canonical.toUpperCase(), true],
    [canonical, `${canonical}/`, true],
    [canonical, canonical.replace("vm-app-01", "vm-app-02"), false],
    [canonical, `${canonical}/extensions/x`, false],
  ])("%s vs %s → %s", (a, b, same) => {
    expect(sameResourceId(a, b)).toBe(same);
  });
});

describe("vmIdOfChild", () => {
  it.each([
    ["the VM itself", canonical, canonical],
    ["an extension", `${canonical}/extensions/AADLoginForWindows`, canonical],
    ["an extension, lower case", `${canonical}/extensions/x`.toLowerCase(), `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app-01`],
    ["a role assignment at the VM", `${canonical}/providers/Microsoft.Authorization/roleAssignments/0f0e0d0c-0000-4000-8000-000000000001`, canonical],
    ["a run command", `${canonical}/runCommands/rc1`, canonical],
  ])("finds the VM of %s", (_label, id, expected) => {
    expect(vmIdOfChild(id)).toBe(expected);
  });

  it.each([
    ["a disk", `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d1`],
    ["a resource group", `/subscriptions/${SUB}/resourceGroups/rg`],
    ["a trailing slash under the VM", `${canonical}/extensions/`],
    ["a NIC", `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic1`],
    ["nothing", ""],
  ])("returns undefined for %s", (_label, id) => {
    expect(vmIdOfChild(id)).toBeUndefined();
  });
});
