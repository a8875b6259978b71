import { ArmError } from "./errors.js";
import type { Json } from "./http-io.js";
import { isObject } from "./http-io.js";
import { guestOsFor, osTypeOf, windowsBuild } from "./os-catalog.js";
import type { ExtensionRecord, VmRecord } from "./state.js";

/** Build 17763 = Windows Server 2019 = Windows 10 1809, the oldest the seed supports. */
const MIN_AAD_LOGIN_BUILD = 17763;
const AAD_PUBLISHER = "microsoft.azure.activedirectory";
const AAD_TYPE = "aadloginforwindows";
const PLUGIN_VERSION = "1.0.0.1";

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
}

export const isAadLogin = (ext: ExtensionRecord): boolean =>
  String(ext.properties["publisher"] ?? "").toLowerCase() === AAD_PUBLISHER &&
  String(ext.properties["type"] ?? "").toLowerCase() === AAD_TYPE;

/**
 * What the VM agent would report for this extension, decided from what the VM "is" (see the seed's
 * troubleshooting section): unsupported OS (Linux, or a Windows build below 17763) exits 51; no
 * system-assigned identity exits -2145648574 (DSREG_E_MSI_TENANTID_UNAVAILABLE, terminal 1007);
 * no outbound network exits -2145648607 (DSREG_AUTOJOIN_DISC_FAILED, at enable). Other extensions
 * succeed whenever an agent is reporting.
 */
export function extensionOutcome(vm: VmRecord, ext: ExtensionRecord, nowIso: string): ExtensionOutcome {
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
  const failure = isAadLogin(ext) ? aadLoginFailure(vm) : undefined;
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
    `C:\\Packages\\Plugins\\${handlerType}\\${PLUGIN_VERSION}\\AADLoginForWindowsHandler.exe of ${handlerType} has exited with Exit code: ${failure.exitCode}'`;
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

function aadLoginFailure(vm: VmRecord): HandlerFailure | undefined {
  if (osTypeOf(vm.properties) === "Linux") return { terminalCode: "1007", exitCode: "51" };
  const guest = vm.simulation.agent ?? guestOsFor(vm.properties);
  const build = windowsBuild(guest.osVersion);
  if (build !== undefined && build < MIN_AAD_LOGIN_BUILD) return { terminalCode: "1007", exitCode: "51" };
  const identity = vm.model["identity"];
  if (!isObject(identity) || typeof identity["principalId"] !== "string") return { terminalCode: "1007", exitCode: "-2145648574" };
  if (!vm.simulation.outboundNetwork) return { terminalCode: "1009", exitCode: "-2145648607" };
  return undefined;
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
