import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueClient } from "@azure/storage-queue";
import { startAzurite, type AzuriteInstance } from "../../src/local/azurite.js";
import { loadAppSettings } from "../../src/app/settings.js";
import {
  createReconcileQueue,
  parseReconcileRequest,
  type ReconcileRequest,
} from "../../src/store/reconcileQueue.js";

const vm = (n: number) =>
  `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm${n}`;

let azurite: AzuriteInstance;
let counter = 0;
const uniqueName = () => `reconcile-${++counter}-${Date.now() % 100000}`;

/** What a consumer sees: the raw message text, decoded the way the Functions host decodes it. */
async function drain(queueName: string): Promise<string[]> {
  const client = new QueueClient(azurite.connectionString, queueName);
  const texts: string[] = [];
  for (;;) {
    const { receivedMessageItems } = await client.receiveMessages({ numberOfMessages: 32 });
    if (receivedMessageItems.length === 0) return texts;
    for (const m of receivedMessageItems) {
      texts.push(m.messageText);
      await client.deleteMessage(m.messageId, m.popReceipt);
    }
  }
}

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.close();
});

describe("reconcile queue", () => {
  it("sends base64 JSON that reads back as the same request", async () => {
    const queue = createReconcileQueue({ connectionString: azurite.connectionString, queueName: uniqueName() });
    await queue.ensure();
    await queue.ensure();
    const request: ReconcileRequest = { vmId: vm(1), trigger: "event", eventId: "e1", correlationId: "c1", requestedBy: "oid", mode: "enforce" };
    await queue.send(request);
    const [text, ...rest] = await drain(queue.queueName);
    expect(rest).toEqual([]);
    // Stamped with its own id and first-sent instant (the poison handler tells its pass from later ones by them).
    const stamped = { ...request, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), requestedAt: expect.any(String) };
    expect(JSON.parse(Buffer.from(text!, "base64").toString("utf8"))).toEqual(stamped);
    expect(parseReconcileRequest(text)).toEqual(stamped);
  });

  it("a re-queued request keeps its id and first-sent instant", async () => {
    const queue = createReconcileQueue({ connectionString: azurite.connectionString, queueName: uniqueName() });
    await queue.ensure();
    const request: ReconcileRequest = { vmId: vm(1), trigger: "event", requestId: "r-1", requestedAt: "2026-12-01T00:00:00.000Z" };
    await queue.send(request);
    expect((await drain(queue.queueName)).map((t) => parseReconcileRequest(t))).toEqual([request]);
  });

  it("sendMany delivers every request exactly once", async () => {
    const queue = createReconcileQueue({ connectionString: azurite.connectionString, queueName: uniqueName(), sendConcurrency: 4 });
    await queue.ensure();
    const requests = Array.from({ length: 40 }, (_, i): ReconcileRequest => ({ vmId: vm(i), trigger: "audit", runId: "run-7" }));
    await expect(queue.sendMany(requests)).resolves.toBe(40);
    const received = (await drain(queue.queueName)).map((t) => parseReconcileRequest(t).vmId).sort();
    expect(received).toEqual(requests.map((r) => r.vmId).sort());
    await expect(queue.sendMany([])).resolves.toBe(0);
  });

  it("sendMany sends nothing when one request is malformed", async () => {
    const queue = createReconcileQueue({ connectionString: azurite.connectionString, queueName: uniqueName() });
    await queue.ensure();
    const requests = [{ vmId: vm(1), trigger: "audit" }, { vmId: "not-a-vm", trigger: "audit" }] as ReconcileRequest[];
    await expect(queue.sendMany(requests)).rejects.toThrow(/vmId "not-a-vm" is not a VM resource id/);
    expect(await drain(queue.queueName)).toEqual([]);
  });

  it("sendMany reports how many were sent when the service fails", async () => {
    // The queue is never created, so every send fails with 404.
    const queue = createReconcileQueue({ connectionString: azurite.connectionString, queueName: uniqueName() });
    await expect(queue.sendMany([{ vmId: vm(1), trigger: "audit" }, { vmId: vm(2), trigger: "audit" }])).rejects.toThrow(
      /Enqueued 0 of 2 reconcile requests on reconcile-\d+-\d+; 2 failed/,
    );
  });

  it.each([
    ["upper case", "Reconcile"],
    ["too short", "ab"],
    ["a double hyphen", "a--b"],
    ["a trailing hyphen", "abc-"],
    ["an underscore", "a_b_c"],
  ])("rejects a queue name with %s", (_label, queueName) => {
    expect(() => createReconcileQueue({ connectionString: azurite.connectionString, queueName })).toThrow(
      /Invalid queue name .*RECONCILE_QUEUE_NAME/,
    );
  });

  it("refuses an identity-based connection without a credential", () => {
    expect(() => createReconcileQueue({ accountName: "acct", queueName: "q-1" })).toThrow(
      /https:\/\/acct\.queue\.core\.windows\.net needs a credential/,
    );
  });
});

describe("the reconcile queue from app settings", () => {
  it("builds a working queue from settings", async () => {
    const queue = createReconcileQueue(loadAppSettings({ AzureWebJobsStorage: azurite.connectionString, RECONCILE_QUEUE_NAME: uniqueName() }).queue);
    await queue.ensure();
    await queue.send({ vmId: vm(3), trigger: "cli" });
    expect((await drain(queue.queueName)).map((t) => parseReconcileRequest(t))).toEqual([{ vmId: vm(3), trigger: "cli", requestId: expect.any(String), requestedAt: expect.any(String) }]);
  });
});
