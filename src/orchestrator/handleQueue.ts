import { parseVmId } from "../domain/resourceId.js";
import { parseReconcileRequest } from "../store/reconcileQueue.js";
import { reconcile, type PassResult, type ReconcileDeps } from "./reconcile.js";
import { newVmRecord } from "./vmRecord.js";

/**
 * One queued reconcile request. A message that cannot be parsed is recorded and consumed: retrying
 * cannot fix it. Transient failures rethrow, so the host makes the message visible again and, after
 * host.json's maxDequeueCount, moves it to the poison queue (see handlePoisonMessage).
 */
export async function handleReconcileMessage(raw: unknown, deps: ReconcileDeps): Promise<PassResult | undefined> {
  let request;
  try {
    request = parseReconcileRequest(raw);
  } catch (error) {
    await deps.store.appendLog({ kind: "error", trigger: "queue", reason: "malformed-message", message: (error as Error).message, details: raw, at: deps.clock().toISOString() });
    return undefined;
  }
  return reconcile(
    {
      vmId: request.vmId,
      trigger: request.trigger === "audit" ? "audit" : "queue",
      ...(request.mode ? { mode: request.mode } : {}),
      ...(request.eventId ? { eventId: request.eventId } : {}),
      ...(request.correlationId ? { correlationId: request.correlationId } : {}),
      ...(request.requestedBy ? { requestedBy: request.requestedBy } : {}),
      ...(request.runId ? { runId: request.runId } : {}),
    },
    deps,
  );
}

/** A request that failed every attempt: record the failure on the VM, so it shows in the compliance table. */
export async function handlePoisonMessage(raw: unknown, deps: ReconcileDeps, dequeueCount?: number): Promise<void> {
  const at = deps.clock().toISOString();
  let vmId: string | undefined;
  try {
    vmId = parseReconcileRequest(raw).vmId;
    parseVmId(vmId);
  } catch {
    vmId = undefined;
  }
  const message = `Reconcile request gave up after ${dequeueCount ?? "the maximum number of"} attempts; the next drift audit tries again.`;
  await deps.store.appendLog({ ...(vmId ? { vmId } : {}), kind: "error", trigger: "queue", reason: "retries-exhausted", message, details: raw, at });
  if (vmId) {
    const id = vmId;
    await deps.store.updateVm(id, (current) => ({
      ...(current ?? newVmRecord(id, at)),
      state: "failed",
      reason: "retries-exhausted",
      message,
      lastTrigger: "queue",
      updatedAt: at,
    }));
  }
}
