import { DOMAIN_JOIN_EXTENSION } from "../domain/extensionType.js";
import { LOGIN_ROLES } from "../domain/roles.js";
import type { ImageReference, ObservedAssignment, ObservedExtension, ObservedVm } from "../domain/vm.js";
import type { EstateSnapshot } from "../orchestrator/ports.js";
import type { ResourceGraph } from "./resourceGraph.js";
import { normalizeIdentityType } from "./identityType.js";

/**
 * The drift audit's three Resource Graph queries and the mapping of their rows onto the domain's
 * types. Rows are as Resource Graph documents them: VMs carry the guest agent's report under
 * `properties.extended.instanceView` (power state, osName, osVersion); extensions are rows of their
 * own (no instance view: only provisioningState); role assignments live in `AuthorizationResources`.
 * Each query projects `id`, which Resource Graph needs to page.
 */
export const VM_QUERY = `Resources
| where type =~ 'microsoft.compute/virtualmachines'
| project id, name, location, tags, identity,
  osType = properties.storageProfile.osDisk.osType,
  imageReference = properties.storageProfile.imageReference,
  vmSize = properties.hardwareProfile.vmSize,
  provisioningState = properties.provisioningState,
  powerState = properties.extended.instanceView.powerState.code,
  osName = properties.extended.instanceView.osName,
  osVersion = properties.extended.instanceView.osVersion`;

/** Only the extension types a decision depends on: the login extension(s) and the domain join. */
export function extensionQuery(types: readonly string[]): string {
  const list = [...new Set([...types, DOMAIN_JOIN_EXTENSION.type])].filter((t) => /^[A-Za-z0-9.]+$/.test(t));
  return `Resources
| where type =~ 'microsoft.compute/virtualmachines/extensions'
| where properties.type in~ (${list.map((t) => `'${t}'`).join(", ")})
| project id, name,
  publisher = properties.publisher,
  extensionType = properties.type,
  typeHandlerVersion = properties.typeHandlerVersion,
  provisioningState = properties.provisioningState`;
}

export const ASSIGNMENT_QUERY = `AuthorizationResources
| where type =~ 'microsoft.authorization/roleassignments'
| where properties.roleDefinitionId endswith '${LOGIN_ROLES.admin.guid}' or properties.roleDefinitionId endswith '${LOGIN_ROLES.user.guid}'
| project id, name,
  scope = properties.scope,
  roleDefinitionId = properties.roleDefinitionId,
  principalId = properties.principalId,
  principalType = properties.principalType,
  description = properties.description`;

/** Reads the three queries over the subscriptions and joins them by VM id (lower case). */
export async function readEstateSnapshot(graph: ResourceGraph, subscriptions: readonly string[], extensionTypes: readonly string[]): Promise<EstateSnapshot> {
  const pagesBefore = graph.pagesRead;
  const extensionsByVm = new Map<string, ObservedExtension[]>();
  for await (const row of graph.rows(subscriptions, extensionQuery(extensionTypes))) {
    const id = str(row["id"]);
    const at = id.toLowerCase().lastIndexOf("/extensions/");
    if (at < 0) continue;
    const vmId = id.slice(0, at).toLowerCase();
    const list = extensionsByVm.get(vmId) ?? [];
    list.push(extensionFromRow(row));
    extensionsByVm.set(vmId, list);
  }
  const vms = new Map<string, ObservedVm>();
  for await (const row of graph.rows(subscriptions, VM_QUERY)) {
    const vm = vmFromRow(row, extensionsByVm.get(str(row["id"]).toLowerCase()) ?? []);
    if (vm) vms.set(vm.id.toLowerCase(), vm);
  }
  const assignments = new Map<string, ObservedAssignment[]>();
  const loginAssignmentsBySubscription: Record<string, number> = {};
  for await (const row of graph.rows(subscriptions, ASSIGNMENT_QUERY)) {
    const a = assignmentFromRow(row);
    if (!a) continue;
    const sub = (/^\/subscriptions\/([^/]+)/i.exec(a.scope)?.[1] ?? "").toLowerCase();
    if (sub) loginAssignmentsBySubscription[sub] = (loginAssignmentsBySubscription[sub] ?? 0) + 1;
    const key = a.scope.toLowerCase();
    const list = assignments.get(key) ?? [];
    list.push(a);
    assignments.set(key, list);
  }
  return { vms, assignments, loginAssignmentsBySubscription, requests: graph.pagesRead - pagesBefore };
}

export function vmFromRow(row: Record<string, unknown>, extensions: readonly ObservedExtension[]): ObservedVm | undefined {
  const id = str(row["id"]);
  if (!/\/providers\/microsoft\.compute\/virtualmachines\/[^/]+$/i.test(id)) return undefined;
  const identity = obj(row["identity"]);
  const image = obj(row["imageReference"]);
  const power = str(row["powerState"]);
  const imageReference: ImageReference = {
    ...optional("publisher", image["publisher"]),
    ...optional("offer", image["offer"]),
    ...optional("sku", image["sku"]),
    ...optional("version", image["version"]),
    ...optional("id", image["id"]),
    ...optional("sharedGalleryImageId", image["sharedGalleryImageId"]),
    ...optional("communityGalleryImageId", image["communityGalleryImageId"]),
  };
  return {
    id,
    name: str(row["name"]) || id.split("/").pop() || "",
    location: str(row["location"]),
    tags: Object.fromEntries(Object.entries(obj(row["tags"])).filter(([, v]) => typeof v === "string")) as Record<string, string>,
    ...optional("osType", row["osType"]),
    ...(Object.keys(imageReference).length > 0 ? { imageReference } : {}),
    ...optional("vmSize", row["vmSize"]),
    ...optional("provisioningState", row["provisioningState"]),
    ...(power.toLowerCase().startsWith("powerstate/") ? { powerState: power.slice("PowerState/".length).toLowerCase() } : {}),
    ...optional("agentOsName", row["osName"]),
    ...optional("agentOsVersion", row["osVersion"]),
    identity: {
      type: normalizeIdentityType(str(identity["type"])),
      ...optional("principalId", identity["principalId"]),
      ...optional("tenantId", identity["tenantId"]),
      userAssignedIdentityIds: Object.keys(obj(identity["userAssignedIdentities"])),
    },
    extensions,
  };
}

function extensionFromRow(row: Record<string, unknown>): ObservedExtension {
  return {
    name: str(row["name"]).split("/").pop() ?? "",
    ...optional("publisher", row["publisher"]),
    ...optional("type", row["extensionType"]),
    ...optional("typeHandlerVersion", row["typeHandlerVersion"]),
    ...optional("provisioningState", row["provisioningState"]),
    // Resource Graph has no instance view of extensions: a Succeeded row is taken at its word here,
    // and the pass that any suspicion triggers reads the statuses from ARM.
    statuses: [],
    substatuses: [],
  };
}

function assignmentFromRow(row: Record<string, unknown>): ObservedAssignment | undefined {
  const id = str(row["id"]);
  const scope = str(row["scope"]) || id.replace(/\/providers\/Microsoft\.Authorization\/roleAssignments\/[^/]+$/i, "");
  const roleDefinitionId = str(row["roleDefinitionId"]);
  const principalId = str(row["principalId"]).toLowerCase();
  if (!id || !scope || !roleDefinitionId || !principalId) return undefined;
  return {
    id,
    name: str(row["name"]) || id.split("/").pop() || "",
    scope,
    roleDefinitionId,
    principalId,
    ...optional("principalType", row["principalType"]),
    ...optional("description", row["description"]),
  };
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function obj(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function optional<K extends string>(key: K, value: unknown): { [P in K]?: string } {
  return typeof value === "string" && value !== "" ? ({ [key]: value } as { [P in K]?: string }) : {};
}
