import { describe, expect, it } from "vitest";
import { decideEligibility, ELIGIBILITY_REASONS, type EligibilityReason } from "../../src/domain/eligibility.js";
import { cloudOfRegion, DEFAULT_POLICY, type EligibilityPolicy } from "../../src/domain/osPolicy.js";
import type { ObservedVm } from "../../src/domain/vm.js";
import { DEFAULT_LINUX_POLICY } from "../../src/domain/linuxPolicy.js";
import { exampleResponseBody, loadArmExample, observedVmFromArmJson } from "../support/armJson.js";
import { extension, windowsVm } from "./builders.js";

const server = (sku: string) => ({ publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku, version: "latest" });
const desktop = (offer: string, sku: string) => ({ publisher: "MicrosoftWindowsDesktop", offer, sku, version: "latest" });
const custom = { id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/win/versions/1.0.0" };
const domainJoin = extension({ name: "joindomain", publisher: "Microsoft.Compute", type: "JsonADDomainExtension", typeHandlerVersion: "1.3", provisioningState: "Succeeded" });

const ubuntu: Partial<ObservedVm> = { osType: "Linux", imageReference: { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2" } };
const linuxOn: Partial<EligibilityPolicy> = { linux: { ...DEFAULT_LINUX_POLICY, enforce: true } };

type Row = [label: string, vm: Partial<ObservedVm>, reason: EligibilityReason, policy?: Partial<EligibilityPolicy>];

const rows: Row[] = [
  // eligible
  ["Server 2019 Datacenter", { imageReference: server("2019-Datacenter") }, "eligible"],
  ["Server 2019 gensecond", { imageReference: server("2019-datacenter-gensecond") }, "eligible"],
  ["Server 2019 smalldisk", { imageReference: server("2019-Datacenter-smalldisk") }, "eligible"],
  ["Server 2022 azure edition", { imageReference: server("2022-datacenter-azure-edition") }, "eligible"],
  ["Server 2022 g2", { imageReference: server("2022-datacenter-g2") }, "eligible"],
  ["Server 2025 azure edition", { imageReference: server("2025-datacenter-azure-edition") }, "eligible"],
  ["Windows 10 1809 (rs5-pro)", { imageReference: desktop("Windows-10", "rs5-pro") }, "eligible"],
  ["Windows 10 19h1", { imageReference: desktop("Windows-10", "19h1-pro") }, "eligible"],
  ["Windows 10 20h2", { imageReference: desktop("Windows-10", "20h2-pro") }, "eligible"],
  ["Windows 10 21h2", { imageReference: desktop("Windows-10", "win10-21h2-pro") }, "eligible"],
  ["Windows 10 22h2", { imageReference: desktop("Windows-10", "win10-22h2-pro") }, "eligible"],
  ["Windows 10 multi-session", { imageReference: desktop("windows-10", "win10-22h2-avd") }, "eligible"],
  ["Windows 11 21h2", { imageReference: desktop("windows-11", "win11-21h2-pro") }, "eligible"],
  ["Windows 11 23h2 ent", { imageReference: desktop("windows-11", "win11-23h2-ent") }, "eligible"],
  ["Windows 11 24h2 multi-session", { imageReference: desktop("windows-11", "win11-24h2-avd") }, "eligible"],
  ["SQL Server on Windows Server 2022", { imageReference: { publisher: "MicrosoftSQLServer", offer: "sql2022-ws2022", sku: "enterprise-gen2" } }, "eligible"],
  ["custom image, agent reports Server 2022", { imageReference: custom, agentOsName: "Windows Server 2022 Datacenter", agentOsVersion: "10.0.20348.2340" }, "eligible"],
  ["custom image, agent reports Windows 11 as 'Windows 10'", { imageReference: custom, agentOsName: "Windows 10 Enterprise", agentOsVersion: "10.0.22631.1" }, "eligible"],
  ["no osType but agent reports Windows", { osType: undefined, imageReference: custom, agentOsName: "Windows Server 2019 Datacenter", agentOsVersion: "10.0.17763.1" }, "eligible"],
  ["display-name location", { location: "West Europe" }, "eligible"],
  ["power state with its prefix", { powerState: "PowerState/running" }, "eligible"],
  ["in-place upgraded 2016 → 2022 (agent wins over the image)", { imageReference: server("2016-Datacenter"), agentOsName: "Windows Server 2022 Datacenter", agentOsVersion: "10.0.20348.1" }, "eligible"],
  ["exempt tag set but exemptions not allowed", { tags: { "aadlogin-exempt": "true" } }, "eligible", { allowExemptions: false }],
  ["exempt tag false", { tags: { "aadlogin-exempt": "false" } }, "eligible"],
  ["exempt tag with another value", { tags: { "aadlogin-exempt": "yes please" } }, "eligible"],
  ["exempt tag spelled twice, only one says true", { tags: { "aadlogin-exempt": "true", "AADLOGIN-EXEMPT": "false" } }, "eligible"],
  ["Server Core allowed by policy", { imageReference: server("2019-datacenter-core-smalldisk") }, "eligible", { allowServerCore: true }],
  ["arm64 allowed by policy", { vmSize: "Standard_D2ps_v5", imageReference: desktop("windows11preview-arm64", "win11-24h2-pro") }, "eligible", { allowArm64: true }],
  ["Government cloud allowed by policy", { location: "usgovvirginia" }, "eligible", { allowedClouds: ["AzureCloud", "AzureUSGovernment"] }],
  ["China cloud allowed by policy", { location: "chinaeast2" }, "eligible", { allowedClouds: ["AzureChinaCloud"] }],
  ["Server 2016 with a lowered policy", { imageReference: server("2016-Datacenter") }, "eligible", { minServerRelease: 2016 }],
  ["Windows 10 1803 with a lowered client build", { imageReference: desktop("Windows-10", "rs4-pro") }, "eligible", { minClientBuild: 17134 }],

  // exempt
  ["exempt tag true", { tags: { "aadlogin-exempt": "true" } }, "exempt-by-tag"],
  ["exempt tag TRUE, name in other case", { tags: { "AADLogin-Exempt": " TRUE " } }, "exempt-by-tag"],
  ["custom exempt tag", { tags: { "no-aad": "true" } }, "exempt-by-tag", { exemptTag: "no-aad" }],

  // not Windows
  ["osType Linux", { osType: "Linux", imageReference: { publisher: "Canonical", offer: "ubuntu-24_04-lts", sku: "server" } }, "not-windows"],
  ["osType Linux with no image", { osType: "Linux", imageReference: undefined }, "not-windows"],
  ["Linux publisher without osType", { osType: undefined, imageReference: { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2" } }, "not-a-windows-image"],
  ["RedHat publisher", { osType: undefined, imageReference: { publisher: "RedHat", offer: "RHEL", sku: "9-lvm-gen2" } }, "not-a-windows-image"],
  ["agent reports Linux", { osType: undefined, imageReference: custom, agentOsName: "ubuntu", agentOsVersion: "22.04" }, "not-windows"],

  // conflict
  ["domain-joined", { extensions: [domainJoin] }, "domain-joined"],
  ["domain-joined, instance-view type spelling", { extensions: [extension({ name: "adjoin", type: "Microsoft.Compute.JsonADDomainExtension" })] }, "domain-joined"],

  // deferred: OS unknown
  ["custom image, agent silent", { imageReference: custom }, "os-unknown-agent-not-reporting"],
  ["shared gallery image, agent silent", { imageReference: { sharedGalleryImageId: "/SharedGalleries/x/Images/y/Versions/latest" } }, "os-unknown-agent-not-reporting"],
  ["no image reference at all (attached disk), agent silent", { imageReference: undefined }, "os-unknown-agent-not-reporting"],
  ["marketplace sku this table cannot place, agent silent", { imageReference: server("Datacenter-gs") }, "os-unknown-agent-not-reporting"],
  ["custom image, agent reports an unplaceable Windows", { imageReference: custom, agentOsName: "Windows", agentOsVersion: "10.0.1.1" }, "os-unrecognized"],

  // ineligible: OS
  ["Server 2016", { imageReference: server("2016-Datacenter") }, "os-version-below-policy"],
  ["Server 2012 R2", { imageReference: server("2012-R2-Datacenter") }, "os-version-below-policy"],
  ["Windows 10 1803 (rs4-pro)", { imageReference: desktop("Windows-10", "rs4-pro") }, "os-version-below-policy"],
  ["Windows 10 1803 (1803-pro)", { imageReference: desktop("Windows-10", "1803-pro") }, "os-version-below-policy"],
  ["Windows 7", { imageReference: desktop("Windows-7", "win7-enterprise") }, "os-version-below-policy"],
  ["custom image, agent reports Windows 10 1803", { imageReference: custom, agentOsName: "Windows 10 Enterprise", agentOsVersion: "10.0.17134" }, "os-version-below-policy"],
  ["custom image, agent reports Server 2016", { imageReference: custom, agentOsName: "Windows Server 2016 Datacenter", agentOsVersion: "Microsoft Windows NT 10.0.14393.0" }, "os-version-below-policy"],
  ["Server 2022 with a raised policy", { imageReference: server("2022-datacenter-g2") }, "os-version-below-policy", { minServerRelease: 2025 }],
  ["Windows 10 22h2 with a raised client build", { imageReference: desktop("Windows-10", "win10-22h2-pro") }, "os-version-below-policy", { minClientBuild: 22000 }],
  ["semi-annual 1709 server", { imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServerSemiAnnual", sku: "Datacenter-Core-1709-smalldisk" } }, "os-version-below-policy"],
  ["Server Core 2019", { imageReference: server("2019-datacenter-core-smalldisk") }, "server-core"],
  ["Server Core 2022 azure edition", { imageReference: server("2022-datacenter-azure-edition-core") }, "server-core"],
  ["Server Core by agent name", { imageReference: custom, agentOsName: "Windows Server 2019 Datacenter Core", agentOsVersion: "10.0.17763.1" }, "server-core"],
  ["Server Core image, agent name without Core", { imageReference: server("2022-datacenter-core-g2"), agentOsName: "Windows Server 2022 Datacenter", agentOsVersion: "10.0.20348.1" }, "server-core"],
  ["arm64 size", { vmSize: "Standard_D2ps_v5" }, "arm64"],
  ["arm64 size (Epdsv5)", { vmSize: "Standard_E4pds_v5" }, "arm64"],
  ["arm64 size (Dplsv6)", { vmSize: "Standard_D2pls_v6" }, "arm64"],
  ["arm64 image", { imageReference: desktop("windows11preview-arm64", "win11-24h2-pro") }, "arm64"],

  // ineligible: cloud and region
  ["Azure Government", { location: "usgovvirginia" }, "cloud-not-allowed"],
  ["Azure Government DoD", { location: "usdodeast" }, "cloud-not-allowed"],
  ["Azure China", { location: "chinaeast2" }, "cloud-not-allowed"],
  ["Azure China, display name", { location: "China North 3" }, "cloud-not-allowed"],
  ["global region, only Government allowed", { location: "westeurope" }, "cloud-not-allowed", { allowedClouds: ["AzureUSGovernment"] }],
  ["denied region", { location: "westeurope" }, "region-denied", { deniedRegions: ["westeurope"] }],
  ["denied region, display name", { location: "West Europe" }, "region-denied", { deniedRegions: ["westeurope"] }],

  // deferred: power and provisioning
  ["deallocated", { powerState: "deallocated" }, "vm-not-running"],
  ["stopped", { powerState: "stopped" }, "vm-not-running"],
  ["starting", { powerState: "starting" }, "vm-not-running"],
  ["no power state, creating", { powerState: undefined, provisioningState: "Creating" }, "power-state-unknown"],
  ["no power state, succeeded", { powerState: undefined }, "power-state-unknown"],
  ["deleting", { provisioningState: "Deleting" }, "vm-deleting"],

  // Linux, with ENFORCE_LINUX on (the full table is test/domain/linuxPolicy.test.ts)
  ["Linux: legacy AADLoginForLinux", { ...ubuntu, extensions: [extension({ name: "AADLoginForLinux", publisher: "Microsoft.Azure.ActiveDirectory.LinuxSSH", type: "AADLoginForLinux" })] }, "legacy-linux-extension", linuxOn],
  ["Linux: CentOS 7.9", { ...ubuntu, imageReference: { publisher: "OpenLogic", offer: "CentOS", sku: "7_9" } }, "distro-unsupported", linuxOn],
  ["Linux: Ubuntu 14.04", { ...ubuntu, imageReference: { publisher: "Canonical", offer: "UbuntuServer", sku: "14.04.5-LTS" } }, "distro-version-below-policy", linuxOn],
  ["Linux: B1ls (0.5 GiB)", { ...ubuntu, vmSize: "Standard_B1ls" }, "vm-size-too-small", linuxOn],
];

describe("decideEligibility", () => {
  it.each(rows)("%s → %s", (_label, overrides, reason, policy) => {
    const vm = windowsVm(overrides);
    const decision = decideEligibility(vm, { ...DEFAULT_POLICY, ...policy });
    expect(decision.reason).toBe(reason);
    expect(decision.verdict).toBe(ELIGIBILITY_REASONS[reason]);
    expect(decision.message).toContain(vm.name);
  });

  it("covers every reason code in the table above", () => {
    const covered = new Set(rows.map((r) => r[2]));
    expect([...covered].sort()).toEqual(Object.keys(ELIGIBILITY_REASONS).sort());
  });

  it("reports the OS it decided on, and where it came from", () => {
    expect(decideEligibility(windowsVm({ imageReference: server("2019-Datacenter") }), DEFAULT_POLICY).os).toMatchObject({ family: "server", release: "2019", build: 17763, source: "image" });
    expect(
      decideEligibility(windowsVm({ imageReference: custom, agentOsName: "Windows 10 Pro", agentOsVersion: "10.0.19045.1" }), DEFAULT_POLICY).os,
    ).toMatchObject({ family: "client", release: "10", version: "22h2", build: 19045, source: "agent" });
  });

  it("says what to do in its messages", () => {
    const old = decideEligibility(windowsVm({ imageReference: server("2016-Datacenter") }), DEFAULT_POLICY);
    expect(old.message).toMatch(/Windows Server 2016/);
    expect(old.message).toMatch(/2019 or later/);
    expect(old.message).toMatch(/Upgrade|aadlogin-exempt/);
    const joined = decideEligibility(windowsVm({ extensions: [domainJoin] }), DEFAULT_POLICY);
    expect(joined.message).toContain("joindomain");
    expect(decideEligibility(windowsVm({ powerState: "deallocated" }), DEFAULT_POLICY).message).toMatch(/deallocated.*runs/);
  });

  it("quotes a hostile agent report instead of echoing it raw", () => {
    const decision = decideEligibility(windowsVm({ imageReference: custom, agentOsName: `Windows <script>\u0000${"x".repeat(500)}`, agentOsVersion: "?" }), DEFAULT_POLICY);
    expect(decision.reason).toBe("os-unrecognized");
    expect(decision.message).not.toContain("\u0000");
    expect(decision.message.length).toBeLessThan(400);
  });
});

describe("decideEligibility: order of checks", () => {
  // Each row breaks several rules at once; the first rule in the documented order decides.
  const everythingWrong: Partial<ObservedVm> = {
    tags: { "aadlogin-exempt": "true" },
    osType: "Linux",
    extensions: [domainJoin],
    imageReference: server("2016-Datacenter"),
    vmSize: "Standard_D2ps_v5",
    location: "usgovvirginia",
    powerState: "deallocated",
  };
  it.each<[string, Partial<ObservedVm>, EligibilityReason]>([
    ["1. exempt beats everything", everythingWrong, "exempt-by-tag"],
    ["2. not Windows beats domain-joined", { ...everythingWrong, tags: {} }, "not-windows"],
    ["3. domain-joined beats an old OS", { ...everythingWrong, tags: {}, osType: "Windows" }, "domain-joined"],
    ["3. domain-joined beats an unknown OS", { tags: {}, extensions: [domainJoin], imageReference: custom }, "domain-joined"],
    ["4. unknown OS beats arm64, cloud and power", { tags: {}, imageReference: custom, vmSize: "Standard_D2ps_v5", location: "usgovvirginia", powerState: "deallocated" }, "os-unknown-agent-not-reporting"],
    ["5. OS version beats Server Core", { imageReference: server("2016-Datacenter-Core") }, "os-version-below-policy"],
    ["5. OS version beats arm64, cloud and power", { ...everythingWrong, tags: {}, osType: "Windows", extensions: [] }, "os-version-below-policy"],
    ["5. Server Core beats arm64", { imageReference: server("2019-datacenter-core"), vmSize: "Standard_D2ps_v5" }, "server-core"],
    ["5. arm64 beats cloud", { vmSize: "Standard_D2ps_v5", location: "usgovvirginia" }, "arm64"],
    ["6. cloud beats power", { location: "chinaeast2", powerState: "deallocated" }, "cloud-not-allowed"],
    ["6. denied region beats power", { location: "westeurope", powerState: "stopped" }, "region-denied"],
    ["7. deleting beats no power state", { location: "northeurope", provisioningState: "Deleting", powerState: undefined }, "vm-deleting"],
  ])("%s", (_label, overrides, reason) => {
    expect(decideEligibility(windowsVm(overrides), { ...DEFAULT_POLICY, deniedRegions: ["westeurope"] }).reason).toBe(reason);
  });
});

describe("decideEligibility on the official ARM examples", () => {
  it("VirtualMachine_Get.json (Windows Server 2016) is ineligible", () => {
    const vm = observedVmFromArmJson(exampleResponseBody(loadArmExample("compute/VirtualMachine_Get.json")));
    expect(vm.location).toBe("West US");
    const decision = decideEligibility(vm, DEFAULT_POLICY);
    expect(decision).toMatchObject({ verdict: "ineligible", reason: "os-version-below-policy", os: { family: "server", release: "2016", source: "image" } });
  });

  it("VirtualMachine_Get.json with the InstanceView example (agent: Server 2016, running) is still ineligible", () => {
    const body = exampleResponseBody(loadArmExample("compute/VirtualMachine_Get.json"));
    const view = exampleResponseBody(loadArmExample("compute/VirtualMachine_Get_InstanceView.json"));
    const vm = observedVmFromArmJson(body, view);
    expect(vm).toMatchObject({ powerState: "running", agentOsName: "Windows Server 2016 Datacenter", agentOsVersion: "Microsoft Windows NT 10.0.14393.0" });
    expect(decideEligibility(vm, DEFAULT_POLICY)).toMatchObject({ reason: "os-version-below-policy", os: { build: 14393, source: "agent" } });
  });

  it("VirtualMachine_Create_WithEncryptionIdentity.json (Server 2019, still creating) is deferred, then eligible once running", () => {
    const vm = observedVmFromArmJson(exampleResponseBody(loadArmExample("compute/VirtualMachine_Create_WithEncryptionIdentity.json")));
    expect(decideEligibility(vm, DEFAULT_POLICY)).toMatchObject({ verdict: "deferred", reason: "power-state-unknown", os: { release: "2019" } });
    expect(decideEligibility({ ...vm, powerState: "running" }, DEFAULT_POLICY).verdict).toBe("eligible");
  });

  it("VirtualMachine_Create_WithPasswordAuthentication.json (2016-Datacenter) is ineligible", () => {
    const vm = observedVmFromArmJson(exampleResponseBody(loadArmExample("compute/VirtualMachine_Create_WithPasswordAuthentication.json"), "201"));
    expect(decideEligibility(vm, DEFAULT_POLICY).reason).toBe("os-version-below-policy");
  });

  it("VirtualMachine_Update_DetachDataDiskUsingToBeDetachedProperty.json (PATCH response, 2016, updating) is ineligible", () => {
    const vm = observedVmFromArmJson(exampleResponseBody(loadArmExample("compute/VirtualMachine_Update_DetachDataDiskUsingToBeDetachedProperty.json")));
    expect(vm.provisioningState).toBe("Updating");
    expect(decideEligibility(vm, DEFAULT_POLICY).reason).toBe("os-version-below-policy");
  });

  it("VirtualMachine_ListAll_MaximumSet_Gen.json items (reference with both an image id and a sku) wait for the agent", () => {
    const list = exampleResponseBody(loadArmExample("compute/VirtualMachine_ListAll_MaximumSet_Gen.json"));
    const items = (list["value"] as Record<string, unknown>[]).map((item) => observedVmFromArmJson(item));
    expect(items.length).toBeGreaterThan(0);
    for (const vm of items) expect(decideEligibility(vm, DEFAULT_POLICY).reason).toBe("os-unknown-agent-not-reporting");
  });
});

describe("cloudOfRegion", () => {
  it.each([
    ["westeurope", "AzureCloud"],
    ["West Europe", "AzureCloud"],
    ["eastus2euap", "AzureCloud"],
    ["", "AzureCloud"],
    ["usgovvirginia", "AzureUSGovernment"],
    ["USGov Arizona", "AzureUSGovernment"],
    ["usgovtexas", "AzureUSGovernment"],
    ["usdodeast", "AzureUSGovernment"],
    ["usdodcentral", "AzureUSGovernment"],
    ["chinaeast2", "AzureChinaCloud"],
    ["China North 3", "AzureChinaCloud"],
    ["chinanorth", "AzureChinaCloud"],
  ])("%s → %s", (region, cloud) => {
    expect(cloudOfRegion(region)).toBe(cloud);
  });
});
