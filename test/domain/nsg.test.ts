import { describe, expect, it } from "vitest";
import { groupVerdict, outboundToEntra, preflightVerdict, type NetworkPath, type NetworkSecurityGroup, type NsgRule } from "../../src/domain/nsg.js";

const NSG = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-app";
/** Azure's default outbound rules, as every group carries them (`defaultSecurityRules`). */
const DEFAULTS: NsgRule[] = [
  { name: "AllowVnetOutBound", direction: "Outbound", access: "Allow", priority: 65000, protocol: "*", sourceAddressPrefix: "VirtualNetwork", destinationAddressPrefix: "VirtualNetwork", destinationPortRange: "*" },
  { name: "AllowInternetOutBound", direction: "Outbound", access: "Allow", priority: 65001, protocol: "*", sourceAddressPrefix: "*", destinationAddressPrefix: "Internet", destinationPortRange: "*" },
  { name: "DenyAllOutBound", direction: "Outbound", access: "Deny", priority: 65500, protocol: "*", sourceAddressPrefix: "*", destinationAddressPrefix: "*", destinationPortRange: "*" },
];
const rule = (over: Partial<NsgRule> & Pick<NsgRule, "name" | "access" | "priority">): NsgRule => ({
  direction: "Outbound", protocol: "Tcp", sourceAddressPrefix: "*", destinationAddressPrefix: "Internet", destinationPortRange: "443", ...over,
});
const group = (...rules: NsgRule[]): NetworkSecurityGroup => ({ id: NSG, rules: [...rules, ...DEFAULTS] });

describe("groupVerdict: TCP 443 from the VM to Entra ID, first matching rule by priority", () => {
  it.each<[string, NsgRule[], string, string?]>([
    ["only the defaults: AllowInternetOutBound", [], "allowed", "AllowInternetOutBound"],
    ["deny Internet 443", [rule({ name: "deny-web", access: "Deny", priority: 200 })], "blocked", "deny-web"],
    ["deny * on every port", [rule({ name: "deny-all", access: "Deny", priority: 4096, destinationAddressPrefix: "*", destinationPortRange: "*" })], "blocked", "deny-all"],
    ["deny a port range holding 443", [rule({ name: "deny-range", access: "Deny", priority: 300, destinationPortRange: "400-500" })], "blocked", "deny-range"],
    ["deny a range list holding 443", [rule({ name: "deny-list", access: "Deny", priority: 300, destinationPortRange: undefined, destinationPortRanges: ["22", "443"] })], "blocked", "deny-list"],
    ["deny the AzureActiveDirectory tag", [rule({ name: "deny-aad", access: "Deny", priority: 300, destinationAddressPrefix: "AzureActiveDirectory" })], "blocked", "deny-aad"],
    ["allow AzureActiveDirectory before deny all", [rule({ name: "allow-aad", access: "Allow", priority: 100, destinationAddressPrefix: "AzureActiveDirectory" }), rule({ name: "deny-all", access: "Deny", priority: 200, destinationAddressPrefix: "*", destinationPortRange: "*" })], "allowed", "allow-aad"],
    ["priority, not order in the list, decides", [rule({ name: "deny-late", access: "Deny", priority: 900 }), rule({ name: "allow-early", access: "Allow", priority: 100 })], "allowed", "allow-early"],
    ["deny on another port", [rule({ name: "deny-80", access: "Deny", priority: 100, destinationPortRange: "80" })], "allowed", "AllowInternetOutBound"],
    ["deny UDP only", [rule({ name: "deny-udp", access: "Deny", priority: 100, protocol: "Udp" })], "allowed", "AllowInternetOutBound"],
    ["inbound rules do not count", [rule({ name: "deny-in", access: "Deny", priority: 100, direction: "Inbound" })], "allowed", "AllowInternetOutBound"],
    ["allow Storage, then deny Internet", [rule({ name: "allow-storage", access: "Allow", priority: 100, destinationAddressPrefix: "Storage.WestEurope" }), rule({ name: "deny-web", access: "Deny", priority: 200 })], "blocked", "deny-web"],
    ["an IP-prefix allow before a deny: cannot tell", [rule({ name: "allow-ips", access: "Allow", priority: 100, destinationAddressPrefix: "20.190.128.0/18" }), rule({ name: "deny-web", access: "Deny", priority: 200 })], "unknown"],
    ["an AzureCloud deny: cannot tell", [rule({ name: "deny-cloud", access: "Deny", priority: 100, destinationAddressPrefix: "AzureCloud" })], "unknown"],
    ["a rule on an application security group: cannot tell", [rule({ name: "asg", access: "Deny", priority: 100, destinationAddressPrefix: undefined, destinationApplicationSecurityGroups: [{ id: "asg-1" }] })], "unknown"],
    ["a deny for one source prefix: cannot tell", [rule({ name: "deny-some", access: "Deny", priority: 100, sourceAddressPrefix: "10.1.0.0/24" })], "unknown"],
  ])("%s", (_what, rules, verdict, decidingRule) => {
    const v = groupVerdict(group(...rules));
    expect(v.verdict).toBe(verdict);
    if (decidingRule) expect("ruleId" in v ? v.ruleId : "").toBe(rules.find((r) => r.name === decidingRule)?.id ?? `${NSG}/securityRules/${decidingRule}`);
  });

  it("a group without rules cannot tell", () => {
    expect(groupVerdict({ id: NSG, rules: [] }).verdict).toBe("unknown");
  });
});

describe("outboundToEntra: the NIC's group and the subnet's must both allow", () => {
  const open = group();
  const closed = group(rule({ name: "deny-web", access: "Deny", priority: 200 }));
  const unclear = group(rule({ name: "deny-cloud", access: "Deny", priority: 100, destinationAddressPrefix: "AzureCloud" }));
  it.each<[string, (NetworkSecurityGroup | undefined)[], string]>([
    ["both open", [open, open], "allowed"],
    ["NIC open, subnet closed", [open, closed], "blocked"],
    ["NIC closed, no subnet group", [closed, undefined], "blocked"],
    ["one unclear, one open", [unclear, open], "unknown"],
    ["one unclear, one closed", [unclear, closed], "blocked"],
    ["no group at all", [undefined, undefined], "unknown"],
  ])("%s", (_what, groups, verdict) => {
    expect(outboundToEntra(groups).verdict).toBe(verdict);
  });
});

describe("preflightVerdict: the VM's primary NIC decides; unread parts make an allow unknown, never a block", () => {
  const open = group();
  const closed = group(rule({ name: "deny-web", access: "Deny", priority: 200 }));
  const nic = (id: string, primary: boolean, nsg?: NetworkSecurityGroup, subnetNsg?: NetworkSecurityGroup) => ({ id, primary, ...(nsg ? { nsg } : {}), ...(subnetNsg ? { subnetNsg } : {}) });
  const missing = [{ id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/gone", why: "ResourceNotFound" }];
  it.each<[string, NetworkPath, string]>([
    ["one NIC (not marked primary), open", { nics: [nic("a", false, open)], unreadable: [] }, "allowed"],
    ["one NIC, its subnet closed", { nics: [nic("a", false, open, closed)], unreadable: [] }, "blocked"],
    ["primary closed, secondary open", { nics: [nic("a", true, closed), nic("b", false, open)], unreadable: [] }, "blocked"],
    ["primary open, secondary closed", { nics: [nic("a", true, open), nic("b", false, closed)], unreadable: [] }, "allowed"],
    ["two NICs, no primary, both closed", { nics: [nic("a", false, closed), nic("b", false, closed)], unreadable: [] }, "blocked"],
    ["two NICs, no primary, one closed", { nics: [nic("a", false, closed), nic("b", false, open)], unreadable: [] }, "unknown"],
    ["no NIC read", { nics: [], unreadable: missing }, "unknown"],
    ["open, but the subnet's group could not be read", { nics: [nic("a", true, open)], unreadable: missing }, "unknown"],
    ["closed, and something else could not be read", { nics: [nic("a", true, closed)], unreadable: missing }, "blocked"],
    ["no group anywhere", { nics: [nic("a", true)], unreadable: [] }, "unknown"],
  ])("%s", (_what, path, verdict) => {
    const v = preflightVerdict(path);
    expect(v.verdict).toBe(verdict);
    if (v.verdict === "blocked") expect(v.ruleId).toBe(`${NSG}/securityRules/deny-web`);
    if (v.verdict === "unknown") expect(v.why).not.toBe("");
  });
});
