import { describe, expect, it } from "vitest";
import { diagnoseExtension, failureCodes, type DiagnosisCode } from "../../src/domain/diagnosis.js";
import type { InstanceStatus, ObservedVm } from "../../src/domain/vm.js";
import { exampleResponseBody, loadArmExample, observedExtensionFromArmJson } from "../support/armJson.js";
import { aadExtension, failedStatus, p, windowsVm } from "./builders.js";

const noIdentity = windowsVm();
const withIdentity = windowsVm({ identity: { type: "SystemAssigned", principalId: p(900), userAssignedIdentityIds: [] } });
const userAssignedOnly = windowsVm({ identity: { type: "UserAssigned", userAssignedIdentityIds: ["/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"] } });

const documented1007 =
  "Handler 'Microsoft.Azure.ActiveDirectory.AADLoginForWindows' has reported failure for VM Extension 'AADLoginForWindows' with terminal error code '1007' and error message: 'Install failed for plugin (name: Microsoft.Azure.ActiveDirectory.AADLoginForWindows, version 1.0.0.1) with exception Command C:\\Packages\\Plugins\\Microsoft.Azure.ActiveDirectory.AADLoginForWindows\\1.0.0.1\\AADLoginForWindowsHandler.exe of Microsoft.Azure.ActiveDirectory.AADLoginForWindows has exited with Exit code: -2145648574'";

type Row = [label: string, statuses: InstanceStatus[], substatuses: InstanceStatus[], code: DiagnosisCode, exitCode: number | undefined];

const rows: Row[] = [
  ["the documented 1007 message", [failedStatus(documented1007)], [], "msi-tenant-unavailable", -2145648574],
  ["1007 as a status code only", [{ code: "ProvisioningState/failed/1007", level: "Error", displayStatus: "Provisioning failed" }], [], "msi-tenant-unavailable", 1007],
  ["terminal 1007 without an exit code", [failedStatus("... with terminal error code '1007' and error message ...")], [], "msi-tenant-unavailable", 1007],
  ["exit code only, in a substatus", [failedStatus("Enable failed")], [{ code: "ComponentStatus/AADLogin/failed", level: "Error", message: "Exit code: -2145648574" }], "msi-tenant-unavailable", -2145648574],
  ["hex code 0x801c0042", [failedStatus("DSREG failed with 0x801C0042")], [], "msi-tenant-unavailable", -2145648574],
  ["named DSREG_E_MSI_TENANTID_UNAVAILABLE", [failedStatus("DSREG_E_MSI_TENANTID_UNAVAILABLE")], [], "msi-tenant-unavailable", -2145648574],
  ["autojoin discovery", [failedStatus("Handler ... has reported failure ... Exit code: -2145648607")], [], "autojoin-discovery-failed", -2145648607],
  ["autojoin discovery, status code", [{ code: "ProvisioningState/failed/-2145648607", level: "Error" }], [], "autojoin-discovery-failed", -2145648607],
  ["autojoin discovery, hex", [failedStatus("error 0x801c0021")], [], "autojoin-discovery-failed", -2145648607],
  ["autojoin discovery, by name", [failedStatus("DSREG_AUTOJOIN_DISC_FAILED")], [], "autojoin-discovery-failed", -2145648607],
  ["exit 51", [failedStatus("Handler 'Microsoft.Azure.ActiveDirectory.AADLoginForWindows' has reported failure for VM Extension 'AADLoginForWindows' with terminal error code '51'. Exit code: 51")], [], "unsupported-os", 51],
  ["status code 51", [{ code: "ProvisioningState/failed/51", level: "Error" }], [], "unsupported-os", 51],
  ["exit 50 (Server 2016)", [failedStatus("... Exit code: 50")], [], "unsupported-os-2016", 50],
  ["duplicate device", [failedStatus("The device object by the given id (x) is not found. A device with the same name already exists in the directory.")], [], "duplicate-device", undefined],
  ["duplicate device, other wording", [failedStatus("Join failed: duplicate device name")], [], "duplicate-device", undefined],
  ["unknown code", [failedStatus("Handler has reported failure with terminal error code '1009'. Exit code: 12345")], [], "unknown-failure", 12345],
  ["no code at all", [failedStatus("Something went wrong")], [], "unknown-failure", undefined],
  ["51 in a message is not exit 51", [failedStatus("Took 51 seconds; failed")], [], "unknown-failure", undefined],
];

describe("diagnoseExtension", () => {
  it.each(rows)("%s → %s", (_label, statuses, substatuses, code, exitCode) => {
    const d = diagnoseExtension(aadExtension("Failed", { statuses, substatuses }), withIdentity);
    expect(d?.code).toBe(code);
    expect(d?.exitCode).toBe(exitCode);
    expect(d?.meaning.length).toBeGreaterThan(20);
    expect(d?.remediation.length).toBeGreaterThan(20);
  });

  it.each<[string, ObservedVm, string]>([
    ["no identity", noIdentity, "enable-identity-and-reinstall"],
    ["user-assigned only", userAssignedOnly, "enable-identity-and-reinstall"],
    ["system-assigned present", withIdentity, "none"],
  ])("1007 with %s → selfRepair %s", (_label, vm, selfRepair) => {
    const d = diagnoseExtension(aadExtension("Failed", { statuses: [failedStatus(documented1007)] }), vm);
    expect(d).toMatchObject({ code: "msi-tenant-unavailable", selfRepair, retryable: true });
  });

  it.each<[DiagnosisCode, string, boolean]>([
    ["autojoin-discovery-failed", "Exit code: -2145648607", true],
    ["unsupported-os", "Exit code: 51", false],
    ["unsupported-os-2016", "Exit code: 50", false],
    ["duplicate-device", "a device with the same name already exists", false],
    ["unknown-failure", "boom", true],
  ])("%s never self-repairs; retryable %s", (code, message, retryable) => {
    const d = diagnoseExtension(aadExtension("Failed", { statuses: [failedStatus(message)] }), noIdentity);
    expect(d).toMatchObject({ code, selfRepair: "none", retryable });
  });

  it("says what to do for 1007 and for the network failure", () => {
    const msi = diagnoseExtension(aadExtension("Failed", { statuses: [failedStatus(documented1007)] }), noIdentity);
    expect(msi?.remediation).toMatch(/system-assigned managed identity/);
    const net = diagnoseExtension(aadExtension("Failed", { statuses: [failedStatus("Exit code: -2145648607")] }), noIdentity);
    expect(net?.remediation).toContain("enterpriseregistration.windows.net");
  });

  it.each([
    ["no extension", undefined],
    ["succeeded", aadExtension("Succeeded", { statuses: [{ code: "ProvisioningState/succeeded", level: "Info", message: "Exit code: 0" }] })],
    ["creating", aadExtension("Creating")],
    ["instance view only, no failure", aadExtension(undefined, { statuses: [{ code: "ProvisioningState/succeeded", level: "Info" }] })],
  ])("%s → no diagnosis", (_label, ext) => {
    expect(diagnoseExtension(ext, noIdentity)).toBeUndefined();
  });

  it("a failure seen only in the instance view is diagnosed", () => {
    expect(diagnoseExtension(aadExtension(undefined, { statuses: [{ code: "ProvisioningState/failed/1007", level: "Error" }] }), noIdentity)?.code).toBe("msi-tenant-unavailable");
  });

  it("keeps a bounded, control-free detail of the failure", () => {
    const d = diagnoseExtension(aadExtension("Failed", { statuses: [failedStatus(`${documented1007}\u0000\r\n${"x".repeat(1000)}`)] }), noIdentity);
    expect(d?.detail).toMatch(/^Handler 'Microsoft.Azure.ActiveDirectory.AADLoginForWindows'/);
    expect(d?.detail?.length).toBeLessThanOrEqual(300);
    expect(d?.detail).not.toMatch(/[\u0000-\u001f]/);
  });

  it("reads the official extension example (instance view inside the extension) as not failed", () => {
    const ext = observedExtensionFromArmJson(exampleResponseBody(loadArmExample("compute/VirtualMachineExtension_Get_MaximumSet_Gen.json")));
    expect(ext).toMatchObject({ name: "myVMExtension", provisioningState: "Creating", statuses: [{ level: "Info" }], substatuses: [{ level: "Info" }] });
    expect(diagnoseExtension(ext, noIdentity)).toBeUndefined();
    expect(diagnoseExtension({ ...ext, provisioningState: "Failed" }, noIdentity)?.code).toBe("unknown-failure");
  });
});

describe("failureCodes", () => {
  it("lists exit codes before terminal codes before the rest", () => {
    expect(failureCodes([failedStatus(documented1007, "ProvisioningState/failed/1007")])).toEqual({
      exit: [-2145648574],
      terminal: [1007],
      all: [-2145648574, 1007, 1007],
    });
  });
});
