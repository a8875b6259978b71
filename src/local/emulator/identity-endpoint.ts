import type { IncomingMessage, ServerResponse } from "node:http";
import { sendJson } from "./http-io.js";

export interface IdentityEndpointDeps {
  readonly identityHeader: string;
  readonly clientId: string;
  /** Issues an ARM token for the managed identity with the given audience; undefined when the resource is not ARM. */
  issue(resource: string): { token: string; expiresOn: number } | undefined;
}

/**
 * The App Service / Azure Functions managed identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER),
 * plain http on 127.0.0.1 as on a real App Service worker:
 * `GET ?api-version=2019-08-01&resource=...` with `X-IDENTITY-HEADER`.
 */
export function handleIdentityRequest(deps: IdentityEndpointDeps, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  if (req.method !== "GET") {
    sendJson(res, 405, { statusCode: 405, message: "Only GET is supported.", correlationId: "" });
    return;
  }
  const secret = req.headers["x-identity-header"];
  if (secret === undefined) {
    sendJson(res, 400, { statusCode: 400, message: "The X-IDENTITY-HEADER header is missing.", correlationId: "" });
    return;
  }
  if (secret !== deps.identityHeader) {
    sendJson(res, 401, { statusCode: 401, message: "The X-IDENTITY-HEADER header is invalid.", correlationId: "" });
    return;
  }
  if (url.searchParams.get("api-version") !== "2019-08-01") {
    sendJson(res, 400, { statusCode: 400, message: `Unsupported api-version '${url.searchParams.get("api-version") ?? ""}'; use 2019-08-01.`, correlationId: "" });
    return;
  }
  const resource = url.searchParams.get("resource");
  if (!resource) {
    sendJson(res, 400, { statusCode: 400, message: "The 'resource' query parameter is required.", correlationId: "" });
    return;
  }
  const asked = url.searchParams.get("client_id") ?? url.searchParams.get("principal_id") ?? url.searchParams.get("mi_res_id");
  if (asked && asked.toLowerCase() !== deps.clientId.toLowerCase()) {
    sendJson(res, 400, { statusCode: 400, message: `No user-assigned identity '${asked}' is assigned to this app.`, correlationId: "" });
    return;
  }
  const issued = deps.issue(resource);
  if (!issued) {
    sendJson(res, 400, { statusCode: 400, message: `The emulator only issues tokens for Azure Resource Manager, not '${resource}'.`, correlationId: "" });
    return;
  }
  sendJson(res, 200, {
    access_token: issued.token,
    expires_on: String(issued.expiresOn),
    resource,
    token_type: "Bearer",
    client_id: deps.clientId,
  });
}
