import { describe, expect, it } from "vitest";
import { nameHints } from "../../src/domain/preflight.js";
import type { ObservedVm } from "../../src/domain/vm.js";

const vm = (name: string, computerName: string | undefined, osType = "Windows"): ObservedVm => ({
  id: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${name}`,
  name, location: "westeurope", tags: {}, osType,
  identity: { type: "None", userAssignedIdentityIds: [] }, extensions: [],
  ...(computerName !== undefined ? { computerName } : {}),
});

describe("nameHints: warnings about names, never a refusal", () => {
  it.each<[string, ObservedVm, string[]]>([
    ["same short name", vm("web-01", "web-01"), []],
    ["same name in other case", vm("WEB-01", "web-01"), []],
    ["computer name unknown", vm("web-01", undefined), []],
    ["computer name differs", vm("web-01", "contoso-web1"), ["computer-name-differs"]],
    ["resource name over 15, computer name cut to 15", vm("app-ws2022-smalldisk", "app-ws2022-smal"), ["resource-name-over-15", "computer-name-differs"]],
    ["resource name of exactly 15", vm("abcdefghijklmno", "abcdefghijklmno"), []],
    ["computer name over 15 (unexpected from ARM)", vm("abcdefghijklmnop", "abcdefghijklmnop"), ["computer-name-too-long", "resource-name-over-15"]],
    ["Linux: not Windows names", vm("linux-with-a-long-name", "other", "Linux"), []],
  ])("%s", (_what, observed, codes) => {
    const hints = nameHints(observed);
    expect(hints.map((h) => h.code)).toEqual(codes);
    for (const h of hints) expect(h.message).toContain(`VM ${observed.name}`);
  });

  it("Linux VMs get none", () => {
    expect(nameHints(vm("a-very-long-linux-vm-name", "x", "Linux"))).toEqual([]);
  });
});
