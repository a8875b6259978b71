import { COMPLIANCE_STATES, type ComplianceState } from "../../domain/outcome.js";
import { tryParseVmId, vmTarget } from "../../domain/resourceId.js";
import { explainVm, type Explanation } from "../../orchestrator/explain.js";
import { COMPLIANCE_PAGE_SIZE, vmFilter } from "../../orchestrator/httpApi.js";
import { ArmFailure, type AuditRun, type LogEntry, type VmRecord } from "../../orchestrator/ports.js";
import type { ReconcileDeps } from "../../orchestrator/reconcile.js";

/**
 * What the dashboard shows, read from the same store queries as the compliance API (and, for one
 * VM, from the same observe-and-plan as `explain`). Rendering is elsewhere and pure.
 */

/** The enforcer has no directory (Graph) permission, so principals are shown by object id. */
export type DashboardDeps = Pick<ReconcileDeps, "store" | "arm" | "config" | "clock">;

export const SORT_KEYS = ["name", "state", "subscription", "reason", "updated"] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** Rows a table page holds when `top` is not given, and the most it may hold: as the compliance API's pages. */
export const DASHBOARD_PAGE_SIZE = COMPLIANCE_PAGE_SIZE;
/** A grant whose expiry is this close is highlighted as expiring. */
export const EXPIRING_WITHIN_MS = 24 * 60 * 60 * 1000;

export interface TableQuery {
  readonly state?: ComplianceState;
  readonly subscription?: string;
  readonly q: string;
  readonly sort: SortKey;
  readonly dir: "asc" | "desc";
  readonly page: number;
  readonly top: number;
}

export interface SubscriptionSummary {
  readonly subscriptionId: string;
  readonly total: number;
  readonly counts: Readonly<Record<ComplianceState, number>>;
  /** Compliant or remediated, of the VMs the enforcer is responsible for (not ineligible, exempt or gone); undefined when none. */
  readonly compliantShare?: number;
}

export interface OverviewModel {
  readonly now: Date;
  readonly mode: "enforce" | "report";
  readonly code?: string;
  readonly query: TableQuery;
  readonly summaries: readonly SubscriptionSummary[];
  readonly rows: readonly VmRecord[];
  /** VMs matching the filter, over all pages. */
  readonly matched: number;
  readonly total: number;
  readonly audits: readonly AuditRun[];
}

export interface GrantView {
  readonly role: string;
  readonly principalId: string;
  readonly principalType?: string;
  readonly expiresAt?: string;
  /** Who wrote the tag that asked for it, from the log of the pass that created it. */
  readonly requestedBy?: string;
  readonly grantedAt?: string;
}

export interface VmModel {
  readonly now: Date;
  readonly mode: "enforce" | "report";
  readonly code?: string;
  readonly vmId: string;
  readonly record?: VmRecord;
  readonly log: readonly LogEntry[];
  readonly grants: readonly GrantView[];
  readonly explanation?: Explanation;
  /** Why there is no explanation (ARM unreachable, the VM is gone). */
  readonly explanationNote?: string;
}

export type Loaded<T> = { readonly model: T } | { readonly error: string; readonly status: 400 | 404 };

const LOG_LIMIT = 100;
const AUDIT_LIMIT = 10;

/** The query parameters of the overview, checked; errors name the value and the expected form. */
export function tableQuery(params: URLSearchParams): TableQuery | { error: string } {
  const filter = vmFilter(params);
  if ("error" in filter) return filter;
  const sort = params.get("sort") || "name";
  if (!SORT_KEYS.includes(sort as SortKey)) return { error: `sort "${sort.slice(0, 30)}" is not one of ${SORT_KEYS.join(", ")}.` };
  const dir = params.get("dir") || "asc";
  if (dir !== "asc" && dir !== "desc") return { error: `dir "${dir.slice(0, 30)}" is not asc or desc.` };
  const page = wholeNumber(params.get("page"), 1, 1, 1_000_000);
  if (page === undefined) return { error: `page "${String(params.get("page")).slice(0, 20)}" is not a whole number from 1.` };
  const top = wholeNumber(params.get("top"), DASHBOARD_PAGE_SIZE.default, 1, DASHBOARD_PAGE_SIZE.max);
  if (top === undefined) return { error: `top "${String(params.get("top")).slice(0, 20)}" is not a whole number from 1 to ${DASHBOARD_PAGE_SIZE.max}.` };
  const q = (params.get("q") ?? "").trim().slice(0, 200);
  return {
    ...(filter.filter.state ? { state: filter.filter.state } : {}),
    ...(filter.filter.subscriptionId ? { subscription: filter.filter.subscriptionId.toLowerCase() } : {}),
    q, sort, dir, page, top,
  } as TableQuery;
}

export async function loadOverview(params: URLSearchParams, deps: DashboardDeps): Promise<Loaded<OverviewModel>> {
  const query = tableQuery(params);
  if ("error" in query) return { error: query.error, status: 400 };
  // One read of every record serves the per-subscription counts and the filtered, sorted table; the
  // text filter and the sort need them all anyway (Table Storage can do neither).
  const [all, audits] = await Promise.all([deps.store.listVms(), deps.store.listAuditRuns(AUDIT_LIMIT)]);
  const matching = all.filter((vm) => matches(vm, query)).sort(comparator(query));
  const start = (query.page - 1) * query.top;
  const code = params.get("code") ?? undefined;
  return {
    model: {
      now: deps.clock(),
      mode: deps.config.mode,
      ...(code ? { code } : {}),
      query,
      summaries: summarize(all),
      rows: matching.slice(start, start + query.top),
      matched: matching.length,
      total: all.length,
      audits,
    },
  };
}

export async function loadVm(params: URLSearchParams, deps: DashboardDeps): Promise<Loaded<VmModel>> {
  const vmId = params.get("vm") ?? "";
  if (!tryParseVmId(vmId)) {
    return { status: 400, error: `vm "${vmId.slice(0, 200)}" is not a VM resource id (/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}).` };
  }
  const [record, log] = await Promise.all([deps.store.getVm(vmId), deps.store.listLog(vmId, LOG_LIMIT)]);
  if (!record && log.length === 0) return { status: 404, error: `No record for ${vmId}: the enforcer has not seen this VM yet.` };
  let explanation: Explanation | undefined;
  let explanationNote: string | undefined;
  try {
    // The row is read already: the plan's observation uses it rather than reading it again.
    explanation = await explainVm(vmTarget(vmId), { ...deps, store: { getVm: async () => record } });
    if (!explanation) explanationNote = "ARM has no such VM now (deleted, or the enforcer's identity cannot read it): nothing to plan.";
  } catch (error) {
    if (!(error instanceof ArmFailure)) throw error;
    explanationNote = `ARM could not be read for the plan (${error.classified.code}: ${error.classified.message}); the record and log below are from the last pass.`;
  }
  const code = params.get("code") ?? undefined;
  return {
    model: {
      now: deps.clock(),
      mode: deps.config.mode,
      ...(code ? { code } : {}),
      vmId: record?.vmId ?? vmId,
      ...(record ? { record } : {}),
      log,
      grants: (record?.access ?? []).map((grant) => ({ ...grant, ...grantOrigin(grant.principalId, grant.role, log) })),
      ...(explanation ? { explanation } : {}),
      ...(explanationNote ? { explanationNote } : {}),
    },
  };
}

/** The newest log entry of the action that created this grant: who asked (the tag's writer) and when. */
function grantOrigin(principalId: string, role: string, log: readonly LogEntry[]): { requestedBy?: string; grantedAt?: string } {
  const entry = log.find((l) => {
    if (l.kind !== "action" || l.action !== "createAssignment") return false;
    const details = l.details as { principalId?: unknown; role?: unknown } | undefined;
    return typeof details?.principalId === "string" && details.principalId.toLowerCase() === principalId.toLowerCase() && details.role === role;
  });
  return entry ? { ...(entry.requestedBy ? { requestedBy: entry.requestedBy } : {}), grantedAt: entry.at } : {};
}

export function summarize(vms: readonly VmRecord[]): SubscriptionSummary[] {
  const bySub = new Map<string, VmRecord[]>();
  for (const vm of vms) {
    const key = vm.subscriptionId.toLowerCase();
    bySub.set(key, [...(bySub.get(key) ?? []), vm]);
  }
  return [...bySub.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([subscriptionId, list]) => {
    const counts = Object.fromEntries(COMPLIANCE_STATES.map((s) => [s, 0])) as Record<ComplianceState, number>;
    for (const vm of list) counts[vm.state] += 1;
    const responsible = list.length - counts.ineligible - counts.exempt - counts.gone;
    const good = counts.compliant + counts.remediated;
    return { subscriptionId, total: list.length, counts, ...(responsible > 0 ? { compliantShare: good / responsible } : {}) };
  });
}

function matches(vm: VmRecord, query: TableQuery): boolean {
  if (query.state && vm.state !== query.state) return false;
  if (query.subscription && vm.subscriptionId.toLowerCase() !== query.subscription) return false;
  if (!query.q) return true;
  const needle = query.q.toLowerCase();
  const haystack = [
    vm.name, vm.resourceGroup, vm.subscriptionId, vm.state, vm.reason, vm.message, vm.os, vm.location, vm.diagnosis?.code,
    ...vm.access.map((a) => a.principalId),
  ];
  return haystack.some((value) => value !== undefined && value.toLowerCase().includes(needle));
}

function comparator(query: TableQuery): (a: VmRecord, b: VmRecord) => number {
  const key = (vm: VmRecord): string => {
    switch (query.sort) {
      case "name": return vm.name.toLowerCase();
      case "state": return vm.state;
      case "subscription": return vm.subscriptionId.toLowerCase();
      case "reason": return vm.reason;
      case "updated": return vm.updatedAt;
    }
  };
  const sign = query.dir === "asc" ? 1 : -1;
  // Ties fall back to the id, so a page boundary never moves between two requests.
  return (a, b) => sign * (key(a).localeCompare(key(b)) || a.vmId.toLowerCase().localeCompare(b.vmId.toLowerCase()));
}

function wholeNumber(raw: string | null, fallback: number, min: number, max: number): number | undefined {
  if (raw === null || raw === "") return fallback;
  if (!/^[0-9]{1,9}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}
