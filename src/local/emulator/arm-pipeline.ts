import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { checkApiVersion } from "./api-versions.js";
import { authorizationFailed, authorize, type AuthorizationCheck } from "./authorization.js";
import type { ArmRequest, ResourceEventInput } from "./context.js";
import type { EmulatorCore } from "./emulator-core.js";
import { ArmError } from "./errors.js";
import { parseJson, readBody, sendJson } from "./http-io.js";
import { routeArm, type ArmRoute } from "./arm-router.js";
import { subscriptionOf } from "./scope.js";
import { bucketOf } from "./throttling.js";
import { verifyToken } from "./tokens.js";

/** `//subscriptions/...` (arm-authorization's `/{scope}` with a scope that starts with `/`) is the same path. */
export function normalizePath(rawPath: string): string {
  const collapsed = rawPath.replace(/\/{2,}/g, "/");
  const trimmed = collapsed.length > 1 ? collapsed.replace(/\/+$/, "") : collapsed;
  try {
    return decodeURIComponent(trimmed);
  } catch {
    return trimmed;
  }
}

/**
 * One ARM request through the stages ARM applies: authentication, routing, api-version, throttling,
 * (injected faults), the handler; then the events of a successful write and the request log entry.
 */
export async function handleArmRequest(core: EmulatorCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = (req.method ?? "GET").toUpperCase();
  // Collapse before parsing: WHATWG URL reads a leading "//subscriptions/..." as a host named "subscriptions".
  const raw = req.url ?? "/";
  const queryAt = raw.indexOf("?");
  const rawPath = queryAt === -1 ? raw : raw.slice(0, queryAt);
  const url = new URL(rawPath.replace(/\/{2,}/g, "/") + (queryAt === -1 ? "" : raw.slice(queryAt)), "https://127.0.0.1");
  const path = normalizePath(url.pathname);
  const correlationId = String(req.headers["x-ms-correlation-request-id"] ?? randomUUID());
  const clientRequestId = String(req.headers["x-ms-client-request-id"] ?? randomUUID());
  const requestId = randomUUID();
  const baseHeaders: Record<string, string> = {
    "x-ms-request-id": requestId,
    "x-ms-correlation-request-id": correlationId,
    "x-ms-client-request-id": clientRequestId,
  };
  let caller: string | undefined;
  let operation = "unknown";
  const log = (status: number): void =>
    core.log.add({ time: new Date(core.now()).toISOString(), method, path, operation, status, ...(caller ? { caller } : {}), correlationId });
  // With a state file, what the request changed is on disk before its answer goes out: a crash right
  // after the answer loses nothing the client was told.
  const commit = (): void => {
    core.changedByRequest(method, path);
    core.flush();
  };

  try {
    const rawBody = await readBody(req);
    const now = core.now();
    core.lro.settle(now);
    const claims = verifyToken(req.headers.authorization, core.signingKey, now);
    const principal = core.state.principal(claims.oid);
    if (!principal) {
      throw new ArmError(401, "InvalidAuthenticationToken", `The access token is for principal '${claims.oid}', which does not exist in the tenant.`);
    }
    caller = principal.id;
    const route: ArmRoute = routeArm(method, path);
    operation = route.operation;
    const apiVersion = checkApiVersion(route.provider, route.resourceType, url.searchParams.get("api-version"));

    const bucket = bucketOf(method);
    const taken = core.throttle.take(subscriptionOf(path) ?? "tenant", principal.id, bucket, now);
    const rateHeaders: Record<string, string> = {
      "x-ms-ratelimit-remaining-subscription-reads": String(taken.remaining.reads),
      "x-ms-ratelimit-remaining-subscription-writes": String(taken.remaining.writes),
      "x-ms-ratelimit-remaining-subscription-deletes": String(taken.remaining.deletes),
    };
    Object.assign(baseHeaders, rateHeaders);
    if (taken.retryAfterSeconds !== undefined) {
      throw new ArmError(
        429,
        "SubscriptionRequestsThrottled",
        `Number of '${bucket.replace(/s$/, "")}' requests for subscription '${subscriptionOf(path) ?? ""}' actor '${principal.id}' exceeded. ` +
          `Please try again after '${taken.retryAfterSeconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling`,
        { "Retry-After": String(taken.retryAfterSeconds) },
      );
    }

    const body = method === "GET" || method === "DELETE" ? undefined : parseJson(rawBody);
    // RBAC before the provider sees the request: a caller without the action gets 403 even for a resource that does not exist.
    const check: AuthorizationCheck = {
      principalId: principal.id,
      action: route.operation,
      scope: path,
      ...(route.alternatives ? { alternatives: route.alternatives } : {}),
      attributes: route.conditionAttributes ? route.conditionAttributes(core.state, body) : {},
    };
    const decision = route.authorizedPerRow ? undefined : authorize(core.state, check);
    if (decision && !decision.allowed) throw authorizationFailed(check);

    const fault = core.faults.decide(method, path, operation);
    if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.status === "reset") {
      commit();
      log(0);
      req.socket.destroy();
      return;
    }
    if (fault.status !== undefined) {
      const retryAfter: Record<string, string> = fault.retryAfterSeconds !== undefined ? { "Retry-After": String(fault.retryAfterSeconds) } : {};
      const codes = { 429: ["TooManyRequests", "The request was throttled (injected fault)."], 500: ["InternalServerError", "Encountered internal server error (injected fault)."], 503: ["ServiceUnavailable", "The service is unavailable (injected fault)."] } as const;
      const [code, message] = codes[fault.status];
      throw new ArmError(fault.status, code, message, retryAfter);
    }

    const events: ResourceEventInput[] = [];
    const ctx = core.context(events, fault.lroFailure);
    const armReq: ArmRequest = {
      method,
      path,
      query: url.searchParams,
      headers: req.headers,
      body,
      apiVersion,
      caller: { principal, claims },
      correlationId,
      clientRequestId,
      clientIp: req.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1",
      url: `${core.baseUrl}${url.pathname}${url.search}`,
    };
    const result = await route.handle(ctx, armReq);
    if (result.status < 300) core.publish(events, armReq, decision?.grantedBy);
    commit();
    sendJson(res, result.status, result.body, { ...baseHeaders, ...(result.headers ?? {}) });
    log(result.status);
  } catch (error) {
    const armError =
      error instanceof ArmError ? error : new ArmError(500, "InternalServerError", `The emulator failed: ${(error as Error).message}`);
    if (!(error instanceof ArmError)) console.error("[arm-emulator]", error);
    commit();
    sendJson(res, armError.status, armError.toBody(), { ...baseHeaders, ...armError.headers });
    log(armError.status);
  }
}
