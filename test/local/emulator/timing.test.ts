import type { ComputeManagementClient, VirtualMachine } from "@azure/arm-compute";
import { isRestError } from "@azure/core-rest-pipeline";
import { afterEach, describe, expect, it } from "vitest";
import { REALISTIC_SECONDS, type EmulatorOperation } from "../../../src/local/emulator/index.js";
import { grantOwnerAtRoot, useTestEmulator, type TestEmulator } from "../../support/emulator.js";
import { armCall } from "./arm-http.js";
import { startWebhook, type TestWebhook } from "./webhook.js";

/**
 * The realistic timing profile at a small scale: Azure's proportions, 1/100 of its durations (unless a
 * test sets another scale), seeded. Waits are derived from the drawn durations, never guessed.
 */
const SCALE = 0.01;
const SUB = "7a1e0000-0000-4000-8000-0000000000a7";
const RG = "rg-timing";
const POLL = { updateIntervalInMs: 10 };
const ADMIN_LOGIN = "1c0163c0-47e6-4577-8991-ea5c82e286e4";
const AAD = { location: "westus", publisher: "Microsoft.Azure.ActiveDirectory", typePropertiesType: "AADLoginForWindows", typeHandlerVersion: "1.0" };
const vmPath = (name: string): string => `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${name}`;
const scaled = (kind: keyof typeof REALISTIC_SECONDS, scale = SCALE): [number, number] => [REALISTIC_SECONDS[kind][0] * 1000 * scale, REALISTIC_SECONDS[kind][1] * 1000 * scale];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

const windowsVm = (extra: Partial<VirtualMachine> = {}): VirtualMachine =>
  ({
    location: "westus",
    hardwareProfile: { vmSize: "Standard_D2s_v3" },
    storageProfile: { imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2019-Datacenter", version: "latest" } },
    osProfile: { computerName: "vm", adminUsername: "azureuser", adminPassword: "Secr3t!Secr3t!" },
    ...extra,
  }) as VirtualMachine;

let t: TestEmulator;
let compute: ComputeManagementClient;
let hooks: TestWebhook[] = [];

useTestEmulator(
  (started) => {
    t = started;
    t.emulator.addResourceGroup(SUB, RG, "westus");
    compute = t.computeClient(SUB);
  },
  { timing: { profile: "realistic", timeScale: SCALE, seed: 7 } },
);

afterEach(async () => {
  await t.emulator.deliveriesIdle();
  await Promise.all(hooks.map((h) => h.close()));
  hooks = [];
});

/** VMs that exist already (seeding is instant whatever the profile), with or without a system identity. */
function seedVms(...vms: Array<{ name: string; identity?: boolean }>): void {
  t.emulator.seed({ vms: vms.map((v) => ({ id: vmPath(v.name), body: { ...windowsVm(), ...(v.identity ? { identity: { type: "SystemAssigned" } } : {}) } as never })) });
}

type Op = EmulatorOperation;
const operations = (): Op[] => t.emulator.operations();
const lastOp = (kind: string): Op => {
  const op = operations().filter((o) => o.kind === kind).at(-1);
  if (!op) throw new Error(`no ${kind} operation`);
  return op;
};
const durationOf = (op: Op): number => op.dueAt - Date.parse(op.startTime);
const admin = (method: string, path: string, body?: unknown) => armCall(t.emulator.armUrl, t.emulator.caPem, method, `/admin${path}`, body === undefined ? {} : { body });
const asCaller = (method: string, path: string, body?: unknown) =>
  armCall(t.emulator.armUrl, t.emulator.caPem, method, path, { token: t.emulator.tokenFor(t.emulator.managedIdentity.principalId), ...(body === undefined ? {} : { body }) });

describe("realistic timing: long-running operations take Azure's (scaled) time", () => {
  it("a VM create reads Creating until its drawn 60–120 s (× scale), then Succeeded", async () => {
    const poller = compute.virtualMachines.createOrUpdate(RG, "vm1", windowsVm(), POLL);
    await poller.submitted();
    const op = lastOp("vm-create");
    const [min, max] = scaled("vm-create");
    expect(durationOf(op)).toBeGreaterThanOrEqual(min);
    expect(durationOf(op)).toBeLessThanOrEqual(max);
    const during = await compute.virtualMachines.get(RG, "vm1", { expand: "instanceView" });
    expect(during.provisioningState).toBe("Creating");
    expect(during.instanceView?.statuses?.[0]?.code).toBe("ProvisioningState/creating");
    const done = await poller;
    expect(Date.now()).toBeGreaterThanOrEqual(op.dueAt);
    expect(done.provisioningState).toBe("Succeeded");
  });

  it("an identity PATCH reads Updating for its drawn duration (10–30 s × scale), then Succeeded", async () => {
    seedVms({ name: "vm1" });
    const poller = compute.virtualMachines.update(RG, "vm1", { identity: { type: "SystemAssigned" } }, POLL);
    await poller.submitted();
    const op = lastOp("vm-update");
    const [min, max] = scaled("vm-update");
    expect(durationOf(op)).toBeGreaterThanOrEqual(min);
    expect(durationOf(op)).toBeLessThanOrEqual(max);
    const reads: Array<{ sent: number; answered: number; state: string | undefined }> = [];
    for (;;) {
      const sent = Date.now();
      const state = (await compute.virtualMachines.get(RG, "vm1")).provisioningState;
      reads.push({ sent, answered: Date.now(), state });
      if (state === "Succeeded") break;
      await sleep(10);
    }
    // Every read answered before the due time saw Updating; the first Succeeded was asked for after it, within a poll or two.
    expect(reads.filter((r) => r.answered < op.dueAt).map((r) => r.state)).toEqual(reads.filter((r) => r.answered < op.dueAt).map(() => "Updating"));
    expect(reads.filter((r) => r.state === "Updating").length).toBeGreaterThan(1);
    const first = reads.find((r) => r.state === "Succeeded");
    expect(first?.answered).toBeGreaterThanOrEqual(op.dueAt);
    expect((first?.sent ?? 0) - op.dueAt).toBeLessThan(250);
    expect((await poller).identity?.principalId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("an extension PUT reads Creating with a transitioning instance view, then Succeeded (with identity) or Failed 1007 (without)", async () => {
    seedVms({ name: "with-id", identity: true }, { name: "no-id" });
    const ok = compute.virtualMachineExtensions.createOrUpdate(RG, "with-id", "AADLoginForWindows", AAD, POLL);
    const failing = compute.virtualMachineExtensions.createOrUpdate(RG, "no-id", "AADLoginForWindows", AAD, POLL);
    await Promise.all([ok.submitted(), failing.submitted()]);
    const [min, max] = scaled("extension-put");
    for (const op of operations().filter((o) => o.kind === "extension-put")) {
      expect(durationOf(op)).toBeGreaterThanOrEqual(min);
      expect(durationOf(op)).toBeLessThanOrEqual(max);
    }
    for (const vm of ["with-id", "no-id"]) {
      const ext = await compute.virtualMachineExtensions.get(RG, vm, "AADLoginForWindows", { expand: "instanceView" });
      expect(ext.provisioningState).toBe("Creating");
      expect(ext.instanceView?.statuses?.[0]).toMatchObject({ code: "ProvisioningState/transitioning", displayStatus: "Transitioning" });
      const parent = await compute.virtualMachines.get(RG, vm, { expand: "instanceView" });
      expect(parent.provisioningState).toBe("Updating");
      expect(parent.instanceView?.extensions?.[0]?.statuses?.[0]?.code).toBe("ProvisioningState/transitioning");
    }
    expect((await ok).provisioningState).toBe("Succeeded");
    const error = (await failing.catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/^The long-running operation has failed\. VMExtensionProvisioningError\. /);
    expect(error.message).toContain("terminal error code '1007'");
    expect(error.message).toContain("Exit code: -2145648574'");
    const succeeded = await compute.virtualMachineExtensions.get(RG, "with-id", "AADLoginForWindows", { expand: "instanceView" });
    expect(succeeded.instanceView?.statuses?.[0]?.code).toBe("ProvisioningState/succeeded");
    const failed = await compute.virtualMachineExtensions.get(RG, "no-id", "AADLoginForWindows", { expand: "instanceView" });
    expect([failed.provisioningState, failed.instanceView?.statuses?.[0]?.code]).toEqual(["Failed", "ProvisioningState/failed/1007"]);
  });

  it("a second write while an operation runs on the VM gets 409 OperationNotAllowed; a DELETE preempts it", async () => {
    seedVms({ name: "vm1" });
    const patch = compute.virtualMachines.update(RG, "vm1", { identity: { type: "SystemAssigned" } }, POLL);
    await patch.submitted();
    const patchOp = lastOp("vm-update");
    const refusals = [
      ["PUT", `${vmPath("vm1")}/extensions/AADLoginForWindows?api-version=2026-03-01`, { location: "westus", properties: { publisher: "Microsoft.Azure.ActiveDirectory", type: "AADLoginForWindows", typeHandlerVersion: "1.0" } }],
      ["PATCH", `${vmPath("vm1")}?api-version=2026-03-01`, { tags: { a: "b" } }],
      ["deallocate", `${vmPath("vm1")}/deallocate?api-version=2026-03-01`, undefined],
    ] as const;
    for (const [operation, path, body] of refusals) {
      const res = await asCaller(operation === "deallocate" ? "POST" : operation, path, body);
      expect([res.status, res.body.error.code, res.body.error.message]).toEqual([409, "OperationNotAllowed", `Operation '${operation}' is not allowed on VM 'vm1' since another operation is in progress.`]);
    }
    const sdkRefusal = await compute.virtualMachineExtensions.createOrUpdate(RG, "vm1", "AADLoginForWindows", AAD, POLL).catch((e: unknown) => e);
    expect(isRestError(sdkRefusal) && [sdkRefusal.statusCode, sdkRefusal.code]).toEqual([409, "OperationNotAllowed"]);
    expect(operations().find((o) => o.id === patchOp.id)?.status).toBe("InProgress");

    const deleted = await asCaller("DELETE", `${vmPath("vm1")}?api-version=2026-03-01`);
    expect(deleted.status).toBe(202);
    expect(operations().find((o) => o.id === patchOp.id)).toMatchObject({ status: "Failed", error: { code: "OperationPreempted" } });
    expect(((await patch.catch((e: unknown) => e)) as Error).message).toContain("OperationPreempted");
    const again = await asCaller("DELETE", `${vmPath("vm1")}?api-version=2026-03-01`);
    expect([again.status, again.headers["azure-asyncoperation"]]).toEqual([202, deleted.headers["azure-asyncoperation"]]);
    const during = await asCaller("PATCH", `${vmPath("vm1")}?api-version=2026-03-01`, { tags: {} });
    expect([during.status, during.body.error.code]).toEqual([409, "OperationNotAllowed"]);
    expect(during.body.error.message).toContain("since the VM is marked for deletion");
    const deleteOp = lastOp("vm-delete");
    const [min, max] = scaled("vm-delete");
    expect(durationOf(deleteOp)).toBeGreaterThanOrEqual(min);
    expect(durationOf(deleteOp)).toBeLessThanOrEqual(max);
    await sleep(deleteOp.dueAt - Date.now());
    expect((await asCaller("GET", `${vmPath("vm1")}?api-version=2026-03-01`)).status).toBe(404);
  });

  it("a power action reads Updating and a transitional power state until it settles", async () => {
    seedVms({ name: "vm1" });
    const deallocating = compute.virtualMachines.deallocate(RG, "vm1", POLL);
    await deallocating.submitted();
    const view = await compute.virtualMachines.instanceView(RG, "vm1");
    expect(view.statuses?.map((s) => s.code)).toEqual(["ProvisioningState/updating", "PowerState/deallocating"]);
    await deallocating;
    const after = await compute.virtualMachines.instanceView(RG, "vm1");
    expect(after.statuses?.map((s) => s.code)).toEqual(["ProvisioningState/succeeded", "PowerState/deallocated"]);
  });

  it("the same seed draws the same durations; another seed others", async () => {
    const draw = async (seed: number): Promise<number[]> => {
      t.emulator.reset();
      grantOwnerAtRoot(t.emulator);
      t.emulator.addResourceGroup(SUB, RG, "westus");
      seedVms({ name: "a" }, { name: "b" }, { name: "c" });
      t.emulator.setTiming({ seed });
      for (const vm of ["a", "b", "c"]) await compute.virtualMachines.update(RG, vm, { tags: { n: vm } }, POLL).submitted();
      return operations().filter((o) => o.kind === "vm-update").map(durationOf);
    };
    const first = await draw(42);
    expect(first).toHaveLength(3);
    expect(await draw(42)).toEqual(first);
    expect(await draw(43)).not.toEqual(first);
  });
});

describe("realistic timing: directory replication and role assignments", () => {
  const assign = (principalId: string, name: string, principalType?: string) =>
    asCaller("PUT", `${vmPath("vm1")}/providers/Microsoft.Authorization/roleAssignments/${name}?api-version=2022-04-01`, {
      properties: { roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${ADMIN_LOGIN}`, principalId, ...(principalType ? { principalType } : {}) },
    });

  it("a just-created principal is PrincipalNotFound until its drawn replication delay (60–300 s × scale) has passed", async () => {
    const scale = 0.004;
    t.emulator.setTiming({ timeScale: scale });
    seedVms({ name: "vm1" });
    const fresh = "c0ffee00-0000-4000-8000-0000000000c1";
    const principal = t.emulator.addPrincipal({ id: fresh, type: "User", displayName: "New Hire" });
    const delay = (principal.replicatedAt ?? 0) - principal.createdAt;
    const [min, max] = scaled("principal-replication", scale);
    expect(delay).toBeGreaterThanOrEqual(min);
    expect(delay).toBeLessThanOrEqual(max);
    const early = await assign(fresh, "00000000-0000-4000-8000-000000000001");
    expect([early.status, early.body.error.code]).toEqual([400, "PrincipalNotFound"]);
    await sleep((principal.replicatedAt ?? 0) - Date.now());
    const later = await assign(fresh, "00000000-0000-4000-8000-000000000001");
    expect([later.status, later.body.properties?.principalId]).toEqual([201, fresh]);
  });

  it("a VM's new system-assigned identity is not known to role assignments at once either; principalType skips the lookup", async () => {
    t.emulator.setTiming({ timeScale: 0.004 });
    seedVms({ name: "vm1" });
    // The principal exists from the moment the PATCH is accepted (its answer carries the principalId).
    const patched = await asCaller("PATCH", `${vmPath("vm1")}?api-version=2026-03-01`, { identity: { type: "SystemAssigned" } });
    const principalId = String(patched.body.identity.principalId);
    const principal = t.emulator.state.principal(principalId);
    const [min, max] = scaled("principal-replication", 0.004);
    expect((principal?.replicatedAt ?? 0) - (principal?.createdAt ?? 0)).toBeGreaterThanOrEqual(min);
    expect((principal?.replicatedAt ?? 0) - (principal?.createdAt ?? 0)).toBeLessThanOrEqual(max);
    const early = await assign(principalId, "00000000-0000-4000-8000-000000000002");
    expect(early.body.error?.code).toBe("PrincipalNotFound");
    const named = await assign(principalId, "00000000-0000-4000-8000-000000000002", "ServicePrincipal");
    expect(named.status).toBe(201);
  });

  it("role-assignment PUT and DELETE answer after 0.5–1.5 s (× scale), reads at once", async () => {
    const scale = 0.2;
    t.emulator.setTiming({ timeScale: scale });
    seedVms({ name: "vm1" });
    const user = "c0ffee00-0000-4000-8000-0000000000c2";
    t.emulator.seed({ principals: [{ id: user, type: "User", displayName: "Existing" }] });
    const [min, max] = scaled("role-assignment-write", scale);
    const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
      const started = performance.now();
      const result = await work();
      return [result, performance.now() - started];
    };
    const [created, putMs] = await timed(() => assign(user, "00000000-0000-4000-8000-000000000003"));
    expect(created.status).toBe(201);
    expect(putMs).toBeGreaterThanOrEqual(min);
    expect(putMs).toBeLessThan(max + 250);
    const path = `${vmPath("vm1")}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-000000000003?api-version=2022-04-01`;
    const [, getMs] = await timed(() => asCaller("GET", path));
    expect(getMs).toBeLessThan(min);
    const [removed, deleteMs] = await timed(() => asCaller("DELETE", path));
    expect(removed.status).toBe(200);
    expect(deleteMs).toBeGreaterThanOrEqual(min);
  });
});

describe("realistic timing: Event Grid delivery", () => {
  const tagWrite = (n: number) =>
    asCaller("PUT", `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Resources/tags/default?api-version=2021-04-01`, { properties: { tags: { n: String(n) } } });

  it("delivers 1–5 s (× scale) after the write", async () => {
    const scale = 0.05;
    t.emulator.setTiming({ timeScale: scale });
    const hook = await startWebhook();
    hooks.push(hook);
    await t.emulator.subscribeEvents(hook.url);
    const [min, max] = scaled("event-delivery-latency", scale);
    const accepted: number[] = [];
    for (const n of [1, 2, 3]) {
      accepted.push(Date.now());
      await tagWrite(n);
    }
    await t.emulator.deliveriesIdle();
    expect(hook.received).toHaveLength(3);
    const emitted = t.emulator.events().map((e) => e.id);
    for (const r of hook.received) {
      const latency = r.at - (accepted[emitted.indexOf(r.body[0].id)] ?? Infinity);
      expect(latency).toBeGreaterThanOrEqual(min);
      expect(latency).toBeLessThan(max + 400);
    }
  });

  it("a webhook slower than the 30 s (× scale) timeout gets the event again after the first retry step (10 s × scale)", async () => {
    const hook = await startWebhook();
    hooks.push(hook);
    await t.emulator.subscribeEvents(hook.url);
    const timeoutMs = 30_000 * SCALE;
    hook.plan = [{ delayMs: timeoutMs + 200 }];
    await tagWrite(1);
    await t.emulator.deliveriesIdle();
    expect(hook.received.map((r) => r.headers["aeg-delivery-count"])).toEqual(["0", "1"]);
    expect(hook.received[0]?.body[0].id).toBe(hook.received[1]?.body[0].id);
    const gap = (hook.received[1]?.at ?? 0) - (hook.received[0]?.at ?? 0);
    // Receipt to receipt: each attempt's time from send to receipt varies a little.
    expect(gap).toBeGreaterThanOrEqual(timeoutMs + 10_000 * SCALE - 50);
    expect(gap).toBeLessThan(timeoutMs + 10_000 * SCALE + 400);
    expect(t.emulator.deadLetters()).toEqual([]);
  });

  it("follows Event Grid's retry schedule (× scale) and dead-letters after maxAttempts", async () => {
    const hook = await startWebhook();
    hooks.push(hook);
    hook.status = 500;
    await t.emulator.subscribeEvents(hook.url);
    t.emulator.setEventDelivery({ maxAttempts: 4 });
    await tagWrite(1);
    await t.emulator.deliveriesIdle();
    expect(hook.received.map((r) => r.headers["aeg-delivery-count"])).toEqual(["0", "1", "2", "3"]);
    const gaps = hook.received.slice(1).map((r, i) => r.at - (hook.received[i]?.at ?? 0));
    [10, 30, 60].forEach((seconds, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(seconds * 1000 * SCALE - 50);
      expect(gaps[i]).toBeLessThan(seconds * 1000 * SCALE + 400);
    });
    expect(t.emulator.deadLetters()).toMatchObject([{ attempts: 4, lastError: "HTTP 500" }]);
  });

  it("keeps delivering other events while one waits for its retry (no head-of-line blocking)", async () => {
    const hook = await startWebhook();
    hooks.push(hook);
    await t.emulator.subscribeEvents(hook.url);
    hook.plan = [{ status: 503 }];
    await tagWrite(1);
    await tagWrite(2);
    await t.emulator.deliveriesIdle();
    const [first, second] = t.emulator.events().map((e) => e.id);
    const order = hook.received.map((r) => `${r.body[0].id === first ? "first" : r.body[0].id === second ? "second" : "?"}#${r.headers["aeg-delivery-count"]}`);
    expect(order).toEqual(["first#0", "second#0", "first#1"]);
  });
});

describe("timing configuration", () => {
  it("GET /timing and PUT /timing, with ARM-shaped 400s for bad values", async () => {
    expect((await admin("GET", "/timing")).body).toEqual({ profile: "realistic", timeScale: SCALE, seed: 7 });
    const changed = await admin("PUT", "/timing", { profile: "instant", timeScale: 0.5 });
    expect([changed.status, changed.body]).toEqual([200, { profile: "instant", timeScale: 0.5, seed: 7 }]);
    expect(t.emulator.timing()).toEqual({ profile: "instant", timeScale: 0.5, seed: 7 });
    for (const bad of [{ profile: "fast" }, { timeScale: 0 }, { timeScale: "1" }, { seed: -1 }, { seed: 1.5 }, { speed: 2 }]) {
      const res = await admin("PUT", "/timing", bad);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("InvalidRequestContent");
      expect(res.body.error.message).toContain(Object.keys(bad)[0]);
    }
    expect(t.emulator.timing()).toEqual({ profile: "instant", timeScale: 0.5, seed: 7 });
    expect(() => t.emulator.setTiming({ timeScale: -1 })).toThrow(/timeScale/);
  });

  it("instant keeps today's behaviour: lroDelayMs, a new write completes the running operation", async () => {
    t.emulator.setTiming({ profile: "instant" });
    t.emulator.setLimits({ lroDelayMs: 60_000 });
    seedVms({ name: "vm1" });
    const first = await asCaller("PATCH", `${vmPath("vm1")}?api-version=2026-03-01`, { tags: { a: "1" } });
    expect(first.status).toBe(200);
    expect(durationOf(lastOp("vm-update"))).toBe(60_000);
    const second = await asCaller("PATCH", `${vmPath("vm1")}?api-version=2026-03-01`, { tags: { a: "2" } });
    expect(second.status).toBe(200);
    expect(operations().filter((o) => o.kind === "vm-update").map((o) => o.status)).toEqual(["Succeeded", "InProgress"]);
  });
});
