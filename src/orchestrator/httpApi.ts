import { tryParseVmId, vmTarget } from "../domain/resourceId.js";
import { COMPLIANCE_STATES, type ComplianceState } from "../domain/outcome.js";
import { runLeasedPass } from "./leasedPass.js";
import { ArmFailure, INVALID_CONTINUATION_TOKEN, MAX_VM_PAGE_SIZE, type VmListFilter } from "./ports.js";
import type { ReconcileDeps } from "./reconcile.js";

/** Plain request/response shapes, so the HTTP functions stay two lines and the CLI can reuse these. */
export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

export async function complianceQuery(query: URLSearchParams, deps: Pick<ReconcileDeps, "store">): Promise<ApiResponse> {
  const vmId = query.get("vmId");
  if (vmId) {
    if (!tryParseVmId(vmId)) return badRequest(`vmId "${vmId.slice(0, 200)}" is not a VM resource id (/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}).`);
    const record = await deps.store.getVm(vmId);
    if (!record) return { status: 404, body: { error: { code: "NotFound", message: `No record for ${vmId}: the enforcer has not seen this VM yet.` } } };
    const limit = boundedInt(query.get("log"), 20, 200);
    return { status: 200, body: { vm: record, log: await deps.store.listLog(vmId, limit) } };
  }
  const filter = vmFilter(query);
  if ("error" in filter) return badRequest(filter.error);
  const top = pageSize(query.get("top"));
  if (typeof top === "string") return badRequest(top);
  const continuationToken = query.get("continuationToken") ?? undefined;
  try {
    const page = await deps.store.listVmsPage(filter.filter, { top, ...(continuationToken !== undefined ? { continuationToken } : {}) });
    return { status: 200, body: { count: page.vms.length, vms: page.vms, ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) } };
  } catch (error) {
    if ((error as { code?: unknown }).code === INVALID_CONTINUATION_TOKEN) return badRequest((error as Error).message);
    throw error;
  }
}

/** Records per page of `GET /api/compliance` when `top` is not given, and the most it may ask for. */
export const COMPLIANCE_PAGE_SIZE = { default: 100, max: MAX_VM_PAGE_SIZE } as const;

/** The `subscription` and `state` query parameters, checked: shared by the compliance API and the dashboard. */
export function vmFilter(query: URLSearchParams): { filter: VmListFilter } | { error: string } {
  const state = query.get("state") || undefined;
  if (state && !COMPLIANCE_STATES.includes(state as ComplianceState)) {
    return { error: `state "${state.slice(0, 50)}" is not one of ${COMPLIANCE_STATES.join(", ")}.` };
  }
  const subscriptionId = query.get("subscription") || undefined;
  if (subscriptionId && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(subscriptionId)) {
    return { error: `subscription "${subscriptionId.slice(0, 50)}" is not a subscription id (a GUID).` };
  }
  return { filter: { ...(subscriptionId ? { subscriptionId } : {}), ...(state ? { state: state as ComplianceState } : {}) } };
}

function pageSize(raw: string | null): number | string {
  if (raw === null) return COMPLIANCE_PAGE_SIZE.default;
  const n = /^[0-9]{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > COMPLIANCE_PAGE_SIZE.max) {
    return `top "${raw.slice(0, 20)}" is not a whole number from 1 to ${COMPLIANCE_PAGE_SIZE.max}: ask for at most ${COMPLIANCE_PAGE_SIZE.max} VMs a page and follow continuationToken for the rest.`;
  }
  return n;
}

export async function reconcileNowRequest(body: unknown, deps: ReconcileDeps, requestedBy?: string): Promise<ApiResponse> {
  const input = (body && typeof body === "object" ? body : {}) as { vmId?: unknown; mode?: unknown };
  if (typeof input.vmId !== "string" || !tryParseVmId(input.vmId)) {
    return badRequest('Body must be JSON {"vmId": "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}", "mode": "enforce" | "report"}.');
  }
  if (input.mode !== undefined && input.mode !== "enforce" && input.mode !== "report") {
    return badRequest(`mode must be "enforce" or "report", got ${JSON.stringify(input.mode).slice(0, 50)}.`);
  }
  if (input.mode === "enforce" && deps.config.mode === "report") {
    // A request may only lower a pass to report: refused, and the attempt is recorded with its caller.
    const message = `Refused: the app runs in report mode and a request cannot raise a pass to enforce (asked by ${requestedBy ?? "an unknown caller"}). Change ENFORCER_MODE to enforce.`;
    await deps.store.appendLog({
      vmId: input.vmId, kind: "error", trigger: "http", reason: "mode-escalation-refused", message,
      ...(requestedBy ? { requestedBy } : {}), details: { requestedMode: "enforce", configuredMode: "report" }, at: deps.clock().toISOString(),
    });
    return { status: 403, body: { error: { code: "ModeEscalationRefused", message } } };
  }
  try {
    const outcome = await runLeasedPass(
      { vm: vmTarget(input.vmId), trigger: "http", ...(input.mode ? { mode: input.mode } : {}), ...(requestedBy ? { requestedBy } : {}) },
      deps,
    );
    if (!outcome.ran) {
      // Another pass holds the VM: this one is queued behind it, not lost.
      const seconds = Math.max(1, Math.ceil(outcome.requeuedInMs / 1000));
      return { status: 202, headers: { "Retry-After": String(seconds) }, body: { queued: true, vmId: input.vmId, message: `Another pass is running on this VM; this request runs after it (in about ${seconds} s).` } };
    }
    return { status: 200, body: outcome.result };
  } catch (error) {
    if (error instanceof ArmFailure && error.transient) {
      return { status: 503, headers: { "Retry-After": "30" }, body: { error: { code: error.classified.code, message: `Transient ARM failure, try again: ${error.classified.message}` } } };
    }
    throw error;
  }
}

function badRequest(message: string): ApiResponse {
  return { status: 400, body: { error: { code: "BadRequest", message } } };
}

function boundedInt(raw: string | null, fallback: number, max: number): number {
  const n = raw === null ? fallback : Number(raw);
  return Number.isInteger(n) && n > 0 ? Math.min(n, max) : fallback;
}
