import { describe, expect, it } from "vitest";
import { parseTimerSchedule } from "../../../src/local/host/timerSchedule.js";

describe("parseTimerSchedule", () => {
  it.each([
    ["0 0 */6 * * *", "2025-03-01T01:00:00.000Z", "2025-03-01T06:00:00.000Z"],
    ["*/5 * * * * *", "2025-03-01T00:00:05.000Z", "2025-03-01T00:00:10.000Z"],
    ["0 30 9 * * 1-5", "2025-03-01T12:00:00.000Z", "2025-03-03T09:30:00.000Z"],
    ["*/15 * * * *", "2025-03-01T00:07:00.000Z", "2025-03-01T00:15:00.000Z"],
    ["00:05:00", "2025-03-01T00:00:00.000Z", "2025-03-01T00:05:00.000Z"],
    ["1.00:00:00", "2025-03-01T00:00:00.000Z", "2025-03-02T00:00:00.000Z"],
  ])("%s after %s is %s (seconds first, UTC, strictly after)", (expression, after, next) => {
    expect(parseTimerSchedule(expression).next(new Date(after)).toISOString()).toBe(next);
  });

  it.each([
    ["0 0 * * * * *", /6 fields/],
    ["every hour", /6 fields/],
    ["0 0 25 * * *", /not a valid NCRONTAB/],
    ["00:00:00", /positive interval/],
  ])("rejects %s", (expression, message) => {
    expect(() => parseTimerSchedule(expression)).toThrow(message);
  });
});
