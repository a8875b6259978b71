import { describe, expect, it } from "vitest";
import { useTestEmulator, type TestEmulator } from "../../support/emulator.js";
import { armCall } from "./arm-http.js";

const SUB = "e1e1e1e1-0000-4000-8000-0000000000e1";
const VM = `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1`;
const VM_BODY = {
  location: "westus",
  properties: { storageProfile: { imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2022-datacenter-azure-edition", version: "latest" } } },
};
let t: TestEmulator;
let token: string;
const call = (method: string, path: string, options: Parameters<typeof armCall>[4] = {}) => armCall(t.emulator.armUrl, t.emulator.caPem, method, path, { token, ...options });

useTestEmulator((started) => {
  t = started;
  t.emulator.setLimits({ lroDelayMs: 0 });
  t.emulator.addResourceGroup(SUB, "rg1");
  token = t.emulator.tokenFor(t.emulator.managedIdentity.principalId);
});

describe("ARM HTTP contract", () => {
  it.each([
    ["no Authorization header", undefined, 401, "AuthenticationFailed"],
    ["garbage token", "abc.def.ghi", 401, "InvalidAuthenticationToken"],
  ])("%s -> %s %s", async (_c, bad, status, code) => {
    const res = await armCall(t.emulator.armUrl, t.emulator.caPem, "GET", `${VM}?api-version=2026-03-01`, bad ? { token: bad } : {});
    expect([res.status, res.body.error.code]).toEqual([status, code]);
    const logged = t.emulator.requests().requests.at(-1);
    expect(logged?.status).toBe(status);
    expect(logged?.caller).toBeUndefined();
  });

  it("a token of a principal the tenant does not know is refused", async () => {
    t.emulator.addPrincipal({ id: "f0f0f0f0-0000-4000-8000-0000000000f0", type: "User", displayName: "Gone" });
    const stale = t.emulator.tokenFor("f0f0f0f0-0000-4000-8000-0000000000f0");
    t.emulator.state.principals.delete("f0f0f0f0-0000-4000-8000-0000000000f0");
    const res = await call("GET", `${VM}?api-version=2026-03-01`, { token: stale });
    expect([res.status, res.body.error.code]).toEqual([401, "InvalidAuthenticationToken"]);
  });

  it.each([
    [`${VM}`, 400, "MissingApiVersionParameter"],
    [`${VM}?api-version=2099-01-01`, 400, "NoRegisteredProviderFound"],
    [`/subscriptions/${SUB}/resourcegroups/rg1?api-version=2099-01-01`, 400, "InvalidApiVersionParameter"],
    [`/subscriptions/${SUB}/providers/Microsoft.Storage/storageAccounts?api-version=2023-01-01`, 404, "InvalidResourceType"],
  ])("GET %s -> %i %s", async (path, status, code) => {
    const res = await call("GET", path);
    expect([res.status, res.body.error.code]).toEqual([status, code]);
    if (code === "NoRegisteredProviderFound") expect(res.body.error.message).toContain("2026-03-01");
  });

  it("collapses // and matches provider/type segments case-insensitively", async () => {
    expect((await call("PUT", `${VM}?api-version=2025-04-01`, { body: VM_BODY })).status).toBe(201);
    const res = await call("GET", `//SUBSCRIPTIONS/${SUB}/RESOURCEGROUPS/RG1/providers/microsoft.compute/VIRTUALMACHINES/VM1?api-version=2025-04-01`);
    expect([res.status, res.body.name]).toEqual([200, "vm1"]);
  });

  it.each([
    ["unparsable JSON", { rawBody: "{nope" }, 400, "InvalidRequestContent"],
    ["body not an object", { body: [1, 2] }, 400, "InvalidRequestContent"],
    ["missing location", { body: { properties: {} } }, 400, "LocationRequired"],
  ])("VM PUT with %s -> %i %s", async (_c, options, status, code) => {
    const res = await call("PUT", `${VM}?api-version=2026-03-01`, options);
    expect([res.status, res.body.error.code]).toEqual([status, code]);
  });

  it("answers a create with 201, Creating and both LRO headers; the operation then reports Succeeded", async () => {
    t.emulator.setLimits({ lroDelayMs: 60_000 });
    const res = await call("PUT", `${VM}?api-version=2026-03-01`, { body: VM_BODY });
    expect(res.status).toBe(201);
    expect(res.body.properties.provisioningState).toBe("Creating");
    const asyncOp = new URL(String(res.headers["azure-asyncoperation"]));
    const location = new URL(String(res.headers["location"]));
    expect((await call("GET", asyncOp.pathname + asyncOp.search)).body.status).toBe("InProgress");
    expect((await call("GET", location.pathname + location.search)).status).toBe(202);
    t.emulator.setLimits({ lroDelayMs: 0 });
    await call("PUT", `${VM}?api-version=2026-03-01`, { body: VM_BODY });
    expect((await call("GET", asyncOp.pathname + asyncOp.search)).body.status).toBe("Succeeded");
    const done = await call("GET", location.pathname + location.search);
    expect([done.status, done.body.name]).toEqual([200, "vm1"]);
  });

  it("tags API: PUT replaces, PATCH merges/deletes, on VMs, groups and subscriptions", async () => {
    await call("PUT", `${VM}?api-version=2026-03-01`, { body: { ...VM_BODY, tags: { keep: "1" } } });
    const tagsPath = `${VM}/providers/Microsoft.Resources/tags/default?api-version=2021-04-01`;
    const merged = await call("PATCH", tagsPath, { body: { operation: "Merge", properties: { tags: { "aad-login-admins": "ann@contoso.com" } } } });
    expect(merged.body).toMatchObject({ name: "default", type: "Microsoft.Resources/tags", properties: { tags: { keep: "1", "aad-login-admins": "ann@contoso.com" } } });
    const deleted = await call("PATCH", tagsPath, { body: { operation: "Delete", properties: { tags: { keep: "" } } } });
    expect(deleted.body.properties.tags).toEqual({ "aad-login-admins": "ann@contoso.com" });
    const vm = await call("GET", `${VM}?api-version=2026-03-01`);
    expect(vm.body.tags).toEqual({ "aad-login-admins": "ann@contoso.com" });
    const rg = await call("PUT", `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Resources/tags/default?api-version=2025-04-01`, { body: { properties: { tags: { team: "x" } } } });
    expect(rg.body.properties.tags).toEqual({ team: "x" });
    const bad = await call("PATCH", tagsPath, { body: { operation: "Upsert", properties: { tags: {} } } });
    expect([bad.status, bad.body.error.code]).toEqual([400, "InvalidRequestContent"]);
    expect(t.emulator.events().filter((e) => e.data["operationName"] === "Microsoft.Resources/tags/write")).toHaveLength(3);
  });

  it("resource groups: PUT 201/200, GET, DELETE removes their VMs", async () => {
    const path = `/subscriptions/${SUB}/resourcegroups/rg2?api-version=2025-04-01`;
    expect((await call("PUT", path, { body: { location: "westeurope" } })).status).toBe(201);
    expect((await call("PUT", path, { body: { location: "westeurope" } })).status).toBe(200);
    expect((await call("GET", path)).body).toMatchObject({ name: "rg2", location: "westeurope" });
    await call("PUT", `/subscriptions/${SUB}/resourceGroups/rg2/providers/Microsoft.Compute/virtualMachines/v?api-version=2026-03-01`, { body: VM_BODY });
    expect((await call("DELETE", path)).status).toBe(200);
    expect(t.emulator.state.vm(SUB, "rg2", "v")).toBeUndefined();
    const unknownSub = await call("PUT", `/subscriptions/00000000-0000-4000-8000-000000000000/resourcegroups/x?api-version=2025-04-01`, { body: { location: "westus" } });
    expect([unknownSub.status, unknownSub.body.error.code]).toEqual([404, "SubscriptionNotFound"]);
  });

  it("admin API: principals, tokens, role assignments and the request log (stable contract)", async () => {
    const admin = (method: string, path: string, body?: unknown) => armCall(t.emulator.armUrl, t.emulator.caPem, method, `/admin${path}`, body === undefined ? {} : { body });
    const principal = { id: "abababab-0000-4000-8000-0000000000ab", type: "User", displayName: "Bob" };
    expect((await admin("POST", "/principals", principal)).status).toBe(201);
    const { access_token } = (await admin("POST", "/tokens", { principalId: principal.id })).body as { access_token: string };
    await admin("DELETE", "/requests");
    const readGroup = () => armCall(t.emulator.armUrl, t.emulator.caPem, "GET", `/subscriptions/${SUB}/resourceGroups/rg1?api-version=2025-04-01`, { token: access_token });
    // A registered principal holds no role until the tenant admin grants one.
    expect((await readGroup()).status).toBe(403);
    const grant = await admin("POST", "/roleAssignments", { principalId: principal.id, roleDefinitionId: "acdd72a7-3385-48ef-bd42-f606fba81ae7", scope: `/subscriptions/${SUB}/resourceGroups/rg1` });
    expect(grant.status).toBe(201);
    expect(grant.body).toMatchObject({ type: "Microsoft.Authorization/roleAssignments", properties: { principalId: principal.id, principalType: "User", scope: `/subscriptions/${SUB}/resourceGroups/rg1`, roleDefinitionId: "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7" } });
    expect((await readGroup()).status).toBe(200);
    const log = (await admin("GET", "/requests")).body;
    expect(log.requests).toHaveLength(2);
    expect(log.requests.map((r: { status: number }) => r.status)).toEqual([403, 200]);
    expect(log.requests[1]).toMatchObject({ method: "GET", status: 200, caller: principal.id, operation: "Microsoft.Resources/subscriptions/resourceGroups/read" });
    expect(log.counts).toEqual({ byOperation: { "Microsoft.Resources/subscriptions/resourceGroups/read": 2 }, byCaller: { [principal.id]: 2 } });
    expect((await admin("POST", "/principals", { id: "nope", type: "User" })).body.error.code).toBe("InvalidPrincipalId");
    expect((await admin("GET", "/nothing")).status).toBe(404);
    // A simulation for a VM not created yet is kept and applied at creation.
    const sim = await admin("POST", "/vms/simulation", { id: VM, powerState: "deallocated" });
    expect(sim.status).toBe(200);
    expect(sim.body).toMatchObject({ pending: true, powerState: "deallocated" });
    expect((await admin("POST", "/vms/simulation", { id: "/subscriptions/x/not-a-vm", powerState: "deallocated" })).status).toBe(404);
    expect((await admin("POST", "/vms/simulation", { id: VM, powerState: "hibernating" })).status).toBe(400);
  });

  it("a simulation set before a VM exists applies from its creation (no window where it looks running)", async () => {
    t.emulator.setVmSimulation({ id: VM, powerState: "deallocated", agent: null });
    const created = await call("PUT", `${VM}?api-version=2025-04-01`, { body: VM_BODY });
    expect(created.status).toBe(201);
    const view = await call("GET", `${VM}?api-version=2025-04-01&$expand=instanceView`);
    const statuses = (view.body.properties.instanceView.statuses as { code: string }[]).map((s) => s.code);
    expect(statuses).toContain("PowerState/deallocated");
    expect(view.body.properties.instanceView.osName).toBeUndefined();
  });
});
