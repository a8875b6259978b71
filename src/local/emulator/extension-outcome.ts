import { entraHttpsVerdictFor } from "./entra-egress.js";
import { ArmError } from "./errors.js";
import type { Json } from "./http-io.js";
import { isObject } from "./http-io.js";
import type { NetworkResource } from "./network.js";
import { guestOsFor, osTypeOf, windowsBuild } from "./os-catalog.js";
import type { ExtensionRecord, VmRecord } from "./state.js";

/** Build 17763 = Windows Server 2019 = Windows 10 1809, the oldest the seed supports. */
const MIN_AAD_LOGIN_BUILD = 17763;
const AAD_PUBLISHER = "microsoft.azure.activedirectory";
const AAD_TYPE = "aadloginforwindows";
const PLUGIN_VERSION = "1.0.0.1";
const AAD_SSH_TYPE = "aadsshloginforlinux";
/** The Linux handler's version in public failure reports (Azure/azure-linux-extensions#1902). */
const LINUX_HANDLER_VERSION = "1.0.2385.1";

export interface ExtensionOutcome {
  /** The LRO's error when the handler failed; undefined on success. */
  readonly error?: ArmError;
  /** Extension instance view (`name`, `type`, `typeHandlerVersion`, `statuses`) as the agent reports it. */
  readonly instanceView?: Json;
}

/** Guest-agent failure terminal codes: 1007 when install fails, 1009 when enable fails. */
interface HandlerFailure {
  readonly terminalCode: "1007" | "1009";
  readonly exitCode: string;
  /** What the handler said after its exit code, when the code alone does not tell the story. */
  readonly detail?: string;
}

/** What the directory holds that changes the outcome (operation-effects.ts looks it up). */
export interface ExtensionOutcomeContext {
  /** The emulator's network resources: the VM's NIC, subnet and groups, when seeded (see entra-egress.ts). */
  readonly network?: ReadonlyMap<string, NetworkResource>;
  /** The display name of a deleted VM's device that holds this VM's computer name. */
  readonly staleDeviceName?: string;
}

/**
 * The join meeting a deleted VM's device of the same name. Microsoft documents no exit code or text for
 * it (the troubleshooting section of Learn "Sign in to a Windows virtual machine in Azure by using
 * Microsoft Entra ID" lists -2145648574, -2145648607 and 51 only). The exit code is the one a user
 * reported for a join that failed on the device's name (MicrosoftDocs/azure-docs#58290, "The resource
 * name needs to also be unique in the devices list"); unverified that it is this case's. The sentence
 * is modelled on the failure as the project's notes name it ("a device with the same name already exists").
 */
const EXIT_DUPLICATE_DEVICE = "-2145648639";

export const isAadLogin = (ext: ExtensionRecord): boolean =>
  String(ext.properties["publisher"] ?? "").toLowerCase() === AAD_PUBLISHER &&
  String(ext.properties["type"] ?? "").toLowerCase() === AAD_TYPE;

const isAadSshLogin = (ext: ExtensionRecord): boolean =>
  String(ext.properties["publisher"] ?? "").toLowerCase() === AAD_PUBLISHER &&
  String(ext.properties["type"] ?? "").toLowerCase() === AAD_SSH_TYPE;

/** The legacy preview extension, whatever publisher prefix it was installed with (`…ActiveDirectory.LinuxSSH`). */
const isLegacyLinuxLogin = (ext: ExtensionRecord): boolean => String(ext.properties["type"] ?? "").toLowerCase() === "aadloginforlinux";

/**
 * What the VM agent would report for this extension, decided from what the VM "is" (see the seed's
 * troubleshooting section): unsupported OS (Linux, or a Windows build below 17763) exits 51; no
 * system-assigned identity exits -2145648574 (DSREG_E_MSI_TENANTID_UNAVAILABLE, terminal 1007);
 * no outbound network exits -2145648607 (DSREG_AUTOJOIN_DISC_FAILED, at enable). Other extensions
 * succeed whenever an agent is reporting. "No outbound network" is the simulation flag (something
 * outside the security groups: a firewall, proxy or route) or, when the VM's NIC, subnet and groups
 * are seeded in `network`, security rules that deny TCP 443 to Entra ID (see entra-egress.ts).
 */
export function extensionOutcome(vm: VmRecord, ext: ExtensionRecord, nowIso: string, context: ExtensionOutcomeContext = {}): ExtensionOutcome {
  const publisher = String(ext.properties["publisher"] ?? "");
  const type = String(ext.properties["type"] ?? "");
  if (vm.simulation.agent === null) {
    return {
      error: new ArmError(
        409,
        "VMAgentStatusCommunicationError",
        `VM '${vm.name}' has not reported status for VM agent or extensions. Verify that the OS is up and healthy, the VM has a running VM agent, ` +
          "and that it can establish outbound connections to Azure storage. Please refer to https://aka.ms/vmextensionwindowstroubleshoot for additional VM agent troubleshooting information.",
      ),
    };
  }
  const handlerType = `${publisher}.${type}`;
  const view = (statuses: Json[]): Json => ({
    name: ext.name,
    type: handlerType,
    typeHandlerVersion: isAadLogin(ext) ? PLUGIN_VERSION : String(ext.properties["typeHandlerVersion"] ?? "1.0"),
    statuses,
  });
  const outbound = (): boolean => vm.simulation.outboundNetwork && entraHttpsVerdictFor(vm, context.network ?? new Map())?.allowed !== false;
  if (isAadSshLogin(ext)) {
    const linux = aadSshLoginFailure(vm, ext, outbound);
    if (linux) return linuxFailure(ext, linux, nowIso);
  }
  const failure = isAadLogin(ext) ? aadLoginFailure(vm, outbound, context) : undefined;
  if (!failure) {
    return {
      instanceView: view([
        { code: "ProvisioningState/succeeded", level: "Info", displayStatus: "Provisioning succeeded", message: "Plugin enabled", time: nowIso },
      ]),
    };
  }
  const phase = failure.terminalCode === "1007" ? "Install" : "Enable";
  const handlerMessage =
    `Handler '${handlerType}' has reported failure for VM Extension '${ext.name}' with terminal error code '${failure.terminalCode}' ` +
    `and error message: '${phase} failed for plugin (name: ${handlerType}, version ${PLUGIN_VERSION}) with exception Command ` +
    `C:\\Packages\\Plugins\\${handlerType}\\${PLUGIN_VERSION}\\AADLoginForWindowsHandler.exe of ${handlerType} has exited with Exit code: ${failure.exitCode}${failure.detail ? `. ${failure.detail}` : ""}'`;
  const message =
    `VM has reported a failure when processing extension '${ext.name}' (publisher '${publisher}' and type '${type}'). ` +
    `Error message: "${handlerMessage}". More information on troubleshooting is available at https://aka.ms/vmextensionwindowstroubleshoot`;
  return {
    error: new ArmError(400, "VMExtensionProvisioningError", message),
    instanceView: view([
      {
        code: `ProvisioningState/failed/${failure.terminalCode}`,
        level: "Error",
        displayStatus: "Provisioning failed",
        message: handlerMessage,
        time: nowIso,
      },
    ]),
  };
}

function aadLoginFailure(vm: VmRecord, outbound: () => boolean, context: ExtensionOutcomeContext): HandlerFailure | undefined {
  if (osTypeOf(vm.properties) === "Linux") return { terminalCode: "1007", exitCode: "51" };
  const guest = vm.simulation.agent ?? guestOsFor(vm.properties);
  const build = windowsBuild(guest.osVersion);
  if (build !== undefined && build < MIN_AAD_LOGIN_BUILD) return { terminalCode: "1007", exitCode: "51" };
  const identity = vm.model["identity"];
  if (!isObject(identity) || typeof identity["principalId"] !== "string") return { terminalCode: "1007", exitCode: "-2145648574" };
  if (!outbound()) return { terminalCode: "1009", exitCode: "-2145648607" };
  // The join (at enable, once the registration service is reachable) is where the name clashes.
  if (context.staleDeviceName !== undefined) {
    return {
      terminalCode: "1009",
      exitCode: EXIT_DUPLICATE_DEVICE,
      detail: `Microsoft Entra join failed: a device with the same name '${context.staleDeviceName}' already exists in the directory`,
    };
  }
  return undefined;
}

interface LinuxFailure {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Distributions and first versions the simulated aadsshlogin packages exist for (packages.microsoft.com). */
const LINUX_PACKAGES: Readonly<Record<string, number>> = {
  ubuntu: 16.04, rhel: 7.4, redhat: 7.4, almalinux: 8, rocky: 8, ol: 8, oracle: 8, debian: 9, sles: 12, "opensuse-leap": 15.1, mariner: 2, azurelinux: 2,
};

/**
 * AADSSHLoginForLinux's outcome, decided from what the VM "is". Exit codes 22 (no system-assigned
 * identity) and 23 (the old AADLoginForLinux installed) are Microsoft's (Learn: "Sign in to a Linux
 * virtual machine in Azure by using Microsoft Entra ID and OpenSSH", Extension installation errors);
 * 51 for a distribution without packages and 20 when packages.microsoft.com cannot be reached follow
 * public reports (Azure/azure-linux-extensions#1289, #1902; flatcar/Flatcar#664). The order of the
 * installer's checks is modelled, not documented.
 */
function aadSshLoginFailure(vm: VmRecord, ext: ExtensionRecord, outbound: () => boolean): LinuxFailure | undefined {
  const guest = vm.simulation.agent ?? guestOsFor(vm.properties);
  const machine = `Machine OS: ${guest.osName} v${guest.osVersion} x86_64`;
  const minimum = osTypeOf(vm.properties) === "Linux" ? LINUX_PACKAGES[guest.osName.toLowerCase()] : undefined;
  const version = Number.parseFloat(guest.osVersion);
  if (minimum === undefined || !(version >= minimum)) {
    return { exitCode: 51, stdout: `${machine}\nInstalling...\nPackage aadsshlogin is not published for this version of Linux`, stderr: "" };
  }
  const legacy = [...vm.extensions.values()].some((other) => other !== ext && isLegacyLinuxLogin(other));
  if (legacy) return { exitCode: 23, stdout: `${machine}\nThe AADLoginForLinux extension is installed; uninstall it first`, stderr: "" };
  const identity = vm.model["identity"];
  if (!isObject(identity) || typeof identity["principalId"] !== "string") {
    return { exitCode: 22, stdout: `${machine}\nInstalling...\nThis is an Azure machine\nSystem-assigned managed identity is not enabled on this VM`, stderr: "" };
  }
  if (!outbound()) {
    return { exitCode: 20, stdout: `${machine}\nInstalling...\nConfiguring microsoft-prod repo`, stderr: "curl: (7) Failed to connect to packages.microsoft.com port 443: Connection timed out" };
  }
  return undefined;
}

/** The Linux handler's failure as Compute reports it (message shape of Azure/azure-linux-extensions#1902). */
function linuxFailure(ext: ExtensionRecord, failure: LinuxFailure, nowIso: string): ExtensionOutcome {
  const handlerType = `${String(ext.properties["publisher"] ?? "")}.${String(ext.properties["type"] ?? "")}`;
  const operationError =
    `[ExtensionOperationError] Non-zero exit code: ${failure.exitCode}, /var/lib/waagent/${handlerType}-${LINUX_HANDLER_VERSION}/./installer.sh install\n` +
    `[stdout]\n${failure.stdout}\n\n[stderr]\n${failure.stderr}\n`;
  const message =
    `The handler for VM extension type '${handlerType}' has reported terminal failure for VM extension '${ext.name}' with error message: '${operationError}'.\n\n` +
    "'Install handler failed for the extension. More information on troubleshooting is available at https://aka.ms/vmextensionlinuxtroubleshoot'";
  return {
    error: new ArmError(400, "VMExtensionHandlerNonTransientError", message),
    instanceView: {
      name: ext.name,
      type: handlerType,
      typeHandlerVersion: LINUX_HANDLER_VERSION,
      statuses: [{ code: "ProvisioningState/failed", level: "Error", displayStatus: "Provisioning failed", message: operationError, time: nowIso }],
    },
  };
}

/**
 * What the agent reports while a handler is being installed or updated (realistic timing): the
 * extension's status is `ProvisioningState/transitioning` until the operation settles.
 */
export function transitioningInstanceView(ext: ExtensionRecord, nowIso: string): Json {
  const handlerType = `${String(ext.properties["publisher"] ?? "")}.${String(ext.properties["type"] ?? "")}`;
  return {
    name: ext.name,
    type: handlerType,
    typeHandlerVersion: isAadLogin(ext) ? PLUGIN_VERSION : String(ext.properties["typeHandlerVersion"] ?? "1.0"),
    statuses: [{ code: "ProvisioningState/transitioning", level: "Info", displayStatus: "Transitioning", message: "Handler is being installed or enabled.", time: nowIso }],
  };
}
