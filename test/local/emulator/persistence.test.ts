import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_MANAGED_IDENTITY, STATE_FILE_NAME, startArmEmulator, type ArmEmulator } from "../../../src/local/emulator/index.js";
import { armCall, type RawResponse } from "./arm-http.js";
import { OWNER_ROLE, grantOwnerAtRoot } from "../../support/emulator.js";
import { startWebhook, type TestWebhook } from "./webhook.js";

const SUB = "5e7a0000-0000-4000-8000-0000000000e5";
const RG_ID = `/subscriptions/${SUB}/resourceGroups/rg-persist`;
const VM_OK = `${RG_ID}/providers/Microsoft.Compute/virtualMachines/with-identity`;
const VM_NO_ID = `${RG_ID}/providers/Microsoft.Compute/virtualMachines/no-identity`;
const USER = "5e7a0000-0000-4000-8000-0000000000a1";
const ADMIN_LOGIN = "1c0163c0-47e6-4577-8991-ea5c82e286e4";
const ASSIGNMENT = `${VM_OK}/providers/Microsoft.Authorization/roleAssignments/5e7a0000-0000-4000-8000-0000000000b1`;
const IMAGE = { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2019-Datacenter", version: "latest" };
const vmBody = (identity: boolean) => ({ location: "westus", properties: { storageProfile: { imageReference: IMAGE } }, ...(identity ? { identity: { type: "SystemAssigned" } } : {}) });
const AAD_BODY = { location: "westus", properties: { publisher: "Microsoft.Azure.ActiveDirectory", type: "AADLoginForWindows", typeHandlerVersion: "1.0" } };
const api = (path: string, version = "2026-03-01"): string => `${path}?api-version=${version}`;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "arm-emulator-persist-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** `main.ts` in a child process: the emulator we can kill -9 for real. */
async function spawnEmulator(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", join("src", "local", "emulator", "main.ts"), ...args], { cwd: process.cwd(), stdio: ["ignore", "pipe", "pipe"] });
  cleanups.push(() => child.kill("SIGKILL"));
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("State file:")) resolve();
    });
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => reject(new Error(`the emulator exited (${code}) before it was ready:\n${output}`)));
  });
  return child;
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A snapshot renders VM instance views "now": those timestamps are the render's, not the state's. */
function withoutRenderTimes(snapshot: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(snapshot) as { virtualMachines: Array<{ properties: { instanceView?: { statuses?: Array<{ time?: string }>; vmAgent?: { statuses?: Array<{ time?: string }> } } } }> };
  for (const vm of copy.virtualMachines) {
    for (const s of [...(vm.properties.instanceView?.statuses ?? []), ...(vm.properties.instanceView?.vmAgent?.statuses ?? [])]) delete s.time;
  }
  return copy;
}

describe("state that survives a crash (stateDir + persist)", () => {
  it("a new emulator on the same directory and ports resumes after kill -9: resources, the running LROs and their URLs, undelivered events, the CA", async () => {
    const dir = tempDir();
    const [armPort, identityPort] = [await freePort(), await freePort()];
    const hook: TestWebhook = await startWebhook();
    cleanups.push(() => hook.close());
    hook.status = 500; // the subscriber is down until the restart: events stay mid-retry
    const child = await spawnEmulator([
      "--port", String(armPort), "--identity-port", String(identityPort), "--state-dir", dir, "--persist", "--timing", "realistic", "--time-scale", "0.02",
    ]);
    const arm = `https://127.0.0.1:${armPort}`;
    const caFile = join(dir, "arm-emulator-ca.pem");
    const caPem = readFileSync(caFile, "utf8");
    const admin = (method: string, path: string, body?: unknown): Promise<RawResponse> => armCall(arm, caPem, method, `/admin${path}`, body === undefined ? {} : { body });
    const token = (await admin("POST", "/tokens", { principalId: DEFAULT_MANAGED_IDENTITY.principalId })).body.access_token as string;
    const call = (method: string, path: string, body?: unknown): Promise<RawResponse> => armCall(arm, caPem, method, path, { token, ...(body === undefined ? {} : { body }) });

    expect((await admin("POST", "/seed", { principals: [{ id: USER, type: "User", displayName: "Ann Lee" }], resourceGroups: [{ id: RG_ID, location: "westus" }], vms: [{ id: VM_OK, body: vmBody(true) }, { id: VM_NO_ID, body: vmBody(false) }] })).status).toBe(200);
    // The caller holds no role until the tenant admin grants one; the grant is state and survives the kill too.
    expect((await admin("POST", "/roleAssignments", { principalId: DEFAULT_MANAGED_IDENTITY.principalId, roleDefinitionId: OWNER_ROLE, scope: "/" })).status).toBe(201);
    expect((await admin("POST", "/eventSubscriptions", { url: hook.url })).status).toBe(201);
    const assignment = await call("PUT", api(ASSIGNMENT, "2022-04-01"), { properties: { roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${ADMIN_LOGIN}`, principalId: USER } });
    expect(assignment.status).toBe(201);
    const installs = [await call("PUT", api(`${VM_OK}/extensions/AADLoginForWindows`), AAD_BODY), await call("PUT", api(`${VM_NO_ID}/extensions/AADLoginForWindows`), AAD_BODY)];
    expect(installs.map((r) => r.status)).toEqual([201, 201]);
    const statusUrls = installs.map((r) => new URL(String(r.headers["azure-asyncoperation"])));
    // Background progress (a failed attempt, its retry time) reaches the file within 200 ms: wait for it.
    const stateFile = join(dir, STATE_FILE_NAME);
    await until("a failed attempt recorded in the state file", () => (readFileSync(stateFile, "utf8").includes('"attempts":1') ? true : undefined), 5_000);
    const attemptedBefore = new Set(hook.received.map((r) => r.body[0].id as string));
    expect(attemptedBefore.size).toBeGreaterThan(0);

    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const restartedAt = Date.now();
    hook.status = 200;
    const emulator: ArmEmulator = await startArmEmulator({ port: armPort, identityPort, stateDir: dir, persist: true });
    cleanups.push(() => emulator.close());

    expect(emulator.resumed).toBe(true);
    expect(readFileSync(caFile, "utf8")).toBe(caPem);
    expect(emulator.caPem).toBe(caPem);
    expect(emulator.timing()).toEqual({ profile: "realistic", timeScale: 0.02, seed: 1 });
    // The old CA and the old token (same signing key, tenant, identity) still work.
    expect((await call("GET", api(VM_OK))).body.identity.type).toBe("SystemAssigned");
    expect((await call("GET", api(VM_NO_ID))).status).toBe(200);
    expect((await call("GET", api(ASSIGNMENT, "2022-04-01"))).body.properties.principalId).toBe(USER);
    expect(emulator.state.principal(USER)?.displayName).toBe("Ann Lee");

    // The installs were still running at the crash and settle on their own clock, with the outcome the VM calls
    // for. (Polled at 10/s: ARM's read bucket, restored with the limits, refills at 25/s.)
    const status = async (url: URL): Promise<RawResponse> => call("GET", url.pathname + url.search);
    expect((await status(statusUrls[0]!)).body.status).toBe("InProgress");
    const finals = await Promise.all(statusUrls.map((url) => until("the install to settle", async () => {
      const res = await status(url);
      return res.body.status === "InProgress" ? undefined : res.body;
    }, 10_000, 100)));
    expect(finals.map((f) => f.status)).toEqual(["Succeeded", "Failed"]);
    expect(finals[1].error.code).toBe("VMExtensionProvisioningError");
    const failed = await call("GET", `${VM_NO_ID}/extensions/AADLoginForWindows?api-version=2026-03-01&$expand=instanceView`);
    expect(failed.body.properties.instanceView.statuses[0].code).toBe("ProvisioningState/failed/1007");
    const installed = await call("GET", `${VM_OK}/extensions/AADLoginForWindows?api-version=2026-03-01&$expand=instanceView`);
    expect(installed.body.properties.provisioningState).toBe("Succeeded");

    // Every event accepted before the crash is delivered after it; those already attempted continue their count.
    await emulator.deliveriesIdle();
    const afterRestart = hook.received.filter((r) => r.at >= restartedAt);
    const deliveredIds = new Set(afterRestart.map((r) => r.body[0].id as string));
    expect(deliveredIds.size).toBe(3);
    for (const id of attemptedBefore) {
      expect(deliveredIds.has(id)).toBe(true);
      expect(Number(afterRestart.find((r) => r.body[0].id === id)?.headers["aeg-delivery-count"])).toBeGreaterThan(0);
    }
    expect(afterRestart.map((r) => r.body[0].data.operationName).sort()).toEqual([
      "Microsoft.Authorization/roleAssignments/write",
      "Microsoft.Compute/virtualMachines/extensions/write",
      "Microsoft.Compute/virtualMachines/extensions/write",
    ]);
    expect(emulator.deadLetters()).toEqual([]);
  });

  it("a restarted emulator's snapshot is the old one's (instant profile, closed normally)", async () => {
    const dir = tempDir();
    const first = await startArmEmulator({ stateDir: dir, persist: true, lroDelayMs: 0 });
    let firstOpen = true;
    cleanups.push(() => (firstOpen ? first.close() : undefined));
    first.seed({
      principals: [{ id: USER, type: "User", displayName: "Ann Lee" }],
      roleDefinitions: [{ name: "5e7a0000-0000-4000-8000-0000000000c1", roleName: "Custom" }],
      vms: [{ id: VM_OK, body: { ...vmBody(true), tags: { a: "1" }, identity: { type: "SystemAssigned, UserAssigned", userAssignedIdentities: { [`${RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u1`]: {} } } } as never, simulation: { outboundNetwork: false } }],
      network: [
        { id: `${RG_ID}/providers/Microsoft.Network/networkSecurityGroups/nsg1`, location: "westus", properties: { securityRules: [{ name: "deny-aad", properties: { protocol: "Tcp", destinationAddressPrefix: "AzureActiveDirectory", destinationPortRange: "443", access: "Deny", priority: 100, direction: "Outbound" } }] } },
        { id: `${RG_ID}/providers/Microsoft.Network/networkInterfaces/nic1`, location: "westus", properties: { networkSecurityGroup: { id: `${RG_ID}/providers/Microsoft.Network/networkSecurityGroups/nsg1` } } },
      ],
    });
    grantOwnerAtRoot(first);
    first.setVmSimulation({ id: VM_NO_ID, powerState: "deallocated" });
    first.setLimits({ pageSize: 7, principalReplicationDelayMs: 5 });
    first.setEventDelivery({ paused: true, maxAttempts: 9 });
    const hook = await startWebhook();
    cleanups.push(() => hook.close());
    await first.subscribeEvents(hook.url, { subjectBeginsWith: RG_ID });
    const call = (method: string, path: string, body?: unknown): Promise<RawResponse> =>
      armCall(first.armUrl, first.caPem, method, path, { token: first.tokenFor(first.managedIdentity.principalId), ...(body === undefined ? {} : { body }) });
    await call("PUT", api(ASSIGNMENT, "2022-04-01"), { properties: { roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${ADMIN_LOGIN}`, principalId: USER } });
    await call("PUT", api(`${VM_OK}/extensions/AADLoginForWindows`), AAD_BODY);
    const before = withoutRenderTimes(first.snapshot());
    await first.close();
    firstOpen = false;

    const second = await startArmEmulator({ stateDir: dir, persist: true });
    cleanups.push(() => second.close());
    const after = withoutRenderTimes(second.snapshot());
    // `events` counts the raised events, which a state file does not keep.
    expect({ ...after, events: 0 }).toEqual({ ...before, events: 0 });
    expect((after as { network: unknown[] }).network).toHaveLength(2);
    expect(second.setEventDelivery({})).toMatchObject({ paused: true, maxAttempts: 9 });
    second.setEventDelivery({ paused: false });
    await second.deliveriesIdle();
    expect(hook.received.map((r) => r.body[0].data.operationName)).toEqual(["Microsoft.Authorization/roleAssignments/write", "Microsoft.Compute/virtualMachines/extensions/write"]);
  });

  it("an unreadable state file stops the start with an error naming the file and what to do", async () => {
    const dir = tempDir();
    const file = join(dir, STATE_FILE_NAME);
    writeFileSync(file, "{ truncated");
    await expect(startArmEmulator({ stateDir: dir, persist: true })).rejects.toThrow(
      new RegExp(`state file ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} cannot be used: it is not valid JSON .*move it away`),
    );
    writeFileSync(file, JSON.stringify({ format: "something-else" }));
    await expect(startArmEmulator({ stateDir: dir, persist: true })).rejects.toThrow(/is not an ARM emulator state file/);
    await expect(startArmEmulator({ persist: true })).rejects.toThrow(/needs a `stateDir`/);
  });

  it("without persist nothing is written but the CA, and an emulator-made directory goes on close", async () => {
    const dir = tempDir();
    const given = await startArmEmulator({ stateDir: dir });
    given.addResourceGroup(SUB, "rg1");
    expect(given.stateFile).toBeUndefined();
    await given.close();
    expect(existsSync(join(dir, STATE_FILE_NAME))).toBe(false);
    expect(existsSync(join(dir, "arm-emulator-ca.pem"))).toBe(true);
    const own = await startArmEmulator();
    await own.close();
    expect(existsSync(dirname(own.caFile))).toBe(false);
  });
});

describe("the directory Microsoft Graph serves, across a restart", () => {
  const APP = "5e7a0000-0000-4000-8000-0000000000d1";
  const graphToken = async (emulator: ArmEmulator): Promise<string> =>
    (await armCall(emulator.armUrl, emulator.caPem, "POST", "/admin/tokens", { body: { principalId: APP, audience: "https://graph.microsoft.com/" } })).body.access_token as string;

  it("devices, the Graph role grants and the VM's join survive; a Graph delete is on disk before its answer", async () => {
    const dir = tempDir();
    const first = await startArmEmulator({ stateDir: dir, persist: true, lroDelayMs: 0 });
    let firstOpen = true;
    cleanups.push(() => (firstOpen ? first.close() : undefined));
    first.seed({ principals: [{ id: APP, type: "ServicePrincipal", displayName: "enforcer", appId: APP }], vms: [{ id: VM_OK, body: vmBody(true) }] });
    grantOwnerAtRoot(first);
    first.setGraphRoles(APP, ["Device.Read.All", "Device.ReadWrite.All"]);
    const arm = (emulator: ArmEmulator, method: string, path: string, body?: unknown): Promise<RawResponse> =>
      armCall(emulator.armUrl, emulator.caPem, method, path, { token: emulator.tokenFor(emulator.managedIdentity.principalId), ...(body === undefined ? {} : { body }) });
    expect((await arm(first, "PUT", api(`${VM_OK}/extensions/AADLoginForWindows`), AAD_BODY)).status).toBe(201);
    const [joined] = first.devices();
    expect(joined?.physicalIds).toEqual([`[AzureResourceId]:${VM_OK}`]);
    const lookAlike = first.addDevice({ displayName: "with-identity" });
    const doomed = first.addDevice({ displayName: "doomed" });
    const token = await graphToken(first);
    const deleted = await armCall(first.graphUrl, first.caPem, "DELETE", `/v1.0/devices/${doomed.id}`, { token });
    expect(deleted.status).toBe(204);
    // Read straight after the answer, as a kill -9 would leave it.
    const onDisk = JSON.parse(readFileSync(join(dir, STATE_FILE_NAME), "utf8")) as { directory: { devices: Array<{ id: string }> } };
    expect(onDisk.directory.devices.map((d) => d.id).sort()).toEqual([joined!.id, lookAlike.id].sort());
    const before = first.devices();
    await first.close();
    firstOpen = false;

    const second = await startArmEmulator({ stateDir: dir, persist: true, lroDelayMs: 0 });
    cleanups.push(() => second.close());
    expect(second.devices()).toEqual(before);
    // The grant is still there: the old token reads through Graph (a 403 without Device.Read.All).
    const read = await armCall(second.graphUrl, second.caPem, "GET", `/v1.0/devices/${joined!.id}`, { token });
    expect(read.status).toBe(200);
    expect(read.body.displayName).toBe("with-identity");
    // The join is remembered: a reinstall on the same VM keeps its device instead of making a second one.
    expect((await arm(second, "PUT", api(`${VM_OK}/extensions/AADLoginForWindows`), { ...AAD_BODY, properties: { ...AAD_BODY.properties, forceUpdateTag: "2" } })).status).toBeLessThan(300);
    expect(second.devices().map((d) => d.id).sort()).toEqual([joined!.id, lookAlike.id].sort());
  });

  it("a state file written before the emulator kept the directory loads with an empty one", async () => {
    const dir = tempDir();
    const first = await startArmEmulator({ stateDir: dir, persist: true, lroDelayMs: 0 });
    first.seed({ principals: [{ id: APP, type: "ServicePrincipal", displayName: "enforcer", appId: APP }], vms: [{ id: VM_OK, body: vmBody(true) }] });
    first.setGraphRoles(APP, ["Device.Read.All"]);
    first.addDevice({ displayName: "old" });
    await first.close();
    const file = join(dir, STATE_FILE_NAME);
    const { directory, ...older } = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    expect(directory).toBeDefined();
    writeFileSync(file, JSON.stringify(older));

    const second = await startArmEmulator({ stateDir: dir, persist: true });
    cleanups.push(() => second.close());
    expect(second.resumed).toBe(true);
    expect(second.state.vms.size).toBe(1);
    expect(second.devices()).toEqual([]);
    const read = await armCall(second.graphUrl, second.caPem, "GET", "/v1.0/devices", { token: await graphToken(second) });
    expect(read.status).toBe(403);
  });
});
