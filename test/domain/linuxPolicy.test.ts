import { describe, expect, it } from "vitest";
import { decideEligibility, describeEligibilityOs, ELIGIBILITY_REASONS, type EligibilityReason } from "../../src/domain/eligibility.js";
import { diagnoseExtension } from "../../src/domain/diagnosis.js";
import {
  DEFAULT_LINUX_POLICY,
  judgeVersion,
  linuxFromAgent,
  linuxFromImage,
  memoryOfSize,
  SUPPORTED_LINUX_DISTROS,
  type LinuxOsInfo,
} from "../../src/domain/linuxPolicy.js";
import { DEFAULT_POLICY, type EligibilityPolicy } from "../../src/domain/osPolicy.js";
import { extensionStatus, findLoginExtension, linuxExtensionPolicy, loginExtensionFor, loginExtensionTypes, planActions, extensionPolicy } from "../../src/domain/plan.js";
import { operationInFlight } from "../../src/domain/progress.js";
import type { ObservedVm } from "../../src/domain/vm.js";
import { extension, failedStatus, windowsVm } from "./builders.js";

const ON: EligibilityPolicy = { ...DEFAULT_POLICY, linux: { ...DEFAULT_LINUX_POLICY, enforce: true } };
const OFF: EligibilityPolicy = DEFAULT_POLICY;

const img = (publisher: string, offer: string, sku: string) => ({ publisher, offer, sku, version: "latest" });
const UBUNTU_2204 = img("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2");
const custom = { id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/linux/versions/1.0.0" };

/** A running Ubuntu 22.04 VM from the marketplace, in westeurope, with no identity. */
function linuxVm(overrides: Partial<ObservedVm> = {}): ObservedVm {
  return windowsVm({ name: "vm-linux-01", osType: "Linux", imageReference: UBUNTU_2204, ...overrides });
}

const legacy = extension({ name: "AADLoginForLinux", publisher: "Microsoft.Azure.ActiveDirectory.LinuxSSH", type: "AADLoginForLinux", typeHandlerVersion: "1.0", provisioningState: "Succeeded" });
const sshLogin = (provisioningState: string, statuses = [] as ReturnType<typeof failedStatus>[]) =>
  extension({ name: "AADSSHLoginForLinux", publisher: "Microsoft.Azure.ActiveDirectory", type: "AADSSHLoginForLinux", typeHandlerVersion: "1.0", provisioningState, statuses });

describe("Linux distribution from a marketplace image (publisher/offer/sku)", () => {
  const rows: [string, ReturnType<typeof img>, Pick<LinuxOsInfo, "distro" | "version"> | undefined][] = [
    ["Ubuntu 22.04 (jammy offer, 22_04 sku)", UBUNTU_2204, { distro: "ubuntu", version: { major: 22, minor: 4 } }],
    ["Ubuntu 18.04 (UbuntuServer/18.04-LTS)", img("Canonical", "UbuntuServer", "18.04-LTS"), { distro: "ubuntu", version: { major: 18, minor: 4 } }],
    ["Ubuntu 24.04 (ubuntu-24_04-lts/server)", img("Canonical", "ubuntu-24_04-lts", "server"), { distro: "ubuntu", version: { major: 24, minor: 4 } }],
    ["Ubuntu 20.04 by codename only", img("Canonical", "0001-com-ubuntu-server-focal", "gen2"), { distro: "ubuntu", version: { major: 20, minor: 4 } }],
    ["Ubuntu 14.04", img("Canonical", "UbuntuServer", "14.04.5-LTS"), { distro: "ubuntu", version: { major: 14, minor: 4 } }],
    ["RHEL 9 (major only)", img("RedHat", "RHEL", "9-lvm-gen2"), { distro: "rhel", version: { major: 9 } }],
    ["RHEL 8.6 packed sku", img("RedHat", "RHEL", "86-gen2"), { distro: "rhel", version: { major: 8, minor: 6 } }],
    ["RHEL 8.10 packed sku", img("RedHat", "RHEL", "810-gen2"), { distro: "rhel", version: { major: 8, minor: 10 } }],
    ["RHEL 7.9 underscore", img("RedHat", "RHEL", "7_9"), { distro: "rhel", version: { major: 7, minor: 9 } }],
    ["RHEL 7.2 dotted", img("RedHat", "RHEL", "7.2"), { distro: "rhel", version: { major: 7, minor: 2 } }],
    ["CentOS 7.9 (OpenLogic)", img("OpenLogic", "CentOS", "7_9-gen2"), { distro: "centos", version: { major: 7, minor: 9 } }],
    ["AlmaLinux 9", img("almalinux", "almalinux-x86_64", "9-gen2"), { distro: "almalinux", version: { major: 9 } }],
    ["Rocky 8", img("resf", "rockylinux-x86_64", "8-base"), { distro: "rocky", version: { major: 8 } }],
    ["Oracle Linux 9.4", img("Oracle", "Oracle-Linux", "ol94-lvm-gen2"), { distro: "oracle", version: { major: 9, minor: 4 } }],
    ["Debian 12", img("Debian", "debian-12", "12-gen2"), { distro: "debian", version: { major: 12 } }],
    ["Debian 8 (credativ)", img("credativ", "Debian", "8"), { distro: "debian", version: { major: 8 } }],
    ["SLES 15 SP5", img("SUSE", "sles-15-sp5", "gen2"), { distro: "sles", version: { major: 15, minor: 5 } }],
    ["SLES 12 SP5 BYOS", img("SUSE", "sles-12-sp5-byos", "gen2"), { distro: "sles", version: { major: 12, minor: 5 } }],
    ["openSUSE Leap 15.5", img("SUSE", "opensuse-leap-15-5", "gen2"), { distro: "opensuse", version: { major: 15, minor: 5 } }],
    ["CBL-Mariner 2", img("MicrosoftCBLMariner", "cbl-mariner", "cbl-mariner-2-gen2"), { distro: "azurelinux", version: { major: 2 } }],
    ["Azure Linux 3", img("MicrosoftCBLMariner", "azure-linux-3", "azure-linux-3-gen2"), { distro: "azurelinux", version: { major: 3 } }],
    ["Flatcar", img("kinvolk", "flatcar-container-linux-free", "stable-gen2"), { distro: "flatcar", version: undefined }],
    ["a Windows image is not Linux", img("MicrosoftWindowsServer", "WindowsServer", "2022-datacenter"), undefined],
    ["an unknown publisher", img("contoso", "appliance", "v3"), undefined],
  ];
  it.each(rows)("%s", (_label, ref, expected) => {
    const os = linuxFromImage(ref);
    if (!expected) return expect(os).toBeUndefined();
    expect(os?.distro).toBe(expected.distro);
    expect(os?.version).toEqual(expected.version);
    expect(os?.source).toBe("image");
  });

  it("a custom or gallery image says nothing", () => {
    expect(linuxFromImage(custom)).toBeUndefined();
  });
});

describe("Linux distribution from the VM agent's osName/osVersion (custom images)", () => {
  const rows: [string, string, string, ReturnType<typeof linuxFromAgent>][] = [
    ["ubuntu 22.04", "ubuntu", "22.04", { kind: "linux", os: { distro: "ubuntu", version: { major: 22, minor: 4 }, source: "agent" } }],
    ["rhel 9.4", "rhel", "9.4", { kind: "linux", os: { distro: "rhel", version: { major: 9, minor: 4 }, source: "agent" } }],
    ["redhat 8.2", "redhat", "8.2", { kind: "linux", os: { distro: "rhel", version: { major: 8, minor: 2 }, source: "agent" } }],
    ["centos 7.9.2009", "centos", "7.9.2009", { kind: "linux", os: { distro: "centos", version: { major: 7, minor: 9 }, source: "agent" } }],
    ["debian 12", "debian", "12", { kind: "linux", os: { distro: "debian", version: { major: 12 }, source: "agent" } }],
    ["sles 15.5", "sles", "15.5", { kind: "linux", os: { distro: "sles", version: { major: 15, minor: 5 }, source: "agent" } }],
    ["opensuse-leap 15.6", "opensuse-leap", "15.6", { kind: "linux", os: { distro: "opensuse", version: { major: 15, minor: 6 }, source: "agent" } }],
    ["mariner 2.0", "mariner", "2.0", { kind: "linux", os: { distro: "azurelinux", version: { major: 2, minor: 0 }, source: "agent" } }],
    ["ol 8.10", "ol", "8.10", { kind: "linux", os: { distro: "oracle", version: { major: 8, minor: 10 }, source: "agent" } }],
    ["Windows is not Linux", "Windows Server 2022 Datacenter", "10.0.20348.1", { kind: "windows" }],
    ["gentoo is not placed", "gentoo", "2.15", { kind: "unrecognized" }],
  ];
  it.each(rows)("%s", (_label, name, version, expected) => {
    expect(linuxFromAgent(name, version)).toEqual(expected);
  });
  it("silent agent → undefined", () => expect(linuxFromAgent(undefined, undefined)).toBeUndefined());
});

describe("version ranges (Microsoft's table, ms.date 03/07/2025)", () => {
  const rows: [string, keyof typeof SUPPORTED_LINUX_DISTROS, { major: number; minor?: number }, ReturnType<typeof judgeVersion>][] = [
    ["Ubuntu 16.04 (the oldest listed)", "ubuntu", { major: 16, minor: 4 }, "supported"],
    ["Ubuntu 14.04", "ubuntu", { major: 14, minor: 4 }, "below"],
    ["Ubuntu 24.04", "ubuntu", { major: 24, minor: 4 }, "supported"],
    ["RHEL 7.3", "rhel", { major: 7, minor: 3 }, "below"],
    ["RHEL 7.4", "rhel", { major: 7, minor: 4 }, "supported"],
    ["RHEL 8.2 (8.3+ only)", "rhel", { major: 8, minor: 2 }, "below"],
    ["RHEL 8.3", "rhel", { major: 8, minor: 3 }, "supported"],
    ["RHEL 8, minor unknown: undecided", "rhel", { major: 8 }, "undecided"],
    ["RHEL 9, minor unknown: every 9.x is supported", "rhel", { major: 9 }, "supported"],
    ["RHEL 6", "rhel", { major: 6 }, "below"],
    ["Debian 8", "debian", { major: 8 }, "below"],
    ["Debian 9", "debian", { major: 9 }, "supported"],
    ["SLES 15 (SP0)", "sles", { major: 15, minor: 0 }, "below"],
    ["SLES 15 SP1", "sles", { major: 15, minor: 1 }, "supported"],
    ["SLES 12 SP5", "sles", { major: 12, minor: 5 }, "supported"],
    ["SLES 11", "sles", { major: 11, minor: 4 }, "below"],
    ["AlmaLinux 7 does not exist, 8 does", "almalinux", { major: 8 }, "supported"],
    ["Azure Linux 1 (CBL-Mariner 1.0)", "azurelinux", { major: 1, minor: 0 }, "below"],
  ];
  it.each(rows)("%s", (_label, distro, version, expected) => {
    expect(judgeVersion(version, SUPPORTED_LINUX_DISTROS[distro]!)).toBe(expected);
  });
});

describe("VM size memory: known small sizes only", () => {
  it.each([
    ["Standard_B1ls", 0.5],
    ["standard_b1s", 1],
    ["Standard_A0", 0.75],
    ["Standard_D2s_v5", 8],
    ["Standard_M416ms_v2", undefined],
    ["", undefined],
  ] as const)("%s → %s GiB", (size, gib) => expect(memoryOfSize(size)).toBe(gib));
});

type Row = [label: string, vm: Partial<ObservedVm>, reason: EligibilityReason, policy?: EligibilityPolicy];

describe("eligibility of Linux VMs", () => {
  const rows: Row[] = [
    // enforcement off: exactly as before
    ["off: Ubuntu with osType Linux → not-windows", {}, "not-windows", OFF],
    ["off: Linux publisher without osType → not-a-windows-image", { osType: undefined }, "not-a-windows-image", OFF],
    ["off: agent reports Linux → not-windows", { osType: undefined, imageReference: custom, agentOsName: "ubuntu", agentOsVersion: "22.04" }, "not-windows", OFF],
    // eligible
    ["Ubuntu 22.04", {}, "eligible"],
    ["Ubuntu 24.04", { imageReference: img("Canonical", "ubuntu-24_04-lts", "server") }, "eligible"],
    ["RHEL 9 (major-only sku)", { imageReference: img("RedHat", "RHEL", "9-lvm-gen2") }, "eligible"],
    ["RHEL 7.9", { imageReference: img("RedHat", "RHEL", "7_9") }, "eligible"],
    ["Debian 12", { imageReference: img("Debian", "debian-12", "12-gen2") }, "eligible"],
    ["SLES 15 SP5", { imageReference: img("SUSE", "sles-15-sp5", "gen2") }, "eligible"],
    ["Azure Linux 3", { imageReference: img("MicrosoftCBLMariner", "azure-linux-3", "azure-linux-3-gen2") }, "eligible"],
    ["custom image, agent reports rhel 8.6", { imageReference: custom, agentOsName: "rhel", agentOsVersion: "8.6" }, "eligible"],
    ["no osType, Linux publisher", { osType: undefined }, "eligible"],
    ["B1s (1 GiB: exactly the minimum)", { vmSize: "Standard_B1s" }, "eligible"],
    ["unknown size is not refused", { vmSize: "Standard_X99_unknown" }, "eligible"],
    ["Azure Government region allowed by policy", { location: "usgovvirginia" }, "eligible", { ...ON, allowedClouds: ["AzureCloud", "AzureUSGovernment"] }],
    ["agent wins over the image (RHEL 8.2 image upgraded to 8.8)", { imageReference: img("RedHat", "RHEL", "8.2"), agentOsName: "rhel", agentOsVersion: "8.8" }, "eligible"],
    ["the image's minor completes an agent without a version", { imageReference: img("RedHat", "RHEL", "8_6"), agentOsName: "rhel", agentOsVersion: "" }, "eligible"],
    // exempt first
    ["exempt beats everything", { tags: { "aadlogin-exempt": "true" }, extensions: [legacy], vmSize: "Standard_B1ls" }, "exempt-by-tag"],
    // conflict
    ["legacy AADLoginForLinux present", { extensions: [legacy] }, "legacy-linux-extension"],
    ["legacy extension beats an unsupported distro", { extensions: [legacy], imageReference: img("OpenLogic", "CentOS", "7_9") }, "legacy-linux-extension"],
    // distribution
    ["CentOS 7.9 (no longer listed)", { imageReference: img("OpenLogic", "CentOS", "7_9-gen2") }, "distro-unsupported"],
    ["Flatcar", { imageReference: img("kinvolk", "flatcar-container-linux-free", "stable-gen2") }, "distro-unsupported"],
    ["Ubuntu 14.04", { imageReference: img("Canonical", "UbuntuServer", "14.04.5-LTS") }, "distro-version-below-policy"],
    ["RHEL 8.2", { imageReference: img("RedHat", "RHEL", "8.2") }, "distro-version-below-policy"],
    ["Debian 8", { imageReference: img("credativ", "Debian", "8") }, "distro-version-below-policy"],
    ["custom image, agent reports centos", { imageReference: custom, agentOsName: "centos", agentOsVersion: "7.9.2009" }, "distro-unsupported"],
    ["distro checks come before power (a deallocated CentOS is ineligible)", { imageReference: img("OpenLogic", "CentOS", "7_9"), powerState: "deallocated" }, "distro-unsupported"],
    // deferred
    ["custom image, agent silent", { imageReference: custom }, "os-unknown-agent-not-reporting"],
    ["RHEL 8 major-only, agent silent: the minor decides", { imageReference: img("RedHat", "RHEL", "8-lvm-gen2") }, "os-unknown-agent-not-reporting"],
    ["agent reports a distribution the policy cannot place", { imageReference: custom, agentOsName: "gentoo", agentOsVersion: "2.15" }, "os-unrecognized"],
    // size, architecture
    ["B1ls (0.5 GiB)", { vmSize: "Standard_B1ls" }, "vm-size-too-small"],
    ["A0 (0.75 GiB)", { vmSize: "Standard_A0" }, "vm-size-too-small"],
    ["arm64 size", { vmSize: "Standard_D2ps_v5" }, "arm64"],
    ["arm64 image", { imageReference: img("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-arm64") }, "arm64"],
    ["arm64 allowed by policy", { vmSize: "Standard_D2ps_v5" }, "eligible", { ...ON, linux: { ...DEFAULT_LINUX_POLICY, enforce: true, allowArm64: true } }],
    ["memory minimum raised by policy", { vmSize: "Standard_B1s" }, "vm-size-too-small", { ...ON, linux: { ...DEFAULT_LINUX_POLICY, enforce: true, minMemoryGiB: 2 } }],
    // place and power, shared with Windows
    ["Azure China by default", { location: "chinaeast2" }, "cloud-not-allowed"],
    ["denied region", { location: "westeurope" }, "region-denied", { ...ON, deniedRegions: ["westeurope"] }],
    ["deallocated", { powerState: "deallocated" }, "vm-not-running"],
    ["deleting", { provisioningState: "Deleting" }, "vm-deleting"],
    ["no power state yet", { powerState: undefined }, "power-state-unknown"],
  ];

  it.each(rows)("%s → %s", (_label, overrides, reason, policy = ON) => {
    const decision = decideEligibility(linuxVm(overrides), policy);
    expect(decision.reason).toBe(reason);
    expect(decision.verdict).toBe(ELIGIBILITY_REASONS[reason]);
    expect(decision.message).toContain("vm-linux-01");
  });

  it("Windows VMs decide exactly as before with Linux enforcement on", () => {
    for (const vm of [windowsVm(), windowsVm({ imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2016-Datacenter" } })]) {
      expect(decideEligibility(vm, ON)).toEqual(decideEligibility(vm, OFF));
    }
  });

  it("messages name the fact and what to do", () => {
    expect(decideEligibility(linuxVm({ vmSize: "Standard_B1ls" }), ON).message).toMatch(/Standard_B1ls.*0\.5 GiB.*at least 1 GiB.*Resize/);
    expect(decideEligibility(linuxVm({ imageReference: img("RedHat", "RHEL", "8.2") }), ON).message).toMatch(/Red Hat Enterprise Linux 8\.2.*7\.4 to 7\.9, 8\.3 and later/);
    expect(decideEligibility(linuxVm({ extensions: [legacy] }), ON).message).toMatch(/AADLoginForLinux.*exit code 23.*never removes/);
    expect(describeEligibilityOs(decideEligibility(linuxVm(), ON))).toBe("Ubuntu 22.04");
  });

  it("every new reason has a verdict and existing ones keep theirs", () => {
    expect(ELIGIBILITY_REASONS["legacy-linux-extension"]).toBe("conflict");
    expect(ELIGIBILITY_REASONS["distro-unsupported"]).toBe("ineligible");
    expect(ELIGIBILITY_REASONS["distro-version-below-policy"]).toBe("ineligible");
    expect(ELIGIBILITY_REASONS["vm-size-too-small"]).toBe("ineligible");
    expect(ELIGIBILITY_REASONS["not-windows"]).toBe("ineligible");
  });
});

describe("the login extension per OS", () => {
  const policies = { eligibility: ON, extension: extensionPolicy("1.0") };

  it("Linux VMs get AADSSHLoginForLinux only with enforcement on", () => {
    expect(loginExtensionFor(linuxVm(), policies).type).toBe("AADSSHLoginForLinux");
    expect(loginExtensionFor(linuxVm(), { ...policies, eligibility: OFF }).type).toBe("AADLoginForWindows");
    expect(loginExtensionFor(windowsVm(), policies).type).toBe("AADLoginForWindows");
    expect(loginExtensionTypes(policies)).toEqual(["AADLoginForWindows", "AADSSHLoginForLinux", "AADLoginForLinux"]);
    expect(loginExtensionTypes({ ...policies, eligibility: OFF })).toEqual(["AADLoginForWindows"]);
  });

  it("plans identity, then AADSSHLoginForLinux 1.0 without settings, for an eligible Linux VM", () => {
    const vm = linuxVm();
    const eligibility = decideEligibility(vm, ON);
    const plan = planActions({ vm, eligibility, desired: { grants: [], rejected: [], expired: false }, assignments: [], extension: loginExtensionFor(vm, policies) });
    expect(plan).toEqual([
      { kind: "enableIdentity", identityType: "SystemAssigned", keepUserAssigned: [] },
      { kind: "installExtension", extensionName: "AADSSHLoginForLinux", publisher: "Microsoft.Azure.ActiveDirectory", type: "AADSSHLoginForLinux", typeHandlerVersion: "1.0", settings: {}, why: "missing" },
    ]);
  });

  it("finds the Linux extension, its status and an install in flight; never mistakes the legacy one for it", () => {
    const policy = linuxExtensionPolicy();
    expect(findLoginExtension(linuxVm({ extensions: [legacy] }), policy)).toBeUndefined();
    expect(extensionStatus(linuxVm({ extensions: [sshLogin("Succeeded")] }), policy)).toBe("succeeded");
    expect(extensionStatus(linuxVm({ extensions: [sshLogin("Failed")] }), policy)).toBe("failed");
    expect(operationInFlight(linuxVm({ extensions: [sshLogin("Creating")] }), policy)).toBe("extension");
  });

  it("exit 22 or 23 shown while 'transitioning' (Microsoft's troubleshooting) counts as failed, and is diagnosed", () => {
    const policy = linuxExtensionPolicy();
    const status = { code: "ProvisioningState/transitioning", level: "Info", displayStatus: "Transitioning", message: "[ExtensionOperationError] Non-zero exit code: 22, /var/lib/waagent/…/installer.sh install" };
    const stuck = sshLogin("Updating", [status]);
    expect(extensionStatus(linuxVm({ extensions: [stuck] }), policy)).toBe("failed");
    expect(operationInFlight(linuxVm({ extensions: [stuck] }), policy)).toBeUndefined();
    expect(diagnoseExtension(stuck, linuxVm({ extensions: [stuck] }))).toMatchObject({ code: "linux-identity-missing", selfRepair: "enable-identity-and-reinstall" });
    // Other exit codes in flight are not read as failures; nor is the Windows extension touched by this rule.
    expect(extensionStatus(linuxVm({ extensions: [sshLogin("Updating", [{ ...status, message: "Non-zero exit code: 20" }])] }), policy)).toBe("transitioning");
  });
});

describe("diagnosis of AADSSHLoginForLinux failures", () => {
  const message = (code: number) =>
    `[ExtensionOperationError] Non-zero exit code: ${code}, /var/lib/waagent/Microsoft.Azure.ActiveDirectory.AADSSHLoginForLinux-1.0.2385.1/./installer.sh install\n[stdout]\nMachine OS: ubuntu v22.04 x86_64\n\n[stderr]\ncurl: (22) The requested URL returned error: 404\n`;
  const rows: [string, number, string, "enable-identity-and-reinstall" | "none", boolean, Partial<ObservedVm>][] = [
    ["exit 22 without identity: self-repair", 22, "linux-identity-missing", "enable-identity-and-reinstall", true, {}],
    ["exit 22 with the identity on now: plain reinstall", 22, "linux-identity-missing", "none", true, { identity: { type: "SystemAssigned", userAssignedIdentityIds: [] } }],
    ["exit 23: legacy extension, not retryable", 23, "linux-legacy-extension", "none", false, {}],
    ["exit 20: packages.microsoft.com", 20, "linux-packages-unreachable", "none", true, {}],
    ["exit 51: no package for this distribution", 51, "unsupported-distro", "none", false, {}],
    ["exit 100: unknown, Linux log path", 100, "unknown-failure", "none", true, {}],
  ];
  it.each(rows)("%s", (_label, code, diagnosis, selfRepair, retryable, vm) => {
    const ext = sshLogin("Failed", [failedStatus(message(code))]);
    const d = diagnoseExtension(ext, linuxVm({ ...vm, extensions: [ext] }));
    expect(d?.code).toBe(diagnosis);
    expect(d?.exitCode).toBe(code);
    expect(d?.selfRepair).toBe(selfRepair);
    expect(d?.retryable).toBe(retryable);
    if (diagnosis === "unknown-failure") expect(d?.remediation).toContain("/var/log/azure/Microsoft.Azure.ActiveDirectory.AADSSHLoginForLinux");
  });

  it("the curl exit code inside the message is not mistaken for the handler's", () => {
    const ext = sshLogin("Failed", [failedStatus(message(51))]);
    expect(diagnoseExtension(ext, linuxVm({ extensions: [ext] }))?.exitCode).toBe(51);
  });
});
