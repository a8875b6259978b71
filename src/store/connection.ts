/**
 * Which storage endpoint a connection string points at, and whether plain HTTP may be used for it.
 * The Azure SDKs refuse http:// unless told otherwise; that permission is granted only for the local
 * emulator on the loopback interface, so a mistyped production connection string fails loudly
 * instead of sending account keys in clear text.
 */
export type StorageService = "table" | "queue";

const DEV_ENDPOINTS: Record<StorageService, string> = {
  table: "http://127.0.0.1:10002/devstoreaccount1",
  queue: "http://127.0.0.1:10001/devstoreaccount1",
};

/** The service endpoint named by a connection string, or undefined when it only names an account. */
export function endpointFromConnectionString(connectionString: string, service: StorageService): string | undefined {
  const parts = parseConnectionString(connectionString);
  if (parts.get("usedevelopmentstorage")?.toLowerCase() === "true") return DEV_ENDPOINTS[service];
  return parts.get(service === "table" ? "tableendpoint" : "queueendpoint");
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

function parseConnectionString(connectionString: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const element of connectionString.split(";")) {
    const eq = element.indexOf("=");
    if (eq <= 0) continue;
    parts.set(element.slice(0, eq).trim().toLowerCase(), element.slice(eq + 1).trim());
  }
  return parts;
}
