export interface RequestLogEntry {
  readonly seq: number;
  readonly time: string;
  readonly method: string;
  readonly path: string;
  readonly operation: string;
  readonly status: number;
  /** The calling principal's object id; undefined when authentication failed. */
  readonly caller?: string;
  readonly correlationId: string;
}

/** The newest requests kept (about 200 bytes each: some 20 MB); older ones are dropped, their counts kept. */
export const DEFAULT_REQUEST_LOG_LIMIT = 100_000;

type Counts = { byOperation: Record<string, number>; byCaller: Record<string, number> };

/**
 * Every ARM request (admin calls excluded): how the project counts ARM calls per VM and caller.
 * Bounded: only the newest `limit` entries are kept, so a long-running emulator cannot grow without
 * end. Counts stay exact for the whole log (`since` 0 or before the last clear): they are kept as
 * running totals. A read from a `since` whose entries were partly dropped returns what is kept,
 * counts over those, and `dropped` (how many of the asked-for entries are gone).
 */
export class RequestLog {
  private entries: RequestLogEntry[] = [];
  private seq = 0;
  /** The seq of the last entry before the last clear: totals count from here. */
  private clearedAt = 0;
  private totals: Counts = { byOperation: {}, byCaller: {} };

  constructor(private readonly limit = DEFAULT_REQUEST_LOG_LIMIT) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`The request log limit must be a whole number of at least 1, got ${limit}.`);
  }

  add(entry: Omit<RequestLogEntry, "seq">): void {
    this.seq += 1;
    const kept = { seq: this.seq, ...entry };
    this.entries.push(kept);
    count(this.totals, kept);
    // Dropped in batches, so adding stays cheap.
    if (this.entries.length > this.limit + Math.ceil(this.limit / 10)) this.entries = this.entries.slice(-this.limit);
  }

  clear(): void {
    this.entries = [];
    this.clearedAt = this.seq;
    this.totals = { byOperation: {}, byCaller: {} };
  }

  read(since = 0): { requests: RequestLogEntry[]; counts: Counts; lastSeq: number; dropped: number } {
    const retained = this.entries.length > this.limit ? this.entries.slice(-this.limit) : this.entries;
    const requests = retained.filter((e) => e.seq > since);
    const from = Math.max(since, this.clearedAt);
    const dropped = this.seq - from - requests.length;
    let counts: Counts;
    if (since <= this.clearedAt) {
      counts = { byOperation: { ...this.totals.byOperation }, byCaller: { ...this.totals.byCaller } };
    } else {
      counts = { byOperation: {}, byCaller: {} };
      for (const r of requests) count(counts, r);
    }
    return { requests, counts, lastSeq: this.seq, dropped };
  }
}

function count(counts: Counts, r: RequestLogEntry): void {
  counts.byOperation[r.operation] = (counts.byOperation[r.operation] ?? 0) + 1;
  const c = r.caller ?? "anonymous";
  counts.byCaller[c] = (counts.byCaller[c] ?? 0) + 1;
}
