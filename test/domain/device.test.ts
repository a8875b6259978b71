import { describe, expect, it } from "vitest";
import {
  afterLook,
  carriesVm,
  cleanupDecision,
  cleanupWanted,
  confirmationLook,
  displayNameFilter,
  duplicateDeviceBlockers,
  effectiveCleanup,
  MAX_BLOCKERS_NAMED,
  type BlockersInput,
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

describe("duplicateDeviceBlockers: which devices named like the VM block its join", () => {
  const OTHER = "/subscriptions/s/resourceGroups/old/providers/Microsoft.Compute/virtualMachines/retired-01";
  const CREATED = "2026-01-01T09:00:00Z";
  const before = "2025-12-01T00:00:00Z";
  const after = "2026-01-01T09:30:00Z";
  it.each<[string, Partial<BlockersInput>, string[]]>([
    ["nothing named like the VM", { found: [] }, []],
    ["a device of another VM's id", { found: [device({ id: "stale", physicalIds: [`[AzureResourceId]:${OTHER}`], registeredAt: before })] }, ["stale"]],
    ["a device carrying no VM id (made by hand)", { found: [device({ id: "bare", physicalIds: [] })] }, ["bare"]],
    ["a device of this VM's id registered after the VM was created: its own", { found: [device({ id: "own", registeredAt: after })] }, []],
    ["a device of this VM's id registered before the VM was created: an earlier VM of the same id left it", { found: [device({ id: "earlier", registeredAt: before })] }, ["earlier"]],
    ["this VM's id, creation time unknown: taken as its own", { found: [device({ id: "own", registeredAt: before })], vmCreatedAt: undefined }, []],
    ["this VM's id, registration time unknown: taken as its own", { found: [device({ id: "own" })] }, []],
    ["the device the row recorded at join is never a blocker", { found: [device({ id: "rec", physicalIds: [], registeredAt: before })], recordedDeviceId: "REC" }, []],
    ["oldest first", { found: [device({ id: "b", physicalIds: [], registeredAt: "2025-06-01T00:00:00Z" }), device({ id: "a", physicalIds: [], registeredAt: "2025-01-01T00:00:00Z" })] }, ["a", "b"]],
  ])("%s", (_what, change, ids) => {
    const result = duplicateDeviceBlockers({ found: [], vmId: VM, vmCreatedAt: CREATED, ...change });
    expect(result.ids).toEqual(ids);
    for (const id of ids.slice(0, MAX_BLOCKERS_NAMED)) expect(result.text).toContain(`object id ${id}`);
    expect(result.text).toMatch(ids.length ? /^Blocking: .*Delete (it|them) in Entra ID \(back up (its|their) BitLocker keys first\), or run DEVICE_CLEANUP=enforce/ : /no other device of this name/);
  });

  it("names the VM the blocker was registered for and when", () => {
    const { text } = duplicateDeviceBlockers({ found: [device({ id: "stale", displayName: "retired-01", physicalIds: [`[AzureResourceId]:${OTHER}`], registeredAt: before })], vmId: VM });
    expect(text).toBe(`Blocking: device "retired-01" (object id stale) registered for VM ${OTHER} at ${before}. Delete it in Entra ID (back up its BitLocker keys first), or run DEVICE_CLEANUP=enforce so deleted VMs take their devices with them; then reinstall the extension.`);
  });

  it(`names at most ${MAX_BLOCKERS_NAMED} and counts the rest`, () => {
    const found = Array.from({ length: 7 }, (_, i) => device({ id: `obj-${i}`, physicalIds: [], registeredAt: `2025-0${i + 1}-01T00:00:00Z` }));
    const result = duplicateDeviceBlockers({ found, vmId: VM });
    expect(result.ids).toHaveLength(7);
    expect(result.text).toContain("object id obj-4");
    expect(result.text).not.toContain("object id obj-5");
    expect(result.text).toContain("and 2 more");
  });

  it.each([
    ["web-01", "displayName eq 'web-01'"],
    ["o'brien", "displayName eq 'o''brien'"],
    ["it's 'x'", "displayName eq 'it''s ''x'''"],
  ])("displayNameFilter(%j) escapes single quotes as OData does", (name, filter) => {
    expect(displayNameFilter(name)).toBe(filter);
  });
});
