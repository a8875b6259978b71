import { describe, expect, it } from "vitest";
import {
  afterLook,
  carriesVm,
  cleanupDecision,
  cleanupWanted,
  confirmationLook,
  effectiveCleanup,
  type ConfirmationInput,
  type DeviceFact,
  type DevicePolicy,
  type DeviceState,
} from "../../src/domain/device.js";

const VM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-01";
const NOW = Date.parse("2026-01-01T10:00:00Z");
const POLICY: DevicePolicy = { confirmation: true, cleanup: "enforce", joinWaitMs: 300_000 };
const at = (ms: number) => new Date(ms).toISOString();
const state = (status: DeviceState["status"], extra: Partial<DeviceState> = {}): DeviceState => ({ status, message: "", at: at(NOW), ...extra });
const device = (extra: Partial<DeviceFact> = {}): DeviceFact => ({ id: "obj-1", deviceId: "dev-1", displayName: "web-01", physicalIds: [`[AzureResourceId]:${VM}`], ...extra });

describe("confirmationLook: when a pass looks the device up", () => {
  const base: ConfirmationInput = { policy: POLICY, windows: true, extensionSucceeded: true, ourInstallSucceeded: true, device: undefined, routine: true, nowMs: NOW };
  it.each<[string, Partial<ConfirmationInput>, 1 | 2 | undefined]>([
    ["our install just succeeded, nothing recorded: first look", {}, 1],
    ["confirmation off", { policy: { ...POLICY, confirmation: false } }, undefined],
    ["no device policy at all", { policy: undefined }, undefined],
    ["Linux", { windows: false }, undefined],
    ["extension not succeeded", { extensionSucceeded: false, ourInstallSucceeded: false }, undefined],
    ["compliant VM not installed by us: no read", { ourInstallSucceeded: false }, undefined],
    ["device already joined: no read", { ourInstallSucceeded: false, device: state("joined", { id: "obj-1" }) }, undefined],
    ["pending, retry not yet due", { ourInstallSucceeded: false, device: state("pending", { lookAgainAt: at(NOW + 60_000) }) }, undefined],
    ["pending, retry due within the clock slack of another instance", { ourInstallSucceeded: false, device: state("pending", { lookAgainAt: at(NOW + 2_000) }) }, 2],
    ["pending, retry due", { ourInstallSucceeded: false, device: state("pending", { lookAgainAt: at(NOW) }) }, 2],
    ["not-confirmed, routine follow-up: no read", { ourInstallSucceeded: false, device: state("not-confirmed") }, undefined],
    ["not-confirmed, audit pass: one more look", { ourInstallSucceeded: false, routine: false, device: state("not-confirmed") }, 2],
    ["lookup refused, audit pass: one more look", { ourInstallSucceeded: false, routine: false, device: state("lookup-refused") }, 2],
  ])("%s", (_what, change, expected) => {
    expect(confirmationLook({ ...base, ...change })).toBe(expected);
  });
});

describe("afterLook: what the row says after a look", () => {
  it.each<[string, 1 | 2, DeviceFact[], DeviceState["status"]]>([
    ["found", 1, [device()], "joined"],
    ["found on the retry", 2, [device()], "joined"],
    ["nothing on the first look: pending", 1, [], "pending"],
    ["nothing on the retry: not-confirmed", 2, [], "not-confirmed"],
    ["only a device of the same name under another VM id: not ours", 2, [device({ id: "obj-2", physicalIds: ["[AzureResourceId]:/subscriptions/s/resourceGroups/other/providers/Microsoft.Compute/virtualMachines/web-01"] })], "not-confirmed"],
    ["only a device of the same name without physical ids: not ours", 1, [device({ id: "obj-3", physicalIds: [] })], "pending"],
  ])("%s", (_what, look, found, status) => {
    const result = afterLook(look, found, VM, "web-01", undefined, POLICY, NOW);
    expect(result.status).toBe(status);
    if (status === "joined") expect(result).toMatchObject({ id: "obj-1", deviceId: "dev-1", confirmedAt: at(NOW) });
    if (status === "pending") expect(result.lookAgainAt).toBe(at(NOW + POLICY.joinWaitMs));
    if (status === "not-confirmed") expect(result.message).toMatch(/web-01.*dsregcmd/);
  });

  it("two devices carry the VM id (a re-join): the newest is recorded", () => {
    const result = afterLook(1, [device({ id: "old", registeredAt: "2025-01-01T00:00:00Z" }), device({ id: "new", registeredAt: "2025-06-01T00:00:00Z" })], VM, "web-01", undefined, POLICY, NOW);
    expect(result.id).toBe("new");
  });
});

describe("cleanup", () => {
  it.each<[string, "enforce" | "report" | "off" | undefined, "enforce" | "report", string]>([
    ["off stays off", "off", "enforce", "off"],
    ["unset is off", undefined, "enforce", "off"],
    ["report", "report", "enforce", "report"],
    ["enforce", "enforce", "enforce", "enforce"],
    ["report mode lowers enforce to report", "enforce", "report", "report"],
  ])("effectiveCleanup: %s", (_what, configured, mode, expected) => {
    expect(effectiveCleanup(configured, mode)).toBe(expected);
  });

  it.each<[string, "off" | "report" | "enforce", DeviceState | undefined, boolean]>([
    ["nothing recorded", "enforce", undefined, false],
    ["pending (no id)", "enforce", state("pending"), false],
    ["joined, enforce", "enforce", state("joined", { id: "obj-1" }), true],
    ["joined, report", "report", state("joined", { id: "obj-1" }), true],
    ["joined, off", "off", state("joined", { id: "obj-1" }), false],
    ["already reported, report again: no read", "report", state("would-delete", { id: "obj-1" }), false],
    ["reported earlier, now enforce", "enforce", state("would-delete", { id: "obj-1" }), true],
    ["deleted", "enforce", state("deleted", { id: "obj-1" }), false],
  ])("cleanupWanted: %s", (_what, mode, recorded, expected) => {
    expect(cleanupWanted(mode, recorded)).toBe(expected);
  });

  const recorded = state("joined", { id: "obj-1", deviceId: "dev-1", displayName: "web-01" });
  it.each<[string, "report" | "enforce", DeviceFact | undefined, boolean, DeviceState["status"]]>([
    ["enforce, still the VM's device: delete", "enforce", device(), true, "deleted"],
    ["report: never delete", "report", device(), false, "would-delete"],
    ["gone already", "enforce", undefined, false, "already-gone"],
    ["the object now carries another VM's id: kept", "enforce", device({ physicalIds: ["[AzureResourceId]:/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-02"] }), false, "kept"],
    ["the object carries no VM id: kept", "enforce", device({ physicalIds: [] }), false, "kept"],
  ])("cleanupDecision: %s", (_what, mode, current, deletes, status) => {
    const decision = cleanupDecision(mode, recorded, current, VM, "web-01", NOW);
    expect(decision.delete).toBe(deletes);
    expect(decision.state.status).toBe(status);
    expect(decision.state.id).toBe("obj-1");
  });

  it("carriesVm compares the resource id case-insensitively and exactly", () => {
    expect(carriesVm(device({ physicalIds: [`[AzureResourceId]:${VM.toLowerCase()}`] }), VM)).toBe(true);
    expect(carriesVm(device({ physicalIds: [`[AzureResourceId]:${VM}-2`] }), VM)).toBe(false);
    expect(carriesVm(device({ physicalIds: [VM] }), VM)).toBe(false);
  });
});
