import type { ComplianceState } from "../../domain/outcome.js";

/**
 * The demo fleet `npm start` creates: two subscriptions, 50 VMs, one per branch the enforcer
 * decides. Bodies are ARM PUT bodies, shaped like the official examples; `simulation` is what the
 * emulator is told the machine "is" (power, what its guest agent reports, whether its network
 * blocks the Azure AD join) before it is created; `expect` is the state the pass must end in.
 */
export interface DemoPrincipal {
  readonly id: string;
  readonly type: "User" | "Group" | "ServicePrincipal";
  readonly displayName: string;
  readonly allowed: boolean;
}

export interface FleetVm {
  readonly id: string;
  readonly body: Record<string, unknown>;
  readonly simulation?: { powerState?: string; agent?: { osName: string; osVersion: string } | null; outboundNetwork?: boolean };
  /** Extensions the owner installs themselves right after creating the VM. */
  readonly extensions?: readonly { name: string; body: Record<string, unknown> }[];
  /** Role assignments that already exist when the fleet is created (a human's, or an earlier grant of ours). */
  readonly assignments?: readonly { name: string; roleGuid: string; principalId: string; principalType: string; description?: string }[];
  readonly expect: ComplianceState;
  readonly note: string;
}

/** A network interface, security group or subnet as the emulator's admin API takes it (`POST /network`). */
export interface FleetNetworkResource {
  readonly id: string;
  readonly location?: string;
  readonly properties: Record<string, unknown>;
}

export interface Fleet {
  /** The landing zone's network: one virtual network per resource group, a NIC per VM (see demoNetwork). */
  readonly network: readonly FleetNetworkResource[];
  readonly subscriptions: readonly { id: string; displayName: string }[];
  readonly resourceGroups: readonly { subscriptionId: string; name: string; location: string }[];
  readonly principals: readonly DemoPrincipal[];
  /** Who creates and tags the VMs (a person, so events carry a user's claims). */
  readonly owner: DemoPrincipal;
  readonly vms: readonly FleetVm[];
}

export const DEMO_SUBSCRIPTIONS = [
  { id: "6f1c2a9e-4b7d-4c1a-9e0f-1a2b3c4d5e01", displayName: "contoso-prod" },
  { id: "0b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c02", displayName: "contoso-dev" },
] as const;

export const DEMO_PRINCIPALS = {
  alice: { id: "a11ce000-0000-4000-8000-000000000001", type: "User", displayName: "Alice (platform admin)", allowed: true },
  bob: { id: "b0b00000-0000-4000-8000-000000000002", type: "User", displayName: "Bob (developer)", allowed: true },
  opsGroup: { id: "0b5e0000-0000-4000-8000-000000000003", type: "Group", displayName: "VM operators", allowed: true },
  deploySp: { id: "d3b10000-0000-4000-8000-000000000004", type: "ServicePrincipal", displayName: "deploy pipeline", allowed: true },
  mallory: { id: "ba4d0000-0000-4000-8000-000000000005", type: "User", displayName: "Mallory (not on the allow-list)", allowed: false },
  owner: { id: "0a4e0000-0000-4000-8000-000000000006", type: "User", displayName: "Olga (VM owner, creates and tags VMs)", allowed: false },
} as const satisfies Record<string, DemoPrincipal>;

const ADMIN_ROLE = "1c0163c0-47e6-4577-8991-ea5c82e286e4";

type Image = { publisher: string; offer: string; sku: string } | { id: string };

const SERVER = (sku: string): Image => ({ publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku });
const DESKTOP = (offer: string, sku: string): Image => ({ publisher: "MicrosoftWindowsDesktop", offer, sku });
const UBUNTU_2204: Image = { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2" };
const GALLERY = (sub: string, name: string): Image => ({
  id: `/subscriptions/${sub}/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/contosoGallery/images/${name}/versions/1.0.0`,
});

interface VmSpec {
  sub: 0 | 1;
  rg: string;
  name: string;
  location?: string;
  image: Image;
  osType?: "Windows" | "Linux";
  size?: string;
  tags?: Record<string, string>;
  identity?: Record<string, unknown>;
  simulation?: FleetVm["simulation"];
  /** Outbound rules of a security group on the VM's own NIC (most VMs have none: the subnet's group applies). */
  nicRules?: readonly Record<string, unknown>[];
  extensions?: FleetVm["extensions"];
  assignments?: FleetVm["assignments"];
  expect: ComplianceState;
  note: string;
}

/** `now` positions the expiry tags: one grant already expired, the others far in the future. */
export function demoFleet(now: Date): Fleet {
  const subs = DEMO_SUBSCRIPTIONS.map((s) => s.id);
  const prod = subs[0] as string;
  const p = DEMO_PRINCIPALS;
  const later = new Date(now.getTime() + 30 * 24 * 3600_000).toISOString();
  const past = new Date(now.getTime() - 24 * 3600_000).toISOString();
  const admins = (...ids: string[]) => ({ "aadlogin-admins": ids.join(",") });
  const users = (...ids: string[]) => ({ "aadlogin-users": ids.join(";") });

  const specs: VmSpec[] = [
    // --- eligible marketplace images: identity + extension (+ access from tags)
    { sub: 0, rg: "rg-web", name: "web-ws2019-01", image: SERVER("2019-Datacenter"), tags: admins(p.alice.id), expect: "remediated", note: "Server 2019, admin by tag" },
    { sub: 0, rg: "rg-web", name: "web-ws2019-02", image: SERVER("2019-Datacenter-smalldisk"), tags: users(p.bob.id), expect: "remediated", note: "Server 2019 smalldisk, user by tag" },
    { sub: 0, rg: "rg-web", name: "web-ws2019-g2", image: SERVER("2019-datacenter-gensecond"), expect: "remediated", note: "Server 2019 gen2, no access tags" },
    { sub: 0, rg: "rg-app", name: "app-ws2022-01", image: SERVER("2022-datacenter-azure-edition"), tags: { ...admins(p.opsGroup.id + ":Group"), ...users(p.bob.id) }, expect: "remediated", note: "Server 2022 Azure Edition, group admin + user" },
    { sub: 0, rg: "rg-app", name: "app-ws2022-g2", image: SERVER("2022-datacenter-g2"), expect: "remediated", note: "Server 2022 gen2" },
    { sub: 0, rg: "rg-app", name: "app-ws2025-01", image: SERVER("2025-datacenter-azure-edition"), tags: admins(`${p.deploySp.id}:ServicePrincipal`), expect: "remediated", note: "Server 2025, service principal admin" },
    { sub: 0, rg: "rg-app", name: "app-ws2022-smalldisk", image: SERVER("2022-datacenter-smalldisk"), location: "northeurope", expect: "remediated", note: "Server 2022 smalldisk in North Europe" },
    { sub: 1, rg: "rg-desktops", name: "dev-win10-1809", image: DESKTOP("Windows-10", "rs5-pro"), tags: users(p.bob.id), expect: "remediated", note: "Windows 10 1809 (build 17763): the oldest eligible" },
    { sub: 1, rg: "rg-desktops", name: "dev-win10-22h2", image: DESKTOP("Windows-10", "win10-22h2-pro"), expect: "remediated", note: "Windows 10 22H2" },
    { sub: 1, rg: "rg-desktops", name: "dev-win11-23h2", image: DESKTOP("windows-11", "win11-23h2-ent"), tags: users(p.bob.id, p.alice.id), expect: "remediated", note: "Windows 11 23H2, two users" },
    { sub: 1, rg: "rg-avd", name: "avd-win11-ms-01", image: DESKTOP("windows-11", "win11-24h2-avd"), tags: users(`${p.opsGroup.id}:Group`), expect: "remediated", note: "Windows 11 multi-session (AVD)" },
    { sub: 1, rg: "rg-avd", name: "avd-win10-ms-01", image: DESKTOP("Windows-10", "win10-22h2-avd"), expect: "remediated", note: "Windows 10 multi-session (AVD)" },
    // --- custom images: known only from what the guest agent reports
    { sub: 0, rg: "rg-app", name: "app-custom-ws2022", image: GALLERY(prod, "ws2022-hardened"), simulation: { agent: { osName: "Windows Server 2022 Datacenter", osVersion: "10.0.20348.2340" } }, expect: "remediated", note: "gallery image, agent reports Server 2022" },
    { sub: 0, rg: "rg-app", name: "app-custom-ws2019", image: GALLERY(prod, "ws2019-golden"), simulation: { agent: { osName: "Windows Server 2019 Datacenter", osVersion: "10.0.17763.5576" } }, tags: admins(p.alice.id), expect: "remediated", note: "gallery image, agent reports Server 2019" },
    { sub: 0, rg: "rg-legacy", name: "legacy-custom-ws2016", image: GALLERY(prod, "ws2016-legacy"), simulation: { agent: { osName: "Windows Server 2016 Datacenter", osVersion: "10.0.14393.6897" } }, expect: "ineligible", note: "gallery image, agent reports Server 2016" },
    { sub: 0, rg: "rg-app", name: "app-custom-booting", image: GALLERY(prod, "ws2022-hardened"), simulation: { agent: null }, expect: "deferred", note: "gallery image, agent not reporting yet" },
    // --- ineligible
    { sub: 0, rg: "rg-legacy", name: "legacy-ws2016-01", image: SERVER("2016-Datacenter"), expect: "ineligible", note: "Server 2016" },
    { sub: 0, rg: "rg-legacy", name: "legacy-ws2012r2", image: SERVER("2012-R2-Datacenter"), expect: "ineligible", note: "Server 2012 R2" },
    { sub: 1, rg: "rg-desktops", name: "dev-win10-1803", image: DESKTOP("Windows-10", "rs4-pro"), expect: "ineligible", note: "Windows 10 1803 (build 17134)" },
    { sub: 0, rg: "rg-infra", name: "infra-ws2019-core", image: SERVER("2019-datacenter-core"), expect: "ineligible", note: "Server Core" },
    { sub: 0, rg: "rg-infra", name: "infra-ws2022-core", image: SERVER("2022-datacenter-core-smalldisk"), expect: "ineligible", note: "Server Core smalldisk" },
    { sub: 1, rg: "rg-desktops", name: "dev-win11-arm64", image: DESKTOP("windows11preview-arm64", "win11-23h2-ent"), size: "Standard_D2ps_v5", expect: "ineligible", note: "arm64" },
    { sub: 1, rg: "rg-gov", name: "gov-ws2019-01", location: "usgovvirginia", image: SERVER("2019-Datacenter"), expect: "ineligible", note: "Azure Government region (not allowed by default policy)" },
    { sub: 1, rg: "rg-china", name: "cn-ws2019-01", location: "chinaeast2", image: SERVER("2019-Datacenter"), expect: "ineligible", note: "Azure China region (not allowed by default policy)" },
    // --- deferred: cannot act now
    { sub: 0, rg: "rg-batch", name: "batch-ws2019-dealloc", image: SERVER("2019-Datacenter"), simulation: { powerState: "deallocated" }, tags: admins(p.alice.id), expect: "deferred", note: "deallocated: remediated by the audit after it starts" },
    { sub: 0, rg: "rg-batch", name: "batch-ws2022-stopped", image: SERVER("2022-datacenter-g2"), simulation: { powerState: "stopped" }, expect: "deferred", note: "stopped (not deallocated)" },
    // --- conflict: domain-joined
    { sub: 0, rg: "rg-ad", name: "ad-member-ws2019", image: SERVER("2019-Datacenter"),
      extensions: [{ name: "joindomain", body: { publisher: "Microsoft.Compute", type: "JsonADDomainExtension", typeHandlerVersion: "1.3", settings: { Name: "corp.contoso.com", Restart: "true", Options: "3" } } }],
      expect: "conflict", note: "domain-joined (JsonADDomainExtension)" },
    // --- identity already there
    { sub: 0, rg: "rg-app", name: "app-ws2022-uami", image: SERVER("2022-datacenter-azure-edition"),
      identity: { type: "UserAssigned", userAssignedIdentities: { [`/subscriptions/${prod}/resourceGroups/rg-identity/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-uami`]: {} } },
      tags: users(p.bob.id), expect: "remediated", note: "user-assigned identity kept next to the system-assigned one" },
    { sub: 1, rg: "rg-ready", name: "ready-ws2022-01", image: SERVER("2022-datacenter-azure-edition"), identity: { type: "SystemAssigned" },
      extensions: [{ name: "AADLoginForWindows", body: { publisher: "Microsoft.Azure.ActiveDirectory", type: "AADLoginForWindows", typeHandlerVersion: "1.0", autoUpgradeMinorVersion: true } }],
      expect: "compliant", note: "already compliant: the owner did everything" },
    // --- access tags: good, bad, hostile, expired
    { sub: 0, rg: "rg-access", name: "acc-mixed-tags", image: SERVER("2022-datacenter-azure-edition"), tags: { ...admins(p.alice.id, p.mallory.id, "not-a-guid"), ...users(p.bob.id, p.alice.id) }, expect: "remediated", note: "mallory not allowed, a non-GUID, alice in both: rejected with reasons" },
    { sub: 0, rg: "rg-access", name: "acc-hostile-tags", image: SERVER("2019-Datacenter"), tags: { "aadlogin-admins": `<script>alert(1)</script>' OR 1=1 --;$filter=roleName eq 'Owner'`, "aadlogin-users": "Owner;Contributor" }, expect: "remediated", note: "hostile tag values: nothing granted" },
    { sub: 0, rg: "rg-access", name: "acc-case-tags", image: SERVER("2019-Datacenter"), tags: { "AADLOGIN-Admins": ` ${p.alice.id.toUpperCase()} ` }, expect: "remediated", note: "tag name and GUID in other case, with spaces" },
    { sub: 0, rg: "rg-access", name: "acc-expiring", image: SERVER("2022-datacenter-g2"), tags: { ...admins(p.alice.id), "aadlogin-expires": later }, expect: "remediated", note: "grant with a future expiry" },
    { sub: 0, rg: "rg-access", name: "acc-expired", image: SERVER("2022-datacenter-g2"), tags: { ...admins(p.alice.id), "aadlogin-expires": past },
      assignments: [{ name: "__ours__", roleGuid: ADMIN_ROLE, principalId: p.alice.id, principalType: "User" }],
      expect: "remediated", note: "expired grant: our earlier assignment is revoked" },
    { sub: 0, rg: "rg-access", name: "acc-human-grant", image: SERVER("2022-datacenter-g2"),
      assignments: [{ name: "5e1f0000-0000-4000-8000-00000000aaaa", roleGuid: ADMIN_ROLE, principalId: p.bob.id, principalType: "User", description: "granted by hand by the helpdesk" }],
      expect: "remediated", note: "a human's assignment is left alone" },
    // --- exempt, and a network that blocks the join
    { sub: 1, rg: "rg-lab", name: "lab-ws2019-exempt", image: SERVER("2019-Datacenter"), tags: { "aadlogin-exempt": "true", ...admins(p.alice.id) }, expect: "exempt", note: "opted out by tag" },
    { sub: 1, rg: "rg-lab", name: "lab-ws2022-nonet", image: SERVER("2022-datacenter-azure-edition"), simulation: { outboundNetwork: false }, expect: "failed", note: "a firewall the preflight cannot see blocks enterpriseregistration.windows.net: installed, diagnosed (-2145648607)" },
    { sub: 1, rg: "rg-lab", name: "lab-nsg-deny443", image: SERVER("2022-datacenter-azure-edition"), tags: admins(p.alice.id),
      nicRules: [{ name: "deny-entra-443", properties: { protocol: "Tcp", sourcePortRange: "*", destinationPortRange: "443", sourceAddressPrefix: "*", destinationAddressPrefix: "AzureActiveDirectory", access: "Deny", priority: 100, direction: "Outbound" } }],
      expect: "failed", note: "its NIC's security group denies outbound 443 to AzureActiveDirectory: preflight refuses the install (outbound-443-blocked), no grant" },
    { sub: 1, rg: "rg-lab", name: "lab-nsg-deny-prefix", image: SERVER("2022-datacenter-azure-edition"),
      nicRules: [{ name: "deny-entra-prefix-443", properties: { protocol: "Tcp", sourcePortRange: "*", destinationPortRange: "443", sourceAddressPrefix: "*", destinationAddressPrefix: "20.190.128.0/18", access: "Deny", priority: 100, direction: "Outbound" } }],
      expect: "failed", note: "its NIC's security group denies outbound 443 to 20.190.128.0/18 (Entra's range): the preflight cannot judge an IP prefix (network-not-verified), installs, the join fails (-2145648607)" },
    // --- the owner installed the extension before the identity: 1007, self-repaired
    { sub: 1, rg: "rg-lab", name: "lab-ws2019-1007", image: SERVER("2019-Datacenter"),
      extensions: [{ name: "AADLoginForWindows", body: { publisher: "Microsoft.Azure.ActiveDirectory", type: "AADLoginForWindows", typeHandlerVersion: "1.0" } }],
      expect: "remediated", note: "extension failed with 1007 (no identity): identity enabled, reinstalled" },
    // --- Linux (ENFORCE_LINUX=true in the demo): AADSSHLoginForLinux, the same two roles
    { sub: 0, rg: "rg-linux", name: "linux-ubuntu-01", image: UBUNTU_2204, osType: "Linux", tags: admins(p.alice.id), expect: "remediated", note: "Ubuntu 22.04, admin (sudo) by tag" },
    { sub: 1, rg: "rg-linux", name: "linux-rhel-01", image: { publisher: "RedHat", offer: "RHEL", sku: "9-lvm-gen2" }, osType: "Linux", tags: users(p.bob.id), expect: "remediated", note: "RHEL 9, user by tag" },
    { sub: 0, rg: "rg-linux", name: "linux-ubuntu-b1ls", image: UBUNTU_2204, osType: "Linux", size: "Standard_B1ls", tags: admins(p.alice.id), expect: "ineligible", note: "B1ls: 0.5 GiB, below the extension's 1 GiB (vm-size-too-small)" },
    { sub: 0, rg: "rg-linux", name: "linux-centos-7", image: { publisher: "OpenLogic", offer: "CentOS", sku: "7_9-gen2" }, osType: "Linux", expect: "ineligible", note: "CentOS 7.9: not a supported distribution (distro-unsupported)" },
    { sub: 1, rg: "rg-linux", name: "linux-ubuntu-legacy", image: UBUNTU_2204, osType: "Linux", tags: admins(p.alice.id),
      extensions: [{ name: "AADLoginForLinux", body: { publisher: "Microsoft.Azure.ActiveDirectory.LinuxSSH", type: "AADLoginForLinux", typeHandlerVersion: "1.0", autoUpgradeMinorVersion: true } }],
      expect: "conflict", note: "the deprecated AADLoginForLinux is installed (exit 23 beside it): never removed by the enforcer" },
    { sub: 1, rg: "rg-linux", name: "linux-ubuntu-exit22", image: UBUNTU_2204, osType: "Linux",
      extensions: [{ name: "AADSSHLoginForLinux", body: { publisher: "Microsoft.Azure.ActiveDirectory", type: "AADSSHLoginForLinux", typeHandlerVersion: "1.0", autoUpgradeMinorVersion: true } }],
      expect: "remediated", note: "AADSSHLoginForLinux failed with exit 22 (no identity): identity enabled, reinstalled" },
    // --- a second subscription's ordinary estate
    { sub: 1, rg: "rg-svc", name: "svc-ws2022-eastus-01", location: "eastus", image: SERVER("2022-datacenter-azure-edition"), tags: admins(p.alice.id), expect: "remediated", note: "East US" },
    { sub: 1, rg: "rg-svc", name: "svc-ws2022-eastus-02", location: "eastus", image: SERVER("2022-datacenter-azure-edition"), expect: "remediated", note: "East US" },
    { sub: 1, rg: "rg-svc", name: "svc-ws2019-japan-01", location: "japaneast", image: SERVER("2019-Datacenter"), tags: users(`${p.opsGroup.id}:Group`), expect: "remediated", note: "Japan East" },
    { sub: 1, rg: "rg-svc", name: "svc-ws2025-brazil-01", location: "brazilsouth", image: SERVER("2025-datacenter-azure-edition"), expect: "remediated", note: "Brazil South" },
  ];

  const network: FleetNetworkResource[] = [];
  const vms = specs.map((s): FleetVm => {
    const sub = subs[s.sub] as string;
    network.push(...demoNetwork(sub, s.rg, s.name, s.location ?? (s.sub === 0 ? "westeurope" : "eastus2"), s.nicRules));
    const id = `/subscriptions/${sub}/resourceGroups/${s.rg}/providers/Microsoft.Compute/virtualMachines/${s.name}`;
    const location = s.location ?? (s.sub === 0 ? "westeurope" : "eastus2");
    const body: Record<string, unknown> = {
      location,
      ...(s.tags ? { tags: s.tags } : {}),
      ...(s.identity ? { identity: s.identity } : {}),
      properties: {
        hardwareProfile: { vmSize: s.size ?? "Standard_D2s_v5" },
        storageProfile: {
          imageReference: "id" in s.image ? { id: s.image.id } : { ...s.image, version: "latest" },
          osDisk: { osType: s.osType ?? "Windows", name: `${s.name}-osdisk`, createOption: "FromImage", caching: "ReadWrite", managedDisk: { storageAccountType: "Premium_LRS" } },
        },
        osProfile: { computerName: s.name.slice(0, 15), adminUsername: "azureuser", adminPassword: "Demo-Only-Passw0rd!" },
        networkProfile: { networkInterfaces: [{ id: `/subscriptions/${sub}/resourceGroups/${s.rg}/providers/Microsoft.Network/networkInterfaces/${s.name}-nic`, properties: { primary: true } }] },
      },
    };
    return {
      id, body, expect: s.expect, note: s.note,
      ...(s.simulation ? { simulation: s.simulation } : {}),
      ...(s.extensions ? { extensions: s.extensions } : {}),
      ...(s.assignments ? { assignments: s.assignments } : {}),
    };
  });

  const groups = new Map<string, { subscriptionId: string; name: string; location: string }>();
  for (const vm of vms) {
    const parts = vm.id.split("/");
    const key = `${parts[2]}/${parts[4]}`;
    if (!groups.has(key)) groups.set(key, { subscriptionId: parts[2] ?? "", name: parts[4] ?? "", location: String(vm.body["location"]) });
  }
  const unique = new Map(network.map((n) => [n.id.toLowerCase(), n]));
  return {
    network: [...unique.values()],
    subscriptions: DEMO_SUBSCRIPTIONS,
    resourceGroups: [...groups.values()],
    principals: Object.values(p),
    owner: p.owner,
    vms,
  };
}

/**
 * A VM's network as a landing zone would have it: its resource group's virtual network with one
 * subnet whose security group holds only Azure's default rules, and the VM's NIC on it (with a group
 * of its own when `nicRules` is given). Ids follow the VM body's `networkProfile`.
 */
export function demoNetwork(sub: string, rg: string, vm: string, location: string, nicRules?: readonly Record<string, unknown>[]): FleetNetworkResource[] {
  const base = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network`;
  const subnet = `${base}/virtualNetworks/vnet-${rg}/subnets/default`;
  const subnetNsg = `${base}/networkSecurityGroups/nsg-${rg}-default`;
  const nicNsg = `${base}/networkSecurityGroups/${vm}-nsg`;
  return [
    { id: subnetNsg, location, properties: {} },
    { id: subnet, properties: { addressPrefix: "10.0.0.0/24", networkSecurityGroup: { id: subnetNsg } } },
    ...(nicRules ? [{ id: nicNsg, location, properties: { securityRules: nicRules } }] : []),
    {
      id: `${base}/networkInterfaces/${vm}-nic`,
      location,
      properties: {
        ipConfigurations: [{ name: "ipconfig1", properties: { subnet: { id: subnet }, primary: true } }],
        ...(nicRules ? { networkSecurityGroup: { id: nicNsg } } : {}),
        virtualMachine: { id: `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${vm}` },
      },
    },
  ];
}

/** Settings the demo runs with over the deployed defaults: Linux is enforced locally (ENFORCE_LINUX is off when deployed). */
export const DEMO_SETTINGS: Readonly<Record<string, string>> = { ENFORCE_LINUX: "true" };

/** The allow-list the local stack configures: every demo principal marked allowed. */
export function demoAllowedPrincipals(): string[] {
  return Object.values(DEMO_PRINCIPALS).filter((p) => p.allowed).map((p) => p.id);
}
