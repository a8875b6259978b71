import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { TableClient, odata } from "@azure/data-tables";
import type { TokenCredential } from "@azure/identity";
import { COMPLIANCE_STATES } from "../domain/outcome.js";
import { isLoopbackHttp, tableEndpointFromConnectionString } from "./connection.js";
import {
  auditRunFromEntity,
  auditRunToEntity,
  logFromEntity,
  logToEntity,
  vmFromEntity,
  vmToEntity,
  fitString,
  type StoredEntity,
} from "./entities.js";
import { encodeKey, vmKey } from "./keys.js";
import { parseVmId } from "../domain/resourceId.js";
import { INVALID_CONTINUATION_TOKEN, MAX_VM_PAGE_SIZE, type StorePort, type VmListFilter } from "../orchestrator/ports.js";
import {
  LOG_KINDS,
  type AuditRun,
  type Lease,
  type LogEntry,
  type LogEntryInput,
  type VmRecord,
} from "./records.js";

export type {
  AccessGrant,
  AuditRun,
  Diagnosis,
  Lease,
  LogEntry,
  LogEntryInput,
  LogKind,
  RejectedEntry,
  StartedOperation,
  VmRecord,
} from "./records.js";

export interface StoreOptions {
  /** A storage connection string (Azurite locally); or use accountName/tableEndpoint + credential. */
  readonly connectionString?: string;
  /** Identity-based connection, public Azure only: `https://{accountName}.table.core.windows.net`. */
  readonly accountName?: string;
  /** Identity-based connection to the service endpoint (AzureWebJobsStorage__tableServiceUri; any cloud); wins over accountName. */
  readonly tableEndpoint?: string;
  readonly credential?: TokenCredential;
  /** Alphanumeric, starts with a letter; the tables are `{prefix}Vms`, `{prefix}Log`, ... */
  readonly tablePrefix: string;
  /** Attempts of the ETag read-modify-write loop before `updateVm` gives up (default 50). */
  readonly updateMaxAttempts?: number;
}

/** The Table Storage adapter: the orchestrator's StorePort, plus what setup, tests and tools need. */
export interface EnforcerStore extends StorePort {
  readonly tableNames: { readonly vms: string; readonly log: string; readonly auditRuns: string; readonly leases: string };
  ensureTables(): Promise<void>;
  getLease(vmId: string): Promise<Lease | undefined>;
}

/** Partition of log entries that belong to no VM; cannot clash with a vmKey, which starts with `|`. */
export const GLOBAL_LOG_PARTITION = "_global";
const AUDIT_PARTITION = "runs";
const TABLE_PREFIX_PATTERN = /^[A-Za-z][A-Za-z0-9]{0,53}$/;

/** Why a table prefix is unusable, or undefined when it is fine. */
export function tablePrefixProblem(prefix: unknown): string | undefined {
  if (typeof prefix === "string" && TABLE_PREFIX_PATTERN.test(prefix)) return undefined;
  return (
    `Invalid table prefix ${JSON.stringify(String(prefix).slice(0, 80))} (TABLE_PREFIX): use 1-54 letters and digits, starting with a letter, ` +
    "because Table Storage names must be alphanumeric and at most 63 characters."
  );
}

export function createEnforcerStore(options: StoreOptions): EnforcerStore {
  const prefix = options.tablePrefix;
  const bad = tablePrefixProblem(prefix);
  if (bad) throw new Error(bad);
  const tableNames = {
    vms: `${prefix}Vms`,
    log: `${prefix}Log`,
    auditRuns: `${prefix}AuditRuns`,
    leases: `${prefix}Leases`,
  } as const;
  const connect = tableClientFactory(options);
  const vms = connect(tableNames.vms);
  const log = connect(tableNames.log);
  const auditRuns = connect(tableNames.auditRuns);
  const leases = connect(tableNames.leases);
  const maxAttempts = options.updateMaxAttempts ?? 50;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new Error(`updateMaxAttempts must be a whole number of at least 1, got ${maxAttempts}.`);
  }

  async function readVmEntity(vmId: string): Promise<StoredEntity | undefined> {
    return getOrUndefined(vms, vmPartition(vmId), vmKey(vmId));
  }

  async function updateVm(vmId: string, mutate: (current: VmRecord | undefined) => VmRecord): Promise<VmRecord> {
    const partitionKey = vmPartition(vmId);
    const rowKey = vmKey(vmId);
    const where = `${tableNames.vms}(${vmId})`;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const stored = await getOrUndefined(vms, partitionKey, rowKey);
      const current = stored ? vmFromEntity(stored, where) : undefined;
      const next = mutate(current);
      checkVmRecord(vmId, next);
      const entity = { partitionKey, rowKey, ...vmToEntity(next) };
      try {
        const response = stored
          ? await vms.updateEntity(entity, "Replace", { etag: String(stored.etag) })
          : await vms.createEntity(entity);
        return { ...withoutEtag(next), ...(response.etag ? { etag: response.etag } : {}) };
      } catch (error) {
        // 409: another pass created the row first; 412: another pass changed it since we read it.
        const status = statusOf(error);
        if (status !== 409 && status !== 412) throw error;
      }
      // Jitter spreads out passes that collided, so they do not collide again in lockstep.
      await sleep(Math.random() * Math.min(250, 5 * 2 ** attempt));
    }
    throw new Error(
      `Could not update VM ${vmId} in table ${tableNames.vms}: it changed under ${maxAttempts} consecutive attempts ` +
        "(other passes kept writing it). The pass can be retried.",
    );
  }

  return {
    tableNames,

    async ensureTables() {
      // createTable treats "already exists" as success, so this is safe on every cold start.
      await Promise.all([vms, log, auditRuns, leases].map((client) => client.createTable()));
    },

    async getVm(vmId) {
      const stored = await readVmEntity(vmId);
      return stored ? vmFromEntity(stored, `${tableNames.vms}(${vmId})`) : undefined;
    },

    updateVm,

    async listVms(filter = {}) {
      const records: VmRecord[] = [];
      for await (const entity of vms.listEntities<Record<string, unknown>>({ queryOptions: vmQuery(filter) })) {
        records.push(vmFromEntity(entity, `${tableNames.vms}(${entity.rowKey})`));
      }
      return records;
    },

    async listVmsPage(filter, options) {
      const { top } = options;
      if (!Number.isInteger(top) || top < 1 || top > MAX_VM_PAGE_SIZE) {
        throw new Error(`listVmsPage: top must be a whole number from 1 to ${MAX_VM_PAGE_SIZE}, got ${top}.`);
      }
      const queryOptions = vmQuery(filter);
      const fingerprint = filterFingerprint(filter);
      let continuationToken = options.continuationToken === undefined ? undefined : readPageToken(options.continuationToken, fingerprint);
      // Table Storage may answer with fewer entities than asked (or none) and a token: ask again for
      // the rest, never for more, so a page holds at most `top`.
      const records: VmRecord[] = [];
      for (;;) {
        const pages = vms.listEntities<Record<string, unknown>>({ queryOptions })
          .byPage({ maxPageSize: top - records.length, ...(continuationToken ? { continuationToken } : {}) });
        const { value: page, done } = await pages.next();
        if (done || !page) return { vms: records };
        for (const entity of page) records.push(vmFromEntity(entity, `${tableNames.vms}(${entity.rowKey})`));
        continuationToken = page.continuationToken;
        if (!continuationToken) return { vms: records };
        if (records.length >= top) return { vms: records, continuationToken: writePageToken(continuationToken, fingerprint) };
      }
    },

    async appendLog(entry) {
      checkLogEntry(entry);
      const partitionKey = logPartition(entry.vmId);
      const props = logToEntity(entry);
      // A random suffix makes a clash practically impossible; retry anyway rather than lose the entry.
      for (let attempt = 1; ; attempt++) {
        const rowKey = newestFirstKey(entry.at);
        try {
          await log.createEntity({ partitionKey, rowKey, ...props });
          return logFromEntity({ rowKey, ...props }, `${tableNames.log}(${rowKey})`);
        } catch (error) {
          if (statusOf(error) !== 409 || attempt >= 3) throw error;
        }
      }
    },

    async listLog(vmId, limit = 50) {
      const partitionKey = vmId === undefined ? GLOBAL_LOG_PARTITION : vmKey(vmId);
      const entities = await firstN(log, odata`PartitionKey eq ${partitionKey}`, limit, "listLog");
      return entities.map((e) => logFromEntity(e, `${tableNames.log}(${String(e.rowKey)})`));
    },

    async acquireLease(vmId, holder, now, until) {
      const partitionKey = vmPartition(vmId);
      const rowKey = vmKey(vmId);
      const stored = await getOrUndefined(leases, partitionKey, rowKey);
      const entity = { partitionKey, rowKey, holder, until, vmId: fitString(vmId) };
      if (stored && stored["holder"] !== holder && String(stored["until"] ?? "") > now) return false;
      try {
        if (stored) await leases.updateEntity(entity, "Replace", { etag: String(stored.etag) });
        else await leases.createEntity(entity);
        return true;
      } catch (error) {
        // 409: another pass created it first; 412: another pass took it since we read it.
        const status = statusOf(error);
        if (status === 409 || status === 412) return false;
        throw error;
      }
    },

    async releaseLease(vmId, holder) {
      const partitionKey = vmPartition(vmId);
      const rowKey = vmKey(vmId);
      const stored = await getOrUndefined(leases, partitionKey, rowKey);
      if (!stored || stored["holder"] !== holder) return;
      try {
        await leases.deleteEntity(partitionKey, rowKey, { etag: String(stored.etag) });
      } catch (error) {
        const status = statusOf(error);
        if (status !== 404 && status !== 412) throw error;
      }
    },

    async getLease(vmId) {
      const stored = await getOrUndefined(leases, vmPartition(vmId), vmKey(vmId));
      return stored ? { holder: String(stored["holder"]), until: String(stored["until"]) } : undefined;
    },

    async recordAuditRun(run) {
      checkAuditRun(run);
      const rowKey = `${invertedTime(run.startedAt, "startedAt")}-${encodeKey(run.runId)}`;
      // Upsert: a retried timer run records the same run again rather than failing.
      await auditRuns.upsertEntity({ partitionKey: AUDIT_PARTITION, rowKey, ...auditRunToEntity(run) }, "Replace");
    },

    async listAuditRuns(limit = 20) {
      const entities = await firstN(auditRuns, odata`PartitionKey eq ${AUDIT_PARTITION}`, limit, "listAuditRuns");
      return entities.map((e) => auditRunFromEntity(e, `${tableNames.auditRuns}(${String(e.rowKey)})`));
    },
  };
}

function vmQuery(filter: VmListFilter): { filter?: string } {
  const clauses: string[] = [];
  if (filter.subscriptionId !== undefined) {
    if (filter.subscriptionId.trim() === "") throw new Error("listVms: subscriptionId filter is empty.");
    clauses.push(odata`PartitionKey eq ${encodeKey(filter.subscriptionId.toLowerCase())}`);
  }
  if (filter.state !== undefined) {
    if (!COMPLIANCE_STATES.includes(filter.state)) {
      throw new Error(`listVms: unknown state filter "${filter.state}"; expected one of ${COMPLIANCE_STATES.join(", ")}.`);
    }
    clauses.push(odata`state eq ${filter.state}`);
  }
  return clauses.length > 0 ? { filter: clauses.join(" and ") } : {};
}

// --- page tokens -----------------------------------------------------------------------------

/**
 * A page token is the next partition and row key with the filter they were read under, so a token
 * cannot be replayed against another filter (it would skip rows silently). The keys are checked
 * before they go into a request header: the token comes from a client.
 */
interface PageToken {
  readonly p: string;
  readonly r?: string;
  readonly f: string;
}

/** The service's next keys are opaque (Azure: `1!8!…`, Azurite: base64) and travel in headers: printable ASCII only. */
const KEY_ALPHABET = /^[\x21-\x7e]{1,1024}$/;

function filterFingerprint(filter: VmListFilter): string {
  return `${filter.subscriptionId?.toLowerCase() ?? "*"}/${filter.state ?? "*"}`;
}

function writePageToken(sdkToken: string, fingerprint: string): string {
  const { nextPartitionKey, nextRowKey } = JSON.parse(Buffer.from(sdkToken, "base64").toString("utf8")) as { nextPartitionKey: string; nextRowKey?: string };
  const token: PageToken = { p: nextPartitionKey, ...(nextRowKey ? { r: nextRowKey } : {}), f: fingerprint };
  return Buffer.from(JSON.stringify(token), "utf8").toString("base64url");
}

function readPageToken(raw: string, fingerprint: string): string {
  const invalid = (why: string) =>
    Object.assign(new Error(`continuationToken ${JSON.stringify(raw.slice(0, 60))}${raw.length > 60 ? "…" : ""} ${why}: pass the continuationToken of the previous page unchanged, with the same filters, or leave it out to start again.`), { code: INVALID_CONTINUATION_TOKEN });
  if (raw.length > 3000 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw invalid("is not a token this API made");
  let token: Partial<PageToken>;
  try {
    token = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as Partial<PageToken>;
  } catch {
    throw invalid("is not a token this API made");
  }
  if (typeof token !== "object" || token === null || typeof token.p !== "string" || !KEY_ALPHABET.test(token.p) ||
      (token.r !== undefined && (typeof token.r !== "string" || !KEY_ALPHABET.test(token.r))) || typeof token.f !== "string") {
    throw invalid("is not a token this API made");
  }
  if (token.f !== fingerprint) throw invalid("belongs to other filters (subscription/state)");
  return Buffer.from(JSON.stringify({ nextPartitionKey: token.p, ...(token.r ? { nextRowKey: token.r } : {}) }), "utf8").toString("base64");
}

// --- connection ------------------------------------------------------------------------------

function tableClientFactory(options: StoreOptions): (tableName: string) => TableClient {
  const connectionString = options.connectionString?.trim();
  if (connectionString) {
    const allowInsecureConnection = isLoopbackHttp(tableEndpointFromConnectionString(connectionString));
    return (tableName) => TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection });
  }
  const endpoint =
    options.tableEndpoint?.trim() ||
    (options.accountName?.trim() ? `https://${options.accountName.trim()}.table.core.windows.net` : undefined);
  if (!endpoint) {
    throw new Error("Table storage needs either connectionString, or accountName/tableEndpoint with a credential.");
  }
  const credential = options.credential;
  if (!credential) {
    throw new Error(`Table storage at ${endpoint} needs a credential (identity-based connection).`);
  }
  return (tableName) => new TableClient(endpoint, tableName, credential, { allowInsecureConnection: isLoopbackHttp(endpoint) });
}

// --- keys ------------------------------------------------------------------------------------

function vmPartition(vmId: string): string {
  return encodeKey(parseVmId(vmId).subscriptionId.toLowerCase());
}

function logPartition(vmId: string | undefined): string {
  if (vmId === undefined || vmId.trim() === "") return GLOBAL_LOG_PARTITION;
  try {
    return vmKey(vmId);
  } catch {
    // An id too long for a key is itself something to record, not a reason to lose the entry.
    return GLOBAL_LOG_PARTITION;
  }
}

/** The largest instant a Date can hold; subtracting from it makes later times sort first. */
const MAX_TIME_MS = 8_640_000_000_000_000;
let sequence = 0;

function invertedTime(at: string, field: string): string {
  const ms = Date.parse(at);
  if (!Number.isFinite(ms) || ms < 0) {
    throw new Error(`${field} must be an ISO-8601 instant after 1970, got ${JSON.stringify(at)}.`);
  }
  return String(MAX_TIME_MS - ms).padStart(16, "0");
}

/**
 * Row keys sort ascending, so the newest entry needs the smallest key: inverted time, then an
 * inverted per-process sequence (entries of the same millisecond, newest first), then randomness
 * so that two instances writing in the same millisecond never clash.
 */
function newestFirstKey(at: string): string {
  sequence = (sequence + 1) % 1_000_000;
  const invertedSequence = String(999_999 - sequence).padStart(6, "0");
  return `${invertedTime(at, "at")}-${invertedSequence}-${randomBytes(4).toString("hex")}`;
}

// --- validation ------------------------------------------------------------------------------

function checkVmRecord(vmId: string, record: VmRecord): void {
  if (typeof record !== "object" || record === null) {
    throw new Error(`updateVm(${vmId}): mutate must return a VmRecord, got ${JSON.stringify(record)}.`);
  }
  if (typeof record.vmId !== "string" || record.vmId.toLowerCase() !== vmId.toLowerCase()) {
    throw new Error(`updateVm(${vmId}): mutate returned a record for a different VM (${JSON.stringify(record.vmId)}).`);
  }
  const parts = parseVmId(vmId);
  if (typeof record.subscriptionId !== "string" || record.subscriptionId.toLowerCase() !== parts.subscriptionId.toLowerCase()) {
    throw new Error(
      `updateVm(${vmId}): subscriptionId ${JSON.stringify(record.subscriptionId)} does not match the VM id's ${parts.subscriptionId}.`,
    );
  }
  if (!COMPLIANCE_STATES.includes(record.state)) {
    throw new Error(`updateVm(${vmId}): unknown state ${JSON.stringify(record.state)}.`);
  }
  if (!Number.isInteger(record.passCount) || record.passCount < 0) {
    throw new Error(`updateVm(${vmId}): passCount must be a non-negative whole number, got ${record.passCount}.`);
  }
  for (const field of ["firstSeenAt", "updatedAt"] as const) {
    if (!Number.isFinite(Date.parse(record[field]))) {
      throw new Error(`updateVm(${vmId}): ${field} must be an ISO-8601 instant, got ${JSON.stringify(record[field])}.`);
    }
  }
}

function checkLogEntry(entry: LogEntryInput): void {
  if (!LOG_KINDS.includes(entry.kind)) {
    throw new Error(`appendLog: unknown kind ${JSON.stringify(entry.kind)}; expected one of ${LOG_KINDS.join(", ")}.`);
  }
  if (typeof entry.trigger !== "string" || entry.trigger.trim() === "") {
    throw new Error("appendLog: trigger is required (event, audit, queue, http or cli).");
  }
  if (typeof entry.message !== "string") {
    throw new Error(`appendLog: message must be a string, got ${typeof entry.message}.`);
  }
  invertedTime(entry.at, "appendLog: at");
}

function checkAuditRun(run: AuditRun): void {
  if (typeof run.runId !== "string" || run.runId.trim() === "") {
    throw new Error("recordAuditRun: runId is required.");
  }
  for (const field of ["durationMs", "vmCount", "enqueued", "armCalls", "errors"] as const) {
    if (typeof run[field] !== "number" || !Number.isFinite(run[field]) || run[field] < 0) {
      throw new Error(`recordAuditRun(${run.runId}): ${field} must be a non-negative number, got ${JSON.stringify(run[field])}.`);
    }
  }
  invertedTime(run.finishedAt, `recordAuditRun(${run.runId}): finishedAt`);
}

// --- SDK helpers -----------------------------------------------------------------------------

async function getOrUndefined(client: TableClient, partitionKey: string, rowKey: string): Promise<StoredEntity | undefined> {
  try {
    return (await client.getEntity<Record<string, unknown>>(partitionKey, rowKey)) as StoredEntity;
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

async function firstN(client: TableClient, filter: string, limit: number, what: string): Promise<StoredEntity[]> {
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new Error(`${what}: limit must be a whole number from 1 to 1000, got ${limit}.`);
  }
  const out: StoredEntity[] = [];
  const pages = client.listEntities<Record<string, unknown>>({ queryOptions: { filter } }).byPage({ maxPageSize: limit });
  for await (const page of pages) {
    for (const entity of page) {
      out.push(entity as StoredEntity);
      if (out.length >= limit) return out;
    }
  }
  return out;
}

/** Errors are told apart by HTTP status, as the SDK guidelines say, not by class identity. */
function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

function withoutEtag(record: VmRecord): VmRecord {
  const { etag: _etag, ...rest } = record;
  return rest;
}
