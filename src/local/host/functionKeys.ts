import { randomBytes, timingSafeEqual } from "node:crypto";

/**
 * The keys a Functions host checks. Master (`_master`) passes everywhere; a host or function key
 * passes function-level HTTP triggers; system keys (e.g. `eventgrid_extension`) pass their
 * extension's webhook. A key comes in `?code=` or the `x-functions-key` header.
 */
export interface FunctionKeys {
  readonly masterKey: string;
  readonly functionKey: string;
  readonly systemKeys: Readonly<Record<string, string>>;
}

export function generateKey(): string {
  return randomBytes(32).toString("base64url");
}

export function presentedKey(url: URL, headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  const header = headers["x-functions-key"];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  return fromHeader || url.searchParams.get("code") || undefined;
}

export function keyMatches(presented: string | undefined, ...accepted: (string | undefined)[]): boolean {
  if (presented === undefined) return false;
  const given = Buffer.from(presented);
  return accepted.some((key) => {
    if (key === undefined) return false;
    const expected = Buffer.from(key);
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}
