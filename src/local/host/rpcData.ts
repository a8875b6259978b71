import type { RpcTypedData } from "./coreApi.js";

/**
 * Values crossing into the programming model as the host sends them over gRPC. Strings go as
 * `json` rather than `string`: the library `JSON.parse`s a `string` when it can, which would turn
 * a metadata value like "0042" into a number.
 */
export function toTriggerMetadataValue(value: unknown): RpcTypedData {
  if (typeof value === "number" && Number.isInteger(value)) return { int: value };
  if (typeof value === "number") return { double: value };
  if (value instanceof Date) return { json: JSON.stringify(value.toISOString()) };
  if (Buffer.isBuffer(value)) return { bytes: value };
  return { json: JSON.stringify(value ?? null) };
}

export function toTriggerMetadata(metadata: Readonly<Record<string, unknown>> | undefined): Record<string, RpcTypedData> {
  const result: Record<string, RpcTypedData> = {};
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (value !== undefined) result[key] = toTriggerMetadataValue(value);
  }
  return result;
}

/**
 * A trigger payload as the host sends it: text as `string` (the library parses JSON text into an
 * object, as a queue message or a manual run's input is in Azure), bytes as `bytes`, anything
 * else as `json`.
 */
export function toTriggerInput(payload: unknown): RpcTypedData {
  if (typeof payload === "string") return { string: payload };
  if (Buffer.isBuffer(payload) || payload instanceof Uint8Array) return { bytes: payload };
  return { json: JSON.stringify(payload ?? null) };
}

/** Decodes a return value as the host would see it (the inverse of the library's `toRpcTypedData`). */
export function fromRpcTypedData(data: RpcTypedData | null | undefined): unknown {
  if (!data) return undefined;
  if (data.string != null) return data.string;
  if (data.json != null) return JSON.parse(data.json) as unknown;
  if (data.bytes != null) return Buffer.from(data.bytes);
  if (data.int != null) return data.int;
  if (data.double != null) return data.double;
  if (data.http != null) return data.http;
  return undefined;
}
