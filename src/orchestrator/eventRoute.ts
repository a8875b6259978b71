import { tryParseVmId } from "../domain/resourceId.js";
import type { ResourceEvent } from "./ports.js";

export type EventRoute =
  | { readonly kind: "reconcile"; readonly vmId: string }
  | { readonly kind: "ignore"; readonly reason: string };

const VM_WRITE = "microsoft.compute/virtualmachines/write";
const VM_DELETE = "microsoft.compute/virtualmachines/delete";
const TAGS_WRITE = "microsoft.resources/tags/write";
const TAGS_SUFFIX = /\/providers\/microsoft\.resources\/tags\/default$/i;

/**
 * Which events start work. Only VM writes and tag writes on a VM, and VM deletes; everything else
 * (extension writes, role-assignment writes: many of them our own) is dropped before any I/O.
 * `ownPrincipalIds` is the loop guard: events we caused never start a pass.
 */
export function routeEvent(event: ResourceEvent, options: { ownPrincipalIds: readonly string[]; watchedSubscriptions: readonly string[] }): EventRoute {
  const op = event.operationName.toLowerCase();
  const type = event.eventType;
  const isWrite = type === "Microsoft.Resources.ResourceWriteSuccess";
  const isDelete = type === "Microsoft.Resources.ResourceDeleteSuccess";
  if (!isWrite && !isDelete) return { kind: "ignore", reason: `event type ${type} is not handled` };

  const subject = event.subject.replace(TAGS_SUFFIX, "");
  const ref = tryParseVmId(subject);
  if (!ref) return { kind: "ignore", reason: `subject ${truncate(event.subject)} is not a virtual machine` };
  // Fail closed: an empty list watches nothing (the pass checks it again, whatever routed it).
  if (!options.watchedSubscriptions.some((s) => s.toLowerCase() === ref.subscriptionId.toLowerCase())) {
    return { kind: "ignore", reason: options.watchedSubscriptions.length === 0 ? "no subscription is watched (WATCHED_SUBSCRIPTION_IDS is empty)" : `subscription ${ref.subscriptionId} is not watched` };
  }
  // A delete is reconciled like any change: the pass finds the VM gone and records it so.
  if (isDelete) {
    return op === VM_DELETE || op === "" ? { kind: "reconcile", vmId: subject } : { kind: "ignore", reason: `delete operation ${op} is not a VM delete` };
  }
  if (op !== VM_WRITE && op !== TAGS_WRITE) return { kind: "ignore", reason: `operation ${op || "(none)"} is not a VM or tag write` };
  const own = options.ownPrincipalIds.map((p) => p.toLowerCase());
  if ((event.callerObjectId && own.includes(event.callerObjectId)) || (event.callerAppId && own.includes(event.callerAppId))) {
    return { kind: "ignore", reason: "caused by the enforcer itself (loop guard)" };
  }
  return { kind: "reconcile", vmId: subject };
}

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
