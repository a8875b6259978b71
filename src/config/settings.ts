/**
 * The one list of app settings the code reads. `local.settings.sample.json`, the Bicep app settings
 * and the README table are all checked against this list, so code and infra cannot drift.
 * Settings are read from the environment, as Azure Functions exposes app settings.
 */
export interface SettingSpec {
  /** Environment variable / app setting name. */
  readonly name: string;
  /** Default used when the setting is absent ("" = unset). */
  readonly default: string;
  readonly description: string;
  /** Set by the platform or the deployment rather than by the operator. */
  readonly platform?: boolean;
}

export const SETTINGS = [
  { name: "AzureWebJobsStorage", default: "UseDevelopmentStorage=true", platform: true,
    description: "Storage connection for tables and queues (connection string; Azurite locally). In Azure, the identity-based service URIs below replace it." },
  { name: "AzureWebJobsStorage__accountName", default: "", platform: true,
    description: "Storage account name for an identity-based connection in public Azure only (endpoints *.core.windows.net). The service URIs take precedence; the infra does not set it." },
  { name: "AzureWebJobsStorage__queueServiceUri", default: "", platform: true,
    description: "Queue endpoint for the identity-based connection (https://<account>.queue.<cloud storage suffix>), any cloud. Takes precedence over the account name and AzureWebJobsStorage." },
  { name: "AzureWebJobsStorage__tableServiceUri", default: "", platform: true,
    description: "Table endpoint for the identity-based connection (https://<account>.table.<cloud storage suffix>), any cloud. Takes precedence over the account name and AzureWebJobsStorage." },
  { name: "FUNCTIONS_WORKER_RUNTIME", default: "node", platform: true,
    description: "Functions worker runtime; always node." },
  { name: "ENFORCER_MODE", default: "report",
    description: "enforce: make changes; report: dry-run, record what would be done and write nothing to ARM." },
  { name: "WATCHED_SUBSCRIPTION_IDS", default: "",
    description: "Comma-separated subscription ids the enforcer may act in: the drift audit lists their VMs, and every pass (event, queue, HTTP, CLI) refuses a VM outside them. Empty: every VM is refused." },
  { name: "ENFORCER_PRINCIPAL_ID", default: "",
    description: "Object id of the enforcer's own managed identity: events it caused do not start a pass (loop guard)." },
  { name: "ENFORCER_APP_ID", default: "",
    description: "Application (client) id of the enforcer's own identity, also used by the loop guard." },
  { name: "ACCESS_ALLOWED_PRINCIPALS", default: "",
    description: "Comma-separated object ids that tags may grant login to. Empty: nobody may be granted by tag." },
  { name: "ACCESS_MAX_PRINCIPALS", default: "20",
    description: "Maximum principals one VM's tags may grant (admins and users together); entries past it are rejected." },
  { name: "ACCESS_ADMINS_TAG", default: "aadlogin-admins",
    description: "Tag whose entries get Virtual Machine Administrator Login." },
  { name: "ACCESS_USERS_TAG", default: "aadlogin-users",
    description: "Tag whose entries get Virtual Machine User Login." },
  { name: "ACCESS_EXPIRES_TAG", default: "aadlogin-expires",
    description: "Tag with an ISO-8601 instant after which tag-granted access is revoked." },
  { name: "EXEMPT_TAG", default: "aadlogin-exempt",
    description: "Tag that opts a VM out when set to true (only if ALLOW_EXEMPTIONS is true)." },
  { name: "ALLOW_EXEMPTIONS", default: "true",
    description: "Whether the exempt tag is honoured." },
  { name: "POLICY_ALLOWED_CLOUDS", default: "AzureCloud",
    description: "Comma-separated clouds whose regions are eligible: AzureCloud, AzureUSGovernment, AzureChinaCloud." },
  { name: "POLICY_DENIED_REGIONS", default: "",
    description: "Comma-separated regions never eligible, even inside an allowed cloud." },
  { name: "POLICY_MIN_SERVER_VERSION", default: "2019",
    description: "Lowest Windows Server release eligible (2019 = build 17763)." },
  { name: "POLICY_MIN_CLIENT_BUILD", default: "17763",
    description: "Lowest Windows 10/11 build eligible (17763 = Windows 10 1809)." },
  { name: "POLICY_ALLOW_SERVER_CORE", default: "false",
    description: "Whether Server Core images are eligible (Microsoft's 2025 page says no)." },
  { name: "POLICY_ALLOW_ARM64", default: "false",
    description: "Whether arm64 VMs are eligible (reported unsupported)." },
  { name: "ENFORCE_LINUX", default: "false",
    description: "Whether Linux VMs are enforced with AADSSHLoginForLinux (Entra ID SSH login, same two roles; judged by the supported-distribution policy, 1 GiB memory minimum). false: Linux VMs are recorded ineligible (not-windows) as before." },
  { name: "AAD_LINUX_EXTENSION_VERSION", default: "1.0",
    description: "typeHandlerVersion of AADSSHLoginForLinux (the version public deployments show: 1.0)." },
  { name: "AAD_EXTENSION_VERSION", default: "1.0",
    description: "typeHandlerVersion of AADLoginForWindows (Microsoft's page: 1.0; Azure Verified Modules: 2.0)." },
  { name: "AAD_EXTENSION_MDM_ID", default: "",
    description: "Optional mdmId setting for the extension (0000000a-0000-0000-c000-000000000000 enrolls in Intune)." },
  { name: "AUDIT_SCHEDULE", default: "0 0 */6 * * *",
    description: "NCRONTAB (6 fields) schedule of the drift audit." },
  { name: "AUDIT_SOURCE", default: "resource-graph",
    description: "How the drift audit reads the estate: resource-graph (one snapshot of every watched subscription; only VMs it cannot vouch for, plus a rotating confirm slice, get an ARM pass) or arm (list every VM and pass each one)." },
  { name: "AUDIT_CONFIRM_SLICES", default: "500",
    description: "With resource-graph: each audit also confirms 1/N of the VMs the snapshot calls compliant through ARM, a different slice each run, so every VM is read from ARM at least once in N audits (0 = never)." },
  { name: "RECONCILE_QUEUE_NAME", default: "reconcile-requests",
    description: "Storage queue the drift audit fans reconcile requests out on." },
  { name: "TABLE_PREFIX", default: "aadlogin",
    description: "Prefix of the Table Storage tables (VM state, log, audit runs, leases)." },
  { name: "ARM_ENDPOINT", default: "https://management.azure.com",
    description: "Azure Resource Manager endpoint (a sovereign cloud's, or the local emulator's)." },
  { name: "ARM_AUDIENCE", default: "https://management.azure.com",
    description: "Token audience for ARM: the cloud's Resource Manager (https://management.usgovcloudapi.net in Azure Government, https://management.chinacloudapi.cn in Azure China). Stays the public one for the local emulator." },
  { name: "ARM_CA_FILE", default: "",
    description: "PEM file of an extra CA to trust for ARM (the local emulator's); empty in Azure." },
  { name: "ARM_MAX_RETRIES", default: "5",
    description: "Retries of the SDK's own policy for 429 (honouring Retry-After), 5xx and connection errors." },
  { name: "ARM_RETRY_DELAY_MS", default: "1000",
    description: "Base delay of the SDK's exponential backoff for 5xx and connection errors (429 waits for Retry-After)." },
  { name: "FOLLOW_UP_DELAY_MS", default: "15000",
    description: "How long after starting (or finding) a long-running operation a pass looks again; doubles with each look. No invocation waits on an operation: the look is a delayed queue message (whole seconds; 0 = at once, only for an emulator whose operations end instantly)." },
  { name: "FOLLOW_UP_MAX_DELAY_MS", default: "120000",
    description: "Longest delay between two looks at an operation in flight (Compute allows 12 reads of one VM per minute)." },
  { name: "LEASE_DURATION_MS", default: "660000",
    description: "How long a pass holds its VM's lease (one pass per VM at a time). Longer than the function timeout, so only a crashed pass's lease ever runs out." },
  { name: "PRINCIPAL_NOT_FOUND_WINDOW_MS", default: "1800000",
    description: "How long a grant that ARM answers PrincipalNotFound is retried (directory replication: Microsoft's RBAC guidance gives up to 10 minutes for role changes, and has said up to 30), counted from the first such answer for that principal on that VM; after it the grant is rejected (principal-not-found) and follow-ups stop for that principal." },
  { name: "DEVICE_CONFIRMATION", default: "false",
    description: "After an install of ours succeeds, look the VM's device up in Microsoft Entra ID (Microsoft Graph, needs Device.Read.All granted to the app): joined (device id on the row) or join-not-confirmed. Windows VMs only. Off by default: Bicep cannot grant Graph app roles; an admin grants them first (README)." },
  { name: "DEVICE_JOIN_WAIT_MS", default: "300000",
    description: "With DEVICE_CONFIRMATION: how long after the first look without a device the one retry look comes; no device then is reported as join-not-confirmed." },
  { name: "DEVICE_CLEANUP", default: "off",
    description: "When a VM whose device we recorded at join is deleted: off (nothing), report (log what would be deleted), enforce (delete exactly that device; needs Device.ReadWrite.All). Never a device found only by display name." },
  { name: "GRAPH_ENDPOINT", default: "https://graph.microsoft.com",
    description: "Microsoft Graph endpoint (https://graph.microsoft.us in US Government L4, https://microsoftgraph.chinacloudapi.cn in 21Vianet, or the local emulator's)." },
  { name: "GRAPH_AUDIENCE", default: "https://graph.microsoft.com",
    description: "Token audience for Microsoft Graph: the cloud's Graph endpoint. Stays the public one for the local emulator (its CA is ARM_CA_FILE's)." },
  { name: "LEASE_RETRY_DELAY_MS", default: "5000",
    description: "A request for a VM whose lease is held is re-queued with this delay, not dropped." },
] as const satisfies readonly SettingSpec[];

export type SettingName = (typeof SETTINGS)[number]["name"];

export type SettingsSource = Readonly<Record<string, string | undefined>>;

/** Reads a setting from the source (default: the process environment), falling back to its default. */
export function readSetting(name: SettingName, source: SettingsSource = process.env): string {
  const value = source[name];
  if (value !== undefined && value.trim() !== "") return value.trim();
  return defaultOf(name);
}

/** The default, from SETTINGS: the one place defaults live. */
export function defaultOf(name: SettingName): string {
  return SETTINGS.find((s) => s.name === name)?.default ?? "";
}

/** A value quoted for an error message: hostile or huge input is cut, never echoed whole. */
export function showValue(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/**
 * Reads settings and collects every problem instead of stopping at the first, so one deployment
 * fixes them all. A bad value reads as its default meanwhile; `finish()` then throws one error that
 * lists each problem, naming the setting, the value and what is expected.
 */
export class SettingsReader {
  readonly #problems: string[] = [];

  constructor(readonly source: SettingsSource = process.env) {}

  get problems(): readonly string[] {
    return this.#problems;
  }

  problem(message: string): void {
    this.#problems.push(message);
  }

  /** Runs a check that throws on a bad value; its message is collected and `fallback` returned. */
  attempt<T>(read: () => T, fallback: T): T {
    try {
      return read();
    } catch (error) {
      this.problem((error as Error).message);
      return fallback;
    }
  }

  string(name: SettingName): string {
    return readSetting(name, this.source);
  }

  /** A comma/semicolon/whitespace separated list. */
  list(name: SettingName): string[] {
    return splitList(this.string(name));
  }

  boolean(name: SettingName): boolean {
    const raw = this.string(name);
    const value = parseBoolean(raw);
    if (value !== undefined) return value;
    this.problem(`Setting ${name} must be true or false, got ${showValue(raw)}.`);
    return parseBoolean(defaultOf(name)) ?? false;
  }

  /** A whole number of at least `min` (default 0); `why` says what the minimum is for. */
  integer(name: SettingName, min = 0, why?: string): number {
    const raw = this.string(name);
    const n = Number(raw);
    if (raw !== "" && Number.isInteger(n) && n >= min) return n;
    const expected = min === 0 ? "a non-negative whole number" : `at least ${min}${why ? ` (${why})` : ""}, a whole number`;
    this.problem(`Setting ${name} must be ${expected}, got ${showValue(raw)}.`);
    return Number(defaultOf(name)) || min;
  }

  /** Throws one error listing every problem found so far, if any. */
  finish(): void {
    if (this.#problems.length > 0) {
      throw new Error(`Invalid configuration:\n- ${this.#problems.join("\n- ")}`);
    }
  }
}

function splitList(raw: string): string[] {
  return raw
    .split(/[,;\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function parseBoolean(raw: string): boolean | undefined {
  const v = raw.toLowerCase();
  if (v === "true" || v === "1" || v === "yes") return true;
  if (v === "false" || v === "0" || v === "no" || v === "") return false;
  return undefined;
}
