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
  | "vm-not-running";

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
};

export interface Eligibility {
  readonly verdict: Verdict;
  readonly reason: EligibilityReason;
  /** One sentence naming the VM, the fact, and what to do. */
  readonly message: string;
  /** What the VM runs, when that was known by the time the decision was made. */
  readonly os?: OsInfo;
}

function result(reason: EligibilityReason, message: string, os?: OsInfo): Eligibility {
  return os ? { verdict: ELIGIBILITY_REASONS[reason], reason, message, os } : { verdict: ELIGIBILITY_REASONS[reason], reason, message };
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
 *  2. not Windows: `osType` is not Windows, the image comes from a Linux publisher, or the agent
 *     reports a non-Windows OS → ineligible;
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

  // 2. not Windows
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

  // 6. cloud and region
  const region = normalizeRegion(vm.location);
  const cloud = cloudOfRegion(region);
  if (!policy.allowedClouds.includes(cloud)) {
    return result("cloud-not-allowed", `VM ${name} is in region ${showValue(region, 40)} of cloud ${cloud}, which this policy does not allow (allowed: ${policy.allowedClouds.join(", ") || "none"}); change POLICY_ALLOWED_CLOUDS if Azure AD login is supported there.`, os);
  }
  if (policy.deniedRegions.some((r) => normalizeRegion(r) === region)) {
    return result("region-denied", `VM ${name} is in region ${showValue(region, 40)}, which the policy denies (POLICY_DENIED_REGIONS).`, os);
  }

  // 7. power and provisioning
  if ((vm.provisioningState ?? "").toLowerCase() === "deleting") {
    return result("vm-deleting", `VM ${name} is being deleted; nothing to do.`, os);
  }
  const power = (vm.powerState ?? "").trim().toLowerCase().replace(/^powerstate\//, "");
  if (power === "") {
    return result("power-state-unknown", `VM ${name} has no power state yet (provisioning state ${showValue(vm.provisioningState ?? "unknown", 40)}); it is checked again on the next pass.`, os);
  }
  if (power !== "running") {
    return result("vm-not-running", `VM ${name} is ${showValue(power, 40)}; extensions can only be installed while it runs, so it is checked again once it starts.`, os);
  }

  return result("eligible", `VM ${name} runs ${describeOs(os)} in ${region} and is eligible for Azure AD login.`, os);
}
