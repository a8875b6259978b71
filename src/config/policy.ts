import type { AccessPolicy } from "../domain/access.js";
import { isGuid } from "../domain/access.js";
import { AZURE_CLOUDS, SERVER_RELEASE_BUILDS, type AzureCloudName, type EligibilityPolicy } from "../domain/osPolicy.js";
import { DEFAULT_LINUX_POLICY } from "../domain/linuxPolicy.js";
import { extensionPolicy, linuxExtensionPolicy, type ExtensionPolicy } from "../domain/plan.js";
import type { FollowUpPolicy } from "../domain/progress.js";
import type { DeviceCleanupMode, DevicePolicy } from "../domain/device.js";
import { SettingsReader, showValue, type SettingName, type SettingsSource } from "./settings.js";

/** The enforcer's whole configuration, read once from app settings and handed to the pure core. */
export interface EnforcerConfig {
  readonly mode: "enforce" | "report";
  readonly eligibility: EligibilityPolicy;
  readonly access: AccessPolicy;
  /** AADLoginForWindows. */
  readonly extension: ExtensionPolicy;
  /** AADSSHLoginForLinux, for Linux VMs when `eligibility.linux.enforce` (ENFORCE_LINUX) is on. */
  readonly linuxExtension: ExtensionPolicy;
  /** The enforcer's own object id and app id (lower case): events they caused start no pass. */
  readonly ownPrincipalIds: readonly string[];
  /** Subscriptions (lower case) the audit lists and events are accepted from. */
  readonly watchedSubscriptions: readonly string[];
  readonly timing: TimingPolicy;
  readonly audit: AuditPolicy;
  /** The Entra device's life (issue 13); absent: neither confirmation nor cleanup. */
  readonly devices?: DevicePolicy;
}

/** How the drift audit reads the estate (see src/orchestrator/auditTargets.ts). */
export interface AuditPolicy {
  readonly source: "resource-graph" | "arm";
  readonly confirmSlices: number;
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
 * Reads and checks the enforcer's settings; all problems are reported together (see SettingsReader).
 * The app's one loader is `loadAppSettings` (src/app/settings.ts), which reads these with the ARM and
 * storage settings in one go; this is the same reading for what needs only the policy.
 */
export function loadEnforcerConfig(source: SettingsSource = process.env): EnforcerConfig {
  const reader = new SettingsReader(source);
  const config = readEnforcerConfig(reader);
  reader.finish();
  return config;
}

/** Reads the enforcer's configuration, collecting each bad value in `reader` (read as its default). */
export function readEnforcerConfig(reader: SettingsReader): EnforcerConfig {
  const problem = (message: string) => reader.problem(message);
  const show = showValue;

  const modeRaw = reader.string("ENFORCER_MODE").toLowerCase();
  if (modeRaw !== "enforce" && modeRaw !== "report") {
    problem(`Setting ENFORCER_MODE must be "enforce" or "report", got ${show(reader.string("ENFORCER_MODE"))}.`);
  }
  const mode = modeRaw === "enforce" ? "enforce" : "report";

  const guids = (name: SettingName, what: string): string[] => {
    const values = reader.list(name);
    for (const v of values) {
      if (!isGuid(v)) problem(`Setting ${name}: ${show(v)} is not ${what} (a GUID such as 00000000-0000-0000-0000-000000000000).`);
    }
    return [...new Set(values.filter(isGuid).map((v) => v.toLowerCase()))];
  };

  const tagName = (name: SettingName): string => {
    const value = reader.string(name);
    if (value === "" || value.length > MAX_TAG_NAME || BAD_TAG_NAME.test(value)) {
      problem(`Setting ${name}: ${show(value)} is not a usable tag name (1 to ${MAX_TAG_NAME} characters, none of < > % & \\ ? /).`);
    }
    return value;
  };

  const allowedClouds: AzureCloudName[] = [];
  for (const raw of reader.list("POLICY_ALLOWED_CLOUDS")) {
    const cloud = AZURE_CLOUDS.find((c) => c.toLowerCase() === raw.toLowerCase());
    if (cloud) {
      if (!allowedClouds.includes(cloud)) allowedClouds.push(cloud);
    } else {
      problem(`Setting POLICY_ALLOWED_CLOUDS: ${show(raw)} is not a cloud; use ${AZURE_CLOUDS.join(", ")}.`);
    }
  }

  const deniedRegions = reader.list("POLICY_DENIED_REGIONS").map((r) => r.toLowerCase());
  for (const r of deniedRegions) {
    if (!/^[a-z0-9]+$/.test(r)) problem(`Setting POLICY_DENIED_REGIONS: ${show(r)} is not a region name such as westeurope.`);
  }

  const serverRaw = reader.string("POLICY_MIN_SERVER_VERSION");
  const minServerRelease = Number(serverRaw);
  const knownYears = Object.keys(SERVER_RELEASE_BUILDS);
  if (!knownYears.includes(serverRaw)) {
    problem(`Setting POLICY_MIN_SERVER_VERSION must be a Windows Server release year (${knownYears.join(", ")}), got ${show(serverRaw)}.`);
  }

  const minClientBuild = reader.integer("POLICY_MIN_CLIENT_BUILD");
  const version = reader.string("AAD_EXTENSION_VERSION");
  if (!/^\d+\.\d+$/.test(version)) {
    problem(`Setting AAD_EXTENSION_VERSION must be major.minor such as 1.0 or 2.0, got ${show(version)}.`);
  }
  const linuxVersion = reader.string("AAD_LINUX_EXTENSION_VERSION");
  if (!/^\d+\.\d+$/.test(linuxVersion)) {
    problem(`Setting AAD_LINUX_EXTENSION_VERSION must be major.minor such as 1.0, got ${show(linuxVersion)}.`);
  }
  const mdmId = reader.string("AAD_EXTENSION_MDM_ID");
  if (mdmId !== "" && !isGuid(mdmId)) {
    problem(`Setting AAD_EXTENSION_MDM_ID must be empty or a GUID (0000000a-0000-0000-c000-000000000000 enrolls in Intune), got ${show(mdmId)}.`);
  }

  const eligibility: EligibilityPolicy = {
    allowedClouds,
    deniedRegions,
    minServerRelease,
    minClientBuild,
    allowServerCore: reader.boolean("POLICY_ALLOW_SERVER_CORE"),
    allowArm64: reader.boolean("POLICY_ALLOW_ARM64"),
    allowExemptions: reader.boolean("ALLOW_EXEMPTIONS"),
    exemptTag: tagName("EXEMPT_TAG"),
    linux: { ...DEFAULT_LINUX_POLICY, enforce: reader.boolean("ENFORCE_LINUX") },
  };
  const access: AccessPolicy = {
    adminsTag: tagName("ACCESS_ADMINS_TAG"),
    usersTag: tagName("ACCESS_USERS_TAG"),
    expiresTag: tagName("ACCESS_EXPIRES_TAG"),
    allowedPrincipals: guids("ACCESS_ALLOWED_PRINCIPALS", "an object id"),
    maxPrincipals: reader.integer("ACCESS_MAX_PRINCIPALS"),
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
        problem(`Settings ${a} and ${b} name the same tag ${show(av)}; each tag must have its own name.`);
      }
    }
  }

  const ownPrincipalIds = [...guids("ENFORCER_PRINCIPAL_ID", "an object id"), ...guids("ENFORCER_APP_ID", "an application (client) id")];
  const watchedSubscriptions = guids("WATCHED_SUBSCRIPTION_IDS", "a subscription id");

  const auditSource = reader.string("AUDIT_SOURCE").toLowerCase();
  if (auditSource !== "resource-graph" && auditSource !== "arm") {
    problem(`Setting AUDIT_SOURCE must be "resource-graph" or "arm", got ${show(reader.string("AUDIT_SOURCE"))}.`);
  }
  const confirmSlices = reader.integer("AUDIT_CONFIRM_SLICES");

  const followUpDelayMs = reader.integer("FOLLOW_UP_DELAY_MS");
  const followUpMaxDelayMs = reader.integer("FOLLOW_UP_MAX_DELAY_MS");
  const leaseDurationMs = reader.integer("LEASE_DURATION_MS", 1000, "a pass must be able to finish under it");
  const leaseRetryDelayMs = reader.integer("LEASE_RETRY_DELAY_MS");
  const principalNotFoundWindowMs = reader.integer("PRINCIPAL_NOT_FOUND_WINDOW_MS");
  if (followUpMaxDelayMs < followUpDelayMs) {
    problem(`Setting FOLLOW_UP_MAX_DELAY_MS (${followUpMaxDelayMs}) must be at least FOLLOW_UP_DELAY_MS (${followUpDelayMs}).`);
  }
  return {
    mode,
    eligibility,
    access,
    extension: extensionPolicy(version, mdmId === "" ? undefined : mdmId.toLowerCase()),
    linuxExtension: linuxExtensionPolicy(/^\d+\.\d+$/.test(linuxVersion) ? linuxVersion : "1.0"),
    ownPrincipalIds: [...new Set(ownPrincipalIds)],
    watchedSubscriptions,
    timing: {
      followUp: { initialDelayMs: followUpDelayMs, maxDelayMs: followUpMaxDelayMs },
      leaseDurationMs,
      leaseRetryDelayMs,
      principalNotFoundWindowMs,
    },
    audit: { source: auditSource === "arm" ? "arm" : "resource-graph", confirmSlices },
    devices: { confirmation: reader.boolean("DEVICE_CONFIRMATION"), cleanup: deviceCleanup(reader), joinWaitMs: reader.integer("DEVICE_JOIN_WAIT_MS") },
  };
}

function deviceCleanup(reader: SettingsReader): DeviceCleanupMode {
  const raw = reader.string("DEVICE_CLEANUP").toLowerCase();
  if (raw === "off" || raw === "report" || raw === "enforce") return raw;
  reader.problem(`Setting DEVICE_CLEANUP must be "off", "report" or "enforce", got ${showValue(reader.string("DEVICE_CLEANUP"))}.`);
  return "off";
}
