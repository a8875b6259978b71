import { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzurite, type AzuriteInstance } from "../../../src/local/azurite.js";
import { startLocalHost, type LocalHost } from "../../../src/local/host/localHost.js";
import type { Seen } from "./fixtures/app.js";

/**
 * The host's queue lease: a message is received invisible for the processing visibility, kept
 * invisible while its handler runs (renewed at half the interval), and reappears after a crash.
 * Small visibilities (1 s, the least storage counts) keep the test short.
 */
const entry = new URL("./fixtures/app.ts", import.meta.url);
const hostJson = new URL("./fixtures/host.json", import.meta.url).pathname;
const VISIBILITY_MS = 1000;
const POLL_MS = 200;

let azurite: AzuriteInstance;
let steady: LocalHost;
let seen: Record<"events" | "timers" | "messages", Seen[]>;
const lines: string[] = [];
const hosts: LocalHost[] = [];

function hostOn(queueName: string): Promise<LocalHost> {
  return startLocalHost({
    entry,
    hostJson,
    timers: false,
    queuePollMs: POLL_MS,
    queueProcessingVisibilityMs: VISIBILITY_MS,
    settings: { AzureWebJobsStorage: azurite.connectionString, AUDIT_SCHEDULE: "0 0 0 1 1 *", RECONCILE_QUEUE_NAME: queueName },
    log: (line) => lines.push(line),
  }).then((host) => {
    hosts.push(host);
    return host;
  });
}

async function queueNamed(name: string): Promise<QueueClient> {
  const queue = new QueueClient(azurite.connectionString, name);
  await queue.createIfNotExists();
  return queue;
}

function send(queue: QueueClient, body: unknown, visibilityTimeout?: number): Promise<unknown> {
  return queue.sendMessage(Buffer.from(JSON.stringify(body)).toString("base64"), visibilityTimeout ? { visibilityTimeout } : {});
}

const deliveriesOf = (vmId: string) => seen.messages.filter((s) => (s.input as { vmId?: string }).vmId === vmId);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  azurite = await startAzurite();
  steady = await hostOn("steady-requests");
  seen = (await import("./fixtures/app.js")).seen;
});

afterAll(async () => {
  await Promise.allSettled(hosts.map((h) => h.close()));
  await azurite?.close();
});

describe("queue messages are leased while their function runs", () => {
  it("a handler still running past twice the processing visibility keeps its message invisible: one delivery, then deleted", async () => {
    const queue = await queueNamed("steady-requests");
    await send(queue, { vmId: "vm-slow", sleepMs: 2.6 * VISIBILITY_MS });
    await expect.poll(() => deliveriesOf("vm-slow").length, { timeout: 5000, interval: 20 }).toBe(1);
    // Past one and past two visibilities: nothing is visible, and nobody received it again.
    await sleep(1.4 * VISIBILITY_MS);
    expect((await queue.peekMessages()).peekedMessageItems).toEqual([]);
    await sleep(0.9 * VISIBILITY_MS);
    expect((await queue.peekMessages()).peekedMessageItems).toEqual([]);
    await steady.drainQueues({ timeoutInMs: 10_000 });
    expect(deliveriesOf("vm-slow").map((s) => s.triggerMetadata?.["dequeueCount"])).toEqual([1]);
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
    expect(lines.filter((l) => /could not (settle|renew)/.test(l))).toEqual([]);
  });

  it("a delayed message (sent with a visibility timeout) runs within the poll interval of becoming visible", async () => {
    const queue = await queueNamed("steady-requests");
    await steady.drainQueues();
    // Let the idle backoff reach its ceiling first.
    await sleep(4 * POLL_MS);
    const sentAt = Date.now();
    await send(queue, { vmId: "vm-delayed" }, 2);
    await expect.poll(() => deliveriesOf("vm-delayed").length, { timeout: 5000, interval: 10 }).toBe(1);
    const late = Date.now() - sentAt - 2000;
    expect(late).toBeGreaterThanOrEqual(-50);
    expect(late).toBeLessThanOrEqual(POLL_MS + 400);
  });

  it("drainQueues({ includeDelayed: false }) does not wait for a message delayed into the future; the default does", async () => {
    const queue = await queueNamed("steady-requests");
    await steady.drainQueues();
    await send(queue, { vmId: "vm-later" }, 30);
    const started = Date.now();
    await steady.drainQueues({ includeDelayed: false, timeoutInMs: 5000 });
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(steady.drainQueues({ timeoutInMs: 500 })).rejects.toThrow(/steady-requests \(1\)/);
    expect(deliveriesOf("vm-later")).toEqual([]);
    await queue.clearMessages();
  });

  it("after a crash mid-invocation, a new host on the same storage runs the message again once its visibility runs out, with dequeueCount 2", async () => {
    const queue = await queueNamed("crash-requests");
    const victim = await hostOn("crash-requests");
    // Slow only on its first delivery.
    await send(queue, { vmId: "vm-crash", sleepMs: 3000, sleepUntilAttempt: 2 });
    await expect.poll(() => deliveriesOf("vm-crash").length, { timeout: 5000, interval: 20 }).toBe(1);
    // Let one renewal happen, then die without settling anything.
    await sleep(0.7 * VISIBILITY_MS);
    victim.abort();
    const crashedAt = Date.now();
    expect((await queue.peekMessages()).peekedMessageItems).toEqual([]);

    const successor = await hostOn("crash-requests");
    await expect.poll(() => deliveriesOf("vm-crash").length, { timeout: 5000, interval: 20 }).toBe(2);
    const reappearedAfter = Date.now() - crashedAt;
    expect(reappearedAfter).toBeLessThanOrEqual(VISIBILITY_MS + POLL_MS + 500);
    expect(deliveriesOf("vm-crash").map((s) => s.triggerMetadata?.["dequeueCount"])).toEqual([1, 2]);
    await successor.drainQueues({ timeoutInMs: 10_000 });
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
    // The abandoned first invocation finishes later; the dead host settles nothing and runs nothing more.
    await sleep(3000 - 0.7 * VISIBILITY_MS - reappearedAfter + 300);
    expect(deliveriesOf("vm-crash")).toHaveLength(2);
    expect(lines.filter((l) => /could not settle/.test(l))).toEqual([]);
  }, 20_000);
});
