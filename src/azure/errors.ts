import { isRestError } from "@azure/core-rest-pipeline";
import type { ClassifiedError } from "../domain/outcome.js";

/**
 * The one place ARM failures are sorted into transient (the platform should retry the pass) and
 * terminal (record and stop). The SDK has already retried 429/5xx/connection errors by the time an
 * error reaches here, so a transient error means "try the whole pass again later".
 */
const TRANSIENT_CODES = new Set([
  // Directory replication: a principal created moments ago is not visible to ARM yet.
  "PrincipalNotFound",
  // Another operation on the VM is in progress (Compute serializes VM updates).
  "OperationNotAllowedWhileUpdating",
  "Conflict",
  "RetryableError",
  "PreconditionFailed",
  "TooManyRequests",
  "ServerTimeout",
  "InternalServerError",
  "ServiceUnavailable",
  "GatewayTimeout",
]);

const NETWORK_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "REQUEST_SEND_ERROR"]);

export function classifyArmError(error: unknown): ClassifiedError {
  if (isRestError(error)) {
    const code = armErrorCode(error) ?? (error.code ? String(error.code) : `Http${error.statusCode ?? "Error"}`);
    const message = armErrorMessage(error);
    const status = error.statusCode;
    const transient =
      status === undefined
        ? NETWORK_CODES.has(String(error.code))
        : status === 408 || status === 412 || status === 429 || status >= 500 || TRANSIENT_CODES.has(code);
    return { class: transient ? "transient" : "terminal", code, message, ...(status === undefined ? {} : { statusCode: status }) };
  }
  if (error instanceof Error) {
    // core-lro reports a failed long-running operation as a plain Error:
    // "The long-running operation has failed. <code>. <message>"
    const lro = /^The long-running operation has failed\. ([^.]+)\. ([\s\S]*)$/.exec(error.message);
    if (lro?.[1]) {
      const code = lro[1];
      return { class: TRANSIENT_CODES.has(code) ? "transient" : "terminal", code, message: lro[2] ?? error.message };
    }
    const netCode = (error as { code?: unknown }).code;
    if (typeof netCode === "string" && NETWORK_CODES.has(netCode)) {
      return { class: "transient", code: netCode, message: error.message };
    }
    return { class: "terminal", code: error.name || "Error", message: error.message };
  }
  return { class: "terminal", code: "Unknown", message: String(error) };
}

export function isNotFound(error: unknown): boolean {
  return isRestError(error) && error.statusCode === 404;
}


function armErrorCode(error: { details?: unknown; response?: { bodyAsText?: string | null } }): string | undefined {
  const body = errorBody(error);
  return typeof body?.code === "string" ? body.code : undefined;
}

function armErrorMessage(error: Error & { details?: unknown; response?: { bodyAsText?: string | null } }): string {
  const body = errorBody(error);
  return typeof body?.message === "string" ? body.message : error.message;
}

function errorBody(error: { details?: unknown; response?: { bodyAsText?: string | null } }): { code?: unknown; message?: unknown } | undefined {
  const details = error.details as { error?: { code?: unknown; message?: unknown } } | undefined;
  if (details?.error) return details.error;
  const text = error.response?.bodyAsText;
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    return parsed.error;
  } catch {
    return undefined;
  }
}
