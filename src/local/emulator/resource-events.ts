import { randomUUID } from "node:crypto";
import type { ArmRequest, ResourceEventInput } from "./context.js";
import type { Json } from "./http-io.js";
import type { Principal } from "./state.js";
import type { TokenClaims } from "./tokens.js";

/** An Event Grid schema event, keys in the order of the reference samples. */
export interface EventGridEvent {
  subject: string;
  eventType: string;
  eventTime: string;
  id: string;
  data: Json;
  dataVersion: string;
  metadataVersion: string;
  topic: string;
}

const CLAIM = {
  oid: "http://schemas.microsoft.com/identity/claims/objectidentifier",
  tid: "http://schemas.microsoft.com/identity/claims/tenantid",
  nameid: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
  name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
  upn: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
  surname: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
  givenname: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
};

/**
 * The caller's token claims as ARM copies them into `data.claims`: users carry the full set of the
 * reference sample, service principals (managed identities included) the app-only subset real
 * app tokens have (no upn, names, puid or MFA claims).
 */
export function eventClaims(principal: Principal, token: TokenClaims, clientIp: string): Record<string, string> {
  const common = {
    aud: `${token.aud.replace(/\/+$/, "")}/`,
    iss: token.iss,
    iat: String(token.iat),
    nbf: String(token.nbf),
    exp: String(token.exp),
  };
  if (principal.type !== "User") {
    return {
      ...common,
      aio: "local-emulator",
      appid: token.appid,
      appidacr: "2",
      "http://schemas.microsoft.com/identity/claims/identityprovider": token.iss,
      [CLAIM.oid]: principal.id,
      [CLAIM.nameid]: principal.id,
      [CLAIM.tid]: token.tid,
      uti: randomUUID().replace(/-/g, "").slice(0, 22),
      ver: "1.0",
    };
  }
  const [given = principal.displayName, ...rest] = principal.displayName.split(" ");
  const upn = principal.upn ?? token.upn ?? `${principal.id}@emulator.local`;
  return {
    ...common,
    _claim_names: '{"groups":"src1"}',
    _claim_sources: `{"src1":{"endpoint":"https://graph.windows.net/${token.tid}/users/${principal.id}/getMemberObjects"}}`,
    "http://schemas.microsoft.com/claims/authnclassreference": "1",
    aio: "local-emulator",
    "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa",
    appid: token.appid,
    appidacr: "0",
    "http://schemas.microsoft.com/2012/01/devicecontext/claims/identifier": principal.id,
    e_exp: "262800",
    [CLAIM.surname]: rest.join(" ") || given,
    [CLAIM.givenname]: given,
    ipaddr: clientIp,
    name: principal.displayName,
    [CLAIM.oid]: principal.id,
    onprem_sid: `S-1-5-21-${principal.id.replace(/\D/g, "").slice(0, 10)}`,
    puid: principal.id.replace(/-/g, "").slice(0, 16).toUpperCase(),
    "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation",
    [CLAIM.nameid]: principal.id,
    [CLAIM.tid]: token.tid,
    [CLAIM.name]: upn,
    [CLAIM.upn]: upn,
    uti: randomUUID().replace(/-/g, "").slice(0, 22),
    ver: "1.0",
  };
}

/**
 * `Microsoft.Resources.Resource{Write,Delete,Action}Success` for the subscription topic. Write events
 * carry the write sample's key set (no httpRequest); delete and action events add `httpRequest` as
 * the delete sample does.
 */
export function resourceEvent(input: ResourceEventInput, req: ArmRequest, tenantId: string, evidenceRole: string, now: number): EventGridEvent {
  const provider = /\/providers\/([^/]+)\/[^/]+\/[^/]+(?:\/[^/]*)*$/i.exec(input.resourceUri);
  const data: Json = {
    authorization: { scope: input.resourceUri, action: input.operationName, evidence: { role: evidenceRole } },
    claims: eventClaims(req.caller.principal, req.caller.claims, req.clientIp),
    correlationId: req.correlationId,
    ...(input.kind === "Write"
      ? {}
      : { httpRequest: { clientRequestId: req.clientRequestId, clientIpAddress: req.clientIp, method: req.method, url: req.url } }),
    resourceProvider: lastProvider(input.resourceUri) ?? provider?.[1] ?? "Microsoft.Resources",
    resourceUri: input.resourceUri,
    operationName: input.operationName,
    status: "Succeeded",
    subscriptionId: input.subscriptionId,
    tenantId,
  };
  return {
    subject: input.resourceUri,
    eventType: `Microsoft.Resources.Resource${input.kind}Success`,
    eventTime: new Date(now).toISOString(),
    id: randomUUID(),
    data,
    dataVersion: "2",
    metadataVersion: "1",
    topic: `/subscriptions/${input.subscriptionId}`,
  };
}

function lastProvider(resourceUri: string): string | undefined {
  const matches = [...resourceUri.matchAll(/\/providers\/([^/]+)/gi)];
  const last = matches[matches.length - 1]?.[1];
  if (last) return last;
  return /\/resourceGroups\/[^/]+$/i.test(resourceUri) ? "Microsoft.Resources" : undefined;
}
