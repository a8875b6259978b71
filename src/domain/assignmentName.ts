import { createHash } from "node:crypto";
import { sameResourceId } from "./resourceId.js";
import { loginRoleById } from "./roles.js";
import type { ObservedAssignment } from "./vm.js";

/**
 * Role assignment names are deterministic, as CAPZ and Bicep's `guid(scope, principal, role)` do:
 * a retry after a timeout PUTs the same name again instead of creating a twin, and "is this one
 * ours?" can be answered from the assignment alone. The name is an RFC 4122 version-5 UUID (SHA-1,
 * name-based) in this project's own namespace, so it never collides with another tool's scheme.
 */
export const ASSIGNMENT_NAMESPACE = "f6353cb4-2700-45ee-9b8d-7090d0a8ec3b";

/** Every assignment the enforcer creates has a description starting with this. */
export const ENFORCER_MARKER = "Managed by aadlogin-enforcer";

/** RFC 4122 §4.3 name-based UUID, version 5 (SHA-1). */
export function uuidV5(name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ""), "hex");
  if (ns.length !== 16) throw new Error(`Not a UUID namespace: ${JSON.stringify(namespace)}.`);
  const bytes = createHash("sha1").update(ns).update(name, "utf8").digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The name of the assignment of `roleGuid` (a GUID or a full role definition id) to `principalId`
 * at `scope`. ARM ids are case-insensitive, so the inputs are lower-cased (and a trailing slash
 * dropped) first: the same assignment always gets the same name, however ARM spelled the id.
 */
export function assignmentName(scope: string, roleGuid: string, principalId: string): string {
  const normalizedScope = scope.trim().replace(/\/+$/, "").toLowerCase();
  const guid = (roleGuid.trim().split("/").pop() ?? "").toLowerCase();
  return uuidV5(`${normalizedScope}|${guid}|${principalId.trim().toLowerCase()}`, ASSIGNMENT_NAMESPACE);
}

/** `Managed by aadlogin-enforcer: requested by tag aadlogin-admins`. */
export function assignmentDescription(tag?: string): string {
  return tag ? `${ENFORCER_MARKER}: requested by tag ${tag}` : ENFORCER_MARKER;
}

/**
 * Whether the enforcer created this assignment on this VM. All three must hold, so neither a copied
 * description nor a lucky name makes someone else's assignment ours (and so deletable):
 * a login role, the marker at the start of the description, and the deterministic name for
 * (VM, role, principal) at the VM's own scope.
 */
export function isEnforcerAssignment(a: ObservedAssignment, vmId: string): boolean {
  const role = loginRoleById(a.roleDefinitionId);
  if (!role) return false;
  if (!(a.description ?? "").startsWith(ENFORCER_MARKER)) return false;
  if (!sameResourceId(a.scope, vmId)) return false;
  return a.name.trim().toLowerCase() === assignmentName(vmId, role.guid, a.principalId);
}
