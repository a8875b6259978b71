import { describe, expect, it } from "vitest";
import { vmTarget } from "../../src/domain/resourceId.js";
import { reconcile } from "../../src/orchestrator/reconcile.js";
import type { NetworkPath, NetworkSecurityGroup, NsgRule } from "../../src/domain/nsg.js";
import { aadExtension, p, VM_ID, windowsVm } from "../domain/builders.js";
import { memoryDeps } from "../support/memoryPorts.js";

/**
 * The preflight's branches against in-memory ports (issue 12). End to end, through the emulator's
 * Microsoft.Network GETs and the local host, in test/functions/preflight.test.ts.
 */
const ALICE = p(1);
const target = vmTarget(VM_ID);
const allow = { ACCESS_ALLOWED_PRINCIPALS: ALICE };
const NSG = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-app";
const DEFAULTS: NsgRule[] = [
  { name: "AllowInternetOutBound", direction: "Outbound", access: "Allow", priority: 65001, protocol: "*", sourceAddressPrefix: "*", destinationAddressPrefix: "Internet", destinationPortRange: "*" },
  { name: "DenyAllOutBound", direction: "Outbound", access: "Deny", priority: 65500, protocol: "*", sourceAddressPrefix: "*", destinationAddressPrefix: "*", destinationPortRange: "*" },
];
const DENY_AAD: NsgRule = { id: `${NSG}/securityRules/deny-aad`, name: "deny-aad", direction: "Outbound", access: "Deny", priority: 100, protocol: "Tcp", sourceAddressPrefix: "*", destinationAddressPrefix: "AzureActiveDirectory", destinationPortRange: "443" };
const group = (...rules: NsgRule[]): NetworkSecurityGroup => ({ id: NSG, rules: [...rules, ...DEFAULTS] });
const path = (nsg: NetworkSecurityGroup): NetworkPath => ({ nics: [{ id: "nic-1", primary: true, nsg }], unreadable: [] });
/** Identity on, extension missing, Alice tagged: the next pass would install. */
const readyForInstall = () => windowsVm({ identity: { type: "SystemAssigned", principalId: p(9), userAssignedIdentityIds: [] }, tags: { "aadlogin-admins": ALICE }, networkInterfaces: [{ id: "nic-1", primary: true }] });

describe("preflight before the extension install", () => {
  it("a group that denies outbound 443 to AzureActiveDirectory: no extension PUT, no grant, failed with the rule's id; fixed, the next pass installs", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(readyForInstall());
    deps.arm.networkPaths.set(VM_ID.toLowerCase(), path(group(DENY_AAD)));

    const blocked = await reconcile({ vm: target, trigger: "event" }, deps);
    expect(blocked).toMatchObject({ state: "failed", reason: "outbound-443-blocked" });
    expect(blocked.message).toContain(`${NSG}/securityRules/deny-aad`);
    expect(deps.arm.writes).toEqual([]);
    const row = await deps.store.getVm(VM_ID);
    expect(row?.diagnosis).toMatchObject({ code: "outbound-443-blocked" });
    expect(row?.diagnosis?.message).toContain("deny-aad");
    expect(row?.access).toEqual([]);
    expect(row?.extensionStatus).toBe("missing");
    // 2 observe reads + NIC + its group (the mock counts as the adapter does).
    expect(blocked.armRequests).toBe(4);
    expect(deps.queue.sent.filter((q) => q.request.trigger === "follow-up")).toEqual([]);

    deps.arm.networkPaths.set(VM_ID.toLowerCase(), path(group()));
    const fixed = await reconcile({ vm: target, trigger: "audit" }, deps);
    expect(fixed).toMatchObject({ state: "in-progress", waitingFor: "extension" });
    expect(deps.arm.writes).toEqual(["PUT extension vm-app-01"]);
    expect((await deps.store.getVm(VM_ID))?.diagnosis).toBeUndefined();
  });

  it("a path it cannot clear (an IP-prefix rule first, a group it could not read): the install goes ahead and the row says so", async () => {
    for (const unclear of [
      path(group({ ...DENY_AAD, name: "allow-ips", access: "Allow", destinationAddressPrefix: "20.190.128.0/18" }, { ...DENY_AAD, priority: 200 })),
      { nics: [{ id: "nic-1", primary: true }], unreadable: [{ id: NSG, why: "AuthorizationFailed" }] },
    ]) {
      const deps = memoryDeps(allow);
      deps.arm.put(readyForInstall());
      deps.arm.networkPaths.set(VM_ID.toLowerCase(), unclear);
      const result = await reconcile({ vm: target, trigger: "event" }, deps);
      expect(result.state).toBe("in-progress");
      expect(deps.arm.writes).toEqual(["PUT extension vm-app-01"]);
      const row = await deps.store.getVm(VM_ID);
      expect(row?.hints?.map((h) => h.code)).toEqual(["network-not-verified"]);
      // Kept while the install runs and if it fails; gone once it succeeded.
      deps.arm.extensionOutcome = "Failed";
      deps.arm.finish(VM_ID);
      const failedPass = await reconcile({ vm: target, trigger: "follow-up", attempt: 0 }, deps);
      expect(failedPass.diagnosis?.code).toBe("autojoin-discovery-failed");
      expect((await deps.store.getVm(VM_ID))?.hints?.map((h) => h.code)).toEqual(["network-not-verified"]);
    }
  });

  it("the network note goes once the install it let through succeeded", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(readyForInstall());
    deps.arm.networkPaths.set(VM_ID.toLowerCase(), { nics: [], unreadable: [{ id: "nic-1", why: "ResourceNotFound" }] });
    await reconcile({ vm: target, trigger: "event" }, deps);
    deps.arm.finish(VM_ID);
    const done = await reconcile({ vm: target, trigger: "follow-up", attempt: 0 }, deps);
    expect(done.state).toBe("remediated");
    expect((await deps.store.getVm(VM_ID))?.hints).toBeUndefined();
  });

  it("a compliant VM costs 2 ARM reads, no network read, whatever its network", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put({ ...readyForInstall(), tags: {}, extensions: [aadExtension("Succeeded")] });
    deps.arm.networkPaths.set(VM_ID.toLowerCase(), path(group(DENY_AAD)));
    const result = await reconcile({ vm: target, trigger: "audit" }, deps);
    expect(result).toMatchObject({ state: "compliant", armRequests: 2 });
  });

  it("report mode sends no network read (it plans, never installs)", async () => {
    const deps = memoryDeps({ ...allow, ENFORCER_MODE: "report" });
    deps.arm.put(readyForInstall());
    deps.arm.networkPaths.set(VM_ID.toLowerCase(), path(group(DENY_AAD)));
    const result = await reconcile({ vm: target, trigger: "audit" }, deps);
    expect(result).toMatchObject({ state: "would-remediate", armRequests: 2 });
  });

  it("name hints land on the row without changing the state", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put({ ...readyForInstall(), tags: {}, extensions: [aadExtension("Succeeded")], computerName: "contoso-web1" });
    const result = await reconcile({ vm: target, trigger: "audit" }, deps);
    expect(result.state).toBe("compliant");
    expect((await deps.store.getVm(VM_ID))?.hints?.map((h) => h.code)).toEqual(["computer-name-differs"]);
  });
});
