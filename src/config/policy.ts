import type { AccessPolicy } from "../domain/access.js";
import { isGuid } from "../domain/access.js";
import { AZURE_CLOUDS, SERVER_RELEASE_BUILDS, type AzureCloudName, type EligibilityPolicy } from "../domain/osPolicy.js";
import { extensionPolicy, type ExtensionPolicy } from "../domain/plan.js";
import type { FollowUpPolicy } from "../domain/progress.js";
import { readBoolean, readInteger, readList, readSetting, type SettingName, type SettingsSource } from "./settings.js";

/** The enforcer's whole configuration, read once from app settings and handed to the pure core. */
export interface EnforcerConfig {
  readonly mode: "enforce" | "report";
  readonly eligibility: EligibilityPolicy;
  readonly access: AccessPolicy;
  readonly extension: ExtensionPolicy;
  /** The enforcer's own object id and app id (lower case): events they caused start no pass. */
  readonly ownPrincipalIds: readonly string[];
  /** Subscriptions (lower case) the audit lists and events are accepted from. */
  readonly watchedSubscriptions: readonly string[];
  readonly timing: TimingPolicy;
}

/** How passes share a VM and wait on Azure without an invocation waiting. */
export interface TimingPolicy {
  readonly followUp: FollowUpPolicy;
  readonly leaseDurationMs: number;
  readonly leaseRetryDelayMs: number;
  /** How long a grant answered PrincipalNotFound stays transient (directory replication), from the first such answer. */
  readonly principalNotFoundWindowMs: number;
}

// Azure refuses these in tag names.
const BAD_TAG_NAME = /[<>%&\\?/\u0000-\u001f]/;
const MAX_TAG_NAME = 512;

/**
 * Reads and checks every setting; all problems are reported together, each naming the setting,
 * the value and what is expected, so one deployment fixes them all.
 */
export function loadEnforcerConfig(source: SettingsSource = process.env): EnforcerConfig {
  const errors: string[] = [];
  const attempt = <T>(read: () => T, fallback: T): T => {
    try {
      return read();
    } catch (error) {
      errors.push((error as Error).message);
      return fallback;
    }
  };
  const show = (value: string): string => JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);

  const modeRaw = readSetting("ENFORCER_MODE", source).toLowerCase();
  if (modeRaw !== "enforce" && modeRaw !== "report") {
    errors.push(`Setting ENFORCER_MODE must be "enforce" or "report", got ${show(readSetting("ENFORCER_MODE", source))}.`);
  }
  const mode = modeRaw === "enforce" ? "enforce" : "report";

  const guids = (name: SettingName, what: string): string[] => {
    const values = readList(name, source);
    for (const v of values) {
      if (!isGuid(v)) errors.push(`Setting ${name}: ${show(v)} is not ${what} (a GUID such as 00000000-0000-0000-0000-000000000000).`);
    }
    return [...new Set(values.filter(isGuid).map((v) => v.toLowerCase()))];
  };

  const tagName = (name: SettingName): string => {
    const value = readSetting(name, source);
    if (value === "" || value.length > MAX_TAG_NAME || BAD_TAG_NAME.test(value)) {
      errors.push(`Setting ${name}: ${show(value)} is not a usable tag name (1 to ${MAX_TAG_NAME} characters, none of < > % & \\ ? /).`);
    }
    return value;
  };

  const allowedClouds: AzureCloudName[] = [];
  for (const raw of readList("POLICY_ALLOWED_CLOUDS", source)) {
    const cloud = AZURE_CLOUDS.find((c) => c.toLowerCase() === raw.toLowerCase());
    if (cloud) {
      if (!allowedClouds.includes(cloud)) allowedClouds.push(cloud);
    } else {
      errors.push(`Setting POLICY_ALLOWED_CLOUDS: ${show(raw)} is not a cloud; use ${AZURE_CLOUDS.join(", ")}.`);
    }
  }

  const deniedRegions = readList("POLICY_DENIED_REGIONS", source).map((r) => r.toLowerCase());
  for (const r of deniedRegions) {
    if (!/^[a-z0-9]+$/.test(r)) errors.push(`Setting POLICY_DENIED_REGIONS: ${show(r)} is not a region name such as westeurope.`);
  }

  const serverRaw = readSetting("POLICY_MIN_SERVER_VERSION", source);
  const minServerRelease = Number(serverRaw);
  const knownYears = Object.keys(SERVER_RELEASE_BUILDS);
  if (!knownYears.includes(serverRaw)) {
    errors.push(`Setting POLICY_MIN_SERVER_VERSION must be a Windows Server release year (${knownYears.join(", ")}), got ${show(serverRaw)}.`);
  }

  const minClientBuild = attempt(() => readInteger("POLICY_MIN_CLIENT_BUILD", source), 17763);
  const version = readSetting("AAD_EXTENSION_VERSION", source);
  if (!/^\d+\.\d+$/.test(version)) {
    errors.push(`Setting AAD_EXTENSION_VERSION must be major.minor such as 1.0 or 2.0, got ${show(version)}.`);
  }
  const mdmId = readSetting("AAD_EXTENSION_MDM_ID", source);
  if (mdmId !== "" && !isGuid(mdmId)) {
    errors.push(`Setting AAD_EXTENSION_MDM_ID must be empty or a GUID (0000000a-0000-0000-c000-000000000000 enrolls in Intune), got ${show(mdmId)}.`);
  }

  const eligibility: EligibilityPolicy = {
    allowedClouds,
    deniedRegions,
    minServerRelease,
    minClientBuild,
    allowServerCore: attempt(() => readBoolean("POLICY_ALLOW_SERVER_CORE", source), false),
    allowArm64: attempt(() => readBoolean("POLICY_ALLOW_ARM64", source), false),
    allowExemptions: attempt(() => readBoolean("ALLOW_EXEMPTIONS", source), true),
    exemptTag: tagName("EXEMPT_TAG"),
  };
  const access: AccessPolicy = {
    adminsTag: tagName("ACCESS_ADMINS_TAG"),
    usersTag: tagName("ACCESS_USERS_TAG"),
    expiresTag: tagName("ACCESS_EXPIRES_TAG"),
    allowedPrincipals: guids("ACCESS_ALLOWED_PRINCIPALS", "an object id"),
    maxPrincipals: attempt(() => readInteger("ACCESS_MAX_PRINCIPALS", source), 0),
  };

  // Tag names are case-insensitive in Azure: two roles on one tag would make every entry ambiguous.
  const tagSettings = [
    ["ACCESS_ADMINS_TAG", access.adminsTag],
    ["ACCESS_USERS_TAG", access.usersTag],
    ["ACCESS_EXPIRES_TAG", access.expiresTag],
    ["EXEMPT_TAG", eligibility.exemptTag],
  ] as const;
  for (let i = 0; i < tagSettings.length; i++) {
    for (let j = i + 1; j < tagSettings.length; j++) {
      const [a, av] = tagSettings[i]!;
      const [b, bv] = tagSettings[j]!;
      if (av !== "" && av.toLowerCase() === bv.toLowerCase()) {
        errors.push(`Settings ${a} and ${b} name the same tag ${show(av)}; each tag must have its own name.`);
      }
    }
  }

  const ownPrincipalIds = [...guids("ENFORCER_PRINCIPAL_ID", "an object id"), ...guids("ENFORCER_APP_ID", "an application (client) id")];
  const watchedSubscriptions = guids("WATCHED_SUBSCRIPTION_IDS", "a subscription id");

  const followUpDelayMs = attempt(() => readInteger("FOLLOW_UP_DELAY_MS", source), 15_000);
  const followUpMaxDelayMs = attempt(() => readInteger("FOLLOW_UP_MAX_DELAY_MS", source), 120_000);
  const leaseDurationMs = attempt(() => readInteger("LEASE_DURATION_MS", source), 660_000);
  const leaseRetryDelayMs = attempt(() => readInteger("LEASE_RETRY_DELAY_MS", source), 5_000);
  const principalNotFoundWindowMs = attempt(() => readInteger("PRINCIPAL_NOT_FOUND_WINDOW_MS", source), 1_800_000);
  if (followUpMaxDelayMs < followUpDelayMs) {
    errors.push(`Setting FOLLOW_UP_MAX_DELAY_MS (${followUpMaxDelayMs}) must be at least FOLLOW_UP_DELAY_MS (${followUpDelayMs}).`);
  }
  if (leaseDurationMs < 1000) errors.push(`Setting LEASE_DURATION_MS must be at least 1000 (a pass must be able to finish under it), got ${leaseDurationMs}.`);

  if (errors.length > 0) {
    throw new Error(`Invalid configuration:\n- ${errors.join("\n- ")}`);
  }
  return {
    mode,
    eligibility,
    access,
    extension: extensionPolicy(version, mdmId === "" ? undefined : mdmId.toLowerCase()),
    ownPrincipalIds: [...new Set(ownPrincipalIds)],
    watchedSubscriptions,
    timing: {
      followUp: { initialDelayMs: followUpDelayMs, maxDelayMs: followUpMaxDelayMs },
      leaseDurationMs,
      leaseRetryDelayMs,
      principalNotFoundWindowMs,
    },
  };
}
