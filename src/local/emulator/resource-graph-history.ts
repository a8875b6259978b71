import type { Json } from "./http-io.js";
import type { GraphRow } from "./resource-graph-rows.js";

interface Version {
  /** When ARM's state became this (epoch ms; 0 for what existed before the emulator started watching). */
  readonly at: number;
  /** The row's JSON; "" once the resource was deleted. Older versions keep only this (parsed again when read). */
  readonly text: string;
  readonly table: GraphRow["table"] | undefined;
  row: Json | undefined;
}

/** Versions older than the lag are kept this much longer, so a skip token's snapshot stays readable. */
export const HISTORY_RETENTION_MS = 5 * 60_000;
/** And never more than this many per resource, whatever the write rate. */
const MAX_VERSIONS = 32;

/**
 * Resource Graph's copy of ARM: a timestamped history of every row, so a query reads ARM's state
 * as of `now - lag` (Resource Graph lags ARM by seconds; Microsoft promises no upper bound).
 * Memory stays bounded: per resource, the versions younger than lag + retention plus the newest older one.
 * A resource's rows are re-rendered when something says it changed (an ARM write on its path, an LRO
 * settling, a simulation change, a seed); an unchanged re-render records nothing.
 */
export class ResourceGraphHistory {
  private readonly versions = new Map<string, Version[]>();
  /** Row ids that belong to a VM (its own and its extensions'), by the VM's lower-case id. */
  private readonly byOwner = new Map<string, Set<string>>();

  constructor(private readonly retentionMs: () => number) {}

  clear(): void {
    this.versions.clear();
    this.byOwner.clear();
  }

  /** Records the rows an owner (a VM, an assignment) has now; rows it had before and lacks now are deleted. */
  recordOwner(owner: string, rows: ReadonlyMap<string, GraphRow>, at: number): void {
    const key = owner.toLowerCase();
    const before = this.byOwner.get(key) ?? new Set<string>();
    for (const id of before) if (!rows.has(id)) this.record(id, undefined, at);
    for (const [id, row] of rows) this.record(id, row, at);
    if (rows.size === 0) this.byOwner.delete(key);
    else this.byOwner.set(key, new Set(rows.keys()));
  }

  /** Every owner not in `present` is gone (after a resource group delete or a reset of the state). */
  forgetOwnersExcept(present: ReadonlySet<string>, at: number): void {
    for (const owner of [...this.byOwner.keys()]) if (!present.has(owner)) this.recordOwner(owner, new Map(), at);
  }

  private record(id: string, row: GraphRow | undefined, at: number): void {
    const list = this.versions.get(id) ?? [];
    const text = row === undefined ? "" : JSON.stringify(row.row);
    const last = list[list.length - 1];
    if (last ? last.text === text && last.table === row?.table : row === undefined) return;
    // Memory: a superseded version keeps its text only.
    if (last) last.row = undefined;
    list.push({ at, text, table: row?.table, row: row?.row });
    this.versions.set(id, list);
    this.prune(id, list, at);
  }

  private prune(id: string, list: Version[], now: number): void {
    const horizon = now - this.retentionMs();
    let firstKept = 0;
    // Keep the newest version at or before the horizon (it is the state then) and everything after it.
    for (let i = 0; i < list.length; i++) if ((list[i] as Version).at <= horizon) firstKept = i;
    firstKept = Math.max(firstKept, list.length - MAX_VERSIONS);
    if (firstKept > 0) list.splice(0, firstKept);
    const only = list[0];
    if (list.length === 1 && only && only.text === "" && only.at <= horizon) this.versions.delete(id);
  }

  /** The rows of a table as ARM had them at `asOf`. */
  rowsAsOf(table: GraphRow["table"], asOf: number, now: number): Json[] {
    const rows: Json[] = [];
    for (const [id, list] of this.versions) {
      this.prune(id, list, now);
      let version: Version | undefined;
      for (const v of list) {
        if (v.at <= asOf) version = v;
        else break;
      }
      if (version && version.text !== "" && version.table === table) {
        version.row ??= JSON.parse(version.text) as Json;
        rows.push(version.row);
      }
    }
    return rows;
  }

  /** The oldest instant the history can still answer for. */
  horizon(now: number): number {
    return now - this.retentionMs();
  }
}
