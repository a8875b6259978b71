import type { IdentityType } from "../domain/vm.js";

/** ARM spells identity types with varying case and spacing ("SystemAssigned,UserAssigned"); the domain has one spelling. */
export function normalizeIdentityType(type: string | undefined): IdentityType {
  const t = (type ?? "None").replace(/\s+/g, "").toLowerCase();
  if (t === "systemassigned") return "SystemAssigned";
  if (t === "userassigned") return "UserAssigned";
  if (t === "systemassigned,userassigned") return "SystemAssigned, UserAssigned";
  return "None";
}
