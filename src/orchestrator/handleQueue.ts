import { tryParseVmId, vmTarget } from "../domain/resourceId.js";
import type { ReconcileRequest, VmRecord } from "./ports.js";
import { fromQueued, runLeasedPass, type LeasedOutcome } from "./leasedPass.js";
import { isWatched, type ReconcileDeps } from "./reconcile.js";
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

/**
 * A request that failed every attempt: record the failure on the VM, so it shows in the compliance
 * table — unless a later pass has recorded the VM since. The poison message may be older than the
 * row (another request's pass succeeded meanwhile); overwriting that with `failed` would hide a
 * newer, truer state. The row is overwritten only when it is this request's own (its last pass was
 * this message's), or older than the request; otherwise only a log entry is written. The check is
 * repeated inside the ETag-conditioned update, so a pass that writes meanwhile is not overwritten.
 */
export async function handlePoisonMessage(request: ReconcileRequest | undefined, raw: unknown, deps: Pick<ReconcileDeps, "store" | "clock"> & Partial<Pick<ReconcileDeps, "config">>, dequeueCount?: number): Promise<void> {
  const at = deps.clock().toISOString();
  const parsed = request ? tryParseVmId(request.vmId) : undefined;
  // A VM outside the watched subscriptions gets no row from here either (fail closed on scope).
  const vmId = request && parsed && (!deps.config || isWatched(parsed.subscriptionId, deps.config.watchedSubscriptions)) ? request.vmId : undefined;
  const message = `Reconcile request gave up after ${dequeueCount ?? "the maximum number of"} attempts; the next drift audit tries again.`;
  const current = vmId ? await deps.store.getVm(vmId) : undefined;
  const overwrite = vmId !== undefined && request !== undefined && poisonMayOverwrite(request, current);
  await deps.store.appendLog({
    ...(vmId ? { vmId } : {}), kind: "error", trigger: "queue", reason: "retries-exhausted",
    message: overwrite || !vmId ? message : `${message} Not recorded on the VM: a later pass (${current?.updatedAt}) recorded it since this request was made.`,
    details: raw, at,
  });
  if (vmId && request && overwrite) {
    const vm = vmTarget(vmId);
    await deps.store.updateVm(vmId, (row) => {
      if (!poisonMayOverwrite(request, row)) return row as VmRecord;
      return {
        ...(row ?? newVmRecord(vm, at)),
        state: "failed",
        reason: "retries-exhausted",
        message,
        lastTrigger: "queue",
        updatedAt: at,
      };
    });
  }
}

/** The poison message's request wrote the row last, or the row is older than the request (or there is none). */
function poisonMayOverwrite(request: ReconcileRequest, row: VmRecord | undefined): boolean {
  if (!row) return true;
  if (request.requestId && row.lastRequestId === request.requestId) return true;
  if (request.requestedAt) {
    const asked = Date.parse(request.requestedAt);
    return Number.isFinite(asked) && Date.parse(row.updatedAt) <= asked;
  }
  // A message from before requests were stamped: only a row its own failing passes left (deferred).
  return row.state === "deferred";
}
