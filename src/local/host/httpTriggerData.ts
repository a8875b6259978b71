import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { RpcHttpData, RpcTypedData } from "./coreApi.js";

/** An incoming request as the host hands it to the worker (the library builds `HttpRequest` from it). */
export function toRpcHttpRequest(
  method: string,
  url: URL,
  headers: IncomingHttpHeaders,
  body: Buffer,
  params: Record<string, string>,
): RpcTypedData {
  const flatHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flatHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const http: RpcHttpData = { method, url: url.href, headers: flatHeaders, query, params };
  if (body.length > 0) http.body = { bytes: body };
  return { http };
}

interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: { value?: string | null } | null;
  path?: { value?: string | null } | null;
  expires?: { value?: { seconds?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: string | null;
  maxAge?: { value?: number | null } | null;
}

/**
 * Writes the function's HTTP output (the library's `HttpResponse` as RPC data). No return value
 * is answered with 204, a handler failure by the caller with a bare 500, as the host does.
 */
export function writeRpcHttpResponse(res: ServerResponse, output: unknown): void {
  const http = (output ?? undefined) as (RpcHttpData & { cookies?: RpcHttpCookie[] | null }) | undefined;
  if (!http) {
    res.writeHead(204).end();
    return;
  }
  const status = Number(http.statusCode ?? 200) || 200;
  for (const [name, value] of Object.entries(http.headers ?? {})) res.setHeader(name, value);
  const cookies = (http.cookies ?? []).map(serializeCookie);
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  const body = http.body?.bytes ? Buffer.from(http.body.bytes) : http.body?.string != null ? Buffer.from(http.body.string) : undefined;
  res.writeHead(status);
  res.end(body);
}

function serializeCookie(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ""}=${cookie.value ?? ""}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  if (cookie.expires?.value?.seconds != null) parts.push(`Expires=${new Date(Number(cookie.expires.value.seconds) * 1000).toUTCString()}`);
  if (cookie.maxAge?.value != null) parts.push(`Max-Age=${cookie.maxAge.value}`);
  if (cookie.secure?.value) parts.push("Secure");
  if (cookie.httpOnly?.value) parts.push("HttpOnly");
  if (cookie.sameSite === "lax") parts.push("SameSite=Lax");
  else if (cookie.sameSite === "strict") parts.push("SameSite=Strict");
  else if (cookie.sameSite === "explicitNone") parts.push("SameSite=None");
  return parts.join("; ");
}
