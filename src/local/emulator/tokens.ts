import { createHmac, timingSafeEqual } from "node:crypto";
import { ArmError } from "./errors.js";

/**
 * Emulator-issued bearer tokens: JWT-shaped (header.payload.signature, base64url) so code that peeks
 * at claims works, HMAC-SHA256 signed so they cannot be forged by editing the payload.
 * The default key is a constant on purpose: @azure/identity (MSAL) keeps managed-identity tokens in a
 * process-wide static cache, so a token fetched from one emulator instance must still verify against
 * the next one a test starts in the same process.
 */
export const DEFAULT_SIGNING_KEY = "aadlogin-enforcer-local-arm-emulator";
export const ARM_AUDIENCES = ["https://management.azure.com", "https://management.core.windows.net"];

export interface TokenClaims {
  readonly aud: string;
  readonly iss: string;
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  readonly oid: string;
  readonly appid: string;
  readonly tid: string;
  readonly idtyp: "user" | "app";
  readonly upn?: string;
  readonly name?: string;
  readonly ver: "1.0";
}

const b64url = (value: string | Buffer): string => Buffer.from(value).toString("base64url");

export function signToken(claims: TokenClaims, key: string): string {
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac("sha256", key).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

/** Verifies signature, lifetime and audience; throws ARM's 401 errors. */
export function verifyToken(authorization: string | undefined, key: string, nowMs: number, audiences: readonly string[] = ARM_AUDIENCES): TokenClaims {
  if (!authorization) {
    throw new ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
  }
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match?.[1]) {
    throw new ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided in an invalid format.");
  }
  const parts = match[1].split(".");
  const [head, body, sig] = parts;
  if (parts.length !== 3 || !head || !body || !sig) {
    throw new ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.");
  }
  const expected = createHmac("sha256", key).update(`${head}.${body}`).digest();
  const given = Buffer.from(sig, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ArmError(401, "InvalidAuthenticationToken", "The access token is invalid (signature verification failed).");
  }
  let claims: TokenClaims;
  try {
    claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as TokenClaims;
  } catch {
    throw new ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.");
  }
  const nowSeconds = Math.floor(nowMs / 1000);
  if (typeof claims.exp !== "number" || claims.exp < nowSeconds) {
    throw new ArmError(
      401,
      "ExpiredAuthenticationToken",
      `The access token expiry UTC time '${new Date((claims.exp ?? 0) * 1000).toISOString()}' is earlier than current UTC time '${new Date(nowMs).toISOString()}'.`,
    );
  }
  const aud = String(claims.aud ?? "").replace(/\/+$/, "").toLowerCase();
  if (!audiences.includes(aud)) {
    throw new ArmError(
      401,
      "InvalidAuthenticationTokenAudience",
      `The access token has been obtained for wrong audience or resource '${claims.aud}'. It should exactly match with one of the allowed audiences ${audiences.map((a) => `'${a}/'`).join(",")}.`,
    );
  }
  return claims;
}
