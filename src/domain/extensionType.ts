import type { ObservedExtension } from "./vm.js";

/**
 * Whether an observed extension is of the given handler type. ARM spells the type two ways: the
 * extension resource has `publisher` + `type` (`Microsoft.Azure.ActiveDirectory` + `AADLoginForWindows`),
 * while the instance view's `type` is the two joined (`Microsoft.Azure.ActiveDirectory.AADLoginForWindows`).
 * Extension names are the deployer's choice (`joindomain`, `AADLogin`), so they never decide this.
 */
export function isExtensionType(ext: ObservedExtension, publisher: string, type: string): boolean {
  const observedType = (ext.type ?? "").trim().toLowerCase();
  const wantedType = type.toLowerCase();
  const wantedFull = `${publisher}.${type}`.toLowerCase();
  if (observedType === wantedFull) return true;
  if (observedType !== wantedType) return false;
  const observedPublisher = (ext.publisher ?? "").trim().toLowerCase();
  return observedPublisher === "" || observedPublisher === publisher.toLowerCase();
}

export const DOMAIN_JOIN_EXTENSION = { publisher: "Microsoft.Compute", type: "JsonADDomainExtension" } as const;
