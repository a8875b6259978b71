import { describe, expect, it } from "vitest";
import { demoFleet } from "../../../src/local/demo/fleet.js";
import { entraHttpsVerdict, entraHttpsVerdictFor, ipv4Interval } from "../../../src/local/emulator/entra-egress.js";
import { extensionOutcome } from "../../../src/local/emulator/extension-outcome.js";
import { networkResourceFrom, type NetworkResource } from "../../../src/local/emulator/network.js";
import type { ExtensionRecord, VmRecord } from "../../../src/local/emulator/state.js";

/**
 * The emulator's own reading of a VM's security groups for TCP 443 to Entra ID (it plays Azure, so
 * it shares nothing with the enforcer's preflight): NIC group then subnet group, both must allow;
 * first match by priority, own rules before the defaults; Entra's addresses 20.190.128.0/18 and
 * 40.126.0.0/18 sit inside AzureActiveDirectory, AzureCloud and Internet.
 */
const NET = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network";
const NIC = `${NET}/networkInterfaces/vm-nic`;
const NIC_NSG = `${NET}/networkSecurityGroups/vm-nsg`;
const SUBNET = `${NET}/virtualNetworks/vnet/subnets/default`;
const SUBNET_NSG = `${NET}/networkSecurityGroups/subnet-nsg`;
const ASG_WEB = `${NET}/applicationSecurityGroups/asg-web`;

type Rule = { name: string; properties: Record<string, unknown> };
let seq = 0;
/** An outbound TCP 443 rule to `destination`; `extra` overrides any field. */
const rule = (access: "Allow" | "Deny", destination: string, extra: Record<string, unknown> = {}): Rule => ({
  name: `r${++seq}`,
  properties: { protocol: "Tcp", sourcePortRange: "*", sourceAddressPrefix: "*", destinationAddressPrefix: destination, destinationPortRange: "443", access, priority: 100, direction: "Outbound", ...extra },
});

interface Layout {
  nic?: Rule[];
  subnet?: Rule[];
  asgs?: string[];
}

function networkOf(layout: Layout): Map<string, NetworkResource> {
  const resources = [
    ...(layout.nic ? [{ id: NIC_NSG, properties: { securityRules: layout.nic } }] : []),
    ...(layout.subnet ? [{ id: SUBNET_NSG, properties: { securityRules: layout.subnet } }] : []),
    { id: SUBNET, properties: { addressPrefix: "10.1.0.0/24", ...(layout.subnet ? { networkSecurityGroup: { id: SUBNET_NSG } } : {}) } },
    {
      id: NIC,
      properties: {
        ipConfigurations: [{ name: "ipconfig1", properties: { primary: true, privateIPAddress: "10.1.0.4", subnet: { id: SUBNET }, applicationSecurityGroups: (layout.asgs ?? []).map((id) => ({ id })) } }],
        ...(layout.nic ? { networkSecurityGroup: { id: NIC_NSG } } : {}),
      },
    },
  ].map(networkResourceFrom);
  return new Map(resources.map((r) => [r.id.toLowerCase(), r]));
}

function vmOn(nicId: string | undefined, opts: { linux?: boolean; outboundNetwork?: boolean } = {}): VmRecord {
  const image = opts.linux
    ? { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", version: "latest" }
    : { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2022-datacenter-azure-edition", version: "latest" };
  return {
    subscriptionId: "s1", resourceGroup: "rg", name: "vm", vmId: "00000000-0000-4000-8000-000000000001", timeCreated: "2026-01-01T00:00:00Z",
    model: { identity: { type: "SystemAssigned", principalId: "5a1f0000-0000-4000-8000-000000000001" } },
    properties: {
      storageProfile: { imageReference: image, osDisk: { osType: opts.linux ? "Linux" : "Windows" } },
      ...(nicId ? { networkProfile: { networkInterfaces: [{ id: nicId, properties: { primary: true } }] } } : {}),
    },
    provisioningState: "Succeeded", etagVersion: 1,
    simulation: { powerState: "running", agent: undefined, outboundNetwork: opts.outboundNetwork ?? true },
    extensions: new Map(),
  };
}

const verdictOf = (layout: Layout) => entraHttpsVerdictFor(vmOn(NIC), networkOf(layout));

describe("Azure's verdict for TCP 443 to Entra ID, from the VM's security groups", () => {
  it.each<[string, Layout, boolean]>([
    ["no group on NIC or subnet: nothing filters", {}, true],
    ["the subnet's group with default rules only (AllowInternetOutBound)", { subnet: [] }, true],
    ["NIC denies AzureActiveDirectory", { nic: [rule("Deny", "AzureActiveDirectory")] }, false],
    ["subnet denies AzureActiveDirectory", { subnet: [rule("Deny", "AzureActiveDirectory")] }, false],
    ["tag in other case", { nic: [rule("Deny", "azureactivedirectory")] }, false],
    ["deny Internet", { nic: [rule("Deny", "Internet")] }, false],
    ["deny AzureCloud (Entra's addresses are inside it)", { nic: [rule("Deny", "AzureCloud")] }, false],
    ["deny *", { nic: [rule("Deny", "*")] }, false],
    ["deny VirtualNetwork: Entra is not in it", { nic: [rule("Deny", "VirtualNetwork")] }, true],
    ["deny Storage: another service's tag", { nic: [rule("Deny", "Storage")] }, true],
    ["deny 20.190.128.0/18 (Entra's range)", { nic: [rule("Deny", "20.190.128.0/18")] }, false],
    ["deny 40.126.0.0/18 (Entra's other range)", { nic: [rule("Deny", "40.126.0.0/18")] }, false],
    ["deny 20.0.0.0/8 (covers Entra)", { nic: [rule("Deny", "20.0.0.0/8")] }, false],
    ["deny 10.0.0.0/8 (private space only)", { nic: [rule("Deny", "10.0.0.0/8")] }, true],
    ["deny one /24 inside Entra's range: part of Entra unreachable", { nic: [rule("Deny", "20.190.130.0/24")] }, false],
    ["deny a single Entra address", { nic: [rule("Deny", "40.126.1.1")] }, false],
    ["deny an IPv6 prefix only", { nic: [rule("Deny", "2603:1000::/24")] }, true],
    ["destinationAddressPrefixes list reaching Entra", { nic: [rule("Deny", "", { destinationAddressPrefix: undefined, destinationAddressPrefixes: ["10.0.0.0/8", "40.126.0.0/18"] })] }, false],
    ["allow both Entra ranges before deny Internet", { nic: [rule("Allow", "", { destinationAddressPrefix: undefined, destinationAddressPrefixes: ["20.190.128.0/18", "40.126.0.0/18"] }), rule("Deny", "Internet", { priority: 200 })] }, true],
    ["allow only one Entra range before deny Internet", { nic: [rule("Allow", "20.190.128.0/18"), rule("Deny", "Internet", { priority: 200 })] }, false],
    ["allow AzureActiveDirectory at 100 beats deny * at 200 (listed first)", { nic: [rule("Deny", "*", { priority: 200 }), rule("Allow", "AzureActiveDirectory", { priority: 100 })] }, true],
    ["deny at 100 beats allow at 200", { nic: [rule("Allow", "AzureActiveDirectory", { priority: 200 }), rule("Deny", "*", { priority: 100 })] }, false],
    ["own deny-all at 4096 comes before the default AllowInternetOutBound", { nic: [rule("Deny", "*", { priority: 4096, destinationPortRange: "*", protocol: "*" })] }, false],
    ["NIC allows, subnet denies: both must allow", { nic: [rule("Allow", "AzureActiveDirectory")], subnet: [rule("Deny", "Internet")] }, false],
    ["NIC denies, subnet allows", { nic: [rule("Deny", "Internet")], subnet: [rule("Allow", "*")] }, false],
    ["protocol Udp", { nic: [rule("Deny", "*", { protocol: "Udp" })] }, true],
    ["protocol *", { nic: [rule("Deny", "*", { protocol: "*" })] }, false],
    ["port 80 only", { nic: [rule("Deny", "*", { destinationPortRange: "80" })] }, true],
    ["port range 400-500", { nic: [rule("Deny", "*", { destinationPortRange: "400-500" })] }, false],
    ["port range 1-442", { nic: [rule("Deny", "*", { destinationPortRange: "1-442" })] }, true],
    ["destinationPortRanges list with 443", { nic: [rule("Deny", "*", { destinationPortRange: undefined, destinationPortRanges: ["80", "443"] })] }, false],
    ["destinationPortRanges list without 443", { nic: [rule("Deny", "*", { destinationPortRange: undefined, destinationPortRanges: ["80", "8443"] })] }, true],
    ["an inbound deny does not filter outbound", { nic: [rule("Deny", "*", { direction: "Inbound" })] }, true],
    ["source VirtualNetwork", { nic: [rule("Deny", "*", { sourceAddressPrefix: "VirtualNetwork" })] }, false],
    ["source prefix holding the NIC's address", { nic: [rule("Deny", "*", { sourceAddressPrefix: "10.1.0.0/24" })] }, false],
    ["source prefix elsewhere", { nic: [rule("Deny", "*", { sourceAddressPrefix: "192.168.0.0/16" })] }, true],
    ["source Internet: not the VM", { nic: [rule("Deny", "*", { sourceAddressPrefix: "Internet" })] }, true],
    ["source ASG the NIC is in", { nic: [rule("Deny", "*", { sourceAddressPrefix: undefined, sourceApplicationSecurityGroups: [{ id: ASG_WEB }] })], asgs: [ASG_WEB] }, false],
    ["source ASG the NIC is not in", { nic: [rule("Deny", "*", { sourceAddressPrefix: undefined, sourceApplicationSecurityGroups: [{ id: ASG_WEB }] })] }, true],
    ["destination ASG: Entra is in none", { nic: [rule("Deny", "", { destinationAddressPrefix: undefined, destinationApplicationSecurityGroups: [{ id: ASG_WEB }] })] }, true],
  ])("%s", (_label, layout, allowed) => {
    expect(verdictOf(layout)?.allowed).toBe(allowed);
  });

  it("names the blocking group, rule and the first Entra address it denies", () => {
    const deny = rule("Deny", "20.190.130.0/24");
    expect(verdictOf({ nic: [], subnet: [deny] })).toEqual({ allowed: false, groupId: SUBNET_NSG, ruleId: `${SUBNET_NSG}/securityRules/${deny.name}`, address: "20.190.130.0" });
    expect(verdictOf({ nic: [rule("Allow", "20.190.128.0/18"), rule("Deny", "Internet", { priority: 200, name: "x" })] })).toMatchObject({ allowed: false, groupId: NIC_NSG, address: "40.126.0.0" });
  });

  it("a specific source does not match when the NIC's private address is unknown", () => {
    const group = (rules: Rule[]) => ({
      id: NIC_NSG,
      securityRules: rules.map((r) => ({ id: r.name, properties: r.properties })),
      defaultSecurityRules: [{ id: "AllowInternetOutBound", properties: { protocol: "*", sourceAddressPrefix: "*", destinationAddressPrefix: "Internet", destinationPortRange: "*", access: "Allow", priority: 65001, direction: "Outbound" } }],
    });
    expect(entraHttpsVerdict({ nicGroup: group([rule("Deny", "*", { sourceAddressPrefix: "10.1.0.0/24" })]) }).allowed).toBe(true);
    expect(entraHttpsVerdict({ nicGroup: group([rule("Deny", "*", { sourceAddressPrefix: "*" })]) }).allowed).toBe(false);
  });

  it.each([
    ["no NIC named", vmOn(undefined), networkOf({ nic: [rule("Deny", "*")] })],
    ["the NIC not seeded", vmOn(`${NET}/networkInterfaces/other-nic`), networkOf({ nic: [rule("Deny", "*")] })],
    ["the NIC's group not seeded", vmOn(NIC), new Map([...networkOf({ nic: [rule("Deny", "*")] })].filter(([k]) => k !== NIC_NSG.toLowerCase()))],
    ["the subnet not seeded", vmOn(NIC), new Map([...networkOf({ nic: [rule("Deny", "*")] })].filter(([k]) => k !== SUBNET.toLowerCase()))],
  ])("not judged when %s", (_label, vm, network) => {
    expect(entraHttpsVerdictFor(vm, network)).toBeUndefined();
  });

  it.each([
    ["10.0.0.0/8", { start: 10 * 2 ** 24, end: 11 * 2 ** 24 - 1 }],
    ["20.190.128.0/18", { start: (20 * 256 + 190) * 65536 + 128 * 256, end: (20 * 256 + 190) * 65536 + 191 * 256 + 255 }],
    ["40.126.1.1", { start: ((40 * 256 + 126) * 256 + 1) * 256 + 1, end: ((40 * 256 + 126) * 256 + 1) * 256 + 1 }],
    ["0.0.0.0/0", { start: 0, end: 2 ** 32 - 1 }],
    ["AzureCloud", undefined],
    ["2603:1000::/24", undefined],
    ["300.1.1.1/8", undefined],
    ["10.0.0.0/33", undefined],
  ])("ipv4Interval(%s)", (input, expected) => {
    expect(ipv4Interval(input)).toEqual(expected);
  });
});

describe("the login extension's outcome follows the verdict", () => {
  const ext = (type: "AADLoginForWindows" | "AADSSHLoginForLinux"): ExtensionRecord => ({
    name: type, location: "westeurope", provisioningState: "Creating",
    properties: { publisher: "Microsoft.Azure.ActiveDirectory", type, typeHandlerVersion: "1.0" },
  });
  const now = "2026-12-01T00:00:00.000Z";

  it("Windows: an NSG deny of Entra's range fails enable with 1009 / -2145648607; the same VM with the rule gone succeeds", () => {
    const blocked = extensionOutcome(vmOn(NIC), ext("AADLoginForWindows"), now, { network: networkOf({ nic: [rule("Deny", "20.190.128.0/18")] }) });
    expect(blocked.error?.code).toBe("VMExtensionProvisioningError");
    expect(blocked.error?.message).toContain("terminal error code '1009'");
    expect(blocked.error?.message).toContain("Exit code: -2145648607");
    const open = extensionOutcome(vmOn(NIC), ext("AADLoginForWindows"), now, { network: networkOf({ nic: [] }) });
    expect(open.error).toBeUndefined();
  });

  it("Linux: an NSG deny of AzureActiveDirectory fails the installer with exit 20", () => {
    const blocked = extensionOutcome(vmOn(NIC, { linux: true }), ext("AADSSHLoginForLinux"), now, { network: networkOf({ subnet: [rule("Deny", "AzureActiveDirectory")] }) });
    expect(blocked.error?.code).toBe("VMExtensionHandlerNonTransientError");
    expect(blocked.error?.message).toContain("Non-zero exit code: 20");
  });

  it("the outboundNetwork flag still blocks on an open network (a firewall outside the groups), and alone decides when the network is unknown", () => {
    expect(extensionOutcome(vmOn(NIC, { outboundNetwork: false }), ext("AADLoginForWindows"), now, { network: networkOf({}) }).error?.message).toContain("-2145648607");
    expect(extensionOutcome(vmOn(undefined), ext("AADLoginForWindows"), now, { network: networkOf({ nic: [rule("Deny", "*")] }) }).error).toBeUndefined();
    expect(extensionOutcome(vmOn(undefined, { outboundNetwork: false }), ext("AADLoginForWindows"), now).error?.message).toContain("-2145648607");
  });
});

describe("the demo fleet's networks, as the emulator judges them", () => {
  it("only lab-nsg-deny443 and lab-nsg-deny-prefix are blocked by their groups; every other VM's network is open", () => {
    const fleet = demoFleet(new Date("2026-12-01T00:00:00Z"));
    const network = new Map(fleet.network.map((r) => networkResourceFrom(r)).map((r) => [r.id.toLowerCase(), r]));
    const blocked = fleet.vms.filter((v) => {
      const vm = { ...vmOn(undefined), properties: (v.body["properties"] ?? {}) as Record<string, unknown> };
      const verdict = entraHttpsVerdictFor(vm, network);
      expect(verdict, v.id).toBeDefined();
      return verdict?.allowed === false;
    });
    expect(blocked.map((v) => v.id.split("/").pop()).sort()).toEqual(["lab-nsg-deny-prefix", "lab-nsg-deny443"]);
  });
});
