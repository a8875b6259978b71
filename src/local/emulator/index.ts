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
 *   DELETE /requests                                   POST /seed {subscriptions?, resourceGroups?, principals?, roleDefinitions?, vms:[{id, body, simulation?}]}
 *   POST /vms/simulation {id, powerState?, agent?: {osName, osVersion}|null, outboundNetwork?}
 *   POST /reset   GET /snapshot   GET /events   GET/POST /eventSubscriptions {url, filter?}   DELETE /eventSubscriptions/{id}
 *   POST /eventDelivery {duplicate?, reorder?, paused?, maxAttempts?, initialBackoffMs?}   GET /deadLetters
 *   POST /faults {seed, rules: [{match?, status?, rate?, count?, retryAfterSeconds?, latencyMs?}], lroFailures?}   DELETE /faults
 *   PUT /limits {throttleScale?, pageSize?, lroDelayMs?, retryAfterSeconds?, principalReplicationDelayMs?}   GET /limits
 *
 * Chosen behaviours: resource events are raised when ARM accepts a write (the 200/201/202), not when its
 * LRO settles; LROs settle lazily when the next request arrives after `lroDelayMs`.
 */
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { handleAdminRequest } from "./admin-api.js";
import { handleArmRequest } from "./arm-pipeline.js";
import { createCertificate } from "./certificate.js";
import { EmulatorCore, type SeedInput, type VmSimulationInput } from "./emulator-core.js";
import type { DeadLetter, DeliveryOptions, EventFilter, EventSubscription } from "./event-delivery.js";
import type { FaultConfig } from "./faults.js";
import { handleIdentityRequest } from "./identity-endpoint.js";
import type { Json } from "./http-io.js";
import type { RequestLogEntry } from "./request-log.js";
import type { EventGridEvent } from "./resource-events.js";
import type { EmulatorLimits, EmulatorState, Principal, PrincipalType } from "./state.js";
import { ARM_AUDIENCES, DEFAULT_SIGNING_KEY } from "./tokens.js";

export type { EventGridEvent, EventFilter, EventSubscription, DeadLetter, DeliveryOptions, FaultConfig, RequestLogEntry, SeedInput, VmSimulationInput, EmulatorLimits, Principal, PrincipalType };
export { SUPPORTED_API_VERSIONS } from "./api-versions.js";
export { BUILT_IN_ROLES } from "./role-definitions.js";

/** Stable defaults, so MSAL's process-wide token cache stays valid across emulator instances. */
export const DEFAULT_TENANT_ID = "72f988bf-0000-4000-8000-00000000e1a0";
export const DEFAULT_MANAGED_IDENTITY = { principalId: "5c1e0b1a-0000-4000-8000-00000000e1a1", clientId: "5c1e0b1a-0000-4000-8000-00000000e1a2" } as const;

export interface ArmEmulatorOptions {
  readonly port?: number;
  readonly host?: string;
  readonly identityPort?: number;
  /** Where the CA PEM is written; default a fresh temp dir. */
  readonly stateDir?: string;
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
  readonly tenantId: string;
  readonly managedIdentity: { readonly principalId: string; readonly clientId: string };
  readonly state: EmulatorState;
  readonly limits: EmulatorLimits;
  addSubscription(id: string, displayName?: string): void;
  addResourceGroup(subscriptionId: string, name: string, location?: string, tags?: Record<string, string>): void;
  addPrincipal(principal: { id: string; type: PrincipalType; displayName?: string; upn?: string; appId?: string }): Principal;
  tokenFor(principalId: string): string;
  seed(input: SeedInput): void;
  setVmSimulation(input: VmSimulationInput): Json;
  requests(since?: number): { requests: RequestLogEntry[]; counts: { byOperation: Record<string, number>; byCaller: Record<string, number> }; lastSeq: number };
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
  const tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
  const managedIdentity = {
    principalId: options.managedIdentity?.principalId ?? DEFAULT_MANAGED_IDENTITY.principalId,
    clientId: options.managedIdentity?.clientId ?? DEFAULT_MANAGED_IDENTITY.clientId,
  };
  const limits: EmulatorLimits = {
    throttleScale: options.throttle === false ? false : (options.throttle?.scale ?? 1),
    pageSize: options.pageSize ?? 50,
    lroDelayMs: options.lroDelayMs ?? 50,
    retryAfterSeconds: options.retryAfterSeconds ?? 0,
    principalReplicationDelayMs: options.principalReplicationDelayMs ?? 0,
  };
  const core = new EmulatorCore(tenantId, limits, options.signingKey ?? DEFAULT_SIGNING_KEY, managedIdentity, { ...limits });
  const ownStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), "arm-emulator-")));
  const certificate = await createCertificate(stateDir);
  const identityHeader = options.identityHeader ?? randomUUID();

  const arm = createHttpsServer({ key: certificate.key, cert: certificate.cert }, (req, res) => {
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    const admin = /^\/admin(\/.*)?$/i.exec(pathname);
    const work = admin ? handleAdminRequest(core, req, res, admin[1] ?? "/") : handleArmRequest(core, req, res);
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
          return ARM_AUDIENCES.includes(aud) ? core.tokenFor(managedIdentity.principalId, `${resource.replace(/\/\.default$/, "").replace(/\/+$/, "")}/`) : undefined;
        },
      },
      req,
      res,
    ),
  );
  const armPort = await listen(arm, options.port ?? 0, host, "ARM emulator");
  let identityPort: number;
  try {
    identityPort = await listen(identity, options.identityPort ?? 0, host, "managed identity endpoint");
  } catch (error) {
    await new Promise((r) => arm.close(r));
    throw error;
  }
  const urlHost = host.includes(":") ? `[${host}]` : host;
  const armUrl = `https://${urlHost}:${armPort}`;
  core.baseUrl = armUrl;

  let closed: Promise<void> | undefined;
  return {
    armUrl,
    adminUrl: `${armUrl}/admin`,
    caFile: certificate.caFile,
    caPem: certificate.caPem,
    identityEndpoint: `http://${urlHost}:${identityPort}/msi/token`,
    identityHeader,
    tenantId,
    managedIdentity,
    state: core.state,
    limits: core.limits,
    addSubscription: (id, displayName) => core.addSubscription(id, displayName),
    addResourceGroup: (sub, name, location, tags) => core.addResourceGroup(sub, name, location, tags),
    addPrincipal: (p) => core.addPrincipal(p),
    tokenFor: (id) => core.tokenFor(id).token,
    seed: (input) => void core.seed(input),
    setVmSimulation: (input) => core.setVmSimulation(input),
    requests: (since) => core.log.read(since ?? 0),
    clearRequests: () => core.log.clear(),
    events: () => [...core.events],
    onEvent: (listener) => core.onEvent(listener),
    subscribeEvents: (url, filter) => core.subscribeEvents(url, filter),
    setEventDelivery: (o) => core.delivery.setOptions(o),
    deliveriesIdle: () => core.delivery.idle(),
    deadLetters: () => core.delivery.deadLettered(),
    setFaults: (config) => core.faults.set(config),
    clearFaults: () => core.faults.clear(),
    setLimits: (l) => core.setLimits(l),
    reset: () => core.reset(),
    snapshot: () => core.snapshot(),
    close: () => {
      closed ??= (async () => {
        await core.delivery.close();
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
