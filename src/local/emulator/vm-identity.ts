import { badRequest } from "./errors.js";
import { isObject, type Json } from "./http-io.js";
import type { EmulatorState } from "./state.js";

/**
 * Applies a VM PUT/PATCH `identity` block the way Compute does: enabling SystemAssigned creates a
 * service principal in the directory (fresh principalId, the tenant's id), keeping it keeps the same
 * principal, dropping it deletes the principal. User-assigned identities are kept unless the new type
 * leaves them out; PATCH merges the map (a null value removes one), PUT with a map replaces it.
 * Omitting `identity` leaves it unchanged.
 */
export function applyIdentity(
  state: EmulatorState,
  vmName: string,
  existing: Json | undefined,
  requested: unknown,
  mode: "put" | "patch",
  now: number,
): Json | undefined {
  if (requested === undefined) return existing;
  if (requested === null) return dropSystem(state, existing, undefined);
  if (!isObject(requested)) throw badRequest("InvalidParameter", "The value of parameter 'identity' is invalid: expected an object.");
  const typeText = String(requested["type"] ?? "");
  const kinds = new Set(typeText.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean));
  const valid = ["systemassigned", "userassigned", "none"];
  if (kinds.size === 0 || [...kinds].some((k) => !valid.includes(k)) || (kinds.has("none") && kinds.size > 1)) {
    throw badRequest(
      "InvalidParameter",
      `The identity type '${typeText}' is not valid. Allowed values: 'SystemAssigned', 'UserAssigned', 'SystemAssigned, UserAssigned', 'None'.`,
    );
  }
  if (kinds.has("none")) return dropSystem(state, existing, undefined);

  const result: Json = {};
  if (kinds.has("systemassigned")) {
    const hadSystem = typeof existing?.["principalId"] === "string";
    const principalId = hadSystem ? String(existing?.["principalId"]) : state.newGuid();
    if (!hadSystem) {
      state.addPrincipal({ id: principalId, type: "ServicePrincipal", displayName: vmName, appId: state.newGuid() }, now);
    }
    result["principalId"] = principalId;
    result["tenantId"] = state.tenantId;
  } else if (typeof existing?.["principalId"] === "string") {
    state.principals.delete(String(existing["principalId"]).toLowerCase());
  }

  if (kinds.has("userassigned")) {
    const before = isObject(existing?.["userAssignedIdentities"]) ? (existing["userAssignedIdentities"] as Json) : {};
    const asked = requested["userAssignedIdentities"];
    if (asked !== undefined && asked !== null && !isObject(asked)) {
      throw badRequest("InvalidParameter", "The value of parameter 'identity.userAssignedIdentities' is invalid: expected an object.");
    }
    const merged: Json = asked === undefined || asked === null || mode === "patch" ? { ...before } : {};
    for (const [id, value] of Object.entries(asked ?? {})) {
      const existingKey = Object.keys(merged).find((k) => k.toLowerCase() === id.toLowerCase());
      if (existingKey) delete merged[existingKey];
      if (value !== null) merged[existingKey ?? id] = { ...state.userAssignedIdentity(id) };
    }
    if (Object.keys(merged).length === 0) {
      throw badRequest(
        "InvalidParameter",
        "The identity type includes 'UserAssigned' but no user assigned identities were specified in 'identity.userAssignedIdentities'.",
      );
    }
    result["userAssignedIdentities"] = merged;
  }
  const type = [kinds.has("systemassigned") ? "SystemAssigned" : "", kinds.has("userassigned") ? "UserAssigned" : ""]
    .filter(Boolean)
    .join(", ");
  return { type, ...result };
}

function dropSystem(state: EmulatorState, existing: Json | undefined, replacement: Json | undefined): Json | undefined {
  if (typeof existing?.["principalId"] === "string") state.principals.delete(String(existing["principalId"]).toLowerCase());
  return replacement;
}
