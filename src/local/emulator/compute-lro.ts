import type { ArmRequest, HandlerContext } from "./context.js";
import { ArmError, notFound } from "./errors.js";
import type { LroOperation } from "./lro.js";

export interface AcceptLroInput {
  readonly subscriptionId: string;
  readonly location: string;
  readonly resourceKey: string;
  readonly result?: () => unknown;
  readonly complete: () => ArmError | undefined;
  readonly failEffect?: (error: ArmError) => void;
}

/** ARM's region names in operation URLs: lower case, no spaces ("West US" -> "westus"). */
export const normalizeLocation = (location: string): string => location.replace(/\s+/g, "").toLowerCase();

/**
 * Starts a compute LRO and returns the headers real Compute sends with 201/202: `Azure-AsyncOperation`
 * (status document) and `Location` (`monitor=true`: 202 while running, then the result). The 2025-11-01
 * spec only declares Location, but the service sends both and @azure/core-lro prefers
 * Azure-AsyncOperation; `Retry-After` only when configured, so clients poll at their own interval.
 */
export function acceptLro(ctx: HandlerContext, req: ArmRequest, input: AcceptLroInput): { op: LroOperation; headers: Record<string, string> } {
  const op = ctx.lro.start({
    id: ctx.state.newGuid(),
    now: ctx.now(),
    delayMs: ctx.limits.lroDelayMs,
    subscriptionId: input.subscriptionId,
    location: normalizeLocation(input.location),
    resourceKey: input.resourceKey.toLowerCase(),
    complete: input.complete,
    ...(input.result ? { result: input.result } : {}),
    ...(input.failEffect ? { failEffect: input.failEffect } : {}),
    ...(ctx.injectedLroFailure ? { injectedFailure: ctx.injectedLroFailure } : {}),
  });
  const base = `${ctx.baseUrl}/subscriptions/${input.subscriptionId}/providers/Microsoft.Compute/locations/${op.location}/operations/${op.id}`;
  const query = `p=${encodeURIComponent(ctx.state.tenantId)}&api-version=${encodeURIComponent(req.apiVersion)}`;
  const headers: Record<string, string> = {
    "Azure-AsyncOperation": `${base}?${query}`,
    Location: `${base}?${query}&monitor=true`,
  };
  if (ctx.limits.retryAfterSeconds > 0) headers["Retry-After"] = String(ctx.limits.retryAfterSeconds);
  return { op, headers };
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
    return op.result ? { status: 200, body: op.result() } : { status: 200 };
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
