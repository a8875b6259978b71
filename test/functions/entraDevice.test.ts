import type { EventGridEvent } from "../../src/local/emulator/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFunctionApp, type FunctionAppRegistry } from "../../src/local/host/index.js";
import { vmTarget } from "../../src/domain/resourceId.js";
import type { DeviceCleanupMode } from "../../src/domain/device.js";
import { reconcile } from "../../src/orchestrator/reconcile.js";
import { SUB_A, deliverEvents, startEnforcerStack, vmBody, vmId, type EnforcerStack } from "../support/enforcerStack.js";

/**
 * The Entra device's life (issue 13), end to end: the emulator's AADLoginForWindows simulation joins
 * the VM (a device object in its Graph), the enforcer confirms it through the real Graph adapter
 * over HTTPS with the managed identity's token, and cleans up after a deleted VM per DEVICE_CLEANUP.
 */
let stack: EnforcerStack;
let app: FunctionAppRegistry;
let mi: string;

beforeAll(async () => {
  stack = await startEnforcerStack({
    mode: "enforce",
    // The retry look comes at once here (the emulator joins instantly); Azure's default is 5 minutes.
    settings: { DEVICE_CONFIRMATION: "true", DEVICE_CLEANUP: "enforce", DEVICE_JOIN_WAIT_MS: "0" },
  });
  app = await loadFunctionApp("src/functions/index.ts");
  mi = stack.emulator.managedIdentity.principalId;
  await stack.owner.putResourceGroup(SUB_A, "rg-dev", "westeurope");
});

afterAll(async () => {
  await stack?.close();
});

const deliver = (events?: EventGridEvent[]) => deliverEvents(stack, app, events);

function graphRequests(since: number, operation: "read" | "delete") {
  return stack.emulator.requests(since).requests.filter((r) => r.caller === mi && r.operation === `Microsoft.Graph/devices/${operation}`);
}

/** A Windows VM created by its owner and remediated by the enforcer (identity, extension, join). */
async function remediatedVm(name: string, simulation: { joins?: boolean } = {}, computerName = name) {
  const id = vmId(SUB_A, "rg-dev", name);
  stack.takeEvents();
  if (simulation.joins === false) stack.emulator.setVmSimulation({ id, joins: false });
  const body = vmBody({ sku: "2019-Datacenter" });
  (body["properties"] as { osProfile: { computerName: string } }).osProfile.computerName = computerName;
  await stack.owner.putVm(id, body);
  await deliver();
  return id;
}

function deviceOf(id: string) {
  return stack.emulator.devices().filter((d) => d.physicalIds.some((p) => p.toLowerCase() === `[azureresourceid]:${id.toLowerCase()}`));
}

/** A pass on a deleted VM, with DEVICE_CLEANUP as given (the registered functions read theirs once per process). */
async function passOnGone(id: string, cleanup: DeviceCleanupMode) {
  const config = { ...stack.services.config, devices: { confirmation: true, cleanup, joinWaitMs: 0 } };
  return reconcile({ vm: vmTarget(id), trigger: "event" }, { ...stack.services, config });
}

describe("join confirmation", () => {
  it("our install succeeds and the device is found: joined, with its ids on the row, for one Graph read", async () => {
    const since = stack.requestSeq();
    const id = await remediatedVm("dev-join-01");
    const [device] = deviceOf(id);
    expect(device).toBeDefined();
    const row = await stack.services.store.getVm(id);
    expect(row?.state).toBe("remediated");
    expect(row?.device).toMatchObject({ status: "joined", id: device!.id, deviceId: device!.deviceId, displayName: "dev-join-01" });
    expect(graphRequests(since, "read")).toHaveLength(1);
    const log = await stack.services.store.listLog(id, 50);
    expect(log.find((e) => e.action === "confirmDevice")).toMatchObject({ result: "joined", details: { look: 1, graphRequests: 1, deviceObjectId: device!.id } });

    // A compliant VM whose row holds the device costs no Graph read (nor more than its 2 ARM reads).
    const again = stack.requestSeq();
    const result = await reconcile({ vm: vmTarget(id), trigger: "audit" }, stack.services);
    expect(result.state).toBe("compliant");
    expect(result.armRequests).toBe(2);
    expect(graphRequests(again, "read")).toHaveLength(0);
    expect((await stack.services.store.getVm(id))?.device?.status).toBe("joined");
  });

  it("the extension succeeds but the VM never joins: one retry look, then join-not-confirmed", async () => {
    const since = stack.requestSeq();
    const id = await remediatedVm("dev-nojoin-01", { joins: false });
    expect(deviceOf(id)).toHaveLength(0);
    const row = await stack.services.store.getVm(id);
    expect(row?.extensionStatus).toBe("Succeeded");
    expect(row?.state).toBe("failed");
    expect(row?.reason).toBe("join-not-confirmed");
    expect(row?.message).toMatch(/dev-nojoin-01.*no Microsoft Entra device/);
    expect(row?.device?.status).toBe("not-confirmed");
    expect(graphRequests(since, "read")).toHaveLength(2);
    // Routine follow-ups do not look again; an audit pass looks once more.
    const audit = stack.requestSeq();
    await reconcile({ vm: vmTarget(id), trigger: "audit" }, stack.services);
    expect(graphRequests(audit, "read")).toHaveLength(1);
    expect((await stack.services.store.getVm(id))?.reason).toBe("join-not-confirmed");
  });

  it("Graph refuses the lookup (403): the reason is recorded and the VM is still remediated", async () => {
    stack.emulator.setGraphRoles(mi, []);
    try {
      const id = await remediatedVm("dev-refused-01");
      const row = await stack.services.store.getVm(id);
      expect(row?.state).toBe("remediated");
      expect(row?.device?.status).toBe("lookup-refused");
      expect(row?.device?.message).toMatch(/Device\.Read\.All/);
    } finally {
      stack.emulator.setGraphRoles(mi, ["Device.Read.All", "Device.ReadWrite.All"]);
    }
  });
});

describe("device cleanup when the VM is deleted", () => {
  it("enforce: the event's pass deletes exactly the recorded device; a same-name device under another id is untouched", async () => {
    const id = await remediatedVm("dev-gone-01");
    const [device] = deviceOf(id);
    const twin = stack.emulator.addDevice({ displayName: "dev-gone-01", physicalIds: ["[AzureResourceId]:/subscriptions/other/resourceGroups/x/providers/Microsoft.Compute/virtualMachines/dev-gone-01"] });
    const bare = stack.emulator.addDevice({ displayName: "dev-gone-01" });
    const since = stack.requestSeq();
    await stack.owner.write("DELETE", id, "2025-04-01");
    const events = await deliver();
    expect(events.some((e) => e.eventType === "Microsoft.Resources.ResourceDeleteSuccess")).toBe(true);
    const remaining = stack.emulator.devices().map((d) => d.id);
    expect(remaining).not.toContain(device!.id);
    expect(remaining).toEqual(expect.arrayContaining([twin.id, bare.id]));
    const deletes = graphRequests(since, "delete");
    expect(deletes.map((r) => r.path)).toEqual([`/v1.0/devices/${device!.id}`]);
    const row = await stack.services.store.getVm(id);
    expect(row?.state).toBe("gone");
    expect(row?.device).toMatchObject({ status: "deleted", id: device!.id });
  });

  it.each([
    ["report", "would-delete", 1],
    ["off", "joined", 0],
  ] as const)("%s: the device stays (row says %s; %i Graph read)", async (mode, status, reads) => {
    const id = await remediatedVm(`dev-${mode}-01`);
    const [device] = deviceOf(id);
    await stack.owner.write("DELETE", id, "2025-04-01");
    stack.takeEvents();
    const since = stack.requestSeq();
    const result = await passOnGone(id, mode);
    expect(result.state).toBe("gone");
    expect(stack.emulator.devices().map((d) => d.id)).toContain(device!.id);
    expect(graphRequests(since, "delete")).toHaveLength(0);
    expect(graphRequests(since, "read")).toHaveLength(reads);
    expect((await stack.services.store.getVm(id))?.device?.status).toBe(status);
  });

  // Under the same computer name the old device would block the join (Entra ID's "a device with the same
  // name already exists", simulated by the emulator; the story is in deviceNameReuse.*.test.ts). A new
  // machine under the same resource id but another computer name joins, and two devices carry the id.
  it("a VM recreated under a deleted VM's id (another computer name) is a new machine: its own device is recorded, not the old one", async () => {
    const id = await remediatedVm("dev-reborn-01");
    const [old] = deviceOf(id);
    await stack.owner.write("DELETE", id, "2025-04-01");
    stack.takeEvents();
    await passOnGone(id, "off");
    expect((await stack.services.store.getVm(id))?.device).toMatchObject({ status: "joined", id: old!.id });
    // The old device stays in the directory (cleanup off), carrying the same resource id.
    await remediatedVm("dev-reborn-01", {}, "dev-reborn-01b");
    const devices = deviceOf(id);
    expect(devices).toHaveLength(2);
    const fresh = devices.find((d) => d.id !== old!.id)!;
    expect((await stack.services.store.getVm(id))?.device).toMatchObject({ status: "joined", id: fresh.id });
  });

  it("a recorded device that no longer carries the VM's id is left alone", async () => {
    const id = await remediatedVm("dev-moved-01");
    const [device] = deviceOf(id);
    // The same object id now describes another machine (as if re-registered elsewhere).
    stack.emulator.addDevice({ ...device!, physicalIds: ["[AzureResourceId]:/subscriptions/other/resourceGroups/x/providers/Microsoft.Compute/virtualMachines/elsewhere"] });
    await stack.owner.write("DELETE", id, "2025-04-01");
    stack.takeEvents();
    await passOnGone(id, "enforce");
    expect(stack.emulator.devices().map((d) => d.id)).toContain(device!.id);
    expect((await stack.services.store.getVm(id))?.device?.status).toBe("kept");
  });

  it("Graph throttles the delete (429, Retry-After 1 s): the SDK waits and the delete goes through", async () => {
    const id = await remediatedVm("dev-throttled-01");
    const [device] = deviceOf(id);
    await stack.owner.write("DELETE", id, "2025-04-01");
    stack.takeEvents();
    stack.emulator.setFaults({ seed: 1, rules: [{ match: { operation: "Microsoft.Graph/devices/delete" }, status: 429, count: 1, retryAfterSeconds: 1 }] });
    try {
      const since = stack.requestSeq();
      const started = Date.now();
      await passOnGone(id, "enforce");
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(graphRequests(since, "delete").map((r) => r.status)).toEqual([429, 204]);
      // One re-read, the throttled delete and its retry: what the log counts as this pass's Graph requests.
      const entry = (await stack.services.store.listLog(id, 20)).find((e) => e.action === "cleanupDevice");
      expect(entry).toMatchObject({ result: "deleted", details: { mode: "enforce", graphRequests: 3 } });
      expect(stack.emulator.devices().map((d) => d.id)).not.toContain(device!.id);
      expect((await stack.services.store.getVm(id))?.device?.status).toBe("deleted");
    } finally {
      stack.emulator.clearFaults();
    }
  });

  it("Graph refuses the delete (403, only Device.Read.All granted): recorded, the device stays", async () => {
    const id = await remediatedVm("dev-noperm-01");
    const [device] = deviceOf(id);
    await stack.owner.write("DELETE", id, "2025-04-01");
    stack.takeEvents();
    stack.emulator.setGraphRoles(mi, ["Device.Read.All"]);
    try {
      const result = await passOnGone(id, "enforce");
      expect(result.state).toBe("gone");
      expect(stack.emulator.devices().map((d) => d.id)).toContain(device!.id);
      const row = await stack.services.store.getVm(id);
      expect(row?.device?.status).toBe("cleanup-refused");
      expect(row?.device?.message).toMatch(/Device\.ReadWrite\.All/);
    } finally {
      stack.emulator.setGraphRoles(mi, ["Device.Read.All", "Device.ReadWrite.All"]);
    }
  });
});
