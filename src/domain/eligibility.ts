import { DOMAIN_JOIN_EXTENSION, isExtensionType } from "./extensionType.js";
import { cloudOfRegion, minServerBuild, normalizeRegion, type EligibilityPolicy } from "./osPolicy.js";
import {
  isArm64Image,
  isArm64Size,
  isLinuxPublisher,
  isMarketplaceImage,
  osFromAgent,
  osFromImage,
  type AgentOs,
  type OsInfo,
} from "./osInfo.js";
import {
  DEFAULT_LINUX_POLICY,
  describeLinux,
  isLegacyLinuxExtension,
  isLinuxVm,
  judgeVersion,
  linuxFromAgent,
  linuxFromImage,
  memoryOfSize,
  type LinuxOsInfo,
  type LinuxPolicy,
} from "./linuxPolicy.js";
import { quoteInput, showValue } from "./text.js";
import { findTags } from "./tags.js";
import type { ObservedVm } from "./vm.js";

// The policy lives in osPolicy.ts; re-exported so callers of the decision find it here too.
export { cloudOfRegion, DEFAULT_POLICY, type EligibilityPolicy } from "./osPolicy.js";

export type Verdict = "eligible" | "ineligible" | "conflict" | "deferred" | "exempt";

/** Stable, machine-readable reason codes. Records and dashboards key on these: never rename one. */
export type EligibilityReason =
  | "eligible"
  | "exempt-by-tag"
  | "not-windows"
  | "not-a-windows-image"
  | "domain-joined"
  | "os-unknown-agent-not-reporting"
  | "os-unrecognized"
  | "os-version-below-policy"
  | "server-core"
  | "arm64"
  | "cloud-not-allowed"
  | "region-denied"
  | "vm-deleting"
  | "power-state-unknown"
  | "vm-not-running"
  // Linux (only with ENFORCE_LINUX on):
  | "legacy-linux-extension"
  | "distro-unsupported"
  | "distro-version-below-policy"
  | "vm-size-too-small";

/** Every reason code with the verdict it always comes with. */
export const ELIGIBILITY_REASONS: Readonly<Record<EligibilityReason, Verdict>> = {
  eligible: "eligible",
  "exempt-by-tag": "exempt",
  "not-windows": "ineligible",
  "not-a-windows-image": "ineligible",
  "domain-joined": "conflict",
  "os-unknown-agent-not-reporting": "deferred",
  "os-unrecognized": "deferred",
  "os-version-below-policy": "ineligible",
  "server-core": "ineligible",
  arm64: "ineligible",
  "cloud-not-allowed": "ineligible",
  "region-denied": "ineligible",
  "vm-deleting": "deferred",
  "power-state-unknown": "deferred",
  "vm-not-running": "deferred",
  "legacy-linux-extension": "conflict",
  "distro-unsupported": "ineligible",
  "distro-version-below-policy": "ineligible",
  "vm-size-too-small": "ineligible",
};

export interface Eligibility {
  readonly verdict: Verdict;
  readonly reason: EligibilityReason;
  /** One sentence naming the VM, the fact, and what to do. */
  readonly message: string;
  /** What the VM runs, when that was known by the time the decision was made. */
  readonly os?: OsInfo;
  /** What a Linux VM runs (only when Linux is enforced and the distribution was known). */
  readonly linux?: LinuxOsInfo;
}

function result(reason: EligibilityReason, message: string, os?: OsInfo, linux?: LinuxOsInfo): Eligibility {
  return {
    verdict: ELIGIBILITY_REASONS[reason],
    reason,
    message,
    ...(os ? { os } : {}),
    ...(linux ? { linux } : {}),
  };
}

/** The OS the decision knew, for records and pages: "Windows Server 2022 Datacenter (build 20348)", "Ubuntu 22.04". */
export function describeEligibilityOs(eligibility: Eligibility): string | undefined {
  if (eligibility.os) return describeOs(eligibility.os);
  if (eligibility.linux) return describeLinux(eligibility.linux);
  return undefined;
}

/** "Windows Server 2022 Datacenter (build 20348)", "Windows 10 1803 (build 17134)". */
export function describeOs(os: OsInfo): string {
  const build = os.build !== undefined ? ` (build ${os.build})` : "";
  if (os.family === "server") {
    const name = ["Windows Server", os.release ?? os.version, os.edition, os.serverCore ? "Core" : undefined].filter(Boolean).join(" ");
    return `${name}${build}`;
  }
  if (os.family === "client") return `${["Windows", os.release, os.version, os.edition].filter(Boolean).join(" ")}${build}`;
  return `Windows${build}`;
}

function isBelowPolicy(os: OsInfo, policy: EligibilityPolicy): boolean {
  if (os.family === "server") {
    const year = Number.parseInt(os.release ?? "", 10);
    if (Number.isInteger(year)) return year < policy.minServerRelease;
    return os.build === undefined || os.build < minServerBuild(policy);
  }
  if (os.family === "client") return os.build === undefined || os.build < policy.minClientBuild;
  return true;
}

/**
 * The VM agent reports what runs *now*; the image reference is frozen at creation and stays
 * `2016-Datacenter` after an in-place upgrade. So a report the agent makes wins, and the image decides
 * only while the agent is silent (deallocated, just created). Server Core and arm64 are marked by
 * either source, because the agent's `osName` does not always say "Core".
 */
function knownOs(vm: ObservedVm, agent: AgentOs | undefined): { os?: OsInfo; agentUnrecognized: boolean } {
  const image = osFromImage(vm.imageReference);
  if (agent?.kind === "windows") {
    const serverCore = Boolean(agent.os.serverCore || (agent.os.family === "server" && image?.serverCore));
    return { os: { ...agent.os, serverCore }, agentUnrecognized: false };
  }
  return { os: image, agentUnrecognized: agent?.kind === "unrecognized" };
}

/**
 * Decides whether the enforcer may act on a VM. The checks run in this order and the first that
 * applies decides (the order is part of the contract and tested):
 *  1. exempt: the exempt tag is `true` and the policy honours exemptions → exempt;
 *  2. Linux: with the policy's `linux.enforce` (ENFORCE_LINUX) on, a Linux VM (`isLinuxVm`) is decided
 *     by `decideLinux` below; otherwise not Windows: `osType` is not Windows, the image comes from a
 *     Linux publisher, or the agent reports a non-Windows OS → ineligible, exactly as before;
 *  3. domain-joined: a `JsonADDomainExtension` is present → conflict (one join or the other);
 *  4. OS known: neither the image nor the agent tells the release (custom image, agent silent) → deferred;
 *  5. OS version, Server Core, arm64 outside the policy → ineligible;
 *  6. cloud and region outside the policy → ineligible;
 *  7. power and provisioning: deleting, no power state yet (just created, still provisioning), or not
 *     running → deferred, because extensions can only be installed while the VM runs.
 * Facts that never change while a VM lives (OS, region) come before the ones that do (power), so a
 * deallocated Server 2016 VM reads "ineligible", not "deferred" forever.
 */
export function decideEligibility(vm: ObservedVm, policy: EligibilityPolicy): Eligibility {
  const name = vm.name;

  // 1. exempt
  const exemptTags = findTags(vm.tags, policy.exemptTag);
  if (policy.allowExemptions && exemptTags.length > 0 && exemptTags.every((t) => t.value.trim().toLowerCase() === "true")) {
    return result("exempt-by-tag", `VM ${name} is exempt: tag ${policy.exemptTag}=true opts it out of Azure AD login enforcement; remove the tag to enforce it.`);
  }

  // 2. Linux: its own branch when enforced, else not Windows
  const linuxPolicy = policy.linux ?? DEFAULT_LINUX_POLICY;
  if (linuxPolicy.enforce && isLinuxVm(vm)) return decideLinux(vm, policy, linuxPolicy);
  const osType = (vm.osType ?? "").trim();
  if (osType !== "" && osType.toLowerCase() !== "windows") {
    return result("not-windows", `VM ${name} runs ${showValue(osType, 40)} (storageProfile.osDisk.osType), not Windows; Azure AD login for Windows does not apply, nothing to do.`);
  }
  if (isMarketplaceImage(vm.imageReference) && isLinuxPublisher(vm.imageReference.publisher)) {
    return result("not-a-windows-image", `VM ${name} was created from the ${showValue(vm.imageReference.publisher, 60)} marketplace image ${showValue(`${vm.imageReference.offer}/${vm.imageReference.sku}`, 100)}, which is not Windows; nothing to do.`);
  }
  const agent = osFromAgent(vm.agentOsName, vm.agentOsVersion);
  if (agent?.kind === "not-windows") {
    return result("not-windows", `VM ${name}'s VM agent reports ${quoteInput(vm.agentOsName, 80)}, not Windows; Azure AD login for Windows does not apply, nothing to do.`);
  }

  // 3. domain-joined
  const domainJoin = vm.extensions.find((e) => isExtensionType(e, DOMAIN_JOIN_EXTENSION.publisher, DOMAIN_JOIN_EXTENSION.type));
  if (domainJoin) {
    return result("domain-joined", `VM ${name} is domain-joined (extension ${showValue(domainJoin.name, 80)} of type JsonADDomainExtension) and cannot also be Azure AD joined; remove the domain join, or set tag ${policy.exemptTag}=true to keep it as it is.`);
  }

  // 4. OS known?
  const { os, agentUnrecognized } = knownOs(vm, agent);
  if (!os) {
    if (agentUnrecognized) {
      return result("os-unrecognized", `VM ${name}'s VM agent reports OS ${quoteInput(vm.agentOsName, 80)} version ${quoteInput(vm.agentOsVersion ?? "", 40)}, which this policy cannot place; check the VM, or set tag ${policy.exemptTag}=true.`);
    }
    const image = isMarketplaceImage(vm.imageReference)
      ? `marketplace image ${showValue(`${vm.imageReference.publisher}/${vm.imageReference.offer}/${vm.imageReference.sku}`, 120)} does not name a known Windows release`
      : "image does not name its OS (custom or gallery image, or an attached disk)";
    return result("os-unknown-agent-not-reporting", `VM ${name}'s ${image} and its VM agent has not reported osName/osVersion yet; it is checked again on the next pass (start the VM, or make sure the VM agent runs).`);
  }

  // 5. OS version, edition, architecture
  if (isBelowPolicy(os, policy)) {
    return result("os-version-below-policy", `VM ${name} runs ${describeOs(os)}; Azure AD login needs Windows Server ${policy.minServerRelease} or later, or Windows 10/11 build ${policy.minClientBuild} or later. Upgrade the OS, or set tag ${policy.exemptTag}=true.`, os);
  }
  if (os.serverCore && !policy.allowServerCore) {
    return result("server-core", `VM ${name} runs ${describeOs(os)}, a Server Core installation, which Azure AD login does not support; use a Desktop Experience image, or set tag ${policy.exemptTag}=true.`, os);
  }
  if (!policy.allowArm64 && (isArm64Size(vm.vmSize) || isArm64Image(vm.imageReference))) {
    const what = isArm64Size(vm.vmSize) ? `size ${showValue(vm.vmSize, 40)}` : `image sku ${showValue(vm.imageReference?.sku, 80)}`;
    return result("arm64", `VM ${name} is an arm64 VM (${what}); the AADLoginForWindows extension is not supported on arm64. Use an x64 size, or set tag ${policy.exemptTag}=true.`, os);
  }

  // 6. cloud and region, 7. power and provisioning
  const placeOrPower = decidePlaceAndPower(vm, policy, os);
  if (placeOrPower) return placeOrPower;

  return result("eligible", `VM ${name} runs ${describeOs(os)} in ${normalizeRegion(vm.location)} and is eligible for Azure AD login.`, os);
}

/** Steps 6 and 7, shared by Windows and Linux: cloud and region, then power and provisioning. */
function decidePlaceAndPower(vm: ObservedVm, policy: EligibilityPolicy, os?: OsInfo, linux?: LinuxOsInfo): Eligibility | undefined {
  const name = vm.name;
  // 6. cloud and region
  const region = normalizeRegion(vm.location);
  const cloud = cloudOfRegion(region);
  if (!policy.allowedClouds.includes(cloud)) {
    return result("cloud-not-allowed", `VM ${name} is in region ${showValue(region, 40)} of cloud ${cloud}, which this policy does not allow (allowed: ${policy.allowedClouds.join(", ") || "none"}); change POLICY_ALLOWED_CLOUDS if Azure AD login is supported there.`, os, linux);
  }
  if (policy.deniedRegions.some((r) => normalizeRegion(r) === region)) {
    return result("region-denied", `VM ${name} is in region ${showValue(region, 40)}, which the policy denies (POLICY_DENIED_REGIONS).`, os, linux);
  }

  // 7. power and provisioning
  if ((vm.provisioningState ?? "").toLowerCase() === "deleting") {
    return result("vm-deleting", `VM ${name} is being deleted; nothing to do.`, os, linux);
  }
  const power = (vm.powerState ?? "").trim().toLowerCase().replace(/^powerstate\//, "");
  if (power === "") {
    return result("power-state-unknown", `VM ${name} has no power state yet (provisioning state ${showValue(vm.provisioningState ?? "unknown", 40)}); it is checked again on the next pass.`, os, linux);
  }
  if (power !== "running") {
    return result("vm-not-running", `VM ${name} is ${showValue(power, 40)}; extensions can only be installed while it runs, so it is checked again once it starts.`, os, linux);
  }

  return undefined;
}

/**
 * Linux VMs with ENFORCE_LINUX on (exempt was checked before). The checks run in this order, the
 * first that applies decides:
 *  a. the legacy AADLoginForLinux extension is present → conflict: AADSSHLoginForLinux fails with
 *     exit 23 beside it, and it is never removed by us (it is not ours; users may be signed in through it);
 *  b. distribution known: the agent's report wins, the marketplace image decides while the agent is
 *     silent; neither tells → deferred, as for Windows;
 *  c. distribution not in the policy → ineligible; version outside its ranges → ineligible; a version
 *     known only by its major release whose minors differ → deferred until the agent reports;
 *  d. a VM size known to have less memory than the policy's minimum (1 GiB) → ineligible;
 *     arm64 → ineligible unless allowed;
 *  e. cloud and region, power and provisioning, as for Windows.
 */
function decideLinux(vm: ObservedVm, policy: EligibilityPolicy, linuxPolicy: LinuxPolicy): Eligibility {
  const name = vm.name;

  // a. the legacy extension
  const legacy = vm.extensions.find(isLegacyLinuxExtension);
  if (legacy) {
    return result("legacy-linux-extension", `VM ${name} still has the deprecated AADLoginForLinux extension (${showValue(legacy.name, 80)}), with which AADSSHLoginForLinux fails (exit code 23); uninstall AADLoginForLinux (after signing its users out), then it is enforced on the next pass, or set tag ${policy.exemptTag}=true. The enforcer never removes it.`);
  }

  // b. distribution known?
  const image = linuxFromImage(vm.imageReference);
  const agent = linuxFromAgent(vm.agentOsName, vm.agentOsVersion);
  let linux: LinuxOsInfo | undefined = agent?.kind === "linux" ? agent.os : image;
  if (linux && !linux.version && image?.version && image.distro === linux.distro) linux = { ...linux, version: image.version };
  if (!linux) {
    if (agent?.kind === "unrecognized") {
      return result("os-unrecognized", `VM ${name}'s VM agent reports OS ${quoteInput(vm.agentOsName, 80)} version ${quoteInput(vm.agentOsVersion ?? "", 40)}, a Linux distribution this policy cannot place; check the VM, or set tag ${policy.exemptTag}=true.`);
    }
    const what = isMarketplaceImage(vm.imageReference)
      ? `marketplace image ${showValue(`${vm.imageReference.publisher}/${vm.imageReference.offer}/${vm.imageReference.sku}`, 120)} does not name a known Linux distribution`
      : "image does not name its OS (custom or gallery image, or an attached disk)";
    return result("os-unknown-agent-not-reporting", `VM ${name}'s ${what} and its VM agent has not reported osName/osVersion yet; it is checked again on the next pass (start the VM, or make sure the VM agent runs).`);
  }

  // c. distribution and version
  const ranges = linuxPolicy.distros[linux.distro];
  if (!ranges || ranges.length === 0) {
    return result("distro-unsupported", `VM ${name} runs ${describeLinux(linux)}, a distribution Entra ID SSH login (AADSSHLoginForLinux) does not support; move to a supported distribution, or set tag ${policy.exemptTag}=true.`, undefined, linux);
  }
  const verdict = linux.version ? judgeVersion(linux.version, ranges) : "undecided";
  if (verdict === "below") {
    return result("distro-version-below-policy", `VM ${name} runs ${describeLinux(linux)}, a version AADSSHLoginForLinux does not support (supported: ${describeRanges(linux, ranges)}); upgrade the OS, or set tag ${policy.exemptTag}=true.`, undefined, linux);
  }
  if (verdict === "undecided") {
    return result("os-unknown-agent-not-reporting", `VM ${name} runs ${describeLinux(linux)}, whose minor version decides support (supported: ${describeRanges(linux, ranges)}), and its VM agent has not reported osVersion yet; it is checked again on the next pass.`, undefined, linux);
  }

  // d. memory and architecture
  const memory = memoryOfSize(vm.vmSize);
  if (memory !== undefined && memory < linuxPolicy.minMemoryGiB) {
    return result("vm-size-too-small", `VM ${name} is size ${showValue(vm.vmSize ?? "", 40)} with ${memory} GiB of memory; AADSSHLoginForLinux needs at least ${linuxPolicy.minMemoryGiB} GiB or its installation fails. Resize the VM, or set tag ${policy.exemptTag}=true.`, undefined, linux);
  }
  if (!linuxPolicy.allowArm64 && (isArm64Size(vm.vmSize) || isArm64Image(vm.imageReference))) {
    const what = isArm64Size(vm.vmSize) ? `size ${showValue(vm.vmSize, 40)}` : `image sku ${showValue(vm.imageReference?.sku, 80)}`;
    return result("arm64", `VM ${name} is an arm64 VM (${what}); Microsoft does not state arm64 support for AADSSHLoginForLinux, so this policy refuses it. Use an x64 size, or set tag ${policy.exemptTag}=true.`, undefined, linux);
  }

  // e. place and power
  const placeOrPower = decidePlaceAndPower(vm, policy, undefined, linux);
  if (placeOrPower) return placeOrPower;

  return result("eligible", `VM ${name} runs ${describeLinux(linux)} in ${normalizeRegion(vm.location)} and is eligible for Entra ID SSH login.`, undefined, linux);
}

function describeRanges(os: LinuxOsInfo, ranges: readonly { from: { major: number; minor?: number }; to?: { major: number; minor?: number } }[]): string {
  const show = (version: { major: number; minor?: number }) => describeLinux({ distro: os.distro, version, source: os.source }).replace(/^.*? (?=[\d])/, "");
  return ranges.map((r) => (r.to ? `${show(r.from)} to ${show(r.to)}` : `${show(r.from)} and later`)).join(", ");
}
