import type { Diagnosis } from "./diagnosis.js";
import type { OutboundVerdict } from "./nsg.js";
import { isWindowsVm, type ObservedVm } from "./vm.js";

/**
 * Preflight hints about names (issue 12): facts about the VM that do not stop the login extension
 * from installing but that users report breaking the join or the sign-in. Recorded on the VM's row
 * as warnings, never a refusal: none of them is documented as making the join impossible.
 *
 * Sources:
 * - Compute REST API, `osProfile.computerName`: "Max-length (Windows): 15 characters" (the NetBIOS
 *   limit; Microsoft Learn, OSProfile.ComputerName). ARM refuses a longer Windows name at creation,
 *   so a longer one seen here is unexpected (a custom image or an API quirk): it is reported.
 * - VM *resource* names over 15 characters failed the Entra join with -2145648639 (Azure Device
 *   Registration Service rejected the resource id it stamps on the device): MicrosoftDocs/azure-docs
 *   issue #58290 and Azure/azure-rest-api-specs issue #10234 (2020), where Microsoft said ADRS was
 *   being changed to accept names up to 64 characters. Whether that change is everywhere today is
 *   unverified, hence a hint.
 * - A computer name different from the resource name: the RDP "web account" sign-in needs the name
 *   of the device in Entra ID (the computer name), and tools that connect by the resource name fail
 *   (Microsoft Learn "Sign in to a Windows virtual machine in Azure by using Microsoft Entra ID": the
 *   name must match the hostname of the device in Entra ID; MicrosoftDocs/azure-docs #114042: "The
 *   target-device identifier in the request ... was not found in the tenant" (AADSTS293004);
 *   Azure/azure-cli #27245: `az network bastion rdp` connects by the resource name).
 */
export type HintCode = "computer-name-too-long" | "resource-name-over-15" | "computer-name-differs" | "network-not-verified";

export interface Hint {
  readonly code: HintCode;
  readonly message: string;
}

/** NetBIOS computer names hold at most 15 characters. */
export const MAX_WINDOWS_COMPUTER_NAME = 15;

export function nameHints(vm: ObservedVm): Hint[] {
  if (!isWindowsVm(vm)) return [];
  const hints: Hint[] = [];
  const computerName = vm.computerName;
  if (computerName !== undefined && computerName.length > MAX_WINDOWS_COMPUTER_NAME) {
    hints.push({
      code: "computer-name-too-long",
      message: `VM ${vm.name}: its computer name ${JSON.stringify(computerName.slice(0, 64))} is longer than the ${MAX_WINDOWS_COMPUTER_NAME} characters Windows (NetBIOS) allows; the Entra device will carry a cut name. Recreate the VM with a computer name of at most ${MAX_WINDOWS_COMPUTER_NAME} characters if sign-in fails.`,
    });
  }
  if (vm.name.length > MAX_WINDOWS_COMPUTER_NAME) {
    hints.push({
      code: "resource-name-over-15",
      message: `VM ${vm.name}: its resource name has ${vm.name.length} characters; users have reported the Entra join failing (-2145648639) for resource names over ${MAX_WINDOWS_COMPUTER_NAME} characters. If the extension fails, read its status and the device registration log.`,
    });
  }
  if (computerName !== undefined && computerName.toLowerCase() !== vm.name.toLowerCase()) {
    hints.push({
      code: "computer-name-differs",
      message: `VM ${vm.name}: its computer name is ${JSON.stringify(computerName.slice(0, 64))}; Entra sign-in over RDP must connect by that name (the device's name in Entra ID), not by the resource name, or it fails (AADSTS293004, target device not found).`,
    });
  }
  return hints;
}


/** The reason code of a VM whose install the preflight stopped. */
export const OUTBOUND_443_BLOCKED = "outbound-443-blocked";

/**
 * The diagnosis recorded when a security group clearly denies outbound TCP 443: the install would
 * fail with DSREG_AUTOJOIN_DISC_FAILED (-2145648607; CONTEXT.md, AADLoginForWindows failure codes),
 * so it is not sent. The extensions need TCP 443 to Entra ID's endpoints (Microsoft Learn, "Sign in
 * to a Windows virtual machine in Azure by using Microsoft Entra ID", network requirements; the Linux
 * page lists the same hosts plus packages.microsoft.com). The rule's id names what to change.
 */
export function outboundBlockedDiagnosis(verdict: Extract<OutboundVerdict, { verdict: "blocked" }>, vm: ObservedVm, extensionType: string): Diagnosis {
  return {
    code: OUTBOUND_443_BLOCKED,
    meaning: `VM ${vm.name}: security rule ${verdict.ruleId} denies outbound TCP 443 to Entra ID before any rule allows it, so ${extensionType} could not join the VM (it would fail with -2145648607); the extension was not installed.`,
    remediation: `Allow outbound TCP 443 to the AzureActiveDirectory service tag (or Internet) in ${verdict.nsgId} at a lower priority number than that rule; the next pass (an event on the VM, the drift audit or reconcile-now) installs the extension.`,
    selfRepair: "none",
    retryable: true,
  };
}

/** The note recorded when the preflight could not clear the path: the install went ahead anyway. */
export function networkNotVerifiedHint(verdict: Extract<OutboundVerdict, { verdict: "unknown" }>, vm: ObservedVm): Hint {
  return {
    code: "network-not-verified",
    message: `VM ${vm.name}: the preflight could not tell whether outbound TCP 443 to Entra ID is open (${verdict.why.slice(0, 300)}); the extension was installed anyway and its own status tells.`,
  };
}
