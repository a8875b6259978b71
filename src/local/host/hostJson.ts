import { readFileSync } from "node:fs";

/** What the local host reads from host.json (the rest of the file is Azure's business). */
export interface HostJsonOptions {
  readonly queues: {
    /** Failed deliveries before a message goes to `<queue>-poison` (Azure default 5). */
    readonly maxDequeueCount: number;
    /** How long a failed message stays invisible before its retry (Azure default 0). */
    readonly visibilityTimeoutInMs: number;
    /** Messages fetched and run in parallel per queue (Azure default 16, max 32). */
    readonly batchSize: number;
    /** Another batch is fetched once no more than this many messages are still being processed (default batchSize / 2). */
    readonly newBatchThreshold: number;
    /** Longest wait between polls of an idle queue (Azure default 1 minute). */
    readonly maxPollingIntervalInMs: number;
    /** "base64" (Azure default) or "none". */
    readonly messageEncoding: "base64" | "none";
  };
  /** `extensions.http.routePrefix` (default "api"). */
  readonly httpRoutePrefix: string;
}

export function readHostJson(path: string): HostJsonOptions {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`Could not read host.json at ${path}: ${(error as Error).message}`);
  }
  return parseHostJson(raw, path);
}

export function parseHostJson(raw: unknown, where = "host.json"): HostJsonOptions {
  const extensions = objectAt(raw, "extensions");
  const queues = objectAt(extensions, "queues");
  const http = objectAt(extensions, "http");
  const encoding = String(queues["messageEncoding"] ?? "base64").toLowerCase();
  if (encoding !== "base64" && encoding !== "none") {
    throw new Error(`${where}: extensions.queues.messageEncoding must be "base64" or "none", got "${encoding}".`);
  }
  const batchSize = Math.min(32, positiveInteger(queues["batchSize"], 16, `${where}: extensions.queues.batchSize`));
  return {
    queues: {
      maxDequeueCount: positiveInteger(queues["maxDequeueCount"], 5, `${where}: extensions.queues.maxDequeueCount`),
      visibilityTimeoutInMs: timeSpanInMs(queues["visibilityTimeout"], 0, `${where}: extensions.queues.visibilityTimeout`),
      batchSize,
      newBatchThreshold: nonNegativeInteger(queues["newBatchThreshold"], Math.floor(batchSize / 2), `${where}: extensions.queues.newBatchThreshold`),
      maxPollingIntervalInMs: timeSpanInMs(queues["maxPollingInterval"], 60_000, `${where}: extensions.queues.maxPollingInterval`),
      messageEncoding: encoding,
    },
    httpRoutePrefix: typeof http["routePrefix"] === "string" ? http["routePrefix"].replace(/^\/+|\/+$/g, "") : "api",
  };
}

/** Parses a .NET TimeSpan as host.json writes it: "hh:mm:ss[.fff]" or "d.hh:mm:ss[.fff]". */
export function parseTimeSpanInMs(text: string): number | undefined {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/.exec(text.trim());
  if (!match) return undefined;
  const [, days, hours, minutes, seconds, fraction] = match;
  const ms = Math.round(Number(`0.${fraction ?? "0"}`) * 1000);
  return ((Number(days ?? 0) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1000 + ms;
}

function timeSpanInMs(value: unknown, fallback: number, where: string): number {
  if (value === undefined || value === null) return fallback;
  const ms = typeof value === "string" ? parseTimeSpanInMs(value) : undefined;
  if (ms === undefined) throw new Error(`${where} must be a TimeSpan like "00:00:30", got ${JSON.stringify(value)}.`);
  return ms;
}

function positiveInteger(value: unknown, fallback: number, where: string): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new Error(`${where} must be a whole number of at least 1, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function nonNegativeInteger(value: unknown, fallback: number, where: string): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new Error(`${where} must be a whole number of at least 0, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function objectAt(parent: unknown, key: string): Record<string, unknown> {
  const value = typeof parent === "object" && parent !== null ? (parent as Record<string, unknown>)[key] : undefined;
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}
