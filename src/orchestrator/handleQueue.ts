import { tryParseVmId, vmTarget } from "../domain/resourceId.js";
import type { ReconcileRequest } from "./ports.js";
import { fromQueued, runLeasedPass, type LeasedOutcome } from "./leasedPass.js";
import type { ReconcileDeps } from "./reconcile.js";
import { newVmRecord } from "./vmRecord.js";

/**
 * One reconcile request from the queue: every pass runs from here, whatever asked for it (an event,
 * the audit, a follow-up, an expiry, an operator). The function layer parsed the message; one that
 * could not be parsed was recorded and consumed there. A pass that fails transiently rethrows, so
 * the host makes the message visible again and, after host.json's maxDequeueCount, moves it to the
 * poison queue (see handlePoisonMessage).
 */
export function handleReconcileRequest(request: ReconcileRequest, deps: ReconcileDeps): Promise<LeasedOutcome> {
  return runLeasedPass(fromQueued(request), deps);
}

/** A message that could not be read: recorded, then consumed (a retry cannot fix it). */
export async function recordMalformedMessage(raw: unknown, problem: string, deps: Pick<ReconcileDeps, "store" | "clock">): Promise<void> {
  await deps.store.appendLog({ kind: "error", trigger: "queue", reason: "malformed-message", message: problem, details: raw, at: deps.clock().toISOString() });
}

/** A request that failed every attempt: record the failure on the VM, so it shows in the compliance table. */
export async function handlePoisonMessage(request: ReconcileRequest | undefined, raw: unknown, deps: Pick<ReconcileDeps, "store" | "clock">, dequeueCount?: number): Promise<void> {
  const at = deps.clock().toISOString();
  const vmId = request && tryParseVmId(request.vmId) ? request.vmId : undefined;
  const message = `Reconcile request gave up after ${dequeueCount ?? "the maximum number of"} attempts; the next drift audit tries again.`;
  await deps.store.appendLog({ ...(vmId ? { vmId } : {}), kind: "error", trigger: "queue", reason: "retries-exhausted", message, details: raw, at });
  if (vmId) {
    const vm = vmTarget(vmId);
    await deps.store.updateVm(vmId, (current) => ({
      ...(current ?? newVmRecord(vm, at)),
      state: "failed",
      reason: "retries-exhausted",
      message,
      lastTrigger: "queue",
      updatedAt: at,
    }));
  }
}
