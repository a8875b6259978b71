import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TableClient } from "@azure/data-tables";
import { QueueClient } from "@azure/storage-queue";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_FLUSH_INTERVAL_MS, startAzurite, type AzuriteInstance } from "../../../src/local/azurite.js";

const dirs: string[] = [];
const open: AzuriteInstance[] = [];

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "azurite-disk-"));
  dirs.push(dir);
  return dir;
}

async function start(location?: string): Promise<AzuriteInstance> {
  const azurite = await startAzurite(location === undefined ? {} : { location });
  open.push(azurite);
  return azurite;
}

const tableOf = (a: AzuriteInstance, name: string) => TableClient.fromConnectionString(a.connectionString, name, { allowInsecureConnection: true });
const queueOf = (a: AzuriteInstance, name: string) => new QueueClient(a.connectionString, name);

afterAll(async () => {
  await Promise.allSettled(open.map((a) => a.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("Azurite on disk (startAzurite({ location }))", () => {
  it("a restart on the same directory sees the same rows and messages, invisible and delayed ones keeping their visibility", async () => {
    const dir = freshDir();
    const first = await start(dir);
    const rows = tableOf(first, "vms");
    await rows.createTable();
    await rows.createEntity({ partitionKey: "sub", rowKey: "vm-1", state: "compliant" });
    await rows.createEntity({ partitionKey: "sub", rowKey: "vm-2", state: "in-progress" });
    const queue = queueOf(first, "requests");
    await queue.create();
    await queue.sendMessage("visible");
    await queue.sendMessage("delayed", { visibilityTimeout: 3 });
    await queue.sendMessage("in flight");
    // "in flight" is received (leased for 2 s) by a host that then dies with the stack.
    const received = (await queue.receiveMessages({ numberOfMessages: 2, visibilityTimeout: 2 })).receivedMessageItems;
    expect(received.map((m) => m.messageText).sort()).toEqual(["in flight", "visible"]);
    // Give "visible" back at once, as a failed invocation with visibilityTimeout 0 would.
    const visible = received.find((m) => m.messageText === "visible")!;
    await queue.updateMessage(visible.messageId, visible.popReceipt, undefined, 0);
    const closedAt = Date.now();
    await first.close();

    const second = await start(dir);
    expect(second.location).toBe(first.location);
    expect(second.queueUrl).not.toBe(first.queueUrl); // new ports, same data
    const entities = [];
    for await (const e of tableOf(second, "vms").listEntities<{ state: string }>()) entities.push(`${e.rowKey}:${e.state}`);
    expect(entities.sort()).toEqual(["vm-1:compliant", "vm-2:in-progress"]);
    const reopened = queueOf(second, "requests");
    expect((await reopened.getProperties()).approximateMessagesCount).toBe(3);
    expect((await reopened.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((m) => m.messageText)).toEqual(["visible"]);
    // The leased one comes back after its 2 s with its dequeue count; the delayed one after its 3 s.
    await new Promise((r) => setTimeout(r, Math.max(0, closedAt + 3200 - Date.now())));
    const later = (await reopened.receiveMessages({ numberOfMessages: 32 })).receivedMessageItems;
    expect(later.map((m) => `${m.messageText}:${m.dequeueCount}`).sort()).toEqual(["delayed:1", "in flight:2", "visible:2"]);
    await second.close();
  });

  it(`survives kill -9 of its process, losing at most the last ${DEFAULT_FLUSH_INTERVAL_MS} ms of writes`, async () => {
    const dir = freshDir();
    const child = spawn(process.execPath, ["--import", "tsx", new URL("./fixtures/azuriteWriter.ts", import.meta.url).pathname, dir], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolveWritten, reject) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("written")) resolveWritten();
      });
      child.once("exit", (code) => reject(new Error(`the writer exited early (${code})`)));
    });
    await new Promise((r) => setTimeout(r, 2 * DEFAULT_FLUSH_INTERVAL_MS + 100));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));

    const after = await start(dir);
    expect((await tableOf(after, "killed").getEntity<{ value: number }>("p", "before-kill")).value).toBe(42);
    const messages = (await queueOf(after, "killed").receiveMessages()).receivedMessageItems;
    expect(messages.map((m) => m.messageText)).toEqual(["sent before the kill"]);
  }, 30_000);

  it("without a location it stays in memory: a restart starts empty", async () => {
    const first = await start();
    await tableOf(first, "memory").createTable();
    await first.close();
    const second = await start();
    expect(second.location).toBeUndefined();
    await expect(tableOf(second, "memory").getEntity("a", "b")).rejects.toMatchObject({ statusCode: 404 });
  });
});
