import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { EmulatorCore } from "./emulator-core.js";
import { ArmError } from "./errors.js";
import { isObject, readBody, sendJson } from "./http-io.js";
import { verifyToken } from "./tokens.js";

/**
 * The few Microsoft Graph device calls the enforcer makes, served by the emulator on its own HTTPS
 * port (same CA) under `/v1.0/`, with tokens of its own issuer for the audience
 * `https://graph.microsoft.com`. Contracts (Microsoft Learn, Graph v1.0 "List devices", "Get device",
 * "Delete device", "Advanced query capabilities on Microsoft Entra ID objects", "device resource type"):
 * - `GET /v1.0/devices?$filter=...`: `physicalIds/any(p:p eq '...')` is an advanced query, refused
 *   with 400 unless `ConsistencyLevel: eventual` and `$count=true` come with it; `displayName eq` and
 *   `deviceId eq` work without. Anything else: 400 `Request_UnsupportedQuery` (the emulator parses
 *   only these forms, strictly). Pages by `$top` (default 100, at most 999) and `@odata.nextLink`.
 * - `GET /v1.0/devices/{id}`: 200 or 404 `Request_ResourceNotFound`.
 * - `DELETE /v1.0/devices/{id}`: 204 or 404 `Request_ResourceNotFound`.
 * - Permissions (application): reading needs Device.Read.All (or Device.ReadWrite.All, Directory.*);
 *   deleting needs Device.ReadWrite.All. Refused: 403 `Authorization_RequestDenied`.
 * Simplification: real Graph reads app roles from the token's `roles` claim (a new grant shows after
 * the next token); the emulator looks the caller's granted roles up per request (`graphRoles`).
 * Devices, the granted roles and which VM instance joined as which device are part of the state file
 * (persistence.ts): a tenant's directory outlives the emulator process, as Entra ID outlives our host.
 */

export const GRAPH_AUDIENCE = "https://graph.microsoft.com";
const READ_ROLES = ["Device.Read.All", "Device.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
const WRITE_ROLES = ["Device.ReadWrite.All"];
const DEFAULT_TOP = 100;
const MAX_TOP = 999;

/** A device object as Graph v1.0 returns it for a Microsoft Entra joined VM (the fields the emulator keeps). */
export interface DeviceRecord {
  readonly id: string;
  readonly deviceId: string;
  readonly displayName: string;
  readonly operatingSystem: string;
  readonly operatingSystemVersion: string;
  readonly trustType: string;
  readonly physicalIds: readonly string[];
  readonly accountEnabled: boolean;
  readonly approximateLastSignInDateTime: string | null;
  readonly registrationDateTime: string;
  readonly createdDateTime: string;
  readonly profileType: string;
  readonly isManaged: boolean | null;
  readonly isCompliant: boolean | null;
  readonly deviceOwnership: string | null;
  readonly enrollmentType: string | null;
}

/** What a state file keeps of the directory (persistence.ts). */
export interface DirectoryState {
  readonly devices: DeviceRecord[];
  readonly graphRoles: Array<[string, string[]]>;
  readonly joinedBy: Array<[string, string]>;
}

/** The directory's devices and the Graph app roles granted to principals. */
export class DeviceDirectory {
  /** Told of every change (the state file marks itself dirty). */
  onChange: (() => void) | undefined;
  readonly devices = new Map<string, DeviceRecord>();
  /** Principal id (lower case) → Graph application roles granted to it. */
  readonly graphRoles = new Map<string, Set<string>>();
  /** VM instance (ARM's `vmId`, new for every VM created) → the device object its join created. */
  readonly joinedBy = new Map<string, string>();

  add(input: Partial<DeviceRecord> & { displayName: string }, nowIso: string): DeviceRecord {
    const device: DeviceRecord = {
      id: input.id ?? randomUUID(),
      deviceId: input.deviceId ?? randomUUID(),
      displayName: input.displayName,
      operatingSystem: input.operatingSystem ?? "Windows",
      operatingSystemVersion: input.operatingSystemVersion ?? "10.0.20348.2340",
      trustType: input.trustType ?? "AzureAd",
      physicalIds: input.physicalIds ?? [],
      accountEnabled: input.accountEnabled ?? true,
      approximateLastSignInDateTime: input.approximateLastSignInDateTime ?? nowIso,
      registrationDateTime: input.registrationDateTime ?? nowIso,
      createdDateTime: input.createdDateTime ?? nowIso,
      profileType: input.profileType ?? "RegisteredDevice",
      isManaged: input.isManaged ?? null,
      isCompliant: input.isCompliant ?? null,
      deviceOwnership: input.deviceOwnership ?? "Company",
      enrollmentType: input.enrollmentType ?? null,
    };
    this.devices.set(device.id.toLowerCase(), device);
    this.onChange?.();
    return device;
  }

  /** Deletes a device object; false when there was none. */
  remove(id: string): boolean {
    const removed = this.devices.delete(id.toLowerCase());
    if (removed) this.onChange?.();
    return removed;
  }

  /** Remembers which device a VM instance's join created. */
  recordJoin(vmInstanceId: string, deviceId: string): void {
    this.joinedBy.set(vmInstanceId.toLowerCase(), deviceId);
    this.onChange?.();
  }

  grant(principalId: string, roles: readonly string[]): string[] {
    const set = new Set(roles);
    this.graphRoles.set(principalId.toLowerCase(), set);
    this.onChange?.();
    return [...set];
  }

  rolesOf(principalId: string): ReadonlySet<string> {
    return this.graphRoles.get(principalId.toLowerCase()) ?? new Set();
  }

  /** The device a VM instance joined with, while it exists: a reinstall on the same VM keeps it. */
  joinedDevice(vmInstanceId: string): DeviceRecord | undefined {
    const id = this.joinedBy.get(vmInstanceId.toLowerCase());
    return id ? this.devices.get(id.toLowerCase()) : undefined;
  }

  /**
   * A device named `displayName` that a join of another VM instance created, that VM being gone: what a
   * deleted VM leaves in Entra ID. Devices an admin made (look-alikes) and live VMs' devices do not count:
   * Entra ID itself lets device display names repeat (public cleanup scripts handle several devices of one
   * name), so the emulator models only the reported case, a new VM taking a deleted VM's name.
   */
  staleNamesake(displayName: string, vmInstanceId: string, liveVmInstanceIds: ReadonlySet<string>): DeviceRecord | undefined {
    const name = displayName.toLowerCase();
    for (const [instance, deviceId] of this.joinedBy) {
      if (instance === vmInstanceId.toLowerCase() || liveVmInstanceIds.has(instance)) continue;
      const device = this.devices.get(deviceId.toLowerCase());
      if (device && device.displayName.toLowerCase() === name) return device;
    }
    return undefined;
  }

  clear(): void {
    this.joinedBy.clear();
    this.devices.clear();
    this.graphRoles.clear();
    this.onChange?.();
  }

  exportState(): DirectoryState {
    return {
      devices: [...this.devices.values()],
      graphRoles: [...this.graphRoles].map(([principal, roles]) => [principal, [...roles]]),
      joinedBy: [...this.joinedBy],
    };
  }

  /** Replaces the directory with a state file's (absent in files older than the Graph emulation: empty). */
  restore(saved: Partial<DirectoryState> | undefined): void {
    this.joinedBy.clear();
    this.devices.clear();
    this.graphRoles.clear();
    const list = <T>(value: readonly T[] | undefined): readonly T[] => (Array.isArray(value) ? value : []);
    for (const d of list(saved?.devices)) this.devices.set(d.id.toLowerCase(), d);
    for (const [principal, roles] of list(saved?.graphRoles)) this.graphRoles.set(principal.toLowerCase(), new Set(roles));
    for (const [vm, device] of list(saved?.joinedBy)) this.joinedBy.set(vm.toLowerCase(), device);
  }
}

/** Graph's error body: `{error: {code, message, innerError: {date, request-id, client-request-id}}}`. */
class GraphError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

type Filter = { kind: "physicalId" | "displayName" | "deviceId"; value: string };

/** The $filter forms served; anything else is refused as Graph refuses what it cannot evaluate. */
export function parseDeviceFilter(raw: string): Filter {
  const literal = "'((?:[^']|'')*)'";
  const any = new RegExp(`^physicalIds/any\\(\\s*(\\w+)\\s*:\\s*(\\w+)\\s+eq\\s+${literal}\\s*\\)$`, "i").exec(raw.trim());
  if (any && any[1] === any[2]) return { kind: "physicalId", value: (any[3] ?? "").replace(/''/g, "'") };
  const eq = new RegExp(`^(displayName|deviceId)\\s+eq\\s+${literal}$`, "i").exec(raw.trim());
  if (eq) return { kind: eq[1]?.toLowerCase() === "deviceid" ? "deviceId" : "displayName", value: (eq[2] ?? "").replace(/''/g, "'") };
  throw new GraphError(400, "Request_UnsupportedQuery", `Unsupported or invalid query filter clause specified for property of resource 'Device': ${raw.slice(0, 200)}`);
}

function render(device: DeviceRecord, select: readonly string[] | undefined): Record<string, unknown> {
  const all: Record<string, unknown> = { "@odata.type": "#microsoft.graph.device", ...device };
  if (!select) return all;
  const out: Record<string, unknown> = { id: device.id };
  for (const key of select) if (key in all) out[key] = all[key];
  return out;
}

/** One Graph request: authentication, app-role check, injected faults, the handler, the request log. */
export async function handleGraphRequest(core: EmulatorCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = (req.method ?? "GET").toUpperCase();
  const url = new URL(req.url ?? "/", "https://127.0.0.1");
  const path = url.pathname.replace(/\/+$/, "");
  const requestId = randomUUID();
  const clientRequestId = String(req.headers["client-request-id"] ?? randomUUID());
  let caller: string | undefined;
  let operation = "Microsoft.Graph/unknown";
  const now = core.now();
  const log = (status: number): void => core.log.add({ time: new Date(core.now()).toISOString(), method, path, operation, status, ...(caller ? { caller } : {}), correlationId: requestId });
  const headers = { "request-id": requestId, "client-request-id": clientRequestId };
  try {
    await readBody(req);
    core.lro.settle(now);
    let claims;
    try {
      claims = verifyToken(req.headers.authorization, core.signingKey, now, [GRAPH_AUDIENCE]);
    } catch (error) {
      throw new GraphError(401, "InvalidAuthenticationToken", (error as ArmError).message);
    }
    caller = claims.oid;
    const one = /^\/v1\.0\/devices\/([^/]+)$/i.exec(path);
    const list = /^\/v1\.0\/devices$/i.test(path);
    if (!one && !list) throw new GraphError(400, "BadRequest", `Resource not found for the segment '${path.split("/").pop() ?? ""}'. The emulator serves /v1.0/devices only.`);
    if (method === "DELETE" && one) operation = "Microsoft.Graph/devices/delete";
    else if (method === "GET") operation = "Microsoft.Graph/devices/read";
    else throw new GraphError(405, "Request_BadRequest", `Method ${method} is not served on ${path}.`);

    const roles = core.directory.rolesOf(claims.oid);
    const needed = operation.endsWith("/delete") ? WRITE_ROLES : READ_ROLES;
    if (!needed.some((r) => roles.has(r))) throw new GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");

    const fault = core.faults.decide(method, path, operation);
    if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.status === "reset") {
      log(0);
      req.socket.destroy();
      return;
    }
    if (fault.status === 429) throw new GraphError(429, "TooManyRequests", "Too many requests. Please retry again later.", fault.retryAfterSeconds !== undefined ? { "Retry-After": String(fault.retryAfterSeconds) } : {});
    if (fault.status !== undefined) throw new GraphError(fault.status, fault.status === 503 ? "serviceNotAvailable" : "generalException", "The service is unavailable (injected fault).");

    if (one) {
      const id = decodeURIComponent(one[1] ?? "");
      const device = core.directory.devices.get(id.toLowerCase());
      if (!device) throw new GraphError(404, "Request_ResourceNotFound", `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
      if (method === "DELETE") {
        core.directory.remove(id);
        // As an ARM write: on disk before the answer goes out.
        core.flush();
        res.writeHead(204, headers).end();
        log(204);
        return;
      }
      sendJson(res, 200, { "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#devices/$entity", ...render(device, selectOf(url)) }, headers);
      log(200);
      return;
    }

    const rawFilter = url.searchParams.get("$filter");
    const filter = rawFilter === null ? undefined : parseDeviceFilter(rawFilter);
    const advanced = String(req.headers["consistencylevel"] ?? "").toLowerCase() === "eventual" && url.searchParams.get("$count") === "true";
    if (filter?.kind === "physicalId" && !advanced) {
      // Graph answers an advanced-only filter sent without the advanced query parameters with 400.
      throw new GraphError(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property 'physicalIds' of resource 'Device'.");
    }
    const topRaw = url.searchParams.get("$top");
    const top = topRaw === null ? DEFAULT_TOP : Number(topRaw);
    if (!Number.isInteger(top) || top < 1 || top > MAX_TOP) throw new GraphError(400, "Request_BadRequest", `Invalid page size specified: '${topRaw}'. Must be between 1 and ${MAX_TOP} inclusive.`);
    const skip = Number(url.searchParams.get("$skiptoken") ?? 0) || 0;
    const matches = [...core.directory.devices.values()].filter((d) => {
      if (!filter) return true;
      const want = filter.value.toLowerCase();
      if (filter.kind === "physicalId") return d.physicalIds.some((p) => p.toLowerCase() === want);
      if (filter.kind === "deviceId") return d.deviceId.toLowerCase() === want;
      return d.displayName.toLowerCase() === want;
    });
    const page = matches.slice(skip, skip + top);
    const next = skip + top < matches.length ? new URL(url.pathname + url.search, core.baseUrl) : undefined;
    next?.searchParams.set("$skiptoken", String(skip + top));
    sendJson(
      res,
      200,
      {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#devices",
        ...(url.searchParams.get("$count") === "true" ? { "@odata.count": matches.length } : {}),
        ...(next ? { "@odata.nextLink": next.toString() } : {}),
        value: page.map((d) => render(d, selectOf(url))),
      },
      headers,
    );
    log(200);
  } catch (error) {
    const e = error instanceof GraphError ? error : new GraphError(500, "generalException", `The emulator failed: ${(error as Error).message}`);
    if (!(error instanceof GraphError)) console.error("[graph-emulator]", error);
    sendJson(res, e.status, { error: { code: e.code, message: e.message, innerError: { date: new Date(now).toISOString().slice(0, 19), "request-id": requestId, "client-request-id": clientRequestId } } }, { ...headers, ...e.headers });
    log(e.status);
  }
}

function selectOf(url: URL): string[] | undefined {
  const raw = url.searchParams.get("$select");
  return raw ? raw.split(",").map((s) => s.trim()).filter(Boolean) : undefined;
}

/** Admin input for a device (tests seed look-alikes: the same display name under another id). */
export function deviceInput(body: unknown): Partial<DeviceRecord> & { displayName: string } {
  if (!isObject(body) || typeof body["displayName"] !== "string" || body["displayName"] === "") {
    throw new ArmError(400, "InvalidRequestContent", "A device needs a displayName (string); id, deviceId, physicalIds and the other device fields are optional.");
  }
  if (body["physicalIds"] !== undefined && (!Array.isArray(body["physicalIds"]) || body["physicalIds"].some((p) => typeof p !== "string"))) {
    throw new ArmError(400, "InvalidRequestContent", "physicalIds must be an array of strings.");
  }
  return body as unknown as Partial<DeviceRecord> & { displayName: string };
}
