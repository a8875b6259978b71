import { isRestError } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { grantOwnerAtRoot, useTestEmulator, type TestEmulator } from "../../support/emulator.js";
import { armCall } from "./arm-http.js";

const SUB = "f1f1f1f1-0000-4000-8000-0000000000f1";
const SUB2 = "f2f2f2f2-0000-4000-8000-0000000000f2";
const USER = "f0f0f0f0-0000-4000-8000-0000000000f0";
const USER_LOGIN = "fb879df8-f326-4884-b1cf-06f3ad86be52";
const name = (n: number): string => `0000000${n}-0000-4000-8000-000000000000`;
const roleId = (sub: string): string => `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${USER_LOGIN}`;

let t: TestEmulator;

useTestEmulator((started) => {
  t = started;
  t.emulator.addResourceGroup(SUB, "rg1");
  t.emulator.addResourceGroup(SUB2, "rg2");
  t.emulator.addPrincipal({ id: USER, type: "User", displayName: "User" });
  grantOwnerAtRoot(t.emulator, USER);
});

describe("role assignments per subscription", () => {
  it("refuses the assignment past the subscription's limit with RoleAssignmentLimitExceeded, counting every scope inside it", async () => {
    t.emulator.setLimits({ roleAssignmentsPerSubscription: 2 });
    const auth = t.authorizationClient(SUB);
    await auth.roleAssignments.create(`/subscriptions/${SUB}`, name(1), { roleDefinitionId: roleId(SUB), principalId: USER });
    await auth.roleAssignments.create(`/subscriptions/${SUB}/resourceGroups/rg1`, name(2), { roleDefinitionId: roleId(SUB), principalId: USER });
    const error = await auth.roleAssignments
      .create(`/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1`, name(3), { roleDefinitionId: roleId(SUB), principalId: USER })
      .catch((e: unknown) => e);
    expect(isRestError(error) && [error.statusCode, error.code]).toEqual([400, "RoleAssignmentLimitExceeded"]);
    expect((error as Error).message).toContain(`subscription '${SUB}' holds 2 role assignments, its limit is 2`);
    // Repeating an existing assignment is not a new one; another subscription has its own count.
    await auth.roleAssignments.create(`/subscriptions/${SUB}`, name(1), { roleDefinitionId: roleId(SUB), principalId: USER });
    await t.authorizationClient(SUB2).roleAssignments.create(`/subscriptions/${SUB2}`, name(4), { roleDefinitionId: roleId(SUB2), principalId: USER });
    await auth.roleAssignments.delete(`/subscriptions/${SUB}`, name(1));
    await auth.roleAssignments.create(`/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1`, name(3), { roleDefinitionId: roleId(SUB), principalId: USER });
  });

  it("is 4,000 by default", () => {
    expect(t.emulator.limits.roleAssignmentsPerSubscription).toBe(4000);
  });
});

describe("VM lists as Compute serves them", () => {
  const seedVm = (): void =>
    t.emulator.seed({
      vms: [
        {
          id: `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1`,
          body: { location: "westus", tags: { env: "prod" }, properties: { storageProfile: { imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2019-Datacenter", version: "latest" } } } } as never,
        },
      ],
    });
  const all = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
    const out: T[] = [];
    for await (const x of it) out.push(x);
    return out;
  };

  it("refuses $expand=instanceView without a scale-set $filter", async () => {
    seedVm();
    const compute = t.computeClient(SUB);
    for (const list of [() => compute.virtualMachines.listAll({ expand: "instanceView" }), () => compute.virtualMachines.list("rg1", { expand: "instanceView" })]) {
      const error = await all(list()).catch((e: unknown) => e);
      expect(isRestError(error) && [error.statusCode, error.code]).toEqual([400, "BadRequest"]);
    }
    const raw = await armCall(t.emulator.armUrl, t.emulator.caPem, "GET", `/subscriptions/${SUB}/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01&$expand=instanceView`, { token: t.emulator.tokenFor(USER) });
    expect(raw.body.error.message).toBe("Expand Instance View is only supported when Virtual Machine Scale Set resource filter is applied");
    const scaleSet = `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachineScaleSets/ss1`;
    expect(await all(compute.virtualMachines.listAll({ expand: "instanceView", filter: `virtualMachineScaleSet/id eq '${scaleSet}'` }))).toEqual([]);
    const badFilter = await all(compute.virtualMachines.list("rg1", { filter: "name eq 'vm1'" })).catch((e: unknown) => e);
    expect(isRestError(badFilter) && [badFilter.statusCode, badFilter.code]).toEqual([400, "InvalidParameter"]);
    expect((await all(compute.virtualMachines.listAll())).map((vm) => vm.instanceView)).toEqual([undefined]);
  });

  it("statusOnly=true lists run-time status without the model, tags or guest OS", async () => {
    seedVm();
    const [vm] = await all(t.computeClient(SUB).virtualMachines.listAll({ statusOnly: "true" }));
    expect(vm?.name).toBe("vm1");
    expect(vm?.tags).toBeUndefined();
    expect(vm?.storageProfile).toBeUndefined();
    expect(vm?.instanceView?.statuses?.map((s) => s.code)).toEqual(["ProvisioningState/succeeded", "PowerState/running"]);
    expect(vm?.instanceView?.osName).toBeUndefined();
  });
});

describe("Compute's read throttles", () => {
  const VM1 = `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1`;
  const VM2 = `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm2`;
  const seedVms = (): void =>
    t.emulator.seed({ vms: [VM1, VM2].map((id) => ({ id, body: { location: "westus", properties: { storageProfile: { imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2019-Datacenter", version: "latest" } } } } as never })) });
  const get = (path: string) => armCall(t.emulator.armUrl, t.emulator.caPem, "GET", `${path}?api-version=2024-07-01`, { token: t.emulator.tokenFor(USER) });

  it("name what is left in x-ms-ratelimit-remaining-resource and never refuse by default", async () => {
    seedVms();
    const res = await get(VM1);
    expect(res.headers["x-ms-ratelimit-remaining-resource"]).toBe("Microsoft.Compute/GetVMResource;35,Microsoft.Compute/GetVMSubscription;7999");
    for (let i = 0; i < 40; i++) expect((await get(`${VM1}/instanceView`)).status).toBe(200);
    expect((await get(`/subscriptions/${SUB}/providers/Microsoft.Compute/virtualMachines`)).headers["x-ms-ratelimit-remaining-resource"]).toBe("Microsoft.Compute/ListVMSubscription;899");
  });

  it("refuse single-VM reads past the VM's bucket with 429 OperationNotAllowed and Retry-After; other VMs still answer", async () => {
    seedVms();
    t.emulator.setLimits({ computeThrottleScale: 1 / 12 }); // per VM: 3 calls, 1 a minute
    const statuses = [];
    for (const path of [VM1, `${VM1}/instanceView`, `${VM1}/extensions`, `${VM1}/extensions/AADLoginForWindows`]) statuses.push((await get(path)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const throttled = await get(VM1);
    expect(throttled.status).toBe(429);
    expect(throttled.body.error).toMatchObject({ code: "OperationNotAllowed", details: [{ code: "TooManyRequests", target: "GetVMResource" }] });
    expect(Number(throttled.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(throttled.headers["x-ms-ratelimit-remaining-resource"]).toMatch(/^Microsoft\.Compute\/GetVMResource;0,/);
    expect((await get(VM2)).status).toBe(200);
  });

  it("refuse VM lists past the subscription's list bucket", async () => {
    seedVms();
    t.emulator.setLimits({ computeThrottleScale: 1 / 300 }); // lists: 3 calls, 1 a minute
    const list = `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines`;
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(list)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe("variable page sizes", () => {
  it("serves pages of 1…pageSize items; the SDK follows nextLink to every VM", async () => {
    t.emulator.setLimits({ pageSize: 4, variablePageSizes: true });
    const ids = Array.from({ length: 13 }, (_, i) => `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm${String(i).padStart(2, "0")}`);
    t.emulator.seed({ vms: ids.map((id) => ({ id, body: { location: "westus", properties: {} } as never })) });
    const sizes: number[] = [];
    const names: string[] = [];
    for await (const page of t.computeClient(SUB).virtualMachines.listAll().byPage()) {
      sizes.push(page.length);
      names.push(...page.map((vm) => vm.name ?? ""));
    }
    expect(names).toEqual(ids.map((id) => id.split("/").pop()));
    expect(sizes.every((n) => n >= 1 && n <= 4)).toBe(true);
    expect(new Set(sizes).size).toBeGreaterThan(1);
  });
});
