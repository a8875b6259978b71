/**
 * Local ARM emulator: the stand-in for Azure Resource Manager that the unchanged production clients
 * (@azure/arm-compute 24.1, @azure/arm-authorization 9, DefaultAzureCredential) run against.
 *
 * Client recipe (both SDKs build their pipeline with core-rest-pipeline, whose `tlsOptions` adds a
 * TLS policy with the emulator's CA; nothing weakens TLS globally):
 *
 *   const ca = emulator.caPem;                       // or readFileSync(emulator.caFile, "utf8")
 *   new ComputeManagementClient(credential, subscriptionId, {
 *     endpoint: emulator.armUrl, tlsOptions: { ca },
 *     credentials: { scopes: ["https://management.azure.com/.default"] },
 *   });
 *   new AuthorizationManagementClient(credential, subscriptionId, {
 *     endpoint: emulator.armUrl, tlsOptions: { ca },
 *     credentialScopes: ["https://management.azure.com/.default"],
 *   });
 *   // LROs: await client.virtualMachines.createOrUpdate(rg, vm, body, { updateIntervalInMs: 5 })
 *
 * Managed identity: set IDENTITY_ENDPOINT=emulator.identityEndpoint and IDENTITY_HEADER=emulator.identityHeader
 * before constructing DefaultAzureCredential / ManagedIdentityCredential (App Service source, what
 * Azure Functions uses). Tokens for other principals: emulator.tokenFor(id) or POST {admin}/tokens.
 *
 * Admin API (`{adminUrl}` = armUrl + "/admin", no bearer token):
 *   POST /subscriptions {id, displayName?}            POST /principals {id, type: User|Group|ServicePrincipal, displayName}
 *   POST /tokens {principalId} -> {access_token}      GET /requests[?since=seq] -> {requests, counts{byOperation,byCaller}, lastSeq}
 *   POST /roleAssignments {principalId, roleDefinitionId: guid|full id, scope, condition?, conditionVersion?, description?, name?} -> 201 (200 when it updated the same grant)
 *   DELETE /requests                                   POST /seed {subscriptions?, resourceGroups?, principals?, roleDefinitions?, roleAssignments?, vms:[{id, body, simulation?}]}
 *   POST /vms/simulation {id, powerState?, agent?: {osName, osVersion}|null, outboundNetwork?}
 *   POST /network {resources: [{id, location?, properties}]}: network interfaces, security groups, subnets (GET-only through ARM;
 *        rendered like the official examples, security groups with their six default rules; also `network` in POST /seed).
 *        The login extension fails (-2145648607 / Linux exit 20) when the VM's groups deny TCP 443 to Entra ID (entra-egress.ts)
 *        or when its simulation says outboundNetwork: false (a firewall, proxy or route outside the groups).
 *   POST /reset   GET /snapshot   GET /events   GET/POST /eventSubscriptions {url, filter?}   DELETE /eventSubscriptions/{id}
 *   POST /eventDelivery {duplicate?, reorder?, paused?, maxAttempts?, initialBackoffMs?}   GET /deadLetters
 *   POST /faults {seed, rules: [{match?, status?, rate?, count?, retryAfterSeconds?, latencyMs?}], lroFailures?}   DELETE /faults
 *   PUT /limits {throttleScale?, pageSize?, lroDelayMs?, retryAfterSeconds?, principalReplicationDelayMs?,
 *                variablePageSizes? (false), computeThrottleScale? (false), roleAssignmentsPerSubscription? (4000), staleDeviceBlocksJoin? (true), resourceGraphQueriesPerWindow?, resourceGraphWindowMs?, resourceGraphLagMs? (null: profile default)}   GET /limits
 *   PUT /timing {profile?: "instant"|"realistic", timeScale?, seed?}   GET /timing
 *   POST /graphRoles {principalId, roles: ["Device.Read.All", ...]}   GET/POST /devices {displayName, physicalIds?, ...}
 *
 * Microsoft Graph (graph-devices.ts): GET /v1.0/devices ($filter, ConsistencyLevel + $count, paging),
 * GET and DELETE /v1.0/devices/{id}, for tokens of audience https://graph.microsoft.com; the AADLoginForWindows
 * simulation creates the device object when its install succeeds (unless the VM's simulation says `joins: false`).
 *
 * Authorization (authorization.ts, abac-condition.ts): every ARM request is checked against the caller's role
 * assignments (actions/notActions with wildcards, scope inheritance, ABAC conditions on role-assignment
 * writes and deletes) before its handler runs; a principal holds no role until one is granted.
 * Chosen behaviours: resource events are raised when ARM accepts a write (the 200/201/202), not when its
 * LRO settles. LROs settle on a timer at their due time and, before any request is handled, lazily.
 * Timing (timing.ts): `instant` (default) ends every LRO after `lroDelayMs`; `realistic` draws Azure's
 * durations (scaled by `timeScale`, seeded), refuses a second write on a VM while one runs (409
 * OperationNotAllowed), delays role-assignment answers, keeps new principals unknown for a while and
 * delivers Event Grid with its latency, 30 s timeout and retry schedule.
 * Resource Graph (resource-graph.ts): POST /providers/Microsoft.ResourceGraph/resources runs a KQL subset
 * (kql.ts, kql-eval.ts) over a lagged history of VM, extension and role-assignment rows, with the per-user
 * query quota and paging; see the README's "Local Azure".
 * Persistence (persistence.ts): with `stateDir` + `persist`, the whole ARM state lives in
 * `<stateDir>/arm-emulator-state.json`, written before each answer; a new emulator on the same directory resumes.
 */
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { handleAdminRequest } from "./admin-api.js";
import { handleArmRequest } from "./arm-pipeline.js";
import { createCertificate } from "./certificate.js";
import { EmulatorCore, type SeedInput, type VmSimulationInput } from "./emulator-core.js";
import { readStateFile, restoreCore, stateFilePath, StatePersistence } from "./persistence.js";
import { DEFAULT_TIMING, validateTiming, type TimingProfile, type TimingSettings } from "./timing.js";
import type { DeadLetter, DeliveryOptions, EventFilter, EventSubscription } from "./event-delivery.js";
import type { FaultConfig } from "./faults.js";
import { handleIdentityRequest } from "./identity-endpoint.js";
import { GRAPH_AUDIENCE, handleGraphRequest, type DeviceRecord } from "./graph-devices.js";
import type { Json } from "./http-io.js";
import type { RequestLogEntry } from "./request-log.js";
import type { EventGridEvent } from "./resource-events.js";
import type { LroOperation } from "./lro.js";
import type { AdminRoleAssignmentInput } from "./role-assignments.js";
import type { EmulatorLimits, EmulatorState, Principal, PrincipalType } from "./state.js";
import { ARM_AUDIENCES, DEFAULT_SIGNING_KEY } from "./tokens.js";

/** A long-running operation as the emulator tracks it (what `operations()` lists). */
export type EmulatorOperation = Readonly<Omit<LroOperation, "injectedFailure">>;

export type { AdminRoleAssignmentInput };
export type { EventGridEvent, EventFilter, EventSubscription, DeadLetter, DeliveryOptions, FaultConfig, RequestLogEntry, SeedInput, VmSimulationInput, EmulatorLimits, Principal, PrincipalType, TimingProfile, TimingSettings };
export { REALISTIC_SECONDS, EVENT_GRID_RETRY_SCHEDULE_S, EVENT_GRID_RESPONSE_TIMEOUT_S } from "./timing.js";
export { STATE_FILE_NAME } from "./persistence.js";
export { SUPPORTED_API_VERSIONS } from "./api-versions.js";
export { BUILT_IN_ROLES } from "./role-definitions.js";

/** Stable defaults, so MSAL's process-wide token cache stays valid across emulator instances. */
export const DEFAULT_TENANT_ID = "72f988bf-0000-4000-8000-00000000e1a0";
export const DEFAULT_MANAGED_IDENTITY = { principalId: "5c1e0b1a-0000-4000-8000-00000000e1a1", clientId: "5c1e0b1a-0000-4000-8000-00000000e1a2" } as const;

export interface ArmEmulatorOptions {
  readonly port?: number;
  readonly host?: string;
  readonly identityPort?: number;
  /** Where the CA PEM (and, with `persist`, the state file) is written; default a fresh temp dir, removed on close. */
  readonly stateDir?: string;
  /**
   * Keep the whole ARM state in `<stateDir>/arm-emulator-state.json` (needs `stateDir`): written before
   * every answer that changed something; an emulator started on a directory that holds one resumes from it
   * (tenant, identities, CA, limits and timing come from the file, not from these options).
   */
  readonly persist?: boolean;
  /** How long Azure takes: `instant` (default, `lroDelayMs`) or `realistic` (Azure's durations × timeScale, seeded). */
  readonly timing?: { readonly profile?: TimingProfile; readonly timeScale?: number; readonly seed?: number };
  readonly tenantId?: string;
  /** Items per list page (nextLink beyond). Default 50. */
  readonly pageSize?: number;
  /** How long an LRO stays InProgress. Default 50 ms. */
  readonly lroDelayMs?: number;
  /** Retry-After on LRO responses; 0 (default) sends none so clients poll at their own interval. */
  readonly retryAfterSeconds?: number;
  /** ARM's bucket sizes and refill rates times `scale`; false disables throttling. Default scale 1. */
  readonly throttle?: { scale?: number } | false;
  readonly principalReplicationDelayMs?: number;
  /**
   * Resource Graph: queries per user per window (default 15 per 5,000 ms; 0 = no quota) and its lag behind
   * ARM (default: 0 under instant timing, 5 s × timeScale under realistic).
   */
  /** Pages of 1…pageSize items, as Compute sizes its own pages; default false (pageSize each). */
  readonly variablePageSizes?: boolean;
  /** Compute's read throttles (per VM and per subscription) times `scale`; default off (false). */
  readonly computeThrottle?: { scale?: number } | false;
  readonly resourceGraph?: { readonly queriesPerWindow?: number; readonly windowMs?: number; readonly lagMs?: number };
  readonly managedIdentity?: { principalId?: string; clientId?: string };
  readonly identityHeader?: string;
  readonly signingKey?: string;
}

export interface ArmEmulator {
  readonly armUrl: string;
  readonly adminUrl: string;
  readonly caFile: string;
  readonly caPem: string;
  readonly identityEndpoint: string;
  readonly identityHeader: string;
  /** Microsoft Graph's base URL on this emulator (same port and CA as ARM): `/v1.0/devices`. */
  readonly graphUrl: string;
  /** Grants Microsoft Graph application roles (e.g. Device.Read.All) to a principal, replacing what it had. */
  setGraphRoles(principalId: string, roles: readonly string[]): string[];
  /** The directory's device objects now. */
  devices(): DeviceRecord[];
  /** Adds a device object as an admin would find it in the directory (look-alikes for tests). */
  addDevice(device: Partial<DeviceRecord> & { displayName: string }): DeviceRecord;
  readonly tenantId: string;
  readonly managedIdentity: { readonly principalId: string; readonly clientId: string };
  readonly state: EmulatorState;
  readonly limits: EmulatorLimits;
  addSubscription(id: string, displayName?: string): void;
  addResourceGroup(subscriptionId: string, name: string, location?: string, tags?: Record<string, string>): void;
  addPrincipal(principal: { id: string; type: PrincipalType; displayName?: string; upn?: string; appId?: string }): Principal;
  tokenFor(principalId: string): string;
  /** What POST {admin}/roleAssignments does: a grant by the tenant admin, no RBAC check (validated; the same grant twice updates it). */
  addRoleAssignment(input: AdminRoleAssignmentInput): Json;
  seed(input: SeedInput): void;
  setVmSimulation(input: VmSimulationInput): Json;
  /** What POST {admin}/network does: puts network interfaces, security groups and subnets (`{id, location?, properties}`). */
  addNetwork(resources: readonly unknown[]): void;
  requests(since?: number): { requests: RequestLogEntry[]; counts: { byOperation: Record<string, number>; byCaller: Record<string, number> }; lastSeq: number; dropped: number };
  clearRequests(): void;
  /** Every resource event raised so far, in order. */
  events(): EventGridEvent[];
  onEvent(listener: (event: EventGridEvent) => void): () => void;
  subscribeEvents(url: string, filter?: EventFilter): Promise<EventSubscription>;
  setEventDelivery(options: Partial<DeliveryOptions>): DeliveryOptions;
  /** Resolves when every webhook queue is empty. */
  deliveriesIdle(): Promise<void>;
  deadLetters(): DeadLetter[];
  setFaults(config: FaultConfig): void;
  clearFaults(): void;
  setLimits(limits: Partial<EmulatorLimits>): EmulatorLimits;
  /** Every long-running operation so far (kind, resource, status, start, due and end times), oldest first. */
  operations(): EmulatorOperation[];
  /** The timing profile in force. */
  timing(): TimingSettings;
  /** Changes the timing profile (validated as PUT /timing); a given seed restarts the duration PRNG. */
  setTiming(timing: Partial<TimingSettings>): TimingSettings;
  /** The state file when persisting (undefined otherwise). */
  readonly stateFile: string | undefined;
  /** True when this emulator resumed from an existing state file. */
  readonly resumed: boolean;
  /** Writes the state file now, all of it (after editing `state` directly); no-op without `persist`. */
  saveState(): void;
  reset(): void;
  snapshot(): Json;
  close(): Promise<void>;
}

function listen(server: HttpServer | HttpsServer, port: number, host: string, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(
        new Error(
          error.code === "EADDRINUSE"
            ? `The ${what} port ${host}:${port} is already in use. Stop what is using it or pick another port (0 = any free port).`
            : `Could not start the ${what} on ${host}:${port}: ${error.message}`,
        ),
      );
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startArmEmulator(options: ArmEmulatorOptions = {}): Promise<ArmEmulator> {
  const host = options.host ?? "127.0.0.1";
  if (options.persist && options.stateDir === undefined) throw new Error("The ARM emulator's `persist` needs a `stateDir` to keep its state in.");
  let timingDefaults: TimingSettings;
  try {
    timingDefaults = validateTiming(options.timing ?? {}, DEFAULT_TIMING);
  } catch (error) {
    throw new Error(`Invalid ARM emulator timing: ${(error as Error).message}`);
  }
  const stateFile = options.persist && options.stateDir !== undefined ? stateFilePath(options.stateDir) : undefined;
  const saved = stateFile ? readStateFile(stateFile) : undefined;
  const tenantId = saved?.tenantId ?? options.tenantId ?? DEFAULT_TENANT_ID;
  const managedIdentity = {
    principalId: saved?.managedIdentity.principalId ?? options.managedIdentity?.principalId ?? DEFAULT_MANAGED_IDENTITY.principalId,
    clientId: saved?.managedIdentity.clientId ?? options.managedIdentity?.clientId ?? DEFAULT_MANAGED_IDENTITY.clientId,
  };
  const limits: EmulatorLimits = {
    throttleScale: options.throttle === false ? false : (options.throttle?.scale ?? 1),
    pageSize: options.pageSize ?? 50,
    lroDelayMs: options.lroDelayMs ?? 50,
    retryAfterSeconds: options.retryAfterSeconds ?? 0,
    principalReplicationDelayMs: options.principalReplicationDelayMs ?? 0,
    variablePageSizes: options.variablePageSizes ?? false,
    computeThrottleScale: options.computeThrottle === undefined || options.computeThrottle === false ? false : (options.computeThrottle.scale ?? 1),
    roleAssignmentsPerSubscription: 4000,
    staleDeviceBlocksJoin: true,
    resourceGraphQueriesPerWindow: options.resourceGraph?.queriesPerWindow ?? 15,
    resourceGraphWindowMs: options.resourceGraph?.windowMs ?? 5000,
    ...(options.resourceGraph?.lagMs !== undefined ? { resourceGraphLagMs: options.resourceGraph.lagMs } : {}),
  };
  const signingKey = saved?.signingKey ?? options.signingKey ?? DEFAULT_SIGNING_KEY;
  const core = new EmulatorCore(tenantId, limits, signingKey, managedIdentity, { ...limits }, timingDefaults);
  const ownStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), "arm-emulator-")));
  await mkdir(stateDir, { recursive: true });
  const certificate = await createCertificate(stateDir, saved?.ca);
  const identityHeader = saved?.identityHeader ?? options.identityHeader ?? randomUUID();
  let persistence: StatePersistence | undefined;
  if (stateFile) {
    if (saved) {
      restoreCore(core, saved);
      // What the file held existed before this process: Resource Graph has it from the start.
      core.resourceGraph.recordAll(0);
    }
    persistence = new StatePersistence(stateFile, core, {
      tenantId,
      signingKey,
      managedIdentity,
      identityHeader,
      ca: { certPem: certificate.caPem, keyPem: certificate.caKey },
    });
    core.changes = persistence;
    // At once: the CA key and identity are on disk before any client can trust them.
    persistence.flushAll();
  }
  const stop = async (): Promise<void> => {
    core.lro.stop();
    persistence?.stop();
    await core.delivery.close();
  };

  const arm = createHttpsServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    const admin = /^\/admin(\/.*)?$/i.exec(pathname);
    // Microsoft Graph's paths start with a version segment, never an ARM path: one port, one CA.
    const graph = /^\/v1\.0(\/|$)/i.test(pathname);
    const work = admin ? handleAdminRequest(core, req, res, admin[1] ?? "/") : graph ? handleGraphRequest(core, req, res) : handleArmRequest(core, req, res);
    work.catch((error: unknown) => {
      console.error("[arm-emulator]", error);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const identity = createHttpServer((req, res) =>
    handleIdentityRequest(
      {
        identityHeader,
        clientId: managedIdentity.clientId,
        issue: (resource) => {
          const aud = resource.replace(/\/\.default$/, "").replace(/\/+$/, "").toLowerCase();
          return ARM_AUDIENCES.includes(aud) || aud === GRAPH_AUDIENCE ? core.tokenFor(managedIdentity.principalId, `${resource.replace(/\/\.default$/, "").replace(/\/+$/, "")}/`) : undefined;
        },
      },
      req,
      res,
    ),
  );
  let armPort: number;
  try {
    armPort = await listen(arm, options.port ?? 0, host, "ARM emulator");
  } catch (error) {
    await stop();
    throw error;
  }
  let identityPort: number;
  try {
    identityPort = await listen(identity, options.identityPort ?? 0, host, "managed identity endpoint");
  } catch (error) {
    await new Promise((r) => arm.close(r));
    await stop();
    throw error;
  }
  const urlHost = host.includes(":") ? `[${host}]` : host;
  const armUrl = `https://${urlHost}:${armPort}`;
  core.baseUrl = armUrl;

  let closed: Promise<void> | undefined;
  /** Programmatic changes reach the state file like admin calls do: before the call returns. */
  function saving<T>(change: () => T): T {
    const result = change();
    core.flush();
    return result;
  }
  return {
    armUrl,
    adminUrl: `${armUrl}/admin`,
    caFile: certificate.caFile,
    caPem: certificate.caPem,
    identityEndpoint: `http://${urlHost}:${identityPort}/msi/token`,
    identityHeader,
    graphUrl: armUrl,
    setGraphRoles: (principalId, roles) => saving(() => core.directory.grant(principalId, roles)),
    devices: () => [...core.directory.devices.values()].map((d) => structuredClone(d)),
    addDevice: (device) => saving(() => core.directory.add(device, new Date(core.now()).toISOString())),
    tenantId,
    managedIdentity,
    state: core.state,
    limits: core.limits,
    addSubscription: (id, displayName) => saving(() => core.addSubscription(id, displayName)),
    addResourceGroup: (sub, name, location, tags) => saving(() => core.addResourceGroup(sub, name, location, tags)),
    addPrincipal: (p) => saving(() => core.addPrincipal(p)),
    tokenFor: (id) => core.tokenFor(id).token,
    addRoleAssignment: (input) => saving(() => core.grant(input).body),
    seed: (input) => saving(() => void core.seed(input)),
    setVmSimulation: (input) => saving(() => core.setVmSimulation(input)),
    addNetwork: (resources) => saving(() => void core.addNetwork(resources)),
    requests: (since) => core.log.read(since ?? 0),
    clearRequests: () => core.log.clear(),
    events: () => [...core.events],
    onEvent: (listener) => core.onEvent(listener),
    subscribeEvents: async (url, filter) => {
      const subscription = await core.subscribeEvents(url, filter);
      core.flush();
      return subscription;
    },
    setEventDelivery: (o) => saving(() => core.delivery.setOptions(o)),
    deliveriesIdle: () => core.delivery.idle(),
    deadLetters: () => core.delivery.deadLettered(),
    setFaults: (config) => core.faults.set(config),
    clearFaults: () => core.faults.clear(),
    setLimits: (l) => saving(() => core.setLimits(l)),
    operations: () => {
      core.lro.settle(core.now());
      return core.lro.all().map(({ injectedFailure: _i, ...op }) => structuredClone(op));
    },
    timing: () => core.timingSettings(),
    setTiming: (t) => saving(() => core.setTiming(t)),
    stateFile,
    resumed: saved !== undefined,
    saveState: () => persistence?.flushAll(),
    reset: () => saving(() => core.reset()),
    snapshot: () => core.snapshot(),
    close: () => {
      closed ??= (async () => {
        // A normal close writes what is still pending (a crash would not: the request path already did).
        persistence?.flush();
        await stop();
        for (const server of [arm, identity]) {
          server.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        }
        if (ownStateDir) await rm(stateDir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}
