import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import type { SettingsSource } from "../config/settings.js";

/**
 * Which table endpoint a connection string points at, and whether plain HTTP may be used for it.
 * The Tables SDK refuses http:// unless told otherwise; that permission is granted only for the local
 * emulator on the loopback interface, so a mistyped production connection string fails loudly
 * instead of sending account-key-signed requests in clear text. (The queue SDK has no such switch.)
 */
const DEV_TABLE_ENDPOINT = "http://127.0.0.1:10002/devstoreaccount1";

/** The table endpoint named by a connection string, or undefined when it only names an account. */
export function tableEndpointFromConnectionString(connectionString: string): string | undefined {
  const parts = new Map<string, string>();
  for (const element of connectionString.split(";")) {
    const eq = element.indexOf("=");
    if (eq > 0) parts.set(element.slice(0, eq).trim().toLowerCase(), element.slice(eq + 1).trim());
  }
  if (parts.get("usedevelopmentstorage")?.toLowerCase() === "true") return DEV_TABLE_ENDPOINT;
  return parts.get("tableendpoint");
}

export function isLoopbackHttp(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  return url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
}

/** The storage services the app itself talks to (the Functions host also uses blobs). */
export type StorageService = "table" | "queue";

/** How the app reaches one storage service: by identity (in Azure) or by connection string (Azurite). */
export type StorageConnection =
  | { readonly endpoint: string; readonly credential: TokenCredential }
  | { readonly accountName: string; readonly credential: TokenCredential }
  | { readonly connectionString: string };

/**
 * The storage connection from app settings, shared by the tables and the queue, read the way the
 * Functions host reads its identity-based AzureWebJobsStorage connection:
 *  1. `AzureWebJobsStorage__{table|queue}ServiceUri`: the service's endpoint, which carries the
 *     cloud's own storage suffix, so it works in every cloud (the infra sets these);
 *  2. `AzureWebJobsStorage__accountName`: public Azure only (the endpoint is derived with
 *     core.windows.net), kept for existing deployments;
 *  3. `AzureWebJobsStorage`: a connection string (Azurite locally).
 * Identity-based forms win over the connection string, as they do for the host. The dev-storage
 * default of AzureWebJobsStorage is deliberately not applied: a deployed app without a storage
 * setting should fail, not talk to localhost.
 */
export function storageConnectionFromSettings(
  source: SettingsSource,
  credential: TokenCredential | undefined,
  service: StorageService,
  what: string,
): StorageConnection {
  const uriSetting = `AzureWebJobsStorage__${service}ServiceUri`;
  const serviceUri = source[uriSetting]?.trim();
  if (serviceUri) {
    return { endpoint: checkedServiceUri(serviceUri, uriSetting, service), credential: credential ?? new DefaultAzureCredential() };
  }
  const accountName = source["AzureWebJobsStorage__accountName"]?.trim();
  if (accountName) return { accountName, credential: credential ?? new DefaultAzureCredential() };
  const connectionString = source["AzureWebJobsStorage"]?.trim();
  if (connectionString) return { connectionString };
  throw new Error(
    `No storage connection configured${what}: set ${uriSetting} (identity-based, any cloud; ` +
      "AzureWebJobsStorage__accountName also works in public Azure) or AzureWebJobsStorage " +
      "(a connection string; UseDevelopmentStorage=true for Azurite).",
  );
}

/**
 * A service URI must be https (identity tokens are never sent in clear text), except to the local
 * emulator on the loopback interface. Returned without a trailing slash.
 */
function checkedServiceUri(value: string, setting: string, service: StorageService): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${setting} must be a URL such as https://<account>.${service}.core.windows.net, got ${JSON.stringify(value.slice(0, 200))}.`);
  }
  if (url.protocol !== "https:" && !isLoopbackHttp(value)) {
    throw new Error(`${setting} must use https (got ${JSON.stringify(value.slice(0, 200))}); only the local emulator on 127.0.0.1/localhost may use http.`);
  }
  return value.replace(/\/+$/, "");
}
