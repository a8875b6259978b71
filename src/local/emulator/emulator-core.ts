import type { ArmRequest, HandlerContext, ResourceEventInput } from "./context.js";
import { ArmError, badRequest, notFound } from "./errors.js";
import { EventDelivery, type DeliveryTiming, type EventFilter, type EventSubscription } from "./event-delivery.js";
import { Faults } from "./faults.js";
import { GUID_PATTERN, isObject, type Json } from "./http-io.js";
import { LroTracker } from "./lro.js";
import { networkResourceFrom, renderNetworkResource } from "./network.js";
import { createOperationEffects } from "./operation-effects.js";
import { DeviceDirectory } from "./graph-devices.js";
import { guestOsFor, type GuestOs } from "./os-catalog.js";
import { RequestLog } from "./request-log.js";
import { recordArmWrite, REALISTIC_GRAPH_LAG_S, ResourceGraph } from "./resource-graph.js";
import { adminGrant } from "./role-assignments.js";
import { authorize } from "./authorization.js";
import { customPermissions } from "./role-definitions.js";
import { resourceEvent, type EventGridEvent } from "./resource-events.js";
import { isAtOrAbove } from "./scope.js";
import { EmulatorState, stableGuid, vmKey, type EmulatorLimits, type PowerState, type Principal, type PrincipalType, type RoleAssignmentRecord, type VmRecord } from "./state.js";
import { Throttle } from "./throttling.js";
import { ComputeThrottle } from "./compute-throttling.js";
import {
  EVENT_GRID_LATER_RETRY_S,
  EVENT_GRID_RESPONSE_TIMEOUT_S,
  EVENT_GRID_RETRY_SCHEDULE_S,
  EVENT_GRID_TTL_S,
  INSTANT_VIEW,
  Timing,
  type TimingSettings,
} from "./timing.js";
import { signToken, type TokenClaims } from "./tokens.js";
import { putVm as putVmHandler, renderVm, vmResourceId } from "./virtual-machines.js";

/** Azure CLI's public client id: what a human's ARM token carries as appid. */
const AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const TOKEN_LIFETIME_S = 3600 * 24;

export interface VmSimulationInput {
  readonly id: string;
  readonly powerState?: PowerState;
  readonly agent?: GuestOs | null;
  readonly outboundNetwork?: boolean;
  /** false: AADLoginForWindows "succeeds" without joining the directory (no device object appears). */
  readonly joins?: boolean;
}

export interface SeedInput {
  readonly subscriptions?: ReadonlyArray<{ id: string; displayName?: string }>;
  readonly resourceGroups?: ReadonlyArray<{ id: string; location?: string; tags?: Record<string, string> }>;
  readonly principals?: ReadonlyArray<{ id: string; type: PrincipalType; displayName?: string; upn?: string; appId?: string }>;
  readonly roleDefinitions?: ReadonlyArray<{ name: string; roleName: string; description?: string; permissions?: unknown[]; assignableScopes?: string[] }>;
  readonly vms?: ReadonlyArray<{ id: string; body: Json; simulation?: Omit<VmSimulationInput, "id"> }>;
  /** Network interfaces, security groups and subnets: `{id, location?, properties}` (see network.ts). */
  readonly network?: ReadonlyArray<unknown>;
  /** Grants, as POST /roleAssignments takes them (after the principals, role definitions and subscriptions above). */
  readonly roleAssignments?: ReadonlyArray<unknown>;
}

const VM_ID = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)$/i;
const UNDER_VM = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/virtualMachines\/([^/]+)(?:\/|$)/i;
const RG_ID = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)$/i;

/** What a state file needs to hear about: something changed (a VM by key, all VMs, or the rest). */
export interface ChangeSink {
  markCore(): void;
  markVm(key: string): void;
  markAllVms(): void;
  /** Writes now if anything changed (before a response goes out). */
  flush(): void;
  /** Writes soon (background changes: deliveries acknowledged, retries scheduled). */
  flushSoon(): void;
}

/** Everything one emulator instance holds, and the operations both the admin API and tests drive. */
export class EmulatorCore {
  readonly state: EmulatorState;
  readonly lro = new LroTracker(() => this.now());
  readonly throttle: Throttle;
  readonly faults = new Faults();
  /** Microsoft Graph's device objects and the Graph app roles granted (graph-devices.ts). */
  readonly directory = new DeviceDirectory();
  readonly log = new RequestLog();
  readonly delivery: EventDelivery;
  readonly timing: Timing;
  readonly events: EventGridEvent[] = [];
  readonly resourceGraph: ResourceGraph;
  readonly computeThrottle = new ComputeThrottle(() => this.limits.computeThrottleScale);
  private readonly listeners = new Set<(event: EventGridEvent) => void>();
  private seeding = false;
  /** Set when the state is persisted (stateDir + persist). */
  changes: ChangeSink | undefined;
  baseUrl = "";

  constructor(
    readonly tenantId: string,
    readonly limits: EmulatorLimits,
    readonly signingKey: string,
    readonly managedIdentity: { principalId: string; clientId: string },
    private readonly defaults: EmulatorLimits,
    private readonly timingDefaults: TimingSettings,
  ) {
    this.state = new EmulatorState(tenantId);
    this.timing = new Timing(timingDefaults);
    this.resourceGraph = new ResourceGraph(
      this.state,
      () => this.context([], undefined, true),
      () => this.limits.resourceGraphLagMs ?? (this.timing.realistic ? this.timing.scaledMs(REALISTIC_GRAPH_LAG_S) : 0),
    );
    // Resource Graph answers with the rows the caller may read: each row's `<type>/read` at its own id.
    this.resourceGraph.canRead = (principalId, resourceId) =>
      authorize(this.state, { principalId, action: readActionOf(resourceId), scope: resourceId }).allowed;
    this.throttle = new Throttle(limits.throttleScale);
    this.delivery = new EventDelivery(() => this.deliveryTiming(), () => this.now());
    this.delivery.onChange = () => {
      this.changes?.markCore();
      this.changes?.flushSoon();
    };
    this.lro.effects = createOperationEffects(this.state, this.directory, this.limits);
    this.directory.onChange = () => this.changes?.markCore();
    // A settlement reaches the file with the answer of the request that settled it, else within 200 ms:
    // one lost to a crash is harmless, the restored operation is past due and settles the same way at once.
    this.lro.onSettled = (op) => {
      if (!this.seeding) this.resourceGraph.recordVm(vmKey(op.target.subscriptionId, op.target.resourceGroup, op.target.vmName), this.now());
      this.changes?.markVm(vmKey(op.target.subscriptionId, op.target.resourceGroup, op.target.vmName));
      this.changes?.flushSoon();
    };
    // Seeded principals (and seeded VMs' identities) exist already: no replication window.
    this.state.replicationDelayMs = () => (this.seeding ? (this.timing.realistic ? 0 : undefined) : this.timing.replicationDelayMs());
    this.registerManagedIdentity();
  }

  /** Event Grid's timing under the profile in force. */
  private deliveryTiming(): DeliveryTiming {
    const timing = this.timing;
    if (!timing.realistic) {
      return { realistic: false, latencyMs: () => 0, responseTimeoutMs: () => EVENT_GRID_RESPONSE_TIMEOUT_S * 1000, retryDelayMs: () => 0, ttlMs: () => Infinity };
    }
    return {
      realistic: true,
      latencyMs: () => timing.draw("event-delivery-latency"),
      responseTimeoutMs: () => timing.scaledMs(EVENT_GRID_RESPONSE_TIMEOUT_S),
      retryDelayMs: (attemptsMade) => timing.scaledMs(EVENT_GRID_RETRY_SCHEDULE_S[attemptsMade - 1] ?? EVENT_GRID_LATER_RETRY_S),
      ttlMs: () => timing.scaledMs(EVENT_GRID_TTL_S),
    };
  }

  /** The timing profile in force. */
  timingSettings(): TimingSettings {
    return { ...this.timing.settings };
  }

  setTiming(input: unknown): TimingSettings {
    const next = this.timing.set(input);
    this.changes?.markCore();
    return { ...next };
  }

  /** Records what an ARM write touched, for the state file: the VM under the path, or everything else. */
  changedByRequest(method: string, path: string): void {
    if (method === "GET" || method === "HEAD") return;
    recordArmWrite(this.resourceGraph, method, path, this.now());
    if (!this.changes) return;
    const vm = UNDER_VM.exec(path);
    if (vm?.[1] && vm[2] && vm[3]) this.changes.markVm(vmKey(vm[1], vm[2], vm[3]));
    else if (method === "DELETE" && RG_ID.test(path)) this.changes.markAllVms();
    else this.changes.markCore();
  }

  /** Persists what changed (no-op without a state file). */
  flush(): void {
    this.changes?.flush();
  }

  now(): number {
    return Date.now();
  }

  private registerManagedIdentity(): void {
    this.seeding = true;
    try {
      this.state.addPrincipal(
        { id: this.managedIdentity.principalId, type: "ServicePrincipal", displayName: "aadlogin-enforcer (managed identity)", appId: this.managedIdentity.clientId },
        0,
      );
    } finally {
      this.seeding = false;
    }
  }

  addSubscription(id: string, displayName?: string): void {
    if (!GUID_PATTERN.test(id)) throw badRequest("InvalidSubscriptionId", `The subscription id '${id}' must be a GUID.`);
    this.state.addSubscription(id, displayName);
    this.changes?.markCore();
  }

  addResourceGroup(subscriptionId: string, name: string, location = "westus", tags: Record<string, string> = {}): void {
    if (!this.state.subscription(subscriptionId)) this.addSubscription(subscriptionId);
    this.state.putResourceGroup({ subscriptionId, name, location, tags });
    this.changes?.markCore();
  }

  addPrincipal(input: { id: string; type: PrincipalType; displayName?: string; upn?: string; appId?: string }): Principal {
    if (!GUID_PATTERN.test(input.id)) throw badRequest("InvalidPrincipalId", `The principal id '${input.id}' must be a GUID.`);
    if (!["User", "Group", "ServicePrincipal"].includes(input.type)) {
      throw badRequest("InvalidPrincipalType", `The principal type '${String(input.type)}' must be User, Group or ServicePrincipal.`);
    }
    this.changes?.markCore();
    return this.state.addPrincipal(
      {
        id: input.id,
        type: input.type,
        displayName: input.displayName ?? input.id,
        ...(input.upn ? { upn: input.upn } : {}),
        ...(input.type === "ServicePrincipal" ? { appId: input.appId ?? stableGuid(`app:${input.id}`) } : {}),
      },
      this.now(),
    );
  }

  /**
   * Puts network interfaces, security groups and subnets (replacing any with the same id): the
   * platform team's landing zone. Not an ARM write, so no event; the resource group is created if missing.
   */
  addNetwork(resources: readonly unknown[]): { network: number } {
    const parsed = resources.map(networkResourceFrom);
    for (const r of parsed) {
      const [, , sub = "", , rg = ""] = r.id.split("/");
      if (!this.state.resourceGroup(sub, rg)) this.addResourceGroup(sub, rg, r.location);
      this.state.network.set(r.id.toLowerCase(), r);
    }
    this.changes?.markCore();
    return { network: parsed.length };
  }

  /** The tenant admin's grant (POST {admin}/roleAssignments): validated, no RBAC check. */
  grant(input: unknown): { created: boolean; body: Json } {
    const result = adminGrant(this.state, input, this.now(), "tenant-admin");
    this.changes?.markCore();
    // Resource Graph shows the tenant admin's grants inside subscriptions as it shows any other
    // assignment (a query names subscriptions: one at the tenant root is in none of them).
    const id = (result.body as { id?: unknown }).id;
    if (typeof id === "string" && /^\/subscriptions\//i.test(id)) recordArmWrite(this.resourceGraph, "PUT", id, this.now());
    return result;
  }

  /** A bearer token acting as the principal; groups cannot sign in. */
  tokenFor(principalId: string, audience = "https://management.azure.com/"): { token: string; expiresOn: number } {
    const principal = this.state.principal(principalId);
    if (!principal) throw notFound("PrincipalNotFound", `Principal '${principalId}' is not registered; POST it to /admin/principals first.`);
    if (principal.type === "Group") throw badRequest("InvalidPrincipalType", "A group cannot obtain a token.");
    const iat = Math.floor(this.now() / 1000);
    const claims: TokenClaims = {
      aud: audience,
      iss: `https://sts.windows.net/${this.tenantId}/`,
      iat,
      nbf: iat,
      exp: iat + TOKEN_LIFETIME_S,
      oid: principal.id,
      appid: principal.type === "User" ? AZURE_CLI_APP_ID : (principal.appId ?? principal.id),
      tid: this.tenantId,
      idtyp: principal.type === "User" ? "user" : "app",
      ...(principal.type === "User" ? { upn: principal.upn ?? `${principal.id}@emulator.local`, name: principal.displayName } : {}),
      ver: "1.0",
    };
    return { token: signToken(claims, this.signingKey), expiresOn: claims.exp };
  }

  /**
   * Sets what a VM "is". For a VM that does not exist yet the setting is kept and applied when it is
   * created, so a machine can be created already deallocated (or with a silent agent) without a
   * window in which an event handler sees it otherwise.
   */
  setVmSimulation(input: VmSimulationInput): Json {
    const m = VM_ID.exec(typeof input.id === "string" ? input.id : "");
    const existing = m ? this.state.vm(m[1] ?? "", m[2] ?? "", m[3] ?? "") : undefined;
    if (input.powerState !== undefined && !["running", "deallocated", "stopped"].includes(input.powerState)) {
      throw badRequest("InvalidRequestContent", `powerState must be running, deallocated or stopped; got '${String(input.powerState)}'.`);
    }
    if (input.agent !== undefined && input.agent !== null && (!isObject(input.agent) || typeof input.agent.osName !== "string" || typeof input.agent.osVersion !== "string")) {
      throw badRequest("InvalidRequestContent", "agent must be null or {osName: string, osVersion: string}.");
    }
    const changes = {
      ...(input.powerState !== undefined ? { powerState: input.powerState } : {}),
      ...(input.agent !== undefined ? { agent: input.agent } : {}),
      ...(input.outboundNetwork !== undefined ? { outboundNetwork: input.outboundNetwork === true } : {}),
      ...(input.joins !== undefined ? { joins: input.joins === true } : {}),
    };
    if (!existing) {
      if (!m) throw notFound("ResourceNotFound", `No VM with id '${String(input.id)}'.`);
      const key = input.id.toLowerCase();
      this.state.pendingSimulations.set(key, { ...this.state.pendingSimulations.get(key), ...changes });
      this.changes?.markCore();
      return { id: input.id, pending: true, ...changes } as Json;
    }
    Object.assign(existing.simulation, changes);
    if (!this.seeding) this.resourceGraph.recordVm(vmKey(existing.subscriptionId, existing.resourceGroup, existing.name), this.now());
    this.changes?.markVm(vmKey(existing.subscriptionId, existing.resourceGroup, existing.name));
    return this.describeSimulation(existing);
  }

  describeSimulation(vm: VmRecord): Json {
    return {
      id: vmResourceId(vm),
      powerState: vm.simulation.powerState,
      agent: vm.simulation.agent === undefined ? guestOsFor(vm.properties) : vm.simulation.agent,
      outboundNetwork: vm.simulation.outboundNetwork,
      joins: vm.simulation.joins !== false,
    };
  }

  vmById(id: string): VmRecord {
    const m = VM_ID.exec(id);
    const vm = m ? this.state.vm(m[1] ?? "", m[2] ?? "", m[3] ?? "") : undefined;
    if (!vm) throw notFound("ResourceNotFound", `No VM with id '${id}'.`);
    return vm;
  }

  /** Loads ARM-shaped data without events (seeding is not an ARM write); VMs land Succeeded and running. */
  seed(raw: SeedInput | unknown): { subscriptions: number; resourceGroups: number; principals: number; vms: number } {
    if (!isObject(raw)) throw badRequest("InvalidRequestContent", "The seed must be a JSON object.");
    this.seeding = true;
    this.changes?.markAllVms();
    try {
      return this.seedNow(raw as SeedInput);
    } finally {
      this.seeding = false;
      // Seeded resources exist already: Resource Graph has them from the start, whatever its lag.
      for (const v of (raw as SeedInput).vms ?? []) {
        const m = VM_ID.exec(typeof v?.id === "string" ? v.id : "");
        if (m?.[1] && m[2] && m[3]) this.resourceGraph.recordVm(vmKey(m[1], m[2], m[3]), 0);
      }
    }
  }

  private seedNow(input: SeedInput): { subscriptions: number; resourceGroups: number; principals: number; vms: number } {
    for (const s of input.subscriptions ?? []) this.addSubscription(s.id, s.displayName);
    for (const p of input.principals ?? []) this.addPrincipal(p);
    for (const g of input.resourceGroups ?? []) {
      const m = RG_ID.exec(g.id);
      if (!m?.[1] || !m[2]) throw badRequest("InvalidRequestContent", `'${g.id}' is not a resource group id.`);
      this.addResourceGroup(m[1], m[2], g.location, g.tags);
    }
    for (const r of input.roleDefinitions ?? []) {
      if (!GUID_PATTERN.test(r.name)) throw badRequest("InvalidRequestContent", `Role definition name '${r.name}' must be a GUID.`);
      this.state.customRoles.set(r.name.toLowerCase(), {
        guid: r.name.toLowerCase(),
        roleName: r.roleName,
        type: "CustomRole",
        description: r.description ?? "",
        permissions: customPermissions(r.roleName, r.permissions),
        assignableScopes: r.assignableScopes ?? ["/"],
      });
    }
    for (const g of input.roleAssignments ?? []) this.grant(g);
    if (input.network !== undefined) {
      if (!Array.isArray(input.network)) throw badRequest("InvalidRequestContent", "network must be an array of {id, location?, properties}.");
      this.addNetwork(input.network);
    }
    const vms = input.vms ?? [];
    for (const v of vms) this.seedVm(v.id, v.body, v.simulation);
    return { subscriptions: input.subscriptions?.length ?? 0, resourceGroups: input.resourceGroups?.length ?? 0, principals: input.principals?.length ?? 0, vms: vms.length };
  }

  private seedVm(id: string, body: Json, simulation?: Omit<VmSimulationInput, "id">): void {
    const m = VM_ID.exec(id);
    if (!m?.[1] || !m[2] || !m[3]) throw badRequest("InvalidRequestContent", `'${id}' is not a virtual machine id.`);
    const [, sub, rg, name] = m;
    if (!isObject(body)) throw badRequest("InvalidRequestContent", `The body of VM '${id}' must be a JSON object.`);
    if (!this.state.resourceGroup(sub, rg)) this.addResourceGroup(sub, rg, String(body["location"] ?? "westus"));
    // Reuse the ARM PUT path so seeded VMs look exactly like created ones, then settle it silently
    // (instant, whatever the timing profile: seeded VMs exist already).
    const ctx = this.context([], undefined, true);
    const seedReq = {
      method: "PUT",
      path: id,
      query: new URLSearchParams(),
      headers: {},
      body: { ...body, location: body["location"] ?? "westus" },
      apiVersion: "2025-04-01",
      caller: { principal: this.state.principal(this.managedIdentity.principalId) as Principal, claims: {} as TokenClaims },
      correlationId: "seed",
      clientRequestId: "seed",
      clientIp: "127.0.0.1",
      url: id,
    } satisfies ArmRequest;
    const vm = this.putVmSilently(ctx, seedReq, sub, rg, name);
    this.lro.settleResource(vmResourceId(vm), this.now());
    // The GET example's `resources` lists installed extensions: seed them as succeeded.
    for (const r of Array.isArray(body["resources"]) ? body["resources"] : []) {
      if (!isObject(r) || typeof r["name"] !== "string" || !isObject(r["properties"])) continue;
      const { provisioningState: _p, instanceView: _i, ...properties } = r["properties"];
      vm.extensions.set(r["name"].toLowerCase(), {
        name: r["name"],
        location: String(r["location"] ?? vm.model["location"] ?? ""),
        ...(isObject(r["tags"]) ? { tags: r["tags"] as Record<string, string> } : {}),
        properties,
        provisioningState: "Succeeded",
      });
    }
    if (simulation) this.setVmSimulation({ id: vmResourceId(vm), ...simulation });
  }

  private putVmSilently(ctx: HandlerContext, req: ArmRequest, sub: string, rg: string, name: string): VmRecord {
    putVmHandler(ctx, req, sub, rg, name);
    return this.state.vm(sub, rg, name) as VmRecord;
  }

  /** The handler context for one ARM request; `events` collects what the request raised. */
  context(events: ResourceEventInput[], injectedLroFailure: ArmError | undefined, instant = false): HandlerContext {
    return {
      state: this.state,
      limits: this.limits,
      timing: instant ? INSTANT_VIEW : this.timing,
      lro: this.lro,
      resourceGraph: this.resourceGraph,
      computeThrottle: this.computeThrottle,
      baseUrl: this.baseUrl,
      now: () => this.now(),
      emit: (e) => events.push(e),
      ...(injectedLroFailure ? { injectedLroFailure } : {}),
    };
  }

  /** Raises the events of a successful ARM request, in order, to the log, in-process listeners and webhooks. */
  publish(inputs: ResourceEventInput[], req: ArmRequest, grantedBy?: RoleAssignmentRecord): void {
    // The evidence is the assignment that authorized the request, as ARM reports it.
    const granted = grantedBy ? this.state.roleDefinition(grantedBy.roleDefinitionGuid)?.roleName : undefined;
    for (const input of inputs) {
      const event = resourceEvent(input, req, this.tenantId, granted ?? this.evidenceRole(req.caller.principal.id, input.resourceUri), this.now());
      this.events.push(event);
      for (const listener of this.listeners) listener(event);
      this.delivery.publish(event);
    }
  }

  onEvent(listener: (event: EventGridEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  subscribeEvents(url: string, filter?: EventFilter): Promise<EventSubscription> {
    return this.delivery.subscribe(url, filter);
  }

  /** The role ARM names as evidence: the caller's assignment covering the resource, if any. */
  private evidenceRole(principalId: string, resourceUri: string): string {
    const assignment = [...this.state.roleAssignments.values()].find(
      (a) => a.principalId.toLowerCase() === principalId.toLowerCase() && isAtOrAbove(a.scope, resourceUri),
    );
    return assignment ? (this.state.roleDefinition(assignment.roleDefinitionGuid)?.roleName ?? "Owner") : "Subscription Admin";
  }

  setLimits(input: unknown): EmulatorLimits {
    if (!isObject(input)) throw badRequest("InvalidRequestContent", "Limits must be a JSON object.");
    const num = (k: string): number | undefined => {
      const v = input[k];
      if (v === undefined) return undefined;
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw badRequest("InvalidRequestContent", `'${k}' must be a non-negative number.`);
      return v;
    };
    if (input["throttleScale"] !== undefined) {
      const v = input["throttleScale"];
      if (v !== false && (typeof v !== "number" || v <= 0)) throw badRequest("InvalidRequestContent", "'throttleScale' must be a positive number or false.");
      this.limits.throttleScale = v as number | false;
      this.throttle.setScale(this.limits.throttleScale);
    }
    this.limits.pageSize = Math.max(1, Math.floor(num("pageSize") ?? this.limits.pageSize));
    this.limits.lroDelayMs = num("lroDelayMs") ?? this.limits.lroDelayMs;
    this.limits.retryAfterSeconds = num("retryAfterSeconds") ?? this.limits.retryAfterSeconds;
    this.limits.principalReplicationDelayMs = num("principalReplicationDelayMs") ?? this.limits.principalReplicationDelayMs;
    if (input["variablePageSizes"] !== undefined) {
      if (typeof input["variablePageSizes"] !== "boolean") throw badRequest("InvalidRequestContent", "'variablePageSizes' must be true or false.");
      this.limits.variablePageSizes = input["variablePageSizes"];
    }
    if (input["staleDeviceBlocksJoin"] !== undefined) {
      if (typeof input["staleDeviceBlocksJoin"] !== "boolean") throw badRequest("InvalidRequestContent", "'staleDeviceBlocksJoin' must be true or false.");
      this.limits.staleDeviceBlocksJoin = input["staleDeviceBlocksJoin"];
    }
    if (input["computeThrottleScale"] !== undefined) {
      const v = input["computeThrottleScale"];
      if (v !== false && (typeof v !== "number" || v <= 0)) throw badRequest("InvalidRequestContent", "'computeThrottleScale' must be a positive number or false.");
      this.limits.computeThrottleScale = v as number | false;
      this.computeThrottle.clear();
    }
    this.limits.roleAssignmentsPerSubscription = Math.floor(num("roleAssignmentsPerSubscription") ?? this.limits.roleAssignmentsPerSubscription);
    this.limits.resourceGraphQueriesPerWindow = Math.floor(num("resourceGraphQueriesPerWindow") ?? this.limits.resourceGraphQueriesPerWindow);
    this.limits.resourceGraphWindowMs = Math.max(1, num("resourceGraphWindowMs") ?? this.limits.resourceGraphWindowMs);
    // null returns the lag to the timing profile's default.
    if (input["resourceGraphLagMs"] === null) delete this.limits.resourceGraphLagMs;
    else {
      const lag = num("resourceGraphLagMs");
      if (lag !== undefined) this.limits.resourceGraphLagMs = lag;
    }
    if (input["resourceGraphQueriesPerWindow"] !== undefined || input["resourceGraphWindowMs"] !== undefined) this.resourceGraph.quota.clear();
    this.changes?.markCore();
    return { ...this.limits };
  }

  reset(): void {
    this.state.clear();
    this.lro.clear();
    this.resourceGraph.clear();
    this.computeThrottle.clear();
    this.throttle.clear();
    this.faults.clear();
    this.directory.clear();
    this.log.clear();
    this.delivery.reset();
    this.events.length = 0;
    delete this.limits.resourceGraphLagMs;
    Object.assign(this.limits, this.defaults);
    this.timing.replace(this.timingDefaults);
    this.throttle.setScale(this.limits.throttleScale);
    this.registerManagedIdentity();
    this.changes?.markAllVms();
  }

  snapshot(): Json {
    this.lro.settle(this.now());
    const ctx = this.context([], undefined);
    return {
      tenantId: this.tenantId,
      limits: { ...this.limits },
      timing: this.timingSettings(),
      subscriptions: [...this.state.subscriptions.values()],
      resourceGroups: [...this.state.resourceGroups.values()].map((g) => ({ id: `/subscriptions/${g.subscriptionId}/resourceGroups/${g.name}`, ...g })),
      principals: [...this.state.principals.values()],
      virtualMachines: [...this.state.vms.values()].map((vm) => ({ ...renderVm(ctx, vm, "instanceView"), simulation: this.describeSimulation(vm) })),
      roleAssignments: [...this.state.roleAssignments.values()],
      network: [...this.state.network.values()].map(renderNetworkResource),
      customRoleDefinitions: [...this.state.customRoles.values()],
      operations: this.lro.all().map(({ injectedFailure: _i, ...op }) => op),
      eventSubscriptions: this.delivery.list(),
      deadLetters: this.delivery.deadLettered(),
      events: this.events.length,
    };
  }
}

/** `/…/providers/Microsoft.Compute/virtualMachines/vm/extensions/x` → `Microsoft.Compute/virtualMachines/extensions/read`. */
export function readActionOf(resourceId: string): string {
  const at = resourceId.toLowerCase().lastIndexOf("/providers/");
  if (at < 0) return "Microsoft.Resources/subscriptions/resourceGroups/read";
  const [namespace, ...rest] = resourceId.slice(at + "/providers/".length).split("/");
  const types = rest.filter((_, i) => i % 2 === 0);
  return `${namespace}/${types.join("/")}/read`;
}
