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
