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

/** How the app reaches its storage account: by identity (in Azure) or by connection string (Azurite). */
export type StorageConnection =
  | { readonly accountName: string; readonly credential: TokenCredential }
  | { readonly connectionString: string };

/**
 * The storage connection from app settings, shared by the tables and the queue. The identity-based
 * form (AzureWebJobsStorage__accountName) wins, as it does for the Functions host. The dev-storage
 * default of AzureWebJobsStorage is deliberately not applied: a deployed app without a storage
 * setting should fail, not talk to localhost.
 */
export function storageConnectionFromSettings(source: SettingsSource, credential: TokenCredential | undefined, what: string): StorageConnection {
  const accountName = source["AzureWebJobsStorage__accountName"]?.trim();
  if (accountName) return { accountName, credential: credential ?? new DefaultAzureCredential() };
  const connectionString = source["AzureWebJobsStorage"]?.trim();
  if (connectionString) return { connectionString };
  throw new Error(
    `No storage connection configured${what}: set AzureWebJobsStorage__accountName (identity-based, in Azure) or ` +
      "AzureWebJobsStorage (a connection string; UseDevelopmentStorage=true for Azurite).",
  );
}
