import type { ArmRequest, HandlerContext } from "./context.js";
import { ArmError, notFound } from "./errors.js";
import type { LroOperation, OperationArgs, OperationKind, OperationTarget } from "./lro.js";
import { operationResult } from "./operation-effects.js";
import type { VmRecord } from "./state.js";

export interface AcceptLroInput {
  readonly kind: OperationKind;
  readonly target: OperationTarget;
  readonly location: string;
  readonly resourceKey: string;
  readonly args?: OperationArgs;
}

/** ARM's region names in operation URLs: lower case, no spaces ("West US" -> "westus"). */
export const normalizeLocation = (location: string): string => location.replace(/\s+/g, "").toLowerCase();

const vmKeyOf = (vm: VmRecord): string =>
  `/subscriptions/${vm.subscriptionId}/resourceGroups/${vm.resourceGroup}/providers/Microsoft.Compute/virtualMachines/${vm.name}`.toLowerCase();

/** The headers that point at an operation: `Azure-AsyncOperation` (status document) and `Location` (`monitor=true`). */
export function operationHeaders(ctx: HandlerContext, req: ArmRequest, op: LroOperation): Record<string, string> {
  const base = `${ctx.baseUrl}/subscriptions/${op.subscriptionId}/providers/Microsoft.Compute/locations/${op.location}/operations/${op.id}`;
  const query = `p=${encodeURIComponent(ctx.state.tenantId)}&api-version=${encodeURIComponent(req.apiVersion)}`;
  const headers: Record<string, string> = {
    "Azure-AsyncOperation": `${base}?${query}`,
    Location: `${base}?${query}&monitor=true`,
  };
  if (ctx.limits.retryAfterSeconds > 0) headers["Retry-After"] = String(ctx.limits.retryAfterSeconds);
  return headers;
}

/**
 * Starts a compute LRO and returns the headers real Compute sends with 201/202: `Azure-AsyncOperation`
 * (status document) and `Location` (`monitor=true`: 202 while running, then the result). The 2025-11-01
 * spec only declares Location, but the service sends both and @azure/core-lro prefers
 * Azure-AsyncOperation; `Retry-After` only when configured, so clients poll at their own interval.
 * How long it runs comes from the timing profile.
 */
export function acceptLro(ctx: HandlerContext, req: ArmRequest, input: AcceptLroInput): { op: LroOperation; headers: Record<string, string> } {
  const injected = ctx.injectedLroFailure;
  const op = ctx.lro.start({
    id: ctx.state.newGuid(),
    kind: input.kind,
    now: ctx.now(),
    delayMs: ctx.timing.lroDelayMs(input.kind, ctx.limits),
    subscriptionId: input.target.subscriptionId,
    location: normalizeLocation(input.location),
    resourceKey: input.resourceKey.toLowerCase(),
    target: input.target,
    ...(input.args ? { args: input.args } : {}),
    ...(injected ? { injectedFailure: { status: injected.status, code: injected.code, message: injected.message } } : {}),
  });
  return { op, headers: operationHeaders(ctx, req, op) };
}

/**
 * Before a write on a VM or one of its extensions. Instant: what is still running on the VM completes
 * first (operations never interleave). Realistic: Compute refuses a second operation on a VM while one
 * is in progress (409 OperationNotAllowed, in its wording); only a VM DELETE goes through (see deleteVm).
 * `operation` is how Compute names the request in the message ('PUT', 'PATCH', 'DELETE', 'deallocate', ...).
 */
export function guardVmWrite(ctx: HandlerContext, vm: VmRecord, operation: string): void {
  const key = vmKeyOf(vm);
  if (!ctx.timing.realistic) {
    ctx.lro.settleResource(key, ctx.now());
    return;
  }
  const running = ctx.lro.inFlightOn(key);
  if (running.length === 0) return;
  if (running.some((op) => op.kind === "vm-delete")) {
    throw new ArmError(
      409,
      "OperationNotAllowed",
      `Operation '${operation}' is not allowed on VM '${vm.name}' since the VM is marked for deletion. You can only retry the Delete operation (or wait for an ongoing one to complete).`,
    );
  }
  throw new ArmError(409, "OperationNotAllowed", `Operation '${operation}' is not allowed on VM '${vm.name}' since another operation is in progress.`);
}

/**
 * `GET .../locations/{loc}/operations/{id}`: the async-operation status document, or with
 * `monitor=true` the Location semantics (202 while running, then 200 with the resource for PUT/PATCH,
 * 200 without body for DELETE and actions). A failed operation on the Location URL answers 400 with the
 * operation's error, since there is no resource to return.
 */
export function operationStatus(ctx: HandlerContext, req: ArmRequest, subscriptionId: string, operationId: string): { status: number; body?: unknown; headers?: Record<string, string> } {
  const op = ctx.lro.get(operationId);
  if (!op || op.subscriptionId.toLowerCase() !== subscriptionId.toLowerCase()) {
    throw notFound("NotFound", `The operation '${operationId}' was not found.`);
  }
  const retry: Record<string, string> = ctx.limits.retryAfterSeconds > 0 ? { "Retry-After": String(ctx.limits.retryAfterSeconds) } : {};
  if (req.query.get("monitor")?.toLowerCase() === "true") {
    if (op.status === "InProgress") {
      const location = `${ctx.baseUrl}${req.path}?${req.query.toString()}`;
      return { status: 202, headers: { Location: location, ...retry } };
    }
    if (op.status === "Failed") {
      throw new ArmError(400, op.error?.code ?? "OperationFailed", op.error?.message ?? "The operation failed.");
    }
    const result = operationResult(ctx, op);
    return result !== undefined ? { status: 200, body: result } : { status: 200 };
  }
  return {
    status: 200,
    headers: op.status === "InProgress" ? retry : {},
    body: {
      startTime: op.startTime,
      ...(op.endTime ? { endTime: op.endTime } : {}),
      status: op.status,
      ...(op.error ? { error: op.error } : {}),
      name: op.id,
    },
  };
}
