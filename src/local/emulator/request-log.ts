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

/** Every ARM request (admin calls excluded): how the project counts ARM calls per VM and caller. */
export class RequestLog {
  private entries: RequestLogEntry[] = [];
  private seq = 0;

  add(entry: Omit<RequestLogEntry, "seq">): void {
    this.seq += 1;
    this.entries.push({ seq: this.seq, ...entry });
  }

  clear(): void {
    this.entries = [];
  }

  read(since = 0): { requests: RequestLogEntry[]; counts: { byOperation: Record<string, number>; byCaller: Record<string, number> }; lastSeq: number } {
    const requests = this.entries.filter((e) => e.seq > since);
    const byOperation: Record<string, number> = {};
    const byCaller: Record<string, number> = {};
    for (const r of requests) {
      byOperation[r.operation] = (byOperation[r.operation] ?? 0) + 1;
      const c = r.caller ?? "anonymous";
      byCaller[c] = (byCaller[c] ?? 0) + 1;
    }
    return { requests, counts: { byOperation, byCaller }, lastSeq: this.seq };
  }
}
