import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startArmEmulator, type ArmEmulator } from "../../../src/local/emulator/index.js";
import { GraphDirectory } from "../../../src/azure/graphDirectory.js";
import { DirectoryFailure } from "../../../src/orchestrator/ports.js";
import { armCall, type RawResponse } from "./arm-http.js";
import { diagnoseExtension } from "../../../src/domain/diagnosis.js";
import { grantOwnerAtRoot } from "../../support/emulator.js";

/**
 * The emulator's Microsoft Graph device calls: raw HTTPS for the contract (advanced-query rule,
 * strict filter parsing, error shapes, audience), and the production adapter over them.
 */
const APP = "9a9a0000-0000-4000-8000-0000000000aa";
const VM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-01";
let emulator: ArmEmulator;
let graphToken: string;
let armToken: string;

async function tokenFor(audience: string): Promise<string> {
  const r = await armCall(emulator.armUrl, emulator.caPem, "POST", "/admin/tokens", { body: { principalId: APP, audience } });
  return r.body.access_token as string;
}

const call = (method: string, path: string, headers: Record<string, string> = {}, token = graphToken) => armCall(emulator.graphUrl, emulator.caPem, method, path, { token, headers });
const filterOn = (value: string) => `/v1.0/devices?$filter=${encodeURIComponent(`physicalIds/any(p:p eq '${value}')`)}`;

function directory(): GraphDirectory {
  return new GraphDirectory({
    credential: { getToken: async () => ({ token: graphToken, expiresOnTimestamp: Date.now() + 3_600_000 }) },
    endpoint: emulator.graphUrl,
    scope: "https://graph.microsoft.com/.default",
    caPem: emulator.caPem,
    maxRetries: 3,
    retryDelayInMs: 10,
  });
}

beforeAll(async () => {
  emulator = await startArmEmulator();
  emulator.addPrincipal({ id: APP, type: "ServicePrincipal", displayName: "enforcer", appId: APP });
  graphToken = await tokenFor("https://graph.microsoft.com/");
  armToken = await tokenFor("https://management.azure.com/");
  emulator.setGraphRoles(APP, ["Device.Read.All", "Device.ReadWrite.All"]);
});

afterAll(async () => {
  await emulator?.close();
});

describe("GET /v1.0/devices", () => {
  it("filters on physicalIds only as an advanced query (ConsistencyLevel: eventual and $count=true)", async () => {
    const device = emulator.addDevice({ displayName: "web-01", physicalIds: [`[AzureResourceId]:${VM}`] });
    const plain = await call("GET", filterOn(`[AzureResourceId]:${VM}`));
    expect(plain.status).toBe(400);
    expect(plain.body.error.code).toBe("Request_UnsupportedQuery");
    expect(plain.body.error.innerError["request-id"]).toBeDefined();
    const advanced = await call("GET", `${filterOn(`[AzureResourceId]:${VM}`)}&$count=true`, { ConsistencyLevel: "eventual" });
    expect(advanced.status).toBe(200);
    expect(advanced.body["@odata.count"]).toBe(1);
    expect(advanced.body.value).toEqual([expect.objectContaining({ id: device.id, deviceId: device.deviceId, displayName: "web-01", trustType: "AzureAd", operatingSystem: "Windows", accountEnabled: true })]);
  });

  it.each([
    "physicalIds/any(p:startswith(p,'[AzureResourceId]'))",
    "displayName ne 'web-01'",
    "operatingSystem eq 'Windows' or displayName eq 'x'",
    "physicalIds/any(p:q eq 'x')",
  ])("refuses a filter it does not serve (%s) with 400", async (filter) => {
    const r = await call("GET", `/v1.0/devices?$filter=${encodeURIComponent(filter)}&$count=true`, { ConsistencyLevel: "eventual" });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("Request_UnsupportedQuery");
  });

  it("displayName eq needs no advanced query parameters", async () => {
    emulator.addDevice({ displayName: "by-name-01" });
    const r = await call("GET", `/v1.0/devices?$filter=${encodeURIComponent("displayName eq 'by-name-01'")}`);
    expect(r.status).toBe(200);
    expect(r.body.value).toHaveLength(1);
  });

  it("pages with @odata.nextLink", async () => {
    for (let i = 0; i < 5; i++) emulator.addDevice({ displayName: "paged", physicalIds: ["[AzureResourceId]:/paged"] });
    const first = await call("GET", `${filterOn("[AzureResourceId]:/paged")}&$count=true&$top=2`, { ConsistencyLevel: "eventual" });
    expect(first.body.value).toHaveLength(2);
    expect(first.body["@odata.count"]).toBe(5);
    const next = new URL(first.body["@odata.nextLink"] as string);
    const second = await call("GET", next.pathname + next.search, { ConsistencyLevel: "eventual" });
    expect(second.body.value).toHaveLength(2);
  });

  it("refuses an ARM token (wrong audience) with 401 and a caller without a device role with 403", async () => {
    const wrong = await call("GET", "/v1.0/devices", {}, armToken);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("InvalidAuthenticationToken");
    emulator.setGraphRoles(APP, []);
    try {
      const denied = await call("GET", "/v1.0/devices");
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe("Authorization_RequestDenied");
    } finally {
      emulator.setGraphRoles(APP, ["Device.Read.All", "Device.ReadWrite.All"]);
    }
  });
});

describe("GET and DELETE /v1.0/devices/{id}", () => {
  it("deletes with 204, then answers 404 Request_ResourceNotFound; reading alone cannot delete", async () => {
    const device = emulator.addDevice({ displayName: "doomed" });
    emulator.setGraphRoles(APP, ["Device.Read.All"]);
    const refused = await call("DELETE", `/v1.0/devices/${device.id}`);
    expect(refused.status).toBe(403);
    emulator.setGraphRoles(APP, ["Device.Read.All", "Device.ReadWrite.All"]);
    expect((await call("GET", `/v1.0/devices/${device.id}`)).status).toBe(200);
    expect((await call("DELETE", `/v1.0/devices/${device.id}`)).status).toBe(204);
    const again = await call("DELETE", `/v1.0/devices/${device.id}`);
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("Request_ResourceNotFound");
  });
});

describe("the Graph adapter over the emulator", () => {
  it("finds a VM's devices across pages, reads one, deletes it and says unchanged the second time", async () => {
    const vm = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/many-01";
    const ids = Array.from({ length: 105 }, () => emulator.addDevice({ displayName: "many-01", physicalIds: [`[AzureResourceId]:${vm}`] }).id);
    const graph = directory();
    const found = await graph.findVmDevices(vm);
    expect(found.map((d) => d.id).sort()).toEqual([...ids].sort());
    expect(graph.requestCount()).toBe(2);
    expect((await graph.getDevice(ids[0]!))?.physicalIds).toEqual([`[AzureResourceId]:${vm}`]);
    expect(await graph.getDevice("00000000-0000-4000-8000-000000000000")).toBeUndefined();
    expect(await graph.deleteDevice(ids[0]!)).toBe("deleted");
    expect(await graph.deleteDevice(ids[0]!)).toBe("unchanged");
  });

  it("finds devices by display name across pages, a quote in the name escaped as OData wants (a plain query: no ConsistencyLevel)", async () => {
    const name = "o'named-01";
    const ids = Array.from({ length: 101 }, () => emulator.addDevice({ displayName: name }).id);
    emulator.addDevice({ displayName: "o'named-02" });
    const since = emulator.requests().lastSeq;
    const graph = directory();
    const found = await graph.findDevicesByName(name);
    expect(found.map((d) => d.id).sort()).toEqual([...ids].sort());
    expect(graph.requestCount()).toBe(2);
    expect(emulator.requests(since).requests.map((r) => `${r.method} ${r.status}`)).toEqual(["GET 200", "GET 200"]);
  });

  it("403 is a terminal DirectoryFailure naming Graph's answer; 429 past the retries is transient", async () => {
    const graph = directory();
    emulator.setGraphRoles(APP, []);
    try {
      const refused = await graph.findVmDevices(VM).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(DirectoryFailure);
      expect((refused as DirectoryFailure).classified).toMatchObject({ class: "terminal", code: "graph-forbidden", statusCode: 403 });
      expect((refused as DirectoryFailure).classified.message).toMatch(/Authorization_RequestDenied/);
    } finally {
      emulator.setGraphRoles(APP, ["Device.Read.All", "Device.ReadWrite.All"]);
    }
    emulator.setFaults({ seed: 1, rules: [{ match: { operation: "Microsoft.Graph/devices/read" }, status: 429, retryAfterSeconds: 0 }] });
    try {
      const throttled = await graph.getDevice("x").catch((e: unknown) => e);
      expect((throttled as DirectoryFailure).classified).toMatchObject({ class: "transient", statusCode: 429 });
    } finally {
      emulator.clearFaults();
    }
  });
});

describe("AADLoginForWindows's join meets a deleted VM's device of the same name", () => {
  const RG = "/subscriptions/5e7a0000-0000-4000-8000-0000000000f1/resourceGroups/rg-join";
  const IMAGE = { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2022-datacenter-azure-edition", version: "latest" };
  const AAD = { location: "westus", properties: { publisher: "Microsoft.Azure.ActiveDirectory", type: "AADLoginForWindows", typeHandlerVersion: "2.0" } };
  const arm = (method: string, path: string, body?: unknown): Promise<RawResponse> =>
    armCall(emulator.armUrl, emulator.caPem, method, `${path}${path.includes("?") ? "&" : "?"}api-version=2024-07-01`, { token: emulator.tokenFor(emulator.managedIdentity.principalId), ...(body === undefined ? {} : { body }) });

  async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
    for (let i = 0; i < 200; i++) {
      const value = await probe();
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error("timed out");
  }

  /** A Windows VM named `name` with computer name `computer`, its login extension installed and settled. */
  async function vmWithLogin(name: string, computer: string) {
    const id = `${RG}/providers/Microsoft.Compute/virtualMachines/${name}`;
    expect((await arm("PUT", id, { location: "westus", identity: { type: "SystemAssigned" }, properties: { storageProfile: { imageReference: IMAGE }, osProfile: { computerName: computer } } })).status).toBeLessThan(300);
    await until(async () => ((await arm("GET", id)).body.properties?.provisioningState === "Succeeded" ? true : undefined));
    expect((await arm("PUT", `${id}/extensions/AADLoginForWindows`, AAD)).status).toBeLessThan(300);
    const ext = await until(async () => {
      const r = await arm("GET", `${id}/extensions/AADLoginForWindows?$expand=instanceView`);
      return ["Succeeded", "Failed"].includes(r.body.properties?.provisioningState) ? r.body : undefined;
    });
    return { id, ext };
  }

  async function deleteVm(id: string) {
    expect((await arm("DELETE", id)).status).toBeLessThan(300);
    await until(async () => ((await arm("GET", id)).status === 404 ? true : undefined));
  }

  const onVm = (id: string) => emulator.devices().filter((d) => d.physicalIds.includes(`[AzureResourceId]:${id}`));

  beforeAll(() => {
    grantOwnerAtRoot(emulator);
    emulator.addResourceGroup("5e7a0000-0000-4000-8000-0000000000f1", "rg-join", "westus");
  });

  it("fails the new VM's extension in the shape diagnosed as duplicate-device, and no second device appears", async () => {
    const first = await vmWithLogin("app-01", "app-01");
    expect(first.ext.properties.provisioningState).toBe("Succeeded");
    const [left] = onVm(first.id);
    await deleteVm(first.id);
    expect(emulator.devices().map((d) => d.id)).toContain(left!.id);

    const again = await vmWithLogin("app-01", "app-01");
    expect(again.ext.properties.provisioningState).toBe("Failed");
    const status = again.ext.properties.instanceView.statuses[0];
    expect(status.code).toBe("ProvisioningState/failed/1009");
    expect(status.message).toMatch(/Exit code: -2145648639\. Microsoft Entra join failed: a device with the same name 'app-01' already exists in the directory/);
    expect(onVm(again.id).map((d) => d.id)).toEqual([left!.id]);
    const diagnosis = diagnoseExtension({ name: "AADLoginForWindows", publisher: "Microsoft.Azure.ActiveDirectory", type: "AADLoginForWindows", provisioningState: "Failed", statuses: [status], substatuses: [] }, { identity: { type: "SystemAssigned" } } as never);
    expect(diagnosis).toMatchObject({ code: "duplicate-device", exitCode: -2145648639, retryable: false });

    // The admin deletes the stale device: the reinstall joins.
    emulator.setGraphRoles(APP, ["Device.ReadWrite.All"]);
    expect((await call("DELETE", `/v1.0/devices/${left!.id}`)).status).toBe(204);
    emulator.setGraphRoles(APP, ["Device.Read.All", "Device.ReadWrite.All"]);
    const fixed = await vmWithLogin("app-01", "app-01");
    expect(fixed.ext.properties.provisioningState).toBe("Succeeded");
    expect(onVm(fixed.id)).toHaveLength(1);
  });

  it("only a deleted VM's join blocks: an admin's look-alike and a live VM's device of the same name do not", async () => {
    emulator.addDevice({ displayName: "svc-01" });
    const live = await vmWithLogin("svc-01", "svc-01");
    expect(live.ext.properties.provisioningState).toBe("Succeeded");
    // Another live VM, another resource group name, same computer name: Entra ID lets display names repeat.
    const twin = await vmWithLogin("svc-01-b", "svc-01");
    expect(twin.ext.properties.provisioningState).toBe("Succeeded");
    expect(emulator.devices().filter((d) => d.displayName === "svc-01")).toHaveLength(3);
  });

  it("staleDeviceBlocksJoin: false lets the new VM join as a second device of that name", async () => {
    const first = await vmWithLogin("old-01", "old-01");
    await deleteVm(first.id);
    emulator.setLimits({ staleDeviceBlocksJoin: false });
    try {
      const again = await vmWithLogin("old-01", "old-01");
      expect(again.ext.properties.provisioningState).toBe("Succeeded");
      expect(onVm(again.id)).toHaveLength(2);
    } finally {
      emulator.setLimits({ staleDeviceBlocksJoin: true });
    }
  });
});
