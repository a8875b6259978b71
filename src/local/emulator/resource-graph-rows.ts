import type { HandlerContext } from "./context.js";
import { isObject, type Json } from "./http-io.js";
import { ROLE_ASSIGNMENT_TYPE, renderAssignment, roleAssignmentId } from "./role-assignments.js";
import { normalizeScope, subscriptionOf } from "./scope.js";
import type { RoleAssignmentRecord, VmRecord } from "./state.js";
import { renderExtension } from "./vm-extensions.js";
import { instanceView, renderVm, vmResourceId } from "./virtual-machines.js";

/**
 * Rows as Azure Resource Graph returns them: every row carries the same top-level columns (id, name,
 * type in lower case, tenantId, kind, location, resourceGroup, subscriptionId, managedBy, sku, plan,
 * properties, tags, identity, zones, extendedLocation); Microsoft's "Understanding the Resource Graph
 * query language" lists the Resources table's columns, and its sample queries read a VM's power state at
 * `properties.extended.instanceView.powerState.code` and the guest's `osName`/`osVersion`/`computerName`
 * beside it. Extensions are rows of their own (type `microsoft.compute/virtualmachines/extensions`) with
 * no instance view; role assignments live in AuthorizationResources (`microsoft.authorization/roleassignments`).
 */
export const RESOURCE_COLUMNS = [
  "id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId", "managedBy",
  "sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation",
] as const;

export interface GraphRow {
  readonly table: "Resources" | "AuthorizationResources";
  readonly row: Json;
}

function baseRow(tenantId: string, id: string, name: string, type: string, subscriptionId: string, resourceGroup: string): Json {
  return {
    id,
    name,
    type: type.toLowerCase(),
    tenantId,
    kind: "",
    location: "",
    // Resource Graph reports resource groups in lower case (ids keep ARM's casing).
    resourceGroup: resourceGroup.toLowerCase(),
    subscriptionId,
    managedBy: "",
    sku: null,
    plan: null,
    properties: {},
    tags: {},
    identity: null,
    zones: null,
    extendedLocation: null,
  };
}

/** The VM's row (with `properties.extended.instanceView`) and one row per extension, keyed by lower-case id. */
export function vmRows(ctx: HandlerContext, vm: VmRecord, tenantId: string): Map<string, GraphRow> {
  const rows = new Map<string, GraphRow>();
  const arm = renderVm(ctx, vm);
  const view = instanceView(ctx, vm);
  const statuses = Array.isArray(view["statuses"]) ? (view["statuses"] as Json[]) : [];
  const power = statuses.find((s) => typeof s["code"] === "string" && s["code"].startsWith("PowerState/"));
  const extended: Json = {
    ...(typeof view["computerName"] === "string" ? { computerName: view["computerName"] } : {}),
    ...(typeof view["osName"] === "string" ? { osName: view["osName"] } : {}),
    ...(typeof view["osVersion"] === "string" ? { osVersion: view["osVersion"] } : {}),
    hyperVGeneration: view["hyperVGeneration"] ?? null,
    ...(power ? { powerState: { code: power["code"], level: power["level"], displayStatus: power["displayStatus"] } } : {}),
  };
  const props = isObject(arm["properties"]) ? structuredClone(arm["properties"]) : {};
  props["extended"] = { instanceView: extended };
  const id = vmResourceId(vm);
  rows.set(id.toLowerCase(), {
    table: "Resources",
    row: {
      ...baseRow(tenantId, id, vm.name, "Microsoft.Compute/virtualMachines", vm.subscriptionId, vm.resourceGroup),
      location: arm["location"] ?? "",
      plan: arm["plan"] ?? null,
      properties: props,
      tags: isObject(arm["tags"]) ? arm["tags"] : {},
      identity: arm["identity"] ?? null,
      zones: arm["zones"] ?? null,
      extendedLocation: arm["extendedLocation"] ?? null,
    },
  });
  for (const ext of vm.extensions.values()) {
    const x = renderExtension(vm, ext, false);
    const xid = String(x["id"]);
    rows.set(xid.toLowerCase(), {
      table: "Resources",
      row: {
        ...baseRow(tenantId, xid, ext.name, "Microsoft.Compute/virtualMachines/extensions", vm.subscriptionId, vm.resourceGroup),
        location: x["location"] ?? "",
        properties: x["properties"] ?? {},
        tags: isObject(x["tags"]) ? x["tags"] : {},
      },
    });
  }
  return rows;
}

/** A role assignment's row; `roleDefinitionId` is subscription-qualified inside a subscription, as ARG shows it. */
export function assignmentRow(a: RoleAssignmentRecord, tenantId: string): GraphRow {
  const id = roleAssignmentId(a);
  const scope = normalizeScope(a.scope);
  const sub = subscriptionOf(scope) ?? "";
  const rg = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)/i.exec(scope)?.[1] ?? "";
  return {
    table: "AuthorizationResources",
    row: {
      ...baseRow(tenantId, id, a.name, ROLE_ASSIGNMENT_TYPE, sub, rg),
      // ARM's own properties of the assignment, with the subscription-qualified role id Resource Graph shows.
      properties: {
        ...((renderAssignment(a) as { properties: Record<string, Json> }).properties),
        roleDefinitionId: `${sub ? `/subscriptions/${sub}` : ""}/providers/Microsoft.Authorization/roleDefinitions/${a.roleDefinitionGuid}`,
        scope,
      },
    },
  };
}
