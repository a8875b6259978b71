import { fileURLToPath } from "node:url";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { EventGridDeserializer, isSystemEvent } from "@azure/eventgrid";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OWNER_ROLE, grantOwnerAtRoot, startTestEmulator, type TestEmulator } from "../../support/emulator.js";
import { armCall } from "./arm-http.js";

const SUB = "aaaaaaaa-0000-4000-8000-0000000000aa";
const VM = `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1`;
const USER = "bbbbbbbb-0000-4000-8000-0000000000bb";
const SAMPLES = fileURLToPath(new URL("../../fixtures/reference/eventgrid-samples", import.meta.url));
const sample = (file: string): any => JSON.parse(readFileSync(`${SAMPLES}/${file}`, "utf8"));
const sortedKeys = (o: object): string[] => Object.keys(o).sort();

interface Webhook {
  url: string;
  received: Array<{ headers: IncomingMessage["headers"]; body: any[] }>;
  /** Status to answer notifications with, per attempt (default 200). */
  plan: number[];
  server: Server;
}

async function startWebhook(validate = true): Promise<Webhook> {
  const hook: Webhook = { url: "", received: [], plan: [], server: undefined as unknown as Server };
  hook.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as any[];
      if (req.headers["aeg-event-type"] === "SubscriptionValidation") {
        res.writeHead(validate ? 200 : 403, { "content-type": "application/json" });
        res.end(JSON.stringify({ validationResponse: body[0].data.validationCode }));
        return;
      }
      hook.received.push({ headers: req.headers, body });
      res.writeHead(hook.plan.shift() ?? 200).end();
    });
  });
  await new Promise<void>((r) => hook.server.listen(0, "127.0.0.1", r));
  hook.url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}/api/events`;
  return hook;
}

let t: TestEmulator;
let hook: Webhook;
const vmBody = { location: "westus", properties: { storageProfile: { imageReference: { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2019-Datacenter", version: "latest" } } } };

beforeAll(async () => {
  t = await startTestEmulator();
});
afterAll(async () => {
  await t.emulator.close();
});
beforeEach(async () => {
  t.emulator.reset();
  t.emulator.setLimits({ lroDelayMs: 0 });
  t.emulator.setEventDelivery({ initialBackoffMs: 1 });
  t.emulator.addResourceGroup(SUB, "rg1");
  t.emulator.addPrincipal({ id: USER, type: "User", displayName: "Ann Lee", upn: "ann@contoso.com" });
  grantOwnerAtRoot(t.emulator);
  t.emulator.addRoleAssignment({ principalId: USER, roleDefinitionId: OWNER_ROLE, scope: `/subscriptions/${SUB}` });
  hook = await startWebhook();
});
afterEach(async () => {
  await t.emulator.deliveriesIdle();
  hook.server.closeAllConnections();
  await new Promise((r) => hook.server.close(r));
});

const asUser = (method: string, path: string, body?: unknown) =>
  armCall(t.emulator.armUrl, t.emulator.caPem, method, path, { token: t.emulator.tokenFor(USER), ...(body === undefined ? {} : { body }) });

describe("Event Grid resource events", () => {
  it("delivers ResourceWriteSuccess that @azure/eventgrid parses, with the reference sample's key sets and the caller's claims", async () => {
    await t.emulator.subscribeEvents(hook.url);
    await asUser("PUT", `${VM}?api-version=2026-03-01`, vmBody);
    await t.emulator.deliveriesIdle();
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]?.headers["aeg-event-type"]).toBe("Notification");
    const [event] = await new EventGridDeserializer().deserializeEventGridEvents(JSON.stringify(hook.received[0]?.body ?? []));
    expect(event && isSystemEvent("Microsoft.Resources.ResourceWriteSuccess", event)).toBe(true);
    const raw = hook.received[0]?.body[0];
    const reference = sample("event-grid-schema__resource_write_success.json");
    expect(sortedKeys(raw)).toEqual(sortedKeys(reference));
    expect(sortedKeys(raw.data)).toEqual(sortedKeys(reference.data));
    expect(sortedKeys(raw.data.claims)).toEqual(sortedKeys(reference.data.claims));
    expect(raw).toMatchObject({ subject: VM, topic: `/subscriptions/${SUB}`, dataVersion: "2", metadataVersion: "1" });
    expect(raw.data).toMatchObject({
      operationName: "Microsoft.Compute/virtualMachines/write",
      resourceProvider: "Microsoft.Compute",
      resourceUri: VM,
      status: "Succeeded",
      subscriptionId: SUB,
      tenantId: t.emulator.tenantId,
      authorization: { scope: VM, action: "Microsoft.Compute/virtualMachines/write" },
    });
    // The evidence names the role of the assignment that authorized the write (Owner on the subscription).
    expect(raw.data.authorization.evidence.role).toBe("Owner");
    expect(raw.data.claims["http://schemas.microsoft.com/identity/claims/objectidentifier"]).toBe(USER);
    expect(raw.data.claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"]).toBe("ann@contoso.com");
  });

  it("delete events carry httpRequest like the delete sample; GETs raise nothing", async () => {
    await asUser("PUT", `${VM}?api-version=2026-03-01`, vmBody);
    await asUser("GET", `${VM}?api-version=2026-03-01`);
    await asUser("DELETE", `${VM}?api-version=2026-03-01`);
    const events = t.emulator.events();
    expect(events.map((e) => e.eventType)).toEqual(["Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceDeleteSuccess"]);
    const reference = sample("docs-subscriptions__ResourceDeleteSuccess.json")[0];
    expect(sortedKeys(events[1]?.data ?? {})).toEqual(sortedKeys(reference.data));
    expect(events[1]?.data["httpRequest"]).toMatchObject({ method: "DELETE" });
  });

  it("a subject prefix on virtualMachines also matches extension and tag writes; operationNames narrows", async () => {
    await t.emulator.subscribeEvents(hook.url, { subjectBeginsWith: `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/` });
    const ops = await startWebhook();
    try {
      await t.emulator.subscribeEvents(ops.url, { operationNames: ["Microsoft.Resources/tags/write"] });
      await asUser("PUT", `${VM}?api-version=2026-03-01`, vmBody);
      await asUser("PUT", `${VM}/extensions/AADLoginForWindows?api-version=2026-03-01`, { location: "westus", properties: { publisher: "Microsoft.Azure.ActiveDirectory", type: "AADLoginForWindows", typeHandlerVersion: "1.0" } });
      await asUser("PATCH", `${VM}/providers/Microsoft.Resources/tags/default?api-version=2021-04-01`, { operation: "Merge", properties: { tags: { a: "b" } } });
      await asUser("PUT", `/subscriptions/${SUB}/resourcegroups/rg2?api-version=2021-04-01`, { location: "westus" });
      await t.emulator.deliveriesIdle();
      expect(hook.received.map((r) => r.body[0].data.operationName)).toEqual([
        "Microsoft.Compute/virtualMachines/write",
        "Microsoft.Compute/virtualMachines/extensions/write",
        "Microsoft.Resources/tags/write",
      ]);
      expect(ops.received.map((r) => r.body[0].subject)).toEqual([`${VM}/providers/Microsoft.Resources/tags/default`]);
    } finally {
      await t.emulator.deliveriesIdle();
      ops.server.closeAllConnections();
      await new Promise((r) => ops.server.close(r));
    }
  });

  it("retries with backoff on failure, then dead-letters", async () => {
    await t.emulator.subscribeEvents(hook.url);
    t.emulator.setEventDelivery({ maxAttempts: 3 });
    hook.plan = [500, 503];
    await asUser("PUT", `${VM}?api-version=2026-03-01`, vmBody);
    await t.emulator.deliveriesIdle();
    expect(hook.received.map((r) => r.headers["aeg-delivery-count"])).toEqual(["0", "1", "2"]);
    expect(t.emulator.deadLetters()).toEqual([]);
    hook.plan = [500, 500, 500];
    await asUser("PATCH", `${VM}?api-version=2026-03-01`, { tags: { x: "y" } });
    await t.emulator.deliveriesIdle();
    expect(t.emulator.deadLetters()).toHaveLength(1);
    expect(t.emulator.deadLetters()[0]).toMatchObject({ attempts: 3, lastError: "HTTP 500" });
  });

  it("can duplicate and reorder deliveries (at-least-once, unordered)", async () => {
    await t.emulator.subscribeEvents(hook.url);
    t.emulator.setEventDelivery({ duplicate: 1 });
    await asUser("PUT", `${VM}?api-version=2026-03-01`, vmBody);
    await t.emulator.deliveriesIdle();
    expect(hook.received.map((r) => r.body[0].id)).toHaveLength(2);
    expect(new Set(hook.received.map((r) => r.body[0].id)).size).toBe(1);
    hook.received = [];
    t.emulator.setEventDelivery({ duplicate: 0, reorder: true, reorderWindowMs: 200 });
    const tagsPath = `${VM}/providers/Microsoft.Resources/tags/default?api-version=2021-04-01`;
    for (const n of [1, 2, 3]) await asUser("PATCH", tagsPath, { operation: "Merge", properties: { tags: { [`k${n}`]: "v" } } });
    await t.emulator.deliveriesIdle();
    const emitted = t.emulator.events().slice(-3).map((e) => e.id);
    const delivered = hook.received.map((r) => r.body[0].id);
    expect([...delivered].sort()).toEqual([...emitted].sort());
    expect(delivered).toEqual([...emitted].reverse());
  });

  it("can hold events while paused and deliver every one of them, in order, when resumed", async () => {
    await t.emulator.subscribeEvents(hook.url);
    t.emulator.setEventDelivery({ paused: true });
    await asUser("PUT", `${VM}?api-version=2026-03-01`, vmBody);
    await asUser("PATCH", `${VM}/providers/Microsoft.Resources/tags/default?api-version=2021-04-01`, { operation: "Merge", properties: { tags: { a: "1" } } });
    await t.emulator.deliveriesIdle();
    expect(hook.received).toHaveLength(0);
    t.emulator.setEventDelivery({ paused: false });
    await t.emulator.deliveriesIdle();
    expect(hook.received.map((r) => r.body[0].id)).toEqual(t.emulator.events().slice(-2).map((e) => e.id));
  });

  it("registration fails when the webhook does not complete the validation handshake", async () => {
    const refusing = await startWebhook(false);
    try {
      const res = await armCall(t.emulator.armUrl, t.emulator.caPem, "POST", "/admin/eventSubscriptions", { body: { url: refusing.url } });
      expect([res.status, res.body.error.code]).toEqual([400, "WebhookValidationFailed"]);
    } finally {
      refusing.server.closeAllConnections();
      await new Promise((r) => refusing.server.close(r));
    }
  });
});
