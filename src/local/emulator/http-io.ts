import type { IncomingMessage, ServerResponse } from "node:http";
import { badRequest } from "./errors.js";

/** ARM rejects request bodies over 4 MB; the same cap keeps a runaway client from filling memory. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw badRequest("RequestEntityTooLarge", "The request content exceeds 4 MB.");
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Parses a JSON request body; empty means undefined. Unparsable JSON is ARM's `InvalidRequestContent`. */
export function parseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw badRequest(
      "InvalidRequestContent",
      `The request content was invalid and could not be deserialized: '${(error as Error).message}'.`,
    );
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined ? {} : { "content-type": "application/json; charset=utf-8" }),
    "content-length": Buffer.byteLength(text).toString(),
    ...headers,
  });
  res.end(text);
}

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
