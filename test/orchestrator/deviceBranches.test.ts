import { describe, expect, it } from "vitest";
import { reconcile } from "../../src/orchestrator/reconcile.js";
import { DirectoryFailure, type DirectoryPort } from "../../src/orchestrator/ports.js";
import type { DeviceFact } from "../../src/domain/device.js";
import type { ClassifiedError } from "../../src/domain/outcome.js";
import { vmTarget } from "../../src/domain/resourceId.js";
import { aadExtension, failedStatus, VM_ID, windowsVm } from "../domain/builders.js";
import { memoryDeps } from "../support/memoryPorts.js";

/**
 * The pass's device branches that the emulator cannot produce on demand (a transient Graph failure
 * on the lookup and on the cleanup), against an in-memory DirectoryPort; the behaviours themselves
 * have their end-to-end tests in test/functions/entraDevice.test.ts.
 */
class MemoryDirectory implements DirectoryPort {
  readonly devices = new Map<string, DeviceFact>();
  failWith?: ClassifiedError;
  requests = 0;
  async findVmDevices(vmId: string) {
    this.call();
    return [...this.devices.values()].filter((d) => d.physicalIds.includes(`[AzureResourceId]:${vmId}`));
  }
  async findDevicesByName(name: string) {
    this.call();
    return [...this.devices.values()].filter((d) => d.displayName.toLowerCase() === name.toLowerCase());
  }
  async getDevice(id: string) {
    this.call();
    return this.devices.get(id);
  }
  async deleteDevice(id: string) {
    this.call();
    return this.devices.delete(id) ? ("deleted" as const) : ("unchanged" as const);
  }
  requestCount() {
    return this.requests;
  }
  async metered<T>(work: (count: () => number) => Promise<T>): Promise<T> {
    const before = this.requests;
    return work(() => this.requests - before);
  }
  private call() {
    this.requests++;
    if (this.failWith) throw new DirectoryFailure(this.failWith);
  }
}

const THROTTLED: ClassifiedError = { class: "transient", code: "TooManyRequests", message: "Microsoft Graph answered 429 TooManyRequests", statusCode: 429 };
const identity = { type: "SystemAssigned" as const, principalId: "00000000-0000-4000-8000-0000000000f1", userAssignedIdentityIds: [] };

function setup(cleanup: "off" | "report" | "enforce" = "enforce") {
  const directory = new MemoryDirectory();
  const base = memoryDeps({ DEVICE_CONFIRMATION: "true", DEVICE_CLEANUP: cleanup, DEVICE_JOIN_WAIT_MS: "60000" });
  const deps = { ...base, directory };
  // The install this pass sees finish is ours: the row says so.
  base.arm.put(windowsVm({ identity, extensions: [aadExtension("Succeeded")] }));
  return { deps, directory, base };
}

async function ourInstallStarted(deps: ReturnType<typeof setup>["base"]) {
  await deps.store.updateVm(VM_ID, () => ({
    vmId: VM_ID, subscriptionId: vmTarget(VM_ID).subscriptionId, resourceGroup: "rg-app", name: "vm-app-01", state: "in-progress", reason: "waiting-for-extension", message: "",
    access: [], rejected: [], passCount: 1, firstSeenAt: deps.clock().toISOString(), updatedAt: deps.clock().toISOString(), started: { op: "extension", at: deps.clock().toISOString() },
  }));
}

describe("the pass's device branches", () => {
  it("Graph throttled past its retries on the first look: pending, one follow-up after DEVICE_JOIN_WAIT_MS, the VM remediated", async () => {
    const { deps, directory, base } = setup();
    await ourInstallStarted(base);
    directory.failWith = THROTTLED;
    const result = await reconcile({ vm: vmTarget(VM_ID), trigger: "follow-up", attempt: 1 }, deps);
    expect(result.state).toBe("remediated");
    const row = await base.store.getVm(VM_ID);
    expect(row?.device?.status).toBe("pending");
    expect(row?.device?.message).toMatch(/429/);
    expect(base.queue.sent.at(-1)).toMatchObject({ request: { trigger: "follow-up", waitingFor: "device-join" }, delayInMs: 60_000 });

    // The retry look finds the device: joined.
    directory.failWith = undefined;
    directory.devices.set("obj-1", { id: "obj-1", deviceId: "dev-1", displayName: "vm-app-01", physicalIds: [`[AzureResourceId]:${VM_ID}`] });
    base.advance(60_000);
    await reconcile({ vm: vmTarget(VM_ID), trigger: "follow-up", attempt: 2 }, deps);
    expect((await base.store.getVm(VM_ID))?.device).toMatchObject({ status: "joined", id: "obj-1" });
  });

  it("Graph throttled past its retries on the cleanup: the pass throws for the queue to retry, the device stays recorded, nothing deleted", async () => {
    const { deps, directory, base } = setup("enforce");
    directory.devices.set("obj-1", { id: "obj-1", deviceId: "dev-1", displayName: "vm-app-01", physicalIds: [`[AzureResourceId]:${VM_ID}`] });
    await ourInstallStarted(base);
    await reconcile({ vm: vmTarget(VM_ID), trigger: "follow-up", attempt: 1 }, deps);
    expect((await base.store.getVm(VM_ID))?.device?.status).toBe("joined");
    base.arm.vms.clear();
    directory.failWith = THROTTLED;
    await expect(reconcile({ vm: vmTarget(VM_ID), trigger: "event" }, deps)).rejects.toBeInstanceOf(DirectoryFailure);
    expect((await base.store.getVm(VM_ID))?.device?.status).toBe("joined");
    expect(directory.devices.has("obj-1")).toBe(true);
    // The redelivered request finds Graph answering again.
    directory.failWith = undefined;
    const result = await reconcile({ vm: vmTarget(VM_ID), trigger: "event" }, deps);
    expect(result.state).toBe("gone");
    expect(directory.devices.has("obj-1")).toBe(false);
    expect((await base.store.getVm(VM_ID))?.device?.status).toBe("deleted");
  });

  it("ENFORCER_MODE=report lowers DEVICE_CLEANUP=enforce to report: nothing deleted", async () => {
    const { deps, directory, base } = setup("enforce");
    directory.devices.set("obj-1", { id: "obj-1", deviceId: "dev-1", displayName: "vm-app-01", physicalIds: [`[AzureResourceId]:${VM_ID}`] });
    await ourInstallStarted(base);
    await reconcile({ vm: vmTarget(VM_ID), trigger: "follow-up", attempt: 1 }, deps);
    base.arm.vms.clear();
    await reconcile({ vm: vmTarget(VM_ID), trigger: "event", mode: "report" }, deps);
    expect(directory.devices.has("obj-1")).toBe(true);
    expect((await base.store.getVm(VM_ID))?.device?.status).toBe("would-delete");
  });

  it("Graph throttled past its retries while naming a duplicate-device's blockers: the plain diagnosis, no rethrow, the next pass reads once more", async () => {
    const { deps, directory, base } = setup("report");
    const duplicate = failedStatus("Handler 'Microsoft.Azure.ActiveDirectory.AADLoginForWindows' has reported failure for VM Extension 'AADLoginForWindows' with terminal error code '1009' and error message: 'a device with the same name 'vm-app-01' already exists. Exit code: -2145648639'");
    base.arm.put(windowsVm({ identity, extensions: [aadExtension("Failed", { statuses: [duplicate] })] }));
    directory.devices.set("stale", { id: "stale", deviceId: "dev-s", displayName: "vm-app-01", physicalIds: [] });
    directory.failWith = THROTTLED;
    const result = await reconcile({ vm: vmTarget(VM_ID), trigger: "audit" }, deps);
    expect(result.diagnosis?.code).toBe("duplicate-device");
    expect(result.diagnosis?.remediation).not.toMatch(/Blocking/);
    expect((await base.store.getVm(VM_ID))?.diagnosis?.blockers).toBeUndefined();
    expect(directory.requests).toBe(1);

    directory.failWith = undefined;
    await reconcile({ vm: vmTarget(VM_ID), trigger: "audit" }, deps);
    expect((await base.store.getVm(VM_ID))?.diagnosis).toMatchObject({ code: "duplicate-device", blockers: ["stale"] });
    await reconcile({ vm: vmTarget(VM_ID), trigger: "audit" }, deps);
    expect(directory.requests).toBe(2);
    expect(directory.devices.has("stale")).toBe(true);
  });
});
