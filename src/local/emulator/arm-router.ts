import type { ProviderNamespace } from "./api-versions.js";
import { operationStatus } from "./compute-lro.js";
import type { AuthorizationCheck } from "./authorization.js";
import { resourceActionOf } from "./authorization.js";
import type { Handler } from "./context.js";
import { ArmError, notFound } from "./errors.js";
import { queryResources } from "./resource-graph.js";
import { deleteResourceGroup, getResourceGroup, putResourceGroup } from "./resource-groups.js";
import { deleteRoleAssignment, getRoleAssignment, listRoleAssignments, putRoleAssignment, roleAssignmentAttributes } from "./role-assignments.js";
import { deleteRoleDefinition, getRoleDefinition, listRoleDefinitions, putRoleDefinition } from "./role-definition-api.js";
import { getNetworkResource } from "./network.js";
import type { EmulatorState } from "./state.js";
import { deleteTags, getTags, writeTags } from "./tags.js";
import { deleteExtension, getExtension, listExtensions, putExtension } from "./vm-extensions.js";
import { deleteVm, getInstanceView, getVm, listVms, patchVm, putVm, vmAction } from "./virtual-machines.js";

export interface ArmRoute {
  readonly provider: ProviderNamespace;
  /** For api-version errors, e.g. "virtualMachines". */
  readonly resourceType: string;
  /** ARM operation name as the activity log and Event Grid spell it, e.g. Microsoft.Compute/virtualMachines/read. */
  readonly operation: string;
  readonly handle: Handler;
  /** Other actions ARM accepts for this request (tags: write or read access to the tagged resource itself). */
  readonly alternatives?: readonly string[];
  /** Role-assignment writes and deletes: the attributes their ABAC conditions read. */
  readonly conditionAttributes?: (state: EmulatorState, body: unknown) => AuthorizationCheck["attributes"];
  /** Authorized per row of the answer (Resource Graph), not by the route's operation at a scope. */
  readonly authorizedPerRow?: boolean;
}

const methodNotAllowed = (method: string, path: string): ArmError =>
  new ArmError(405, "MethodNotAllowed", `The requested resource does not support http method '${method}' (path '${path}').`);

/**
 * Role-assignment writes are not long-running, but under realistic timing their response takes about a
 * second: the handler runs (and the response goes out) after the drawn delay.
 */
const delayed =
  (handler: Handler): Handler =>
  async (ctx, req) => {
    const ms = ctx.timing.responseDelayMs("role-assignment-write");
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
    return handler(ctx, req);
  };

const verb = (method: string): string => ({ GET: "read", PUT: "write", PATCH: "write", DELETE: "delete", POST: "action" })[method] ?? "read";

/**
 * Maps an ARM path (duplicate slashes collapsed) to its handler. Provider namespaces, resource types
 * and fixed segments match case-insensitively, as ARM does; names keep the caller's casing.
 * Authorization and tags routes are scope-based: the scope is everything before the last
 * `/providers/Microsoft.Authorization/` or `/providers/Microsoft.Resources/tags`.
 */
export function routeArm(method: string, path: string): ArmRoute {
  // Resource Graph: a tenant-level POST anyone signed in may send; what the caller may read is decided per
  // row (ResourceGraph.canRead: the row's `<type>/read` at its scope), not by this route's operation at "/".
  if (/^\/providers\/Microsoft\.ResourceGraph\/resources$/i.test(path)) {
    if (method !== "POST") throw methodNotAllowed(method, path);
    return { provider: "Microsoft.ResourceGraph", resourceType: "resources", operation: "Microsoft.ResourceGraph/resources/read", handle: queryResources, authorizedPerRow: true };
  }
  const auth = /^(.*?)\/providers\/Microsoft\.Authorization\/(roleAssignments|roleDefinitions)(?:\/([^/]+))?$/i.exec(path);
  if (auth) {
    const scope = auth[1] || "/";
    const kind = (auth[2] ?? "").toLowerCase();
    const name = auth[3];
    if (kind === "roleassignments") {
      const op = `Microsoft.Authorization/roleAssignments/${verb(method)}`;
      const base = { provider: "Microsoft.Authorization" as const, resourceType: "roleAssignments", operation: op };
      if (name === undefined) {
        if (method === "GET") return { ...base, handle: (c, r) => listRoleAssignments(c, r, scope) };
      } else if (method === "PUT") {
        return { ...base, handle: delayed((c, r) => putRoleAssignment(c, r, scope, name)), conditionAttributes: (s, r) => roleAssignmentAttributes(s, r, scope, name, "write") };
      } else if (method === "GET") return { ...base, handle: (c, r) => getRoleAssignment(c, r, scope, name) };
      else if (method === "DELETE") {
        return { ...base, handle: delayed((c, r) => deleteRoleAssignment(c, r, scope, name)), conditionAttributes: (s, r) => roleAssignmentAttributes(s, r, scope, name, "delete") };
      }
    } else {
      const base = { provider: "Microsoft.Authorization" as const, resourceType: "roleDefinitions", operation: `Microsoft.Authorization/roleDefinitions/${verb(method)}` };
      if (method === "GET") {
        return name === undefined
          ? { ...base, handle: (c, r) => listRoleDefinitions(c, r, scope) }
          : { ...base, handle: (c, r) => getRoleDefinition(c, r, scope, name) };
      }
      if (name !== undefined && method === "PUT") return { ...base, handle: (c, r) => putRoleDefinition(c, r, scope, name) };
      if (name !== undefined && method === "DELETE") return { ...base, handle: (c, r) => deleteRoleDefinition(c, r, scope, name) };
    }
    throw methodNotAllowed(method, path);
  }

  const tags = /^(.*?)\/providers\/Microsoft\.Resources\/tags\/default$/i.exec(path);
  if (tags) {
    const scope = tags[1] || "/";
    // ARM lets either Microsoft.Resources/tags/* or access to the resource itself tag it (Tag Contributor vs Contributor).
    const own = resourceActionOf(scope, method === "GET" ? "read" : "write");
    const base = {
      provider: "Microsoft.Resources" as const,
      resourceType: "tags",
      operation: `Microsoft.Resources/tags/${verb(method)}`,
      ...(own ? { alternatives: [own] } : {}),
    };
    if (method === "GET") return { ...base, handle: (c, r) => getTags(c, r, scope) };
    if (method === "PUT" || method === "PATCH") return { ...base, handle: (c, r) => writeTags(c, r, scope, method) };
    if (method === "DELETE") return { ...base, handle: (c, r) => deleteTags(c, r, scope) };
    throw methodNotAllowed(method, path);
  }

  const seg = path.split("/").filter(Boolean);
  const low = seg.map((s) => s.toLowerCase());
  const at = (i: number): string => seg[i] ?? "";
  if (low[0] !== "subscriptions" || seg.length < 2) throw notFoundRoute(path);
  const sub = at(1);

  // /subscriptions/{sub}/providers/Microsoft.Compute/...
  if (low[2] === "providers" && low[3] === "microsoft.compute") {
    const compute = { provider: "Microsoft.Compute" as const };
    if (seg.length === 5 && low[4] === "virtualmachines" && method === "GET") {
      return { ...compute, resourceType: "virtualMachines", operation: "Microsoft.Compute/virtualMachines/read", handle: (c, r) => listVms(c, r, sub) };
    }
    if (seg.length === 8 && low[4] === "locations" && low[6] === "operations" && method === "GET") {
      const opId = at(7);
      return {
        ...compute,
        resourceType: "locations/operations",
        operation: "Microsoft.Compute/locations/operations/read",
        handle: (c, r) => operationStatus(c, r, sub, opId),
      };
    }
    throw notFoundRoute(path);
  }

  if (low[2] !== "resourcegroups" || seg.length < 4) throw notFoundRoute(path);
  const rg = at(3);
  if (seg.length === 4) {
    const base = { provider: "Microsoft.Resources" as const, resourceType: "resourceGroups", operation: `Microsoft.Resources/subscriptions/resourceGroups/${verb(method)}` };
    if (method === "GET") return { ...base, handle: (c, r) => getResourceGroup(c, r, sub, rg) };
    if (method === "PUT") return { ...base, handle: (c, r) => putResourceGroup(c, r, sub, rg) };
    if (method === "DELETE") return { ...base, handle: (c, r) => deleteResourceGroup(c, r, sub, rg) };
    throw methodNotAllowed(method, path);
  }
  if (low[4] === "providers" && low[5] === "microsoft.network") {
    // Read-only: the preflight's GETs of a NIC, a security group and a subnet.
    const type = seg.length === 8 && (low[6] === "networkinterfaces" || low[6] === "networksecuritygroups") ? at(6)
      : seg.length === 10 && low[6] === "virtualnetworks" && low[8] === "subnets" ? "virtualNetworks/subnets" : undefined;
    if (!type) throw notFoundRoute(path);
    const resourceType = type === "virtualNetworks/subnets" ? type : low[6] === "networkinterfaces" ? "networkInterfaces" : "networkSecurityGroups";
    if (method !== "GET") throw methodNotAllowed(method, path);
    return { provider: "Microsoft.Network", resourceType, operation: `Microsoft.Network/${resourceType}/read`, handle: (c, r) => getNetworkResource(c, r, sub, rg) };
  }
  if (low[4] !== "providers" || low[5] !== "microsoft.compute" || low[6] !== "virtualmachines") throw notFoundRoute(path);
  const vmBase = { provider: "Microsoft.Compute" as const, resourceType: "virtualMachines" };
  if (seg.length === 7) {
    if (method === "GET") return { ...vmBase, operation: "Microsoft.Compute/virtualMachines/read", handle: (c, r) => listVms(c, r, sub, rg) };
    throw methodNotAllowed(method, path);
  }
  const vm = at(7);
  if (seg.length === 8) {
    const op = `Microsoft.Compute/virtualMachines/${verb(method)}`;
    if (method === "GET") return { ...vmBase, operation: op, handle: (c, r) => getVm(c, r, sub, rg, vm) };
    if (method === "PUT") return { ...vmBase, operation: op, handle: (c, r) => putVm(c, r, sub, rg, vm) };
    if (method === "PATCH") return { ...vmBase, operation: op, handle: (c, r) => patchVm(c, r, sub, rg, vm) };
    if (method === "DELETE") return { ...vmBase, operation: op, handle: (c, r) => deleteVm(c, r, sub, rg, vm) };
    throw methodNotAllowed(method, path);
  }
  if (seg.length === 9 && low[8] === "instanceview") {
    if (method === "GET") return { ...vmBase, operation: "Microsoft.Compute/virtualMachines/instanceView/read", handle: (c, r) => getInstanceView(c, r, sub, rg, vm) };
    throw methodNotAllowed(method, path);
  }
  if (low[8] === "extensions") {
    const extBase = { provider: "Microsoft.Compute" as const, resourceType: "virtualMachines/extensions" };
    const op = `Microsoft.Compute/virtualMachines/extensions/${verb(method)}`;
    if (seg.length === 9) {
      if (method === "GET") return { ...extBase, operation: op, handle: (c, r) => listExtensions(c, r, sub, rg, vm) };
      throw methodNotAllowed(method, path);
    }
    if (seg.length === 10) {
      const ext = at(9);
      if (method === "GET") return { ...extBase, operation: op, handle: (c, r) => getExtension(c, r, sub, rg, vm, ext) };
      if (method === "PUT") return { ...extBase, operation: op, handle: (c, r) => putExtension(c, r, sub, rg, vm, ext, "put") };
      if (method === "PATCH") return { ...extBase, operation: op, handle: (c, r) => putExtension(c, r, sub, rg, vm, ext, "patch") };
      if (method === "DELETE") return { ...extBase, operation: op, handle: (c, r) => deleteExtension(c, r, sub, rg, vm, ext) };
      throw methodNotAllowed(method, path);
    }
  }
  if (seg.length === 9 && method === "POST") {
    const action = at(8);
    return { ...vmBase, operation: `Microsoft.Compute/virtualMachines/${action}/action`, handle: (c, r) => vmAction(c, r, sub, rg, vm, action) };
  }
  throw notFoundRoute(path);
}

function notFoundRoute(path: string): ArmError {
  return notFound(
    "InvalidResourceType",
    `The resource type for path '${path}' could not be found. The local ARM emulator implements resource groups, ` +
      "virtual machines (+ extensions, instance view, start/deallocate/powerOff/restart), role assignments, role definitions, tags " +
      "and GETs of network interfaces, network security groups and subnets.",
  );
}
