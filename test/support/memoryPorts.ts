import type { Action } from "../../src/domain/action.js";
import { roleDefinitionId, LOGIN_ROLES } from "../../src/domain/roles.js";
import type { ObservedAssignment, ObservedVm } from "../../src/domain/vm.js";
import type { NetworkPath } from "../../src/domain/nsg.js";
import { loadEnforcerConfig } from "../../src/config/policy.js";
import { SUB } from "../domain/builders.js";
import { ArmFailure, type ArmPort, type AuditRun, type EstateSnapshot, type LogEntry, type LogEntryInput, type QueuePort, type ReconcileRequest, type StorePort, type VmListFilter, type VmPageOptions, type VmRecord, type VmTarget } from "../../src/orchestrator/ports.js";
import type { ReconcileDeps } from "../../src/orchestrator/reconcile.js";

/**
 * In-memory fakes of the orchestrator's ports, for fast table-driven tests of its branches (as CAPZ
 * tests its reconcilers against mocked getters). They keep the contract, not Azure's behaviour: the
 * same behaviours have end-to-end tests against the emulator. Operations the orchestrator starts
 * stay in flight until the test calls `finish`.
 */
export class MemoryArm implements ArmPort {
  readonly vms = new Map<string, ObservedVm>();
  readonly assignments: ObservedAssignment[] = [];
  readonly writes: string[] = [];
  /** Runs before each fresh tag read: a test changes the tags "while the pass runs" here. */
  beforeTagRead?: (vm: VmTarget) => void;
  /** Principals ARM does not know (yet): a grant to one fails with PrincipalNotFound, as ARM answers it. */
  readonly unknownPrincipals = new Set<string>();
  /** What the next extension install ends with when finished. */
  extensionOutcome: "Succeeded" | "Failed" = "Succeeded";
  private requests = 0;
  /** The network path each VM's preflight reads (by lower-case VM id); absent: the VM lists no NIC. */
  readonly networkPaths = new Map<string, NetworkPath>();

  put(vm: ObservedVm): void {
    this.vms.set(vm.id.toLowerCase(), vm);
  }
  vm(id: string): ObservedVm {
    const vm = this.vms.get(id.toLowerCase());
    if (!vm) throw new Error(`no VM ${id}`);
    return vm;
  }
  /** Ends whatever is in flight on the VM. */
  finish(id: string): void {
    const vm = this.vm(id);
    this.put({
      ...vm,
      provisioningState: "Succeeded",
      extensions: vm.extensions.map((e) => (e.provisioningState === "Creating" || e.provisioningState === "Updating" ? { ...e, provisioningState: this.extensionOutcome, statuses: this.extensionOutcome === "Failed" ? [{ code: "ProvisioningState/failed/1009", level: "Error", message: "Exit code: -2145648607" }] : [] } : e)),
    });
  }
  async getVm(vm: VmTarget) {
    this.requests++;
    return this.vms.get(vm.id.toLowerCase());
  }
  async getVmTags(vm: VmTarget) {
    this.requests++;
    this.beforeTagRead?.(vm);
    return this.vms.get(vm.id.toLowerCase())?.tags;
  }
  async listVmAssignments(vm: VmTarget) {
    this.requests++;
    return this.assignments.filter((a) => a.scope.toLowerCase() === vm.id.toLowerCase());
  }
  async readNetworkPath(vm: ObservedVm): Promise<NetworkPath> {
    const path = this.networkPaths.get(vm.id.toLowerCase());
    // One read per NIC, subnet and distinct group, as the adapter does.
    if (path) this.requests += path.nics.length + new Set(path.nics.flatMap((n) => [n.nsg?.id, n.subnetId, n.subnetNsg?.id].filter(Boolean))).size;
    return path ?? { nics: [], unreadable: [] };
  }
  async startEnableIdentity(vm: ObservedVm, action: Extract<Action, { kind: "enableIdentity" }>) {
    this.requests++;
    this.writes.push(`PATCH identity ${vm.name}`);
    const current = this.vm(vm.id);
    this.put({ ...current, provisioningState: "Updating", identity: { ...current.identity, type: action.identityType, principalId: "5e1f0000-0000-4000-8000-0000000000aa" } });
  }
  async startInstallExtension(vm: ObservedVm, action: Extract<Action, { kind: "installExtension" }>) {
    this.requests++;
    this.writes.push(`PUT extension ${vm.name}`);
    const current = this.vm(vm.id);
    const others = current.extensions.filter((e) => e.name !== action.extensionName);
    this.put({ ...current, extensions: [...others, { name: action.extensionName, publisher: action.publisher, type: action.type, typeHandlerVersion: action.typeHandlerVersion, provisioningState: "Creating", statuses: [], substatuses: [] }] });
  }
  async createAssignment(vm: VmTarget, action: Extract<Action, { kind: "createAssignment" }>) {
    this.requests++;
    this.writes.push(`PUT assignment ${action.role} ${action.principalId}`);
    if (this.unknownPrincipals.has(action.principalId.toLowerCase())) {
      throw new ArmFailure({ class: "transient", code: "PrincipalNotFound", statusCode: 400, message: `Principal ${action.principalId} does not exist in the directory.` });
    }
    this.assignments.push({ id: `${vm.id}/providers/Microsoft.Authorization/roleAssignments/${action.name}`, name: action.name, scope: vm.id, roleDefinitionId: roleDefinitionId(vm.subscriptionId, LOGIN_ROLES[action.role]), principalId: action.principalId, principalType: action.principalType, description: action.description });
    return "created" as const;
  }
  async deleteAssignment(_vm: VmTarget, action: Extract<Action, { kind: "deleteAssignment" }>) {
    this.requests++;
    this.writes.push(`DELETE assignment ${action.role} ${action.principalId}`);
    const i = this.assignments.findIndex((a) => a.name === action.name);
    if (i < 0) return "unchanged" as const;
    this.assignments.splice(i, 1);
    return "deleted" as const;
  }
  /** What the snapshot shows; a test makes it lag by changing `vms` after taking it, or refuses it. */
  snapshotRefusal?: ArmFailure;
  async snapshot(subscriptionIds: readonly string[]): Promise<EstateSnapshot> {
    this.requests++;
    if (this.snapshotRefusal) throw this.snapshotRefusal;
    const subs = new Set(subscriptionIds.map((s) => s.toLowerCase()));
    const inSubs = (id: string) => subs.has((id.split("/")[2] ?? "").toLowerCase());
    const vms = new Map([...this.vms].filter(([id]) => inSubs(id)).map(([id, vm]) => [id, { ...vm, extensions: vm.extensions.map((e) => ({ ...e, statuses: [], substatuses: [] })) }]));
    const assignments = new Map<string, ObservedAssignment[]>();
    const bySub: Record<string, number> = {};
    for (const a of this.assignments.filter((x) => inSubs(x.scope))) {
      assignments.set(a.scope.toLowerCase(), [...(assignments.get(a.scope.toLowerCase()) ?? []), a]);
      const sub = (a.scope.split("/")[2] ?? "").toLowerCase();
      bySub[sub] = (bySub[sub] ?? 0) + 1;
    }
    return { vms, assignments, loginAssignmentsBySubscription: bySub, requests: 1 };
  }
  async *listVmIds(): AsyncIterable<string> {
    for (const vm of this.vms.values()) yield vm.id;
  }
  requestCount(): number {
    return this.requests;
  }
  async metered<T>(work: (count: () => number) => Promise<T>): Promise<T> {
    const start = this.requests;
    return work(() => this.requests - start);
  }
  /** A failure for the next call of `method` (ArmFailure, as the adapter throws). */
  failNext(method: "createAssignment" | "startInstallExtension", code: string, transient: boolean): void {
    const original = this[method].bind(this) as (...args: never[]) => Promise<unknown>;
    (this as unknown as Record<string, unknown>)[method] = async () => {
      (this as unknown as Record<string, unknown>)[method] = original;
      this.requests++;
      throw new ArmFailure({ class: transient ? "transient" : "terminal", code, message: `${code} (injected)` });
    };
  }
}

export class MemoryStore implements StorePort {
  readonly rows = new Map<string, VmRecord>();
  readonly log: LogEntry[] = [];
  readonly leases = new Map<string, { holder: string; until: string }>();
  async getVm(vmId: string) {
    return this.rows.get(vmId.toLowerCase());
  }
  async updateVm(vmId: string, mutate: (current: VmRecord | undefined) => VmRecord) {
    const next = mutate(this.rows.get(vmId.toLowerCase()));
    this.rows.set(vmId.toLowerCase(), next);
    return next;
  }
  async listVms(filter: VmListFilter = {}) {
    return [...this.rows.values()].filter((r) =>
      (!filter.subscriptionId || r.subscriptionId === filter.subscriptionId.toLowerCase()) && (!filter.state || r.state === filter.state));
  }
  async listVmsPage(_filter: VmListFilter, options: VmPageOptions) {
    // The orchestrator never pages; a plain offset keeps the contract for callers that do.
    const start = options.continuationToken === undefined ? 0 : Number(options.continuationToken);
    const all = await this.listVms(_filter);
    const vms = all.slice(start, start + options.top);
    return start + options.top < all.length ? { vms, continuationToken: String(start + options.top) } : { vms };
  }
  async appendLog(entry: LogEntryInput) {
    const stored = { ...entry, id: String(this.log.length) };
    this.log.unshift(stored);
    return stored;
  }
  async listLog(vmId: string | undefined, limit = 50) {
    return this.log.filter((l) => (l.vmId ?? undefined)?.toLowerCase() === vmId?.toLowerCase()).slice(0, limit);
  }
  async acquireLease(vmId: string, holder: string, now: string, until: string) {
    const held = this.leases.get(vmId.toLowerCase());
    if (held && held.holder !== holder && held.until > now) return false;
    this.leases.set(vmId.toLowerCase(), { holder, until });
    return true;
  }
  async releaseLease(vmId: string, holder: string) {
    if (this.leases.get(vmId.toLowerCase())?.holder === holder) this.leases.delete(vmId.toLowerCase());
  }
  readonly auditRuns: AuditRun[] = [];
  async recordAuditRun(run: AuditRun) {
    this.auditRuns.unshift(run);
  }
  async listAuditRuns(limit = 20) {
    return this.auditRuns.slice(0, limit);
  }
}

export class MemoryQueue implements QueuePort {
  readonly sent: { request: ReconcileRequest; delayInMs: number }[] = [];
  async send(request: ReconcileRequest, options: { delayInMs?: number } = {}) {
    this.sent.push({ request, delayInMs: options.delayInMs ?? 0 });
  }
  /** When set, sendMany sends only this many and then fails as the queue adapter does (an error carrying `sent`). */
  failManyAfter?: number;
  async sendMany(requests: readonly ReconcileRequest[]) {
    const limit = this.failManyAfter ?? requests.length;
    for (const r of requests.slice(0, limit)) await this.send(r);
    if (limit < requests.length) throw Object.assign(new AggregateError([new Error("queue unavailable (injected)")], `Enqueued ${limit} of ${requests.length}`), { sent: limit });
    return requests.length;
  }
  /** Takes what was queued since the last call. */
  take() {
    return this.sent.splice(0, this.sent.length);
  }
}

export interface MemoryDeps extends ReconcileDeps {
  readonly arm: MemoryArm;
  readonly store: MemoryStore;
  readonly queue: MemoryQueue;
  /** Moves the fake clock on. */
  advance(ms: number): void;
}

export function memoryDeps(settings: Record<string, string> = {}, start = Date.parse("2026-12-01T10:00:00Z")): MemoryDeps {
  let now = start;
  return {
    arm: new MemoryArm(),
    store: new MemoryStore(),
    queue: new MemoryQueue(),
    config: loadEnforcerConfig({ ENFORCER_MODE: "enforce", WATCHED_SUBSCRIPTION_IDS: SUB, FOLLOW_UP_DELAY_MS: "15000", FOLLOW_UP_MAX_DELAY_MS: "120000", ...settings }),
    clock: () => new Date(now),
    advance: (ms) => {
      now += ms;
    },
  };
}
