import { randomUUID } from "node:crypto";
import { vmTarget } from "../domain/resourceId.js";
import { reconcile, type PassRequest, type PassResult, type ReconcileDeps } from "./reconcile.js";
import type { ReconcileRequest } from "./ports.js";

export type LeasedOutcome =
  | { readonly ran: true; readonly result: PassResult }
  /** Another pass holds the VM: the request went back on the queue with a short delay, not lost. */
  | { readonly ran: false; readonly requeuedInMs: number };

/**
 * One pass per VM at a time. The pass runs under the VM's lease (a Table Storage row, taken and
 * given back with ETag conditions); a request that finds the lease held is re-queued with
 * LEASE_RETRY_DELAY_MS, so a burst of events, an audit and an operator's request on one VM run one
 * after another and never write twice. The lease outlives any pass (LEASE_DURATION_MS > the
 * function timeout), so only a crashed pass's lease ever expires, and the crashed request reappears
 * on the queue to run again.
 */
export async function runLeasedPass(request: PassRequest, deps: ReconcileDeps): Promise<LeasedOutcome> {
  const holder = randomUUID();
  const now = deps.clock();
  const until = new Date(now.getTime() + deps.config.timing.leaseDurationMs).toISOString();
  if (!(await deps.store.acquireLease(request.vm.id, holder, now.toISOString(), until))) {
    const delay = deps.config.timing.leaseRetryDelayMs;
    await deps.queue.send(toQueued(request), { delayInMs: delay });
    return { ran: false, requeuedInMs: delay };
  }
  try {
    return { ran: true, result: await reconcile(request, deps) };
  } finally {
    // A crash here leaves the lease to expire; anything else gives it back at once.
    await deps.store.releaseLease(request.vm.id, holder);
  }
}

/** The queue message that carries a pass request (the same request, to run later). */
export function toQueued(request: PassRequest): ReconcileRequest {
  const { vm, ...rest } = request;
  return { vmId: vm.id, ...rest };
}

/** The pass a queue message asks for; the VM id is parsed here, once. */
export function fromQueued(message: ReconcileRequest): PassRequest {
  const { vmId, waitingFor: _shownInTheLogOnly, ...rest } = message;
  return { vm: vmTarget(vmId), ...rest };
}
