import { describe, expect, it } from "vitest";
import { DEFAULT_REQUEST_LOG_LIMIT, RequestLog } from "../../../src/local/emulator/request-log.js";

/** Issue 10, hostile sizes: the emulator's request log keeps the newest N entries; counts stay exact. */
const entry = (i: number, caller = i % 2 === 0 ? "even" : "odd") => ({
  time: new Date(0).toISOString(), method: "GET", path: `/vm/${i}`, operation: i % 3 === 0 ? "read" : "write", status: 200, caller, correlationId: String(i),
});

describe("the emulator's request log is bounded", () => {
  it("keeps only the newest N entries, however many requests come", () => {
    const log = new RequestLog(100);
    for (let i = 1; i <= 1000; i++) log.add(entry(i));
    const all = log.read();
    expect(all.requests).toHaveLength(100);
    expect(all.requests[0]?.seq).toBe(901);
    expect(all.lastSeq).toBe(1000);
    expect(all.dropped).toBe(900);
    // Whole-log counts stay exact: running totals, not a count of what is kept.
    expect(all.counts.byCaller).toEqual({ even: 500, odd: 500 });
    expect(all.counts.byOperation).toEqual({ read: 333, write: 667 });
  });

  it("a read since a kept entry is exact; one since a dropped entry says how many are gone", () => {
    const log = new RequestLog(100);
    for (let i = 1; i <= 1000; i++) log.add(entry(i));
    expect(log.read(950)).toMatchObject({ dropped: 0, counts: { byCaller: { even: 25, odd: 25 } } });
    expect(log.read(950).requests).toHaveLength(50);
    expect(log.read(500)).toMatchObject({ dropped: 400 });
    expect(log.read(500).requests).toHaveLength(100);
  });

  it("clear starts the counts again", () => {
    const log = new RequestLog(10);
    for (let i = 1; i <= 30; i++) log.add(entry(i));
    log.clear();
    log.add(entry(31));
    expect(log.read()).toMatchObject({ dropped: 0, lastSeq: 31, counts: { byCaller: { odd: 1 } } });
    expect(log.read().requests).toHaveLength(1);
  });

  it("the default keeps 100,000 entries", () => {
    expect(DEFAULT_REQUEST_LOG_LIMIT).toBe(100_000);
    expect(() => new RequestLog(0)).toThrow(/at least 1/);
  });
});
