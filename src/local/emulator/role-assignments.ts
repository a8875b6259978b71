import type { AuthorizationCheck } from "./authorization.js";
import { validateCondition } from "./authorization.js";
import type { ArmRequest, ArmResponse, HandlerContext } from "./context.js";
import { badRequest, conflict, notFound } from "./errors.js";
import { GUID_PATTERN, isObject, type Json } from "./http-io.js";
import { page } from "./paging.js";
import { requireSubscription } from "./resource-groups.js";
import { isAtOrAbove, normalizeScope, scopeKey, subscriptionOf } from "./scope.js";
import { stableGuid, type EmulatorState, type Principal, type RoleAssignmentRecord } from "./state.js";

export const ROLE_ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments";
const PRINCIPAL_TYPES = ["User", "Group", "ServicePrincipal", "ForeignGroup", "Device"];

export const assignmentKey = (scope: string, name: string): string => `${scopeKey(scope)}|${name.toLowerCase()}`;

export const roleAssignmentId = (a: RoleAssignmentRecord): string =>
  `${normalizeScope(a.scope) === "/" ? "" : normalizeScope(a.scope)}/providers/${ROLE_ASSIGNMENT_TYPE}/${a.name}`;

/** The response's roleDefinitionId is tenant-level (`/providers/...`) as in the official examples. */
export function renderAssignment(a: RoleAssignmentRecord): Json {
  return {
    properties: {
      roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${a.roleDefinitionGuid}`,
      principalId: a.principalId,
      principalType: a.principalType,
      scope: normalizeScope(a.scope),
      condition: a.condition ?? null,
      conditionVersion: a.conditionVersion ?? null,
      createdOn: a.createdOn,
      updatedOn: a.updatedOn,
      createdBy: a.createdBy,
      updatedBy: a.updatedBy,
      delegatedManagedIdentityResourceId: null,
      description: a.description ?? null,
    },
    id: roleAssignmentId(a),
    type: ROLE_ASSIGNMENT_TYPE,
    name: a.name,
  };
}

function checkScopeSubscription(ctx: HandlerContext, scope: string): void {
  const sub = subscriptionOf(scope);
  if (sub) requireSubscription(ctx, sub);
}

function requireGuidName(name: string): void {
  if (!GUID_PATTERN.test(name)) {
    throw badRequest("InvalidRoleAssignmentId", `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`);
  }
}

/**
 * PUT: validates what ARM validates (GUID name, existing role definition, a principal the directory
 * knows, no twin for the same scope+role+principal under another name). A principal younger than the
 * replication delay is not found yet unless the request names its principalType, ARM's documented
 * workaround. Not long-running.
 */
export function putRoleAssignment(ctx: HandlerContext, req: ArmRequest, scope: string, name: string): ArmResponse {
  requireGuidName(name);
  checkScopeSubscription(ctx, scope);
  if (!isObject(req.body) || !isObject(req.body["properties"])) {
    throw badRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: 'properties' is required.");
  }
  const props = req.body["properties"];
  const roleDefinitionId = props["roleDefinitionId"];
  const principalId = props["principalId"];
  if (typeof roleDefinitionId !== "string" || roleDefinitionId === "") throw badRequest("InvalidRequestContent", "The 'roleDefinitionId' property is required.");
  if (typeof principalId !== "string" || principalId === "") throw badRequest("InvalidRequestContent", "The 'principalId' property is required.");
  const roleGuid = /\/providers\/Microsoft\.Authorization\/roleDefinitions\/([^/?]+)$/i.exec(roleDefinitionId)?.[1] ?? "";
  const role = ctx.state.roleDefinition(roleGuid);
  if (!role) throw badRequest("RoleDefinitionDoesNotExist", `The specified role definition with ID '${roleGuid || roleDefinitionId}' does not exist.`);
  if (!GUID_PATTERN.test(principalId)) throw badRequest("InvalidPrincipalId", `A valid principal ID must be provided for role assignment. '${principalId}' is not a GUID.`);
  const principalType = props["principalType"];
  if (principalType !== undefined && (typeof principalType !== "string" || !PRINCIPAL_TYPES.includes(principalType))) {
    throw badRequest("InvalidPrincipalType", `The principal type '${String(principalType)}' is not valid. Allowed values: ${PRINCIPAL_TYPES.join(", ")}.`);
  }
  const condition = validateCondition(props["condition"], props["conditionVersion"]);
  const principal = ctx.state.principal(principalId);
  const now = ctx.now();
  // Realistic principals carry when replication reaches ARM; others follow limits.principalReplicationDelayMs.
  // Naming the principalType skips the directory lookup, ARM's documented workaround.
  const replicating =
    principal !== undefined &&
    principalType === undefined &&
    (principal.replicatedAt !== undefined ? now < principal.replicatedAt : now - principal.createdAt < ctx.limits.principalReplicationDelayMs);
  if (!principal || replicating) {
    throw badRequest(
      "PrincipalNotFound",
      `Principal ${principalId.replace(/-/g, "")} does not exist in the directory ${ctx.state.tenantId}. Check that you have the correct principal ID. ` +
        "If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. " +
        "In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
    );
  }
  if (principalType !== undefined && principalType !== principal.type) {
    throw badRequest("UnmatchedPrincipalType", `The PrincipalType '${principalType}' in the request does not match the type '${principal.type}' of principal '${principalId}'.`);
  }
  const existing = ctx.state.roleAssignments.get(assignmentKey(scope, name));
  const twin = [...ctx.state.roleAssignments.values()].find(
    (a) => scopeKey(a.scope) === scopeKey(scope) && a.roleDefinitionGuid === role.guid && a.principalId.toLowerCase() === principalId.toLowerCase() && a.name.toLowerCase() !== name.toLowerCase(),
  );
  if (twin) throw conflict("RoleAssignmentExists", "The role assignment already exists.");
  if (existing) {
    if (existing.roleDefinitionGuid !== role.guid || existing.principalId.toLowerCase() !== principalId.toLowerCase()) {
      throw badRequest("RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.");
    }
    return { status: 200, body: renderAssignment(existing) };
  }
  checkAssignmentLimit(ctx, scope);
  const stamp = new Date(now).toISOString();
  const record: RoleAssignmentRecord = {
    name,
    scope: normalizeScope(scope),
    roleDefinitionGuid: role.guid,
    principalId,
    principalType: principal.type,
    ...(typeof props["description"] === "string" ? { description: props["description"] } : {}),
    ...(condition ?? {}),
    createdOn: stamp,
    updatedOn: stamp,
    createdBy: req.caller.principal.id,
    updatedBy: req.caller.principal.id,
  };
  ctx.state.roleAssignments.set(assignmentKey(scope, name), record);
  ctx.emit({ kind: "Write", resourceUri: roleAssignmentId(record), operationName: `${ROLE_ASSIGNMENT_TYPE}/write`, subscriptionId: subscriptionOf(scope) ?? "" });
  return { status: 201, body: renderAssignment(record) };
}

/**
 * A subscription holds at most 4,000 role assignments, at every scope inside it together, and the limit
 * cannot be raised (Microsoft, "Azure subscription and service limits" and RBAC troubleshooting:
 * "No more role assignments can be created (code: RoleAssignmentLimitExceeded)"). Some subscriptions
 * were reported at 2,000: `limits.roleAssignmentsPerSubscription` sets it.
 */
function checkAssignmentLimit(ctx: HandlerContext, scope: string): void {
  const sub = subscriptionOf(scope)?.toLowerCase();
  if (!sub) return;
  const limit = ctx.limits.roleAssignmentsPerSubscription;
  let count = 0;
  for (const a of ctx.state.roleAssignments.values()) if (subscriptionOf(a.scope)?.toLowerCase() === sub) count += 1;
  if (count >= limit) {
    throw badRequest(
      "RoleAssignmentLimitExceeded",
      `No more role assignments can be created: subscription '${subscriptionOf(scope)}' holds ${count} role assignments, its limit is ${limit}. ` +
        "Remove assignments that are no longer needed, or assign to groups instead of individual principals.",
    );
  }
}

const ROLE_DEFINITION_GUID = /\/providers\/Microsoft\.Authorization\/roleDefinitions\/([^/?]+)$/i;

/**
 * What ABAC conditions read for a role-assignment write or delete: the requested role, principal and
 * principal type (@Request), and those of the assignment that exists at that name (@Resource). A
 * delete of an assignment that does not exist has nothing to constrain: conditions are not evaluated.
 */
export function roleAssignmentAttributes(state: EmulatorState, body: unknown, scope: string, name: string, verb: "write" | "delete"): AuthorizationCheck["attributes"] {
  const existing = state.roleAssignments.get(assignmentKey(scope, name));
  const resource = existing ? { RoleDefinitionId: existing.roleDefinitionGuid, PrincipalId: existing.principalId, PrincipalType: existing.principalType } : undefined;
  if (verb === "delete") return resource ? { resource } : undefined;
  const props = isObject(body) && isObject(body["properties"]) ? body["properties"] : {};
  const roleId = typeof props["roleDefinitionId"] === "string" ? props["roleDefinitionId"] : "";
  const principalId = typeof props["principalId"] === "string" ? props["principalId"] : undefined;
  const principalType = typeof props["principalType"] === "string" ? props["principalType"] : principalId ? state.principal(principalId)?.type : undefined;
  const request = {
    ...(roleId ? { RoleDefinitionId: ROLE_DEFINITION_GUID.exec(roleId)?.[1] ?? roleId } : {}),
    ...(principalId ? { PrincipalId: principalId } : {}),
    ...(principalType ? { PrincipalType: principalType } : {}),
  };
  return { request, ...(resource ? { resource } : {}) };
}

export interface AdminRoleAssignmentInput {
  readonly principalId: string;
  /** A role definition GUID or its full id (`/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}` or tenant-level). */
  readonly roleDefinitionId: string;
  readonly scope: string;
  readonly condition?: string;
  readonly conditionVersion?: string;
  readonly description?: string;
  /** The assignment's name (a GUID); default: derived from scope, role and principal, so the same grant twice is one assignment. */
  readonly name?: string;
}

/**
 * The tenant admin's grant (POST {admin}/roleAssignments): no RBAC check, no replication window, no
 * event (setting up the world is not an ARM write anyone watches). The same scope + role + principal
 * again updates that assignment (condition, description) instead of failing: scripts can re-run.
 */
export function adminGrant(state: EmulatorState, input: unknown, now: number, grantedBy: string): { created: boolean; body: Json } {
  if (!isObject(input)) throw badRequest("InvalidRequestContent", "POST /roleAssignments needs a JSON object {principalId, roleDefinitionId, scope}.");
  const field = (key: string): string => {
    const v = input[key];
    if (typeof v !== "string" || v.trim() === "") throw badRequest("InvalidRequestContent", `'${key}' is required (a string); got ${JSON.stringify(v) ?? "nothing"}.`);
    return v.trim();
  };
  const optional = (key: string): string | undefined => {
    const v = input[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") throw badRequest("InvalidRequestContent", `'${key}' must be a string; got ${JSON.stringify(v)}.`);
    return v;
  };
  const known = new Set(["principalId", "roleDefinitionId", "scope", "condition", "conditionVersion", "description", "name"]);
  const unknown = Object.keys(input).filter((k) => !known.has(k));
  if (unknown.length > 0) throw badRequest("InvalidRequestContent", `Unknown field(s) ${unknown.map((k) => `'${k}'`).join(", ")}; allowed: ${[...known].join(", ")}.`);
  const principalId = field("principalId");
  if (!GUID_PATTERN.test(principalId)) throw badRequest("InvalidPrincipalId", `principalId '${principalId.slice(0, 80)}' must be a GUID (an object id).`);
  const principal: Principal | undefined = state.principal(principalId);
  if (!principal) throw badRequest("PrincipalNotFound", `Principal '${principalId}' is not registered; POST it to /admin/principals first.`);
  const roleText = field("roleDefinitionId");
  const roleGuid = GUID_PATTERN.test(roleText) ? roleText : ROLE_DEFINITION_GUID.exec(roleText)?.[1];
  if (!roleGuid || !GUID_PATTERN.test(roleGuid)) {
    throw badRequest("InvalidRoleDefinitionId", `roleDefinitionId '${roleText.slice(0, 200)}' must be a GUID or '/[subscriptions/{id}/]providers/Microsoft.Authorization/roleDefinitions/{guid}'.`);
  }
  const role = state.roleDefinition(roleGuid);
  if (!role) throw badRequest("RoleDefinitionDoesNotExist", `The specified role definition with ID '${roleGuid}' does not exist (built-in roles are listed by GET /providers/Microsoft.Authorization/roleDefinitions).`);
  const scopeText = field("scope");
  const scope = normalizeScope(scopeText);
  if (scope !== "/" && !/^\/subscriptions\/[^/]+(\/resourceGroups\/[^/]+(\/providers\/[^/]+(\/[^/]+\/[^/]+)+)?)?$/i.test(scope)) {
    throw badRequest("InvalidScope", `scope '${scopeText.slice(0, 200)}' must be '/', '/subscriptions/{id}', '/subscriptions/{id}/resourceGroups/{name}' or a resource id under one.`);
  }
  const sub = subscriptionOf(scope);
  if (sub !== undefined && !state.subscription(sub)) throw badRequest("SubscriptionNotFound", `The subscription '${sub}' of scope '${scope}' does not exist in the emulator; POST it to /admin/subscriptions first.`);
  const condition = validateCondition(optional("condition"), optional("conditionVersion"));
  const description = optional("description");
  const twin = [...state.roleAssignments.values()].find(
    (a) => scopeKey(a.scope) === scopeKey(scope) && a.roleDefinitionGuid === role.guid && a.principalId.toLowerCase() === principalId.toLowerCase(),
  );
  const name = optional("name") ?? twin?.name ?? stableGuid(`admin-grant:${scopeKey(scope)}|${role.guid}|${principalId.toLowerCase()}`);
  if (!GUID_PATTERN.test(name)) throw badRequest("InvalidRoleAssignmentId", `name '${name.slice(0, 80)}' must be a GUID.`);
  if (twin && twin.name.toLowerCase() !== name.toLowerCase()) throw conflict("RoleAssignmentExists", `The role assignment already exists under the name '${twin.name}'.`);
  const existing = state.roleAssignments.get(assignmentKey(scope, name));
  if (existing && !twin) throw conflict("RoleAssignmentUpdateNotPermitted", `An assignment named '${name}' already exists at '${scope}' for another role or principal.`);
  const stamp = new Date(now).toISOString();
  const record: RoleAssignmentRecord = {
    name,
    scope,
    roleDefinitionGuid: role.guid,
    principalId: principal.id,
    principalType: principal.type,
    ...(description !== undefined ? { description } : {}),
    ...(condition ?? {}),
    createdOn: existing?.createdOn ?? stamp,
    updatedOn: stamp,
    createdBy: existing?.createdBy ?? grantedBy,
    updatedBy: grantedBy,
  };
  state.roleAssignments.set(assignmentKey(scope, name), record);
  return { created: existing === undefined, body: renderAssignment(record) };
}

export function getRoleAssignment(ctx: HandlerContext, _req: ArmRequest, scope: string, name: string): ArmResponse {
  const a = ctx.state.roleAssignments.get(assignmentKey(scope, name));
  if (!a) throw notFound("RoleAssignmentNotFound", `The role assignment '${name}' is not found.`);
  return { status: 200, body: renderAssignment(a) };
}

export function deleteRoleAssignment(ctx: HandlerContext, _req: ArmRequest, scope: string, name: string): ArmResponse {
  const k = assignmentKey(scope, name);
  const a = ctx.state.roleAssignments.get(k);
  if (!a) return { status: 204 };
  ctx.state.roleAssignments.delete(k);
  ctx.emit({ kind: "Delete", resourceUri: roleAssignmentId(a), operationName: `${ROLE_ASSIGNMENT_TYPE}/delete`, subscriptionId: subscriptionOf(scope) ?? "" });
  return { status: 200, body: renderAssignment(a) };
}

interface AssignmentFilter {
  atScope: boolean;
  principalId?: string;
}

/** `$filter`: `atScope()`, `principalId eq '{id}'`, `assignedTo('{id}')`, joined with `and`. */
function parseFilter(filter: string | null): AssignmentFilter {
  const result: AssignmentFilter = { atScope: false };
  if (!filter) return result;
  for (const clause of filter.split(/\s+and\s+/i).map((c) => c.trim())) {
    let m: RegExpExecArray | null;
    if (/^atScope\(\)$/i.test(clause)) result.atScope = true;
    else if ((m = /^principalId\s+eq\s+'([^']+)'$/i.exec(clause)) || (m = /^assignedTo\('([^']+)'\)$/i.exec(clause))) result.principalId = m[1];
    else throw badRequest("InvalidFilterParameter", `The filter '${filter}' is not supported. Supported filters: atScope(), principalId eq '{id}', assignedTo('{id}').`);
  }
  return result;
}

/** At the scope and above it with atScope(); otherwise at, above and below, like ARM. */
export function listRoleAssignments(ctx: HandlerContext, req: ArmRequest, scope: string): ArmResponse {
  checkScopeSubscription(ctx, scope);
  const filter = parseFilter(req.query.get("$filter"));
  const items = [...ctx.state.roleAssignments.values()]
    .filter((a) => isAtOrAbove(a.scope, scope) || (!filter.atScope && isAtOrAbove(scope, a.scope)))
    .filter((a) => filter.principalId === undefined || a.principalId.toLowerCase() === filter.principalId.toLowerCase())
    .sort((a, b) => roleAssignmentId(a).localeCompare(roleAssignmentId(b)))
    .map(renderAssignment);
  return { status: 200, body: page(ctx, req, items) };
}
