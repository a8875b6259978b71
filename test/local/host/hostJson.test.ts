import { describe, expect, it } from "vitest";
import { parseHostJson, parseTimeSpanInMs, readHostJson } from "../../../src/local/host/hostJson.js";

describe("host.json", () => {
  it("reads the project's queue settings", () => {
    expect(readHostJson("host.json").queues).toMatchObject({ maxDequeueCount: 5, visibilityTimeoutInMs: 30_000, batchSize: 16 });
  });

  it("falls back to the Functions defaults", () => {
    expect(parseHostJson({ version: "2.0" })).toEqual({
      queues: { maxDequeueCount: 5, visibilityTimeoutInMs: 0, batchSize: 16, newBatchThreshold: 8, maxPollingIntervalInMs: 60_000, messageEncoding: "base64" },
      httpRoutePrefix: "api",
    });
  });

  it("parses TimeSpans and rejects nonsense with the property's path", () => {
    expect(parseTimeSpanInMs("00:00:00.250")).toBe(250);
    expect(parseTimeSpanInMs("1.02:03:04")).toBe(((24 + 2) * 60 + 3) * 60_000 + 4000);
    expect(() => parseHostJson({ extensions: { queues: { visibilityTimeout: 30 } } })).toThrow(/extensions\.queues\.visibilityTimeout must be a TimeSpan/);
    expect(() => parseHostJson({ extensions: { queues: { maxDequeueCount: 0 } } })).toThrow(/maxDequeueCount must be a whole number/);
  });
});
