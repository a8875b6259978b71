import type { IncomingMessage, ServerResponse } from "node:http";
import type { EmulatorCore } from "./emulator-core.js";
import { ArmError, badRequest, notFound } from "./errors.js";
import { isObject, parseJson, readBody, sendJson } from "./http-io.js";
import { deviceInput } from "./graph-devices.js";

/**
 * The admin API under `/admin` (never an ARM path, no bearer token: it is local only, and its calls
 * are never counted as ARM requests). Stable contract: POST /principals, POST /tokens, POST /roleAssignments,
 * GET /requests, GET/PUT /timing.
 */
export async function handleAdminRequest(core: EmulatorCore, req: IncomingMessage, res: ServerResponse, subPath: string): Promise<void> {
  const method = (req.method ?? "GET").toUpperCase();
  const url = new URL(req.url ?? "/", "https://127.0.0.1");
  try {
    const body = parseJson(await readBody(req));
    const route = `${method} ${subPath.replace(/\/+$/, "") || "/"}`;
    const obj = (): Record<string, unknown> => {
      if (!isObject(body)) throw badRequest("InvalidRequestContent", `${route} needs a JSON object body.`);
      return body;
    };
    const ok = (status: number, payload?: unknown): void => {
      core.flush();
      sendJson(res, status, payload);
    };
    switch (route) {
      case "POST /subscriptions": {
        const b = obj();
        core.addSubscription(String(b["id"] ?? ""), typeof b["displayName"] === "string" ? b["displayName"] : undefined);
        return ok(201, { id: b["id"] });
      }
      case "POST /principals": {
        const b = obj();
        const p = core.addPrincipal(b as never);
        return ok(201, p);
      }
      case "POST /tokens": {
        const b = obj();
        return ok(200, { access_token: core.tokenFor(String(b["principalId"] ?? ""), typeof b["audience"] === "string" ? b["audience"] : undefined).token, token_type: "Bearer" });
      }
      case "POST /roleAssignments": {
        const granted = core.grant(obj());
        return ok(granted.created ? 201 : 200, granted.body);
      }
      case "GET /requests": {
        const since = Number(url.searchParams.get("since") ?? 0);
        return ok(200, core.log.read(Number.isFinite(since) ? since : 0));
      }
      case "DELETE /requests":
        core.log.clear();
        return ok(204);
      case "POST /seed":
        return ok(200, core.seed(obj()));
      case "POST /network": {
        const resources = obj()["resources"];
        if (!Array.isArray(resources)) throw badRequest("InvalidRequestContent", "POST /network needs {resources: [{id, location?, properties}]}.");
        return ok(200, core.addNetwork(resources));
      }
      case "POST /vms/simulation":
        return ok(200, core.setVmSimulation(obj() as never));
      case "POST /reset":
        core.reset();
        return ok(204);
      case "GET /snapshot":
        return ok(200, core.snapshot());
      case "GET /events":
        return ok(200, { events: core.events });
      case "POST /eventSubscriptions": {
        const b = obj();
        const sub = await core.subscribeEvents(String(b["url"] ?? ""), isObject(b["filter"]) ? (b["filter"] as never) : {});
        return ok(201, sub);
      }
      case "GET /eventSubscriptions":
        return ok(200, { value: core.delivery.list() });
      case "POST /eventDelivery":
        return ok(200, core.delivery.setOptions(obj()));
      case "GET /deadLetters":
        return ok(200, { value: core.delivery.deadLettered() });
      case "POST /faults":
        core.faults.set(obj());
        return ok(200, core.faults.current());
      case "DELETE /faults":
        core.faults.clear();
        return ok(204);
      case "PUT /limits":
        return ok(200, core.setLimits(obj()));
      case "GET /limits":
        return ok(200, core.limits);
      case "PUT /timing":
        return ok(200, core.setTiming(obj()));
      case "GET /timing":
        return ok(200, core.timingSettings());
      case "POST /graphRoles": {
        const b = obj();
        const roles = b["roles"];
        if (!Array.isArray(roles) || roles.some((r) => typeof r !== "string")) throw badRequest("InvalidRequestContent", "roles must be an array of Graph app role names such as Device.Read.All.");
        return ok(200, { principalId: b["principalId"], roles: core.directory.grant(String(b["principalId"] ?? ""), roles as string[]) });
      }
      case "GET /devices":
        return ok(200, { value: [...core.directory.devices.values()] });
      case "POST /devices":
        return ok(201, core.directory.add(deviceInput(obj()), new Date(core.now()).toISOString()));
      default: {
        const unsub = /^DELETE \/eventSubscriptions\/([^/]+)$/.exec(route);
        if (unsub?.[1]) return ok(core.delivery.unsubscribe(unsub[1]) ? 200 : 204);
        throw notFound("AdminRouteNotFound", `No admin route '${route}'. See src/local/emulator/index.ts for the admin API.`);
      }
    }
  } catch (error) {
    const e = error instanceof ArmError ? error : new ArmError(500, "InternalServerError", (error as Error).message);
    core.flush();
    sendJson(res, e.status, e.toBody());
  }
}
