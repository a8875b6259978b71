import { COMPLIANCE_STATES, type ComplianceState } from "../domain/outcome.js";
import {
  LOG_KINDS,
  type AccessGrant,
  type AuditRun,
  type DeviceRecord,
  type Diagnosis,
  type Hint,
  type LogEntry,
  type LogEntryInput,
  type LogKind,
  type RejectedEntry,
  type StartedOperation,
  type VmRecord,
} from "./records.js";

/**
 * How records are laid out as table entities. Arrays and objects become JSON strings because Table
 * Storage has only scalar property types; ISO instants stay strings so they round-trip exactly.
 */

/** A string property holds at most 64 KiB of UTF-16: 32,768 code units. Keep a margin. */
export const MAX_STRING_CHARS = 32_000;

export type EntityProperties = Record<string, string | number | boolean>;
/** What the SDK hands back: our properties plus keys, etag and timestamp. */
export type StoredEntity = Record<string, unknown> & { partitionKey?: string; rowKey?: string; etag?: string };

/** Cuts a string to the property limit, saying how much was dropped. */
export function fitString(value: string, limit = MAX_STRING_CHARS): string {
  if (value.length <= limit) return value;
  const marker = `…[truncated ${value.length - limit} chars]`;
  let head = value.slice(0, limit - marker.length);
  // A high surrogate left without its pair would be an invalid string on the wire.
  if (/[\ud800-\udbff]$/.test(head)) head = head.slice(0, -1);
  return head + marker;
}

// --- VM rows ---------------------------------------------------------------------------------

export function vmToEntity(record: VmRecord): EntityProperties {
  const props: EntityProperties = {
    vmId: fitString(record.vmId),
    subscriptionId: fitString(record.subscriptionId),
    resourceGroup: fitString(record.resourceGroup),
    name: fitString(record.name),
    state: record.state,
    reason: fitString(record.reason),
    message: fitString(record.message),
    access: accessJson(record.vmId, record.access),
    rejected: rejectedJson(record.rejected),
    passCount: record.passCount,
    firstSeenAt: record.firstSeenAt,
    updatedAt: record.updatedAt,
  };
  setOptional(props, "os", record.os);
  setOptional(props, "location", record.location);
  setOptional(props, "powerState", record.powerState);
  setOptional(props, "identityType", record.identityType);
  setOptional(props, "identityPrincipalId", record.identityPrincipalId);
  setOptional(props, "extensionStatus", record.extensionStatus);
  if (record.diagnosis) props["diagnosis"] = diagnosisJson(record.diagnosis);
  if (record.hints && record.hints.length > 0) props["hints"] = fitString(JSON.stringify(record.hints.slice(0, 10).map((h) => ({ code: fitString(h.code, 64), message: fitString(h.message, 1024) }))));
  setOptional(props, "lastTrigger", record.lastTrigger);
  setOptional(props, "lastEventId", record.lastEventId);
  setOptional(props, "lastCorrelationId", record.lastCorrelationId);
  setOptional(props, "lastRequestedBy", record.lastRequestedBy);
  setOptional(props, "lastRequestId", record.lastRequestId);
  if (record.principalNotFound && Object.keys(record.principalNotFound).length > 0) props["principalNotFound"] = fitString(JSON.stringify(record.principalNotFound));
  setOptional(props, "waitingFor", record.waitingFor);
  if (record.started) props["started"] = JSON.stringify(record.started);
  setOptional(props, "followUpAt", record.followUpAt);
  setOptional(props, "expiryCheckAt", record.expiryCheckAt);
  if (record.device) props["device"] = fitString(JSON.stringify(record.device));
  return props;
}

export function vmFromEntity(entity: StoredEntity, where: string): VmRecord {
  const read = reader(entity, where);
  const state = read.string("state");
  if (!(COMPLIANCE_STATES as readonly string[]).includes(state)) {
    throw new Error(`Corrupt row ${where}: unknown state "${state}".`);
  }
  const diagnosisRaw = read.optionalString("diagnosis");
  const record: VmRecord = {
    vmId: read.string("vmId"),
    subscriptionId: read.string("subscriptionId"),
    resourceGroup: read.string("resourceGroup"),
    name: read.string("name"),
    state: state as ComplianceState,
    reason: read.string("reason"),
    message: read.string("message"),
    ...optionalField("os", read.optionalString("os")),
    ...optionalField("location", read.optionalString("location")),
    ...optionalField("powerState", read.optionalString("powerState")),
    ...optionalField("identityType", read.optionalString("identityType")),
    ...optionalField("identityPrincipalId", read.optionalString("identityPrincipalId")),
    ...optionalField("extensionStatus", read.optionalString("extensionStatus")),
    access: read.json("access") as AccessGrant[],
    rejected: read.json("rejected") as RejectedEntry[],
    ...(diagnosisRaw !== undefined ? { diagnosis: read.json("diagnosis") as Diagnosis } : {}),
    ...(read.optionalString("hints") !== undefined ? { hints: read.json("hints") as Hint[] } : {}),
    ...optionalField("lastTrigger", read.optionalString("lastTrigger")),
    ...optionalField("lastEventId", read.optionalString("lastEventId")),
    ...optionalField("lastCorrelationId", read.optionalString("lastCorrelationId")),
    ...optionalField("lastRequestedBy", read.optionalString("lastRequestedBy")),
    ...optionalField("lastRequestId", read.optionalString("lastRequestId")),
    ...(read.optionalString("principalNotFound") !== undefined ? { principalNotFound: read.json("principalNotFound") as Record<string, string> } : {}),
    ...optionalField("waitingFor", read.optionalString("waitingFor")),
    ...(read.optionalString("started") !== undefined ? { started: read.json("started") as StartedOperation } : {}),
    ...optionalField("followUpAt", read.optionalString("followUpAt")),
    ...optionalField("expiryCheckAt", read.optionalString("expiryCheckAt")),
    ...(read.optionalString("device") !== undefined ? { device: read.json("device") as DeviceRecord } : {}),
    passCount: read.number("passCount"),
    firstSeenAt: read.string("firstSeenAt"),
    updatedAt: read.string("updatedAt"),
    ...optionalField("etag", typeof entity.etag === "string" ? entity.etag : undefined),
  };
  if (!Array.isArray(record.access) || !Array.isArray(record.rejected)) {
    throw new Error(`Corrupt row ${where}: access and rejected must be JSON arrays.`);
  }
  return record;
}

/** Access is bounded by ACCESS_MAX_PRINCIPALS; silently dropping grants would misreport who can log in. */
function accessJson(vmId: string, access: readonly AccessGrant[]): string {
  const json = JSON.stringify(access);
  if (json.length > MAX_STRING_CHARS) {
    throw new Error(
      `VM ${vmId}: ${access.length} access grants take ${json.length} characters, more than one table property holds ` +
        `(${MAX_STRING_CHARS}). Lower ACCESS_MAX_PRINCIPALS.`,
    );
  }
  return json;
}

/** Rejected tag entries are user input of any size: keep the first ones and count the rest. */
function rejectedJson(rejected: readonly RejectedEntry[]): string {
  const items = rejected.map((r) => ({ tag: fitString(r.tag, 512), entry: fitString(r.entry, 1024), reason: fitString(r.reason, 1024) }));
  let kept = items.length;
  for (;;) {
    const shown: RejectedEntry[] = items.slice(0, kept);
    if (kept < items.length) {
      shown.push({ tag: "", entry: "", reason: `${items.length - kept} more rejected entries not stored (table property limit)` });
    }
    const json = JSON.stringify(shown);
    if (json.length <= MAX_STRING_CHARS) return json;
    kept -= 1;
  }
}

function diagnosisJson(diagnosis: Diagnosis): string {
  return JSON.stringify({
    code: fitString(diagnosis.code, 256),
    message: fitString(diagnosis.message, 16_000),
    ...(diagnosis.remediation !== undefined ? { remediation: fitString(diagnosis.remediation, 8_000) } : {}),
    ...(diagnosis.exitCode !== undefined ? { exitCode: diagnosis.exitCode } : {}),
    ...(diagnosis.blockers !== undefined ? { blockers: diagnosis.blockers.slice(0, 50) } : {}),
  });
}

// --- log rows --------------------------------------------------------------------------------

const LOG_OPTIONAL = [
  "vmId", "eventId", "correlationId", "requestedBy", "state", "reason", "action", "result", "errorClass", "errorCode",
] as const;

export function logToEntity(entry: LogEntryInput): EntityProperties {
  const props: EntityProperties = {
    kind: entry.kind,
    trigger: fitString(entry.trigger, 64),
    message: fitString(entry.message),
    at: entry.at,
  };
  for (const name of LOG_OPTIONAL) setOptional(props, name, entry[name]);
  if (entry.details !== undefined) props["details"] = fitString(safeJson(entry.details));
  return props;
}

export function logFromEntity(entity: StoredEntity, where: string): LogEntry {
  const read = reader(entity, where);
  const kind = read.string("kind");
  if (!(LOG_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`Corrupt row ${where}: unknown log kind "${kind}".`);
  }
  const entry: Record<string, unknown> = {
    id: read.string("rowKey"),
    kind: kind as LogKind,
    trigger: read.string("trigger"),
    message: read.string("message"),
    at: read.string("at"),
  };
  for (const name of LOG_OPTIONAL) {
    const value = read.optionalString(name);
    if (value !== undefined) entry[name] = value;
  }
  const details = read.optionalString("details");
  if (details !== undefined) entry["details"] = parseOrRaw(details);
  return entry as unknown as LogEntry;
}

// --- audit runs ------------------------------------------------------------------------------

export function auditRunToEntity(run: AuditRun): EntityProperties {
  return {
    runId: fitString(run.runId, 256),
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    durationMs: run.durationMs,
    trigger: fitString(run.trigger, 64),
    subscriptions: fitString(JSON.stringify(run.subscriptions)),
    vmCount: run.vmCount,
    enqueued: run.enqueued,
    countsByState: fitString(JSON.stringify(run.countsByState)),
    armCalls: run.armCalls,
    errors: run.errors,
    ...(run.selection ? { selection: fitString(JSON.stringify(run.selection)) } : {}),
  };
}

export function auditRunFromEntity(entity: StoredEntity, where: string): AuditRun {
  const read = reader(entity, where);
  return {
    runId: read.string("runId"),
    startedAt: read.string("startedAt"),
    finishedAt: read.string("finishedAt"),
    durationMs: read.number("durationMs"),
    trigger: read.string("trigger"),
    subscriptions: read.json("subscriptions") as string[],
    vmCount: read.number("vmCount"),
    enqueued: read.number("enqueued"),
    countsByState: read.json("countsByState") as Record<string, number>,
    armCalls: read.number("armCalls"),
    errors: read.number("errors"),
    ...(read.optionalString("selection") !== undefined ? { selection: read.json("selection") as AuditRun["selection"] } : {}),
  };
}

// --- helpers ---------------------------------------------------------------------------------

function setOptional(props: EntityProperties, name: string, value: string | undefined): void {
  if (value !== undefined) props[name] = fitString(value);
}

function optionalField<K extends string>(name: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: string };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch (error) {
    return JSON.stringify(`[details not serializable: ${(error as Error).message}]`);
  }
}

/** Truncated JSON no longer parses; the raw text is still worth showing. */
function parseOrRaw(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function reader(entity: StoredEntity, where: string) {
  return {
    string(name: string): string {
      const value = entity[name];
      if (typeof value !== "string") {
        throw new Error(`Corrupt row ${where}: property "${name}" should be a string, found ${typeof value}.`);
      }
      return value;
    },
    optionalString(name: string): string | undefined {
      const value = entity[name];
      if (value === undefined || value === null) return undefined;
      if (typeof value !== "string") {
        throw new Error(`Corrupt row ${where}: property "${name}" should be a string, found ${typeof value}.`);
      }
      return value;
    },
    number(name: string): number {
      const value = entity[name];
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new Error(`Corrupt row ${where}: property "${name}" should be a number, found ${JSON.stringify(value)}.`);
      }
      return value;
    },
    json(name: string): unknown {
      const text = this.string(name);
      try {
        return JSON.parse(text);
      } catch {
        throw new Error(`Corrupt row ${where}: property "${name}" is not valid JSON.`);
      }
    },
  };
}
