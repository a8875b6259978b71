import type { ArmRequest, ArmResponse, HandlerContext } from "./context.js";
import { badRequest, conflict, notFound } from "./errors.js";
import { GUID_PATTERN, isObject, type Json } from "./http-io.js";
import { page } from "./paging.js";
import { normalizeScope, subscriptionOf } from "./scope.js";
import { BUILT_IN_ROLES, customPermissions, type RoleDefinitionRecord } from "./role-definitions.js";

/** Ids are subscription-level when asked through a subscription scope, tenant-level otherwise, as ARM answers. */
function renderRole(role: RoleDefinitionRecord, scope: string): Json {
  const sub = subscriptionOf(scope);
  return {
    properties: {
      roleName: role.roleName,
      type: role.type,
      description: role.description,
      assignableScopes: [...role.assignableScopes],
      permissions: role.permissions.map((p) => ({ ...p, actions: [...p.actions], notActions: [...p.notActions], dataActions: [...p.dataActions], notDataActions: [...p.notDataActions] })),
      ...(role.condition ? { condition: role.condition, conditionVersion: "2.0" } : {}),
      createdOn: "2015-02-02T21:55:09.8806423Z",
      updatedOn: "2024-01-01T00:00:00.0000000Z",
      createdBy: null,
      updatedBy: null,
    },
    id: `${sub ? `/subscriptions/${sub}` : ""}/providers/Microsoft.Authorization/roleDefinitions/${role.guid}`,
    type: "Microsoft.Authorization/roleDefinitions",
    name: role.guid,
  };
}

export function getRoleDefinition(ctx: HandlerContext, _req: ArmRequest, scope: string, guid: string): ArmResponse {
  const role = ctx.state.roleDefinition(guid);
  if (!role) throw notFound("RoleDefinitionDoesNotExist", `The specified role definition with ID '${guid}' does not exist.`);
  return { status: 200, body: renderRole(role, normalizeScope(scope)) };
}

/** `$filter`: `roleName eq '...'` (case-insensitive) or `type eq 'BuiltInRole'|'CustomRole'`. */
export function listRoleDefinitions(ctx: HandlerContext, req: ArmRequest, scope: string): ArmResponse {
  const filter = req.query.get("$filter");
  let roles = ctx.state.roleDefinitions();
  if (filter) {
    const byName = /^roleName\s+eq\s+'([^']*)'$/i.exec(filter.trim());
    const byType = /^type\s+eq\s+'([^']*)'$/i.exec(filter.trim());
    if (byName) roles = roles.filter((r) => r.roleName.toLowerCase() === (byName[1] ?? "").toLowerCase());
    else if (byType) roles = roles.filter((r) => r.type.toLowerCase() === (byType[1] ?? "").toLowerCase());
    else throw badRequest("InvalidFilterParameter", `The filter '${filter}' is not supported. Supported filters: roleName eq '{name}', type eq '{type}'.`);
  }
  return { status: 200, body: page(ctx, req, roles.map((r) => renderRole(r, normalizeScope(scope)))) };
}

const SCOPE = /^\/subscriptions\/[^/]+(\/resourceGroups\/[^/]+)?$/i;

/**
 * PUT of a custom role, as a template deployment makes one: a GUID name, a roleName unique in the
 * tenant, permissions of action strings, assignable scopes that are subscriptions or resource groups
 * the emulator knows. Built-in roles cannot be changed. Who may do it is RBAC's decision
 * (`Microsoft.Authorization/roleDefinitions/write` at the request's scope), made before this runs.
 */
export function putRoleDefinition(ctx: HandlerContext, req: ArmRequest, scope: string, guid: string): ArmResponse {
  if (!GUID_PATTERN.test(guid)) throw badRequest("InvalidRoleDefinitionId", `The role definition ID '${guid}' is not valid: it must be a GUID.`);
  if (BUILT_IN_ROLES.some((r) => r.guid === guid.toLowerCase())) throw badRequest("RoleDefinitionUpdateNotPermitted", `'${guid}' is a built-in role definition; it cannot be changed.`);
  const props = isObject(req.body) && isObject(req.body["properties"]) ? req.body["properties"] : undefined;
  if (!props) throw badRequest("InvalidRequestContent", "The request content was invalid and could not be deserialized: 'properties' is required.");
  const roleName = props["roleName"];
  if (typeof roleName !== "string" || roleName.trim() === "" || roleName.length > 512) throw badRequest("InvalidRoleDefinitionName", "roleName is required: a string of 1 to 512 characters.");
  const scopes = props["assignableScopes"];
  if (!Array.isArray(scopes) || scopes.length === 0 || scopes.some((x) => typeof x !== "string" || !SCOPE.test(normalizeScope(x)))) {
    throw badRequest("InvalidAssignableScopes", "assignableScopes must list one or more '/subscriptions/{id}[/resourceGroups/{name}]' scopes.");
  }
  for (const x of scopes as string[]) {
    const sub = subscriptionOf(x);
    if (sub && !ctx.state.subscription(sub)) throw badRequest("InvalidAssignableScopes", `The assignable scope '${x}' names a subscription that does not exist.`);
  }
  if (!Array.isArray(props["permissions"])) throw badRequest("InvalidRequestContent", "permissions must be an array of {actions, notActions, dataActions, notDataActions}.");
  const permissions = customPermissions(roleName, props["permissions"] as unknown[]);
  const twin = ctx.state.roleDefinitions().find((r) => r.roleName.toLowerCase() === roleName.toLowerCase() && r.guid !== guid.toLowerCase());
  if (twin) throw conflict("RoleDefinitionWithSameNameExists", `A role definition named '${roleName}' already exists (${twin.guid}); custom role names are unique in the tenant.`);
  const existing = ctx.state.customRoles.get(guid.toLowerCase());
  const record: RoleDefinitionRecord = {
    guid: guid.toLowerCase(),
    roleName,
    type: "CustomRole",
    description: typeof props["description"] === "string" ? props["description"] : "",
    permissions,
    assignableScopes: (scopes as string[]).map(normalizeScope),
  };
  ctx.state.customRoles.set(record.guid, record);
  return { status: existing ? 200 : 201, body: renderRole(record, normalizeScope(scope)) };
}

/** DELETE of a custom role; refused while assignments use it, as ARM does. */
export function deleteRoleDefinition(ctx: HandlerContext, _req: ArmRequest, scope: string, guid: string): ArmResponse {
  const role = ctx.state.customRoles.get(guid.toLowerCase());
  if (!role) return { status: 204 };
  if ([...ctx.state.roleAssignments.values()].some((a) => a.roleDefinitionGuid === role.guid)) {
    throw badRequest("RoleDefinitionHasAssignments", `The role definition '${guid}' has role assignments; delete them first.`);
  }
  ctx.state.customRoles.delete(role.guid);
  return { status: 200, body: renderRole(role, normalizeScope(scope)) };
}
