import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalHost, type LocalHost } from "../../../src/local/host/localHost.js";

/**
 * Issue 10, hostile sizes: the local host checks the key before it reads a body (an unauthenticated
 * caller cannot make it buffer anything) and answers 413 past 1 MiB (Event Grid caps a batch at
 * 1 MB), by Content-Length or while the body streams in.
 */
const entry = new URL("./fixtures/app.ts", import.meta.url);
const hostJson = new URL("./fixtures/host.json", import.meta.url).pathname;
let host: LocalHost;

beforeAll(async () => {
  host = await startLocalHost({
    entry,
    hostJson,
    timers: false,
    queues: false,
    settings: { AzureWebJobsStorage: "UseDevelopmentStorage=true", AUDIT_SCHEDULE: "0 0 0 1 1 *", RECONCILE_QUEUE_NAME: "limits" },
    functionKeys: { default: "test-function-key" },
    log: () => {},
  });
});

afterAll(async () => {
  await host?.close();
});

/** Sends the headers and `sent` bytes of a body that claims `declared` bytes (or is chunked), and never finishes it. */
function stalledRequest(url: string, headers: Record<string, string>, sent: number, declared?: number, method = "POST"): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { "content-type": "application/json", ...(declared !== undefined ? { "content-length": String(declared) } : {}), ...headers } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      res.on("error", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", (error) => (error.message.includes("EPIPE") || error.message.includes("ECONNRESET") ? undefined : reject(error)));
    req.write(Buffer.alloc(sent, 0x20));
    // Not ended: a host that reads the body first waits here for ever.
  });
}

const withTimeout = <T>(promise: Promise<T>, ms: number) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))]);

describe("keys before bodies, and a cap on bodies", () => {
  it("an Event Grid delivery without the system key gets 401 without its body being read", async () => {
    const answer = await withTimeout(stalledRequest(host.eventGridUrl("onResourceEvent").replace(/code=[^&]*/, "code=wrong"), { "aeg-event-type": "Notification" }, 1024, 10 * 1024 * 1024), 5000);
    expect(answer.status).toBe(401);
  });

  it("an HTTP function without its key gets 401 without its body being read", async () => {
    const answer = await withTimeout(stalledRequest(`${host.url}/api/status/1`, {}, 1024, 50 * 1024 * 1024, "GET"), 5000);
    expect(answer.status).toBe(401);
  });

  it("a delivery declaring more than 1 MiB is answered 413 at once", async () => {
    const answer = await withTimeout(stalledRequest(host.eventGridUrl("onResourceEvent"), { "aeg-event-type": "Notification" }, 1024, 1024 * 1024 + 1), 5000);
    expect(answer.status).toBe(413);
    expect(answer.text).toMatch(/at most 1048576 bytes/);
  });

  it("a chunked body that grows past 1 MiB is answered 413", async () => {
    const answer = await withTimeout(stalledRequest(host.eventGridUrl("onResourceEvent"), { "aeg-event-type": "Notification" }, 1024 * 1024 + 4096), 5000);
    expect(answer.status).toBe(413);
  });

  it("a body of exactly 1 MiB is still read", async () => {
    const event = { id: "e1", topic: "/subscriptions/x", subject: "/subscriptions/x/pad", eventType: "Microsoft.Resources.ResourceWriteSuccess", eventTime: "2025-01-01T00:00:00Z", data: {}, dataVersion: "", metadataVersion: "1" };
    const json = JSON.stringify([event]);
    const body = json.slice(0, -1) + " ".repeat(1024 * 1024 - json.length) + "]";
    expect(Buffer.byteLength(body)).toBe(1024 * 1024);
    const response = await fetch(host.eventGridUrl("onResourceEvent"), { method: "POST", headers: { "aeg-event-type": "Notification", "content-type": "application/json" }, body });
    expect(response.status).toBeLessThan(300);
  });
});
