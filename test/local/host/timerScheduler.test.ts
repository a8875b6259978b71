import { afterAll, describe, expect, it } from "vitest";
import { startLocalHost, type LocalHost } from "../../../src/local/host/localHost.js";

const entry = new URL("./fixtures/app.ts", import.meta.url);
const hostJson = new URL("./fixtures/host.json", import.meta.url).pathname;
const hosts: LocalHost[] = [];

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.close()));
});

function settings(auditSchedule: string | undefined): Record<string, string> {
  return {
    AzureWebJobsStorage: "UseDevelopmentStorage=true",
    RECONCILE_QUEUE_NAME: "unused",
    ...(auditSchedule === undefined ? {} : { AUDIT_SCHEDULE: auditSchedule }),
  };
}

describe("timer schedules", () => {
  it("runs a timer function on the NCRONTAB schedule named by its %SETTING%", async () => {
    const host = await startLocalHost({ entry, hostJson, queues: false, settings: settings("* * * * * *"), log: () => {} });
    hosts.push(host);
    const { seen } = await import("./fixtures/app.js");
    const before = seen.timers.length;
    await expect.poll(() => seen.timers.length, { timeout: 3000, interval: 50 }).toBeGreaterThan(before);
    await host.close();
    const after = seen.timers.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(seen.timers.length).toBe(after);
  });

  it("refuses to start when the schedule's setting is missing or malformed, naming function and setting", async () => {
    const env = process.env["AUDIT_SCHEDULE"];
    delete process.env["AUDIT_SCHEDULE"];
    try {
      await expect(startLocalHost({ entry, hostJson, queues: false, settings: settings(undefined), log: () => {} })).rejects.toThrow(
        /Function "audit" \(timerTrigger\) binding property "schedule" refers to app setting "%AUDIT_SCHEDULE%", which is not set/,
      );
      await expect(startLocalHost({ entry, hostJson, queues: false, settings: settings("0 */5 * * *  * *"), log: () => {} })).rejects.toThrow(
        /must be an NCRONTAB expression with 6 fields/,
      );
    } finally {
      if (env !== undefined) process.env["AUDIT_SCHEDULE"] = env;
    }
  });
});
