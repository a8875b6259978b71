import { hasSystemAssignedIdentity, type InstanceStatus, type ObservedExtension, type ObservedVm } from "./vm.js";

/**
 * What a failed AADLoginForWindows extension is telling, from its instance view. The extension
 * reports failures as text, e.g. `Handler 'Microsoft.Azure.ActiveDirectory.AADLoginForWindows' has
 * reported failure for VM Extension 'AADLoginForWindows' with terminal error code '1007' ... Exit
 * code: -2145648574`, and as status codes such as `ProvisioningState/failed/1007`; the codes are
 * read from both. The known codes are the ones CONTEXT.md lists.
 */
export type DiagnosisCode =
  | "msi-tenant-unavailable"
  | "autojoin-discovery-failed"
  | "unsupported-os"
  | "unsupported-os-2016"
  | "duplicate-device"
  // AADSSHLoginForLinux (see linuxPolicy.ts for the sources):
  | "linux-identity-missing"
  | "linux-legacy-extension"
  | "linux-packages-unreachable"
  | "unsupported-distro"
  | "unknown-failure"
  /** Preflight (issue 12): a network security group denies outbound TCP 443; nothing was installed. */
  | "outbound-443-blocked";

export interface Diagnosis {
  readonly code: DiagnosisCode;
  /** The exit code reported (else the terminal error code), when there is one. */
  readonly exitCode?: number;
  readonly meaning: string;
  readonly remediation: string;
  /** What the enforcer can do about it itself. */
  readonly selfRepair: "enable-identity-and-reinstall" | "none";
  /** Whether reinstalling can succeed without a person changing something outside the VM resource. */
  readonly retryable: boolean;
  /** The first failure message, without control characters, cut to 300 characters. */
  readonly detail?: string;
  /** duplicate-device: object ids of the devices the remediation names as blocking (looked up once per failure). */
  readonly blockers?: readonly string[];
}

export const EXIT_MSI_TENANT_UNAVAILABLE = -2145648574; // 0x801C0042 DSREG_E_MSI_TENANTID_UNAVAILABLE
export const TERMINAL_MSI_TENANT_UNAVAILABLE = 1007;
export const EXIT_AUTOJOIN_DISCOVERY_FAILED = -2145648607; // 0x801C0021 DSREG_AUTOJOIN_DISC_FAILED
export const EXIT_UNSUPPORTED_OS = 51;
export const EXIT_UNSUPPORTED_OS_2016 = 50;
/** AADSSHLoginForLinux, Microsoft Learn "Sign in to a Linux virtual machine … OpenSSH", Extension installation errors. */
export const EXIT_LINUX_NO_IDENTITY = 22;
export const EXIT_LINUX_LEGACY_EXTENSION = 23;
/** Azure/azure-linux-extensions#1902, MicrosoftDocs/azure-docs#23916: the installer could not fetch from packages.microsoft.com. */
export const EXIT_LINUX_PACKAGES_UNREACHABLE = 20;
/** Azure/azure-linux-extensions#1289, flatcar/Flatcar#664: "Package aadlogin is not published for this version of Linux", "Unknown packaging system". */
export const EXIT_LINUX_UNSUPPORTED_DISTRO = 51;
/** Where the Linux handler logs: the VM agent's convention `/var/log/azure/<publisher>.<type>/` (unverified for this handler). */
export const LINUX_LOG_DIR = "/var/log/azure/Microsoft.Azure.ActiveDirectory.AADSSHLoginForLinux";

const NAMED_CODES: ReadonlyArray<readonly [RegExp, number]> = [
  [/DSREG_E_MSI_TENANTID_UNAVAILABLE/i, EXIT_MSI_TENANT_UNAVAILABLE],
  [/DSREG_AUTOJOIN_DISC_FAILED/i, EXIT_AUTOJOIN_DISCOVERY_FAILED],
];

const DUPLICATE_DEVICE = /(device[^.]*(already exists|duplicate))|(duplicate[^.]*device)|(same name[^.]*device)|(device[^.]*same name)/i;

const KNOWN: Readonly<Record<DiagnosisCode, { meaning: string; remediation: string; retryable: boolean }>> = {
  "msi-tenant-unavailable": {
    meaning: "DSREG_E_MSI_TENANTID_UNAVAILABLE (terminal error 1007, exit code -2145648574): the extension could not read the tenant from the VM's managed identity, because the VM had no system-assigned identity when the extension ran.",
    remediation: "Enable the VM's system-assigned managed identity, then reinstall the AADLoginForWindows extension.",
    retryable: true,
  },
  "autojoin-discovery-failed": {
    meaning: "DSREG_AUTOJOIN_DISC_FAILED (exit code -2145648607): the VM could not reach the Azure AD device registration service to join.",
    remediation: "Allow outbound TCP 443 from the VM to enterpriseregistration.windows.net, login.microsoftonline.com, device.login.microsoftonline.com and pas.windows.net (NSG, firewall, proxy, DNS), then reinstall the extension.",
    retryable: true,
  },
  "unsupported-os": {
    meaning: "Exit code 51: the AADLoginForWindows extension is not supported on this Windows version.",
    remediation: "Uninstall the extension; Azure AD login needs Windows Server 2019 or later, or Windows 10 1809 or later.",
    retryable: false,
  },
  "unsupported-os-2016": {
    meaning: "Exit code 50: reported on Windows Server 2016, which Azure AD login does not support.",
    remediation: "Uninstall the extension and upgrade to Windows Server 2019 or later, or exempt the VM.",
    retryable: false,
  },
  "duplicate-device": {
    meaning: "A device with the same name already exists in the directory, so the VM cannot join under its name.",
    remediation: "Delete the stale device object in Entra ID (or change the VM's computer name), then reinstall the extension.",
    retryable: false,
  },
  "outbound-443-blocked": {
    meaning: "A network security group denies outbound TCP 443 from the VM to Entra ID, so the extension would fail to join (exit code -2145648607); it was not installed.",
    remediation: "Allow outbound TCP 443 to the AzureActiveDirectory service tag (or Internet) at a lower priority number than the denying rule; the next pass installs the extension.",
    retryable: true,
  },
  "linux-identity-missing": {
    meaning: "Exit code 22: AADSSHLoginForLinux needs the VM's system-assigned managed identity, which the VM did not have when the extension ran.",
    remediation: "Enable the VM's system-assigned managed identity, then reinstall the AADSSHLoginForLinux extension.",
    retryable: true,
  },
  "linux-legacy-extension": {
    meaning: "Exit code 23: the deprecated AADLoginForLinux extension is still installed, and AADSSHLoginForLinux cannot install beside it.",
    remediation: "Uninstall the AADLoginForLinux extension (sign its users out first; `who -u` lists them), then reinstall AADSSHLoginForLinux. The enforcer never removes an extension it did not install.",
    retryable: false,
  },
  "linux-packages-unreachable": {
    meaning: "Exit code 20: the extension's installer could not download the aadsshlogin packages from packages.microsoft.com.",
    remediation: `Allow outbound TCP 443 from the VM to packages.microsoft.com, login.microsoftonline.com and pas.windows.net (and http://169.254.169.254), give walinuxagent.service the proxy settings if a proxy is used, then reinstall the extension; details in ${LINUX_LOG_DIR}.`,
    retryable: true,
  },
  "unsupported-distro": {
    meaning: "Exit code 51: AADSSHLoginForLinux has no package for this Linux distribution or version.",
    remediation: "Uninstall the extension; Entra ID SSH login needs a supported distribution (Ubuntu 16.04+, RHEL 7.4+, Debian 9+, SLES 12/15, AlmaLinux/Rocky/Oracle 8+, Azure Linux), or exempt the VM.",
    retryable: false,
  },
  "unknown-failure": {
    meaning: "The extension failed with a code this diagnosis does not know.",
    remediation: "Read the extension status on the VM and the logs under C:\\WindowsAzure\\Logs\\Plugins\\Microsoft.Azure.ActiveDirectory.AADLoginForWindows, fix the cause, then reinstall the extension.",
    retryable: true,
  },
};

function isFailed(ext: ObservedExtension, statuses: readonly InstanceStatus[]): boolean {
  if ((ext.provisioningState ?? "").toLowerCase() === "failed") return true;
  if (documentedLinuxFailure(ext, statuses)) return true;
  return statuses.some((s) => (s.level ?? "").toLowerCase() === "error" || /provisioningstate\/failed/i.test(s.code ?? ""));
}

function toInt32(hex: string): number {
  return Number.parseInt(hex, 16) | 0;
}

/** The codes named in the statuses, in the order: exit codes, terminal codes, status-code suffixes. */
export function failureCodes(statuses: readonly InstanceStatus[]): { exit: number[]; terminal: number[]; all: number[] } {
  const exit: number[] = [];
  const terminal: number[] = [];
  const other: number[] = [];
  for (const s of statuses) {
    const text = `${s.code ?? ""}\n${s.displayStatus ?? ""}\n${s.message ?? ""}`;
    for (const m of text.matchAll(/exit\s*code\s*[:=]?\s*'?(-?\d+)/gi)) exit.push(Number(m[1]));
    for (const m of text.matchAll(/terminal\s+error\s+code\s*[:=]?\s*'?(-?\d+)/gi)) terminal.push(Number(m[1]));
    for (const m of text.matchAll(/provisioningstate\/failed\/(-?\d+)/gi)) other.push(Number(m[1]));
    for (const m of text.matchAll(/0x([0-9a-f]{8})(?![0-9a-f])/gi)) other.push(toInt32(m[1] ?? "0"));
    for (const [pattern, code] of NAMED_CODES) if (pattern.test(text)) other.push(code);
  }
  return { exit, terminal, all: [...exit, ...terminal, ...other] };
}

function classifyLinux(codes: readonly number[]): DiagnosisCode {
  if (codes.includes(EXIT_LINUX_NO_IDENTITY)) return "linux-identity-missing";
  if (codes.includes(EXIT_LINUX_LEGACY_EXTENSION)) return "linux-legacy-extension";
  if (codes.includes(EXIT_LINUX_PACKAGES_UNREACHABLE)) return "linux-packages-unreachable";
  if (codes.includes(EXIT_LINUX_UNSUPPORTED_DISTRO)) return "unsupported-distro";
  return "unknown-failure";
}

/**
 * Microsoft documents that AADSSHLoginForLinux may show *Transitioning* rather than failed when it
 * exits 22 or 23: a status naming one of those exit codes is a failure whatever the provisioning
 * state says (how the instance view words it then is not documented: read from any status text).
 */
export function documentedLinuxFailure(ext: ObservedExtension, statuses: readonly InstanceStatus[] = [...ext.statuses, ...ext.substatuses]): boolean {
  if (!isLinuxLoginExtension(ext)) return false;
  const { exit } = failureCodes(statuses);
  return exit.includes(EXIT_LINUX_NO_IDENTITY) || exit.includes(EXIT_LINUX_LEGACY_EXTENSION);
}

/** Whether the extension is AADSSHLoginForLinux (resource type, or the instance view's joined type). */
export function isLinuxLoginExtension(ext: ObservedExtension): boolean {
  return /(^|\.)aadsshloginforlinux$/i.test((ext.type ?? "").trim());
}

const LINUX_UNKNOWN_REMEDIATION = `Read the extension status on the VM and the logs under ${LINUX_LOG_DIR} (and /var/log/waagent.log), fix the cause, then reinstall the extension.`;

function classify(codes: readonly number[], text: string): DiagnosisCode {
  if (codes.includes(EXIT_MSI_TENANT_UNAVAILABLE)) return "msi-tenant-unavailable";
  if (codes.includes(EXIT_AUTOJOIN_DISCOVERY_FAILED)) return "autojoin-discovery-failed";
  if (DUPLICATE_DEVICE.test(text)) return "duplicate-device";
  if (codes.includes(EXIT_UNSUPPORTED_OS)) return "unsupported-os";
  if (codes.includes(EXIT_UNSUPPORTED_OS_2016)) return "unsupported-os-2016";
  // Terminal code 1007 only says the install failed (exit 51 comes with it too): it means the missing
  // identity only when no exit code tells a more specific story.
  if (codes.includes(TERMINAL_MSI_TENANT_UNAVAILABLE)) return "msi-tenant-unavailable";
  return "unknown-failure";
}

/** The diagnosis of a failed AADLoginForWindows or AADSSHLoginForLinux extension, or undefined when it has not failed. */
export function diagnoseExtension(ext: ObservedExtension | undefined, vm: ObservedVm): Diagnosis | undefined {
  if (!ext) return undefined;
  const statuses = [...ext.statuses, ...ext.substatuses];
  if (!isFailed(ext, statuses)) return undefined;
  const codes = failureCodes(statuses);
  const text = statuses.map((s) => `${s.displayStatus ?? ""} ${s.message ?? ""}`).join("\n");
  const linux = isLinuxLoginExtension(ext);
  const code = linux ? classifyLinux(codes.exit) : classify(codes.all, text);
  const known = linux && code === "unknown-failure" ? { ...KNOWN[code], remediation: LINUX_UNKNOWN_REMEDIATION } : KNOWN[code];
  const exitCode = codes.exit[0] ?? codes.terminal[0] ?? codes.all[0];
  const identityCode = code === "msi-tenant-unavailable" || code === "linux-identity-missing";
  const selfRepair = identityCode && !hasSystemAssignedIdentity(vm.identity) ? "enable-identity-and-reinstall" : "none";
  const firstMessage = statuses.find((s) => (s.message ?? "").trim() !== "" && ((s.level ?? "").toLowerCase() === "error" || /fail/i.test(s.message ?? "")))?.message
    ?? statuses.find((s) => (s.message ?? "").trim() !== "")?.message;
  const detail = firstMessage
    ? firstMessage.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim().slice(0, 300)
    : undefined;
  return {
    code,
    ...(exitCode !== undefined ? { exitCode } : {}),
    meaning: known.meaning,
    remediation: known.remediation,
    selfRepair,
    retryable: known.retryable,
    ...(detail ? { detail } : {}),
  };
}
