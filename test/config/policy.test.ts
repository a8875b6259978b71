import { describe, expect, it } from "vitest";
import { loadEnforcerConfig } from "../../src/config/policy.js";
import { SETTINGS } from "../../src/config/settings.js";
import { DEFAULT_ACCESS_TAGS } from "../../src/domain/access.js";
import { DEFAULT_POLICY } from "../../src/domain/osPolicy.js";
import { DEFAULT_LINUX_POLICY } from "../../src/domain/linuxPolicy.js";
import { extensionPolicy, linuxExtensionPolicy } from "../../src/domain/plan.js";

const P1 = "00000000-0000-4000-8000-000000000001";
const P2 = "00000000-0000-4000-8000-000000000002";
const SUB1 = "6b1f5a36-3d3c-4b7e-9d0a-1f3e5c7a9b21";

describe("loadEnforcerConfig", () => {
  it("with nothing set, follows the defaults (report mode, seed policy, nobody grantable)", () => {
    expect(loadEnforcerConfig({})).toEqual({
      mode: "report",
      eligibility: { ...DEFAULT_POLICY, linux: DEFAULT_LINUX_POLICY },
      access: { ...DEFAULT_ACCESS_TAGS, allowedPrincipals: [], maxPrincipals: 20 },
      extension: extensionPolicy("1.0"),
      linuxExtension: linuxExtensionPolicy("1.0"),
      ownPrincipalIds: [],
      watchedSubscriptions: [],
      timing: { followUp: { initialDelayMs: 15_000, maxDelayMs: 120_000 }, leaseDurationMs: 660_000, leaseRetryDelayMs: 5_000, principalNotFoundWindowMs: 1_800_000 },
      audit: { source: "resource-graph", confirmSlices: 500 },
      devices: { confirmation: false, cleanup: "off", joinWaitMs: 300_000 },
    });
  });

  it("the settings list's defaults give the same configuration", () => {
    const defaults = Object.fromEntries(SETTINGS.map((s) => [s.name, s.default]));
    expect(loadEnforcerConfig(defaults)).toEqual(loadEnforcerConfig({}));
  });

  it("reads every setting it maps", () => {
    const config = loadEnforcerConfig({
      ENFORCER_MODE: " Enforce ",
      WATCHED_SUBSCRIPTION_IDS: `${SUB1.toUpperCase()}, ${SUB1}`,
      ENFORCER_PRINCIPAL_ID: P1.toUpperCase(),
      ENFORCER_APP_ID: P2,
      ACCESS_ALLOWED_PRINCIPALS: `${P1},${P2.toUpperCase()};${P1}`,
      ACCESS_MAX_PRINCIPALS: "3",
      ACCESS_ADMINS_TAG: "vm-admins",
      ACCESS_USERS_TAG: "vm-users",
      ACCESS_EXPIRES_TAG: "vm-expires",
      EXEMPT_TAG: "vm-exempt",
      ALLOW_EXEMPTIONS: "false",
      POLICY_ALLOWED_CLOUDS: "azurecloud, AzureUSGovernment",
      POLICY_DENIED_REGIONS: "WestEurope northeurope",
      POLICY_MIN_SERVER_VERSION: "2022",
      POLICY_MIN_CLIENT_BUILD: "22000",
      POLICY_ALLOW_SERVER_CORE: "true",
      POLICY_ALLOW_ARM64: "1",
      AAD_EXTENSION_VERSION: "2.0",
      ENFORCE_LINUX: "yes",
      AAD_LINUX_EXTENSION_VERSION: "1.1",
      AAD_EXTENSION_MDM_ID: "0000000A-0000-0000-C000-000000000000",
      FOLLOW_UP_DELAY_MS: "2000",
      FOLLOW_UP_MAX_DELAY_MS: "8000",
      LEASE_DURATION_MS: "90000",
      LEASE_RETRY_DELAY_MS: "250",
      AUDIT_SOURCE: "ARM",
      AUDIT_CONFIRM_SLICES: "7",
      DEVICE_CONFIRMATION: "true",
      DEVICE_CLEANUP: " Enforce ",
      DEVICE_JOIN_WAIT_MS: "60000",
      PRINCIPAL_NOT_FOUND_WINDOW_MS: "600000",
    });
    expect(config).toEqual({
      mode: "enforce",
      eligibility: {
        allowedClouds: ["AzureCloud", "AzureUSGovernment"],
        deniedRegions: ["westeurope", "northeurope"],
        minServerRelease: 2022,
        minClientBuild: 22000,
        allowServerCore: true,
        allowArm64: true,
        allowExemptions: false,
        exemptTag: "vm-exempt",
        linux: { ...DEFAULT_LINUX_POLICY, enforce: true },
      },
      access: { adminsTag: "vm-admins", usersTag: "vm-users", expiresTag: "vm-expires", allowedPrincipals: [P1, P2], maxPrincipals: 3 },
      extension: extensionPolicy("2.0", "0000000a-0000-0000-c000-000000000000"),
      linuxExtension: linuxExtensionPolicy("1.1"),
      ownPrincipalIds: [P1, P2],
      watchedSubscriptions: [SUB1],
      timing: { followUp: { initialDelayMs: 2000, maxDelayMs: 8000 }, leaseDurationMs: 90_000, leaseRetryDelayMs: 250, principalNotFoundWindowMs: 600_000 },
      audit: { source: "arm", confirmSlices: 7 },
      devices: { confirmation: true, cleanup: "enforce", joinWaitMs: 60_000 },
    });
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ["a mode that is neither", { ENFORCER_MODE: "dry-run" }, /ENFORCER_MODE must be "enforce" or "report", got "dry-run"/],
    ["a device cleanup mode that is none of off, report, enforce", { DEVICE_CLEANUP: "delete" }, /DEVICE_CLEANUP must be "off", "report" or "enforce", got "delete"/],
    ["an allowed principal that is not a GUID", { ACCESS_ALLOWED_PRINCIPALS: `${P1},alice@contoso.com` }, /ACCESS_ALLOWED_PRINCIPALS: "alice@contoso.com" is not an object id/],
    ["an allowed principal in braces", { ACCESS_ALLOWED_PRINCIPALS: `{${P1}}` }, /ACCESS_ALLOWED_PRINCIPALS: "\{/],
    ["a negative maximum", { ACCESS_MAX_PRINCIPALS: "-1" }, /ACCESS_MAX_PRINCIPALS must be a non-negative whole number, got "-1"/],
    ["a fractional maximum", { ACCESS_MAX_PRINCIPALS: "2.5" }, /ACCESS_MAX_PRINCIPALS/],
    ["a boolean that is not one", { ALLOW_EXEMPTIONS: "maybe" }, /ALLOW_EXEMPTIONS must be true or false, got "maybe"/],
    ["an unknown cloud", { POLICY_ALLOWED_CLOUDS: "AzureCloud,AzureGermanCloud" }, /POLICY_ALLOWED_CLOUDS: "AzureGermanCloud" is not a cloud; use AzureCloud, AzureUSGovernment, AzureChinaCloud/],
    ["a region with odd characters", { POLICY_DENIED_REGIONS: "west-europe" }, /POLICY_DENIED_REGIONS: "west-europe" is not a region name/],
    ["a server release that does not exist", { POLICY_MIN_SERVER_VERSION: "2020" }, /POLICY_MIN_SERVER_VERSION must be a Windows Server release year \(.*2019.*\), got "2020"/],
    ["a server release as a build", { POLICY_MIN_SERVER_VERSION: "17763" }, /POLICY_MIN_SERVER_VERSION/],
    ["a client build that is not a number", { POLICY_MIN_CLIENT_BUILD: "1809a" }, /POLICY_MIN_CLIENT_BUILD must be a non-negative whole number/],
    ["an extension version without a minor", { AAD_EXTENSION_VERSION: "2" }, /AAD_EXTENSION_VERSION must be major.minor/],
    ["an extension version with junk", { AAD_EXTENSION_VERSION: "1.0; rm -rf" }, /AAD_EXTENSION_VERSION/],
    ["a Linux switch that is not a boolean", { ENFORCE_LINUX: "sometimes" }, /ENFORCE_LINUX must be true or false, got "sometimes"/],
    ["a Linux extension version without a minor", { AAD_LINUX_EXTENSION_VERSION: "1" }, /AAD_LINUX_EXTENSION_VERSION must be major.minor/],
    ["an mdmId that is not a GUID", { AAD_EXTENSION_MDM_ID: "intune" }, /AAD_EXTENSION_MDM_ID must be empty or a GUID/],
    ["a principal id that is not a GUID", { ENFORCER_PRINCIPAL_ID: "enforcer" }, /ENFORCER_PRINCIPAL_ID: "enforcer" is not an object id/],
    ["an app id that is not a GUID", { ENFORCER_APP_ID: "app" }, /ENFORCER_APP_ID: "app" is not an application \(client\) id/],
    ["a subscription that is not a GUID", { WATCHED_SUBSCRIPTION_IDS: "prod-sub" }, /WATCHED_SUBSCRIPTION_IDS: "prod-sub" is not a subscription id/],
    ["a tag name Azure refuses", { ACCESS_ADMINS_TAG: "admins/of<vm>" }, /ACCESS_ADMINS_TAG: "admins\/of<vm>" is not a usable tag name/],
    ["admins and users on one tag (any case)", { ACCESS_ADMINS_TAG: "login", ACCESS_USERS_TAG: "LOGIN" }, /ACCESS_ADMINS_TAG and ACCESS_USERS_TAG name the same tag/],
    ["the exempt tag reused for expiry", { ACCESS_EXPIRES_TAG: "aadlogin-exempt" }, /ACCESS_EXPIRES_TAG and EXEMPT_TAG name the same tag/],
    ["a follow-up delay that is not a number", { FOLLOW_UP_DELAY_MS: "15s" }, /FOLLOW_UP_DELAY_MS must be a non-negative whole number, got "15s"/],
    ["a follow-up maximum below the first delay", { FOLLOW_UP_DELAY_MS: "30000", FOLLOW_UP_MAX_DELAY_MS: "10000" }, /FOLLOW_UP_MAX_DELAY_MS \(10000\) must be at least FOLLOW_UP_DELAY_MS \(30000\)/],
    ["a lease too short for a pass", { LEASE_DURATION_MS: "10" }, /LEASE_DURATION_MS must be at least 1000/],
    ["a negative lease retry delay", { LEASE_RETRY_DELAY_MS: "-5" }, /LEASE_RETRY_DELAY_MS must be a non-negative whole number/],
    ["an unknown audit source", { AUDIT_SOURCE: "graph" }, /AUDIT_SOURCE must be "resource-graph" or "arm", got "graph"/],
    ["a negative confirm slice count", { AUDIT_CONFIRM_SLICES: "-1" }, /AUDIT_CONFIRM_SLICES must be a non-negative whole number, got "-1"/],
    ["a principal-not-found window that is not a number", { PRINCIPAL_NOT_FOUND_WINDOW_MS: "30m" }, /PRINCIPAL_NOT_FOUND_WINDOW_MS must be a non-negative whole number/],
  ])("refuses %s with an error naming the setting and the value", (_label, source, message) => {
    expect(() => loadEnforcerConfig(source)).toThrow(message);
  });

  it("reports every problem at once", () => {
    let message = "";
    try {
      loadEnforcerConfig({ ENFORCER_MODE: "on", ACCESS_ALLOWED_PRINCIPALS: "bob", POLICY_ALLOW_ARM64: "perhaps" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration:/);
    expect(message).toContain("ENFORCER_MODE");
    expect(message).toContain("ACCESS_ALLOWED_PRINCIPALS");
    expect(message).toContain("POLICY_ALLOW_ARM64");
  });

  it("cuts a very long bad value short in the message", () => {
    expect(() => loadEnforcerConfig({ ENFORCER_MODE: "x".repeat(10_000) })).toThrow(/x{80}…"/);
  });
});
