/**
 * Which operating systems, architectures and clouds are eligible for Azure AD login, and the
 * Windows release → build facts the decision needs. Microsoft's pages disagree over time (see
 * CONTEXT.md), so every limit is a policy value; the defaults follow the seed (2019): Windows Server
 * 2019 and later, Windows 10 1809 (build 17763) and later, Azure global regions only.
 */
import type { LinuxPolicy } from "./linuxPolicy.js";

export type AzureCloudName = "AzureCloud" | "AzureUSGovernment" | "AzureChinaCloud";

export const AZURE_CLOUDS: readonly AzureCloudName[] = ["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"];

export interface EligibilityPolicy {
  /** Clouds whose regions are eligible. */
  readonly allowedClouds: readonly AzureCloudName[];
  /** Regions never eligible, as normalized names (`westus`, lower case, no spaces). */
  readonly deniedRegions: readonly string[];
  /** Lowest Windows Server release (year) eligible; 2019 = build 17763. */
  readonly minServerRelease: number;
  /** Lowest Windows 10/11 build eligible; 17763 = Windows 10 1809. */
  readonly minClientBuild: number;
  readonly allowServerCore: boolean;
  readonly allowArm64: boolean;
  /** Whether the exempt tag is honoured. */
  readonly allowExemptions: boolean;
  /** Tag that opts a VM out when its value is `true`. */
  readonly exemptTag: string;
  /** Linux VMs (AADSSHLoginForLinux); absent = DEFAULT_LINUX_POLICY, which does not enforce Linux. */
  readonly linux?: LinuxPolicy;
}

export const DEFAULT_POLICY: EligibilityPolicy = {
  allowedClouds: ["AzureCloud"],
  deniedRegions: [],
  minServerRelease: 2019,
  minClientBuild: 17763,
  allowServerCore: false,
  allowArm64: false,
  allowExemptions: true,
  exemptTag: "aadlogin-exempt",
};

/** Long-term servicing releases of Windows Server and their builds. */
export const SERVER_RELEASE_BUILDS: Readonly<Record<number, number>> = {
  2008: 6001,
  2012: 9200,
  2016: 14393,
  2019: 17763,
  2022: 20348,
  2025: 26100,
};

/**
 * Windows 10/11 (and semi-annual Windows Server) version names → build. Marketplace skus spell the
 * same release three ways (`rs5`, `1809`, `win10-…`), so every alias maps here.
 */
export const CLIENT_RELEASE_BUILDS: Readonly<Record<string, number>> = {
  "1507": 10240,
  "1511": 10586,
  "1607": 14393,
  "1703": 15063,
  "1709": 16299,
  "1803": 17134,
  "1809": 17763,
  "1903": 18362,
  "1909": 18363,
  "2004": 19041,
  "20h2": 19042,
  "21h1": 19043,
  "21h2": 19044,
  "22h2": 19045,
};

/** Windows 11 shares the `21h2`/`22h2` names with Windows 10 at other builds. */
export const WINDOWS11_RELEASE_BUILDS: Readonly<Record<string, number>> = {
  "21h2": 22000,
  "22h2": 22621,
  "23h2": 22631,
  "24h2": 26100,
  "25h2": 26200,
};

/** Codenames used by older Windows 10 skus (`rs5-pro`, `rs4-pro`, `19h1-evd`). */
export const CLIENT_CODENAMES: Readonly<Record<string, string>> = {
  th1: "1507",
  th2: "1511",
  rs1: "1607",
  rs2: "1703",
  rs3: "1709",
  rs4: "1803",
  rs5: "1809",
  "19h1": "1903",
  "19h2": "1909",
  "20h1": "2004",
};

/** First Windows 11 build: a "Windows 10" name with a build from here on is Windows 11. */
export const WINDOWS11_FIRST_BUILD = 22000;

/** `West US`, `westus`, ` WestUS ` → `westus` (ARM returns both the display and the short form). */
export function normalizeRegion(location: string): string {
  return location.replace(/\s+/g, "").toLowerCase();
}

/** The cloud a region belongs to: `usgov*`/`usdod*` are Azure Government, `china*` 21Vianet. */
export function cloudOfRegion(location: string): AzureCloudName {
  const region = normalizeRegion(location);
  if (region.startsWith("usgov") || region.startsWith("usdod")) return "AzureUSGovernment";
  if (region.startsWith("china")) return "AzureChinaCloud";
  return "AzureCloud";
}

/**
 * The lowest server build the policy allows, for servers known only by their build (semi-annual
 * releases have no year). A year this table does not know yet allows no server by build alone:
 * the configuration accepts only known years, and failing closed is the safe side.
 */
export function minServerBuild(policy: EligibilityPolicy): number {
  return SERVER_RELEASE_BUILDS[policy.minServerRelease] ?? Number.POSITIVE_INFINITY;
}
