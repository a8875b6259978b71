import type { ArmRequest, ArmResponse, HandlerContext } from "./context.js";
import { badRequest, notFound } from "./errors.js";
import type { Json } from "./http-io.js";
import { page } from "./paging.js";
import { normalizeScope, subscriptionOf } from "./scope.js";
import type { RoleDefinitionRecord } from "./role-definitions.js";

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
