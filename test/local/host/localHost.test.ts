import { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzurite, type AzuriteInstance } from "../../../src/local/azurite.js";
import { startLocalHost, type LocalHost } from "../../../src/local/host/localHost.js";
import type { Seen } from "./fixtures/app.js";

const entry = new URL("./fixtures/app.ts", import.meta.url);
const hostJson = new URL("./fixtures/host.json", import.meta.url).pathname;
const QUEUE = "reconcile-requests";

let azurite: AzuriteInstance;
let host: LocalHost;
let seen: Record<"events" | "timers" | "messages", Seen[]>;
let queue: QueueClient;
const lines: string[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
  host = await startLocalHost({
    entry,
    hostJson,
    timers: false,
    settings: {
      AzureWebJobsStorage: azurite.connectionString,
      // Once a year: this host's timer only runs when fired.
      AUDIT_SCHEDULE: "0 0 0 1 1 *",
      RECONCILE_QUEUE_NAME: QUEUE,
    },
    functionKeys: { default: "test-function-key" },
    log: (line) => lines.push(line),
  });
  // Imported only now: importing the app before the host would register it in the library's test mode.
  seen = (await import("./fixtures/app.js")).seen;
  queue = new QueueClient(azurite.connectionString, QUEUE);
  await queue.create();
});

afterAll(async () => {
  await host?.close();
  await azurite?.close();
});

function eventGridEvent(subject: string): Record<string, unknown> {
  return {
    id: crypto.randomUUID(),
    topic: "/subscriptions/00000000-0000-0000-0000-000000000001",
    subject,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    eventTime: "2025-01-01T00:00:00Z",
    data: { resourceUri: subject },
    dataVersion: "",
    metadataVersion: "1",
  };
}

function postEvents(body: string, eventType = "Notification", url = host.eventGridUrl("onResourceEvent")): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "aeg-event-type": eventType, "content-type": "application/json" }, body });
}

async function poisonedVmIds(): Promise<string[]> {
  const poison = new QueueClient(azurite.connectionString, `${QUEUE}-poison`);
  if (!(await poison.exists())) return [];
  const { peekedMessageItems } = await poison.peekMessages({ numberOfMessages: 32 });
  return peekedMessageItems.map((m) => (JSON.parse(Buffer.from(m.messageText, "base64").toString("utf8")) as { vmId: string }).vmId);
}

function sendQueueMessage(body: unknown): Promise<unknown> {
  return queue.sendMessage(Buffer.from(JSON.stringify(body)).toString("base64"));
}

describe("Event Grid webhook", () => {
  it("answers the subscription validation handshake", async () => {
    const validation = [{ ...eventGridEvent(""), eventType: "Microsoft.EventGrid.SubscriptionValidationEvent", data: { validationCode: "code-123" } }];
    const response = await postEvents(JSON.stringify(validation), "SubscriptionValidation");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ validationResponse: "code-123" });
  });

  it("runs the function once per event and answers 202", async () => {
    const events = [eventGridEvent("/vms/a"), eventGridEvent("/vms/b")];
    const response = await postEvents(JSON.stringify(events));
    expect(response.status).toBe(202);
    const delivered = seen.events.filter((s) => events.some((e) => e["id"] === (s.input as { id: string }).id));
    expect(delivered.map((s) => s.input)).toEqual(expect.arrayContaining(events));
    expect(delivered.every((s) => s.isInvocationContext && s.functionName === "onResourceEvent")).toBe(true);
    expect(new Set(delivered.map((s) => s.invocationId)).size).toBe(2);
  });

  it("accepts a single CloudEvent object", async () => {
    const cloudEvent = { specversion: "1.0", id: crypto.randomUUID(), source: "/test", type: "Test.Happened", subject: "/vms/cloud", data: { n: 1 } };
    expect((await postEvents(JSON.stringify(cloudEvent))).status).toBe(202);
    expect(seen.events.some((s) => (s.input as { id: string }).id === cloudEvent.id)).toBe(true);
  });

  it("answers 500 when a handler throws, so Event Grid redelivers, and logs it with the invocation id", async () => {
    const response = await postEvents(JSON.stringify([eventGridEvent("/vms/ok"), eventGridEvent("/vms/fail")]));
    expect(response.status).toBe(500);
    expect(await response.text()).toContain("cannot handle /vms/fail");
    expect(lines.some((l) => /Executed 'onResourceEvent' \(Failed, Id=[0-9a-f-]{36}/.test(l))).toBe(true);
    // The host survives the failure.
    expect((await postEvents(JSON.stringify([eventGridEvent("/vms/after")]))).status).toBe(202);
  });

  it("rejects malformed JSON, unknown functions and a missing system key", async () => {
    const malformed = await postEvents("[{not json");
    expect(malformed.status).toBe(400);
    expect(await malformed.text()).toMatch(/not valid JSON/);
    expect((await postEvents("[]", "Notification", host.eventGridUrl("nope"))).status).toBe(404);
    expect((await postEvents("[]", "Notification", `${host.url}/runtime/webhooks/eventgrid?functionName=onResourceEvent`)).status).toBe(401);
    expect((await postEvents("[]", "Bogus")).status).toBe(400);
  });


  it("answers the CloudEvents OPTIONS handshake and Unsubscribe", async () => {
    const options = await fetch(host.eventGridUrl("onResourceEvent"), { method: "OPTIONS", headers: { "WebHook-Request-Origin": "eventgrid.azure.net" } });
    expect(options.status).toBe(200);
    expect(options.headers.get("webhook-allowed-origin")).toBe("eventgrid.azure.net");
    expect((await postEvents("[]", "Unsubscribe")).status).toBe(202);
  });
});

describe("timer trigger", () => {
  it("fires on demand with the timer info Azure passes", async () => {
    const before = seen.timers.length;
    await host.fireTimer("audit");
    const run = seen.timers[before];
    expect(run?.isInvocationContext).toBe(true);
    expect(run?.input).toMatchObject({ isPastDue: false, schedule: { adjustForDST: true } });
    // The next occurrence comes from the resolved %AUDIT_SCHEDULE%: 1 January, midnight UTC.
    expect((run?.input as { scheduleStatus: { next: string } }).scheduleStatus.next).toMatch(/-01-01T00:00:00\.000Z$/);
  });

  it("runs through the admin endpoint with the master key only", async () => {
    const url = `${host.url}/admin/functions/audit`;
    const body = JSON.stringify({ input: "" });
    expect((await fetch(url, { method: "POST", body })).status).toBe(401);
    const before = seen.timers.length;
    const response = await fetch(url, { method: "POST", body, headers: { "x-functions-key": host.masterKey } });
    expect(response.status).toBe(202);
    await expect.poll(() => seen.timers.length, { timeout: 5000 }).toBe(before + 1);
  });
});

describe("storage queue trigger", () => {
  it("delivers a base64 JSON message as an object with the queue's trigger metadata, then deletes it", async () => {
    const sent = (await sendQueueMessage({ vmId: "vm-1" })) as { messageId: string };
    await host.drainQueues();
    const delivery = seen.messages.find((s) => (s.input as { vmId?: string }).vmId === "vm-1");
    expect(delivery?.input).toEqual({ vmId: "vm-1" });
    expect(delivery?.triggerMetadata).toMatchObject({ id: sent.messageId, dequeueCount: 1, queueTrigger: JSON.stringify({ vmId: "vm-1" }) });
    expect(typeof delivery?.triggerMetadata?.["popReceipt"]).toBe("string");
    expect(Date.parse(String(delivery?.triggerMetadata?.["insertionTime"]))).not.toBeNaN();
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
  });

  it("retries a failed message, which then succeeds", async () => {
    await sendQueueMessage({ vmId: "vm-flaky", failUntilAttempt: 2 });
    await host.drainQueues();
    const attempts = seen.messages.filter((s) => (s.input as { vmId?: string }).vmId === "vm-flaky");
    expect(attempts.map((s) => s.triggerMetadata?.["dequeueCount"])).toEqual([1, 2]);
    expect(await poisonedVmIds()).not.toContain("vm-flaky");
  });

  it("moves a message that fails maxDequeueCount times to <queue>-poison, text unchanged", async () => {
    const text = Buffer.from(JSON.stringify({ vmId: "vm-poison", failUntilAttempt: 99 })).toString("base64");
    await queue.sendMessage(text);
    const failuresBefore = host.stats().functions["reconcile"]?.failures ?? 0;
    await host.drainQueues();
    const attempts = seen.messages.filter((s) => (s.input as { vmId?: string }).vmId === "vm-poison");
    expect(attempts.map((s) => s.triggerMetadata?.["dequeueCount"])).toEqual([1, 2]);
    expect(host.stats().functions["reconcile"]?.failures).toBe(failuresBefore + 2);
    const poison = await new QueueClient(azurite.connectionString, `${QUEUE}-poison`).peekMessages({ numberOfMessages: 32 });
    expect(poison.peekedMessageItems.map((m) => m.messageText)).toContain(text);
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
    expect(lines.some((l) => l.includes(`Moving message to queue '${QUEUE}-poison'`))).toBe(true);
  });

  it("poisons a message that is not base64 without ever running the function", async () => {
    const invocationsBefore = host.stats().functions["reconcile"]?.invocations ?? 0;
    await queue.sendMessage("not base64 at all!");
    await host.drainQueues();
    const poison = await new QueueClient(azurite.connectionString, `${QUEUE}-poison`).peekMessages({ numberOfMessages: 32 });
    expect(poison.peekedMessageItems.map((m) => m.messageText)).toContain("not base64 at all!");
    expect(host.stats().functions["reconcile"]?.invocations).toBe(invocationsBefore);
    expect(lines.some((l) => l.includes("is not valid base64"))).toBe(true);
  });
});

describe("HTTP trigger", () => {
  it("requires a function key for authLevel function: 401 without, 200 with ?code= or x-functions-key", async () => {
    expect((await fetch(`${host.url}/api/status/vm-9`)).status).toBe(401);
    expect((await fetch(`${host.url}/api/status/vm-9?code=wrong`)).status).toBe(401);
    const withCode = await fetch(`${host.url}/api/status/vm-9?code=${host.functionKey}&q=x`);
    expect(withCode.status).toBe(200);
    expect(await withCode.json()).toEqual({ id: "vm-9", q: "x", isHttpRequest: true });
    expect(withCode.headers.get("x-invocation-id")).toMatch(/^[0-9a-f-]{36}$/);
    const withHeader = await fetch(`${host.url}/api/status`, { headers: { "x-functions-key": host.masterKey } });
    expect(await withHeader.json()).toEqual({ id: null, q: null, isHttpRequest: true });
  });

  it("lets anonymous functions through, honours methods, and answers 500 when the handler throws", async () => {
    const echo = await fetch(`${host.url}/api/echo`, { method: "POST", body: JSON.stringify({ a: 1 }), headers: { "content-type": "application/json" } });
    expect(echo.status).toBe(201);
    expect(await echo.json()).toEqual({ received: { a: 1 } });
    expect((await fetch(`${host.url}/api/echo`)).status).toBe(404);
    expect((await fetch(`${host.url}/api/broken`)).status).toBe(500);
    expect((await fetch(`${host.url}/api/nothing-here`)).status).toBe(404);
  });
});

describe("host", () => {
  it("counts invocations and failures per function", () => {
    const stats = host.stats();
    expect(stats.functions["onResourceEvent"]?.failures).toBeGreaterThanOrEqual(1);
    expect(stats.functions["broken"]).toMatchObject({ invocations: 1, failures: 1 });
    expect(stats.invocations).toBe(Object.values(stats.functions).reduce((n, f) => n + f.invocations, 0));
  });
});
