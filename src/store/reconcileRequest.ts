import { tryParseVmId } from "../domain/resourceId.js";

/** One unit of fan-out work: "look at this VM". Level-based: it carries no VM state, only context. */
export interface ReconcileRequest {
  readonly vmId: string;
  readonly trigger: ReconcileTrigger;
  readonly runId?: string;
  readonly eventId?: string;
  readonly correlationId?: string;
  readonly requestedBy?: string;
  readonly mode?: "enforce" | "report";
  /** Follow-ups: how many came before this one in the chain (the delay doubles with each). */
  readonly attempt?: number;
  /** Follow-ups: what the pass that scheduled it was waiting for. */
  readonly waitingFor?: string;
  /** Stamped by the queue when the request is first sent: the message's own id, kept when re-queued. */
  readonly requestId?: string;
  /** Stamped by the queue when the request is first sent (ISO). */
  readonly requestedAt?: string;
}

/**
 * event: Event Grid said the VM changed; audit: the drift audit; http/cli: an operator; follow-up:
 * a pass that started a long-running operation (or found one) looks again later instead of waiting;
 * expiry: a grant's `aadlogin-expires` instant has come.
 */
export const RECONCILE_TRIGGERS = ["audit", "event", "http", "cli", "follow-up", "expiry"] as const;
export type ReconcileTrigger = (typeof RECONCILE_TRIGGERS)[number];
const MODES = ["enforce", "report"] as const;
const OPTIONAL_STRINGS = ["runId", "eventId", "correlationId", "requestedBy", "waitingFor", "requestId", "requestedAt"] as const;

/** Queue messages are limited to 64 KiB; a request is a few hundred bytes, so this only stops garbage. */
export const MAX_QUEUE_MESSAGE_CHARS = 64 * 1024;

/**
 * The message text for a request: base64 of its JSON, because the Functions queue trigger decodes
 * base64 by default (host.json `messageEncoding`) and would fail on plain text.
 */
export function encodeQueueMessage(request: ReconcileRequest): string {
  const clean = validate(request, request);
  const text = Buffer.from(JSON.stringify(clean), "utf8").toString("base64");
  if (text.length > MAX_QUEUE_MESSAGE_CHARS) {
    throw new Error(`Reconcile request for ${clean.vmId} encodes to ${text.length} characters; a queue message holds ${MAX_QUEUE_MESSAGE_CHARS}.`);
  }
  return text;
}

/**
 * Reads a request from what a queue trigger or a caller hands over: the object the Functions host
 * produces after decoding, a JSON string, base64 of JSON, or bytes of either. Anything else is an
 * error naming the problem, because a message that cannot be read must be recorded, not retried.
 */
export function parseReconcileRequest(raw: unknown): ReconcileRequest {
  return validate(toObject(raw), raw);
}

function toObject(raw: unknown): unknown {
  if (raw instanceof Uint8Array) return toObject(Buffer.from(raw).toString("utf8"));
  if (typeof raw !== "string") return raw;
  const text = raw.trim();
  if (text === "") throw invalid(raw, "the message is empty");
  if (text.startsWith("{") || text.startsWith("[") || text.startsWith('"')) return parseJson(text, raw);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw invalid(raw, "the message is neither JSON nor base64-encoded JSON");
  }
  const decoded = Buffer.from(text, "base64").toString("utf8").trim();
  if (!decoded.startsWith("{")) throw invalid(raw, "the message is base64, but what it encodes is not a JSON object");
  return parseJson(decoded, raw);
}

function parseJson(text: string, raw: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalid(raw, `the message is not valid JSON (${(error as Error).message})`);
  }
}

function validate(value: unknown, raw: unknown): ReconcileRequest {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(raw, `expected a JSON object, got ${Array.isArray(value) ? "an array" : value === null ? "null" : typeof value}`);
  }
  const input = value as Record<string, unknown>;
  if (input["vmId"] === undefined || input["vmId"] === "") throw invalid(raw, "vmId is missing");
  if (typeof input["vmId"] !== "string" || !tryParseVmId(input["vmId"])) {
    throw invalid(
      raw,
      `vmId ${quote(input["vmId"])} is not a VM resource id ` +
        "(/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name})",
    );
  }
  const trigger = input["trigger"];
  if (!RECONCILE_TRIGGERS.includes(trigger as ReconcileTrigger)) {
    throw invalid(raw, `trigger ${quote(trigger)} is not one of ${RECONCILE_TRIGGERS.join(", ")}`);
  }
  const request: Record<string, unknown> = { vmId: input["vmId"], trigger };
  for (const name of OPTIONAL_STRINGS) {
    const field = input[name];
    if (field === undefined || field === null) continue;
    if (typeof field !== "string") throw invalid(raw, `${name} must be a string, got ${quote(field)}`);
    request[name] = field;
  }
  const attempt = input["attempt"];
  if (attempt !== undefined && attempt !== null) {
    if (typeof attempt !== "number" || !Number.isInteger(attempt) || attempt < 0 || attempt > 1000) {
      throw invalid(raw, `attempt must be a whole number from 0 to 1000, got ${quote(attempt)}`);
    }
    request["attempt"] = attempt;
  }
  const mode = input["mode"];
  if (mode !== undefined && mode !== null) {
    if (!MODES.includes(mode as (typeof MODES)[number])) {
      throw invalid(raw, `mode ${quote(mode)} is not one of ${MODES.join(", ")}`);
    }
    request["mode"] = mode;
  }
  return request as unknown as ReconcileRequest;
}

function invalid(raw: unknown, problem: string): Error {
  return new Error(`Invalid reconcile request: ${problem}. Message: ${typeof raw === "string" ? clip(raw) : quote(raw)}`);
}

/** Messages are untrusted and may be huge: quote only the start of them in errors. */
function quote(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return clip(text);
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
