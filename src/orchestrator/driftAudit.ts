import { randomUUID } from "node:crypto";
import type { ArmPort, AuditRun, QueuePort, ReconcileRequest, StorePort } from "./ports.js";

export interface AuditDeps {
  readonly arm: ArmPort;
  readonly store: StorePort;
  readonly queue: QueuePort;
  readonly clock: () => Date;
}

export interface AuditOptions {
  readonly subscriptions: readonly string[];
  readonly trigger: string;
  readonly mode?: "enforce" | "report";
}

/**
 * Lists every VM of the watched subscriptions (paged), adds the ones the table knows that ARM no
 * longer lists (so deletions without an event are noticed), and fans one reconcile request per VM
 * out on the queue, where Functions scale-out spreads the passes. Writes the audit-run row: the
 * states the table held when the audit started, and the ARM calls of the listing itself (each
 * pass's own calls are in its decision log).
 */
export async function runDriftAudit(deps: AuditDeps, options: AuditOptions): Promise<AuditRun> {
  const startedAt = deps.clock();
  const runId = randomUUID();
  // The table's states as this audit finds them, read before its passes start changing them.
  const countsByState: Record<string, number> = {};
  for (const sub of options.subscriptions) {
    for (const record of await deps.store.listVms({ subscriptionId: sub })) {
      countsByState[record.state] = (countsByState[record.state] ?? 0) + 1;
    }
  }
  const { vmIds, armCalls } = await deps.arm.metered(async (count) => {
    const ids = await listAuditTargets(deps, options.subscriptions);
    return { vmIds: ids, armCalls: count() };
  });
  const requests: ReconcileRequest[] = vmIds.map((vmId) => ({
    vmId, trigger: "audit", runId, ...(options.mode ? { mode: options.mode } : {}),
  }));
  // A partial failure still leaves the run's row, with its error count; then the audit fails.
  let enqueued = 0;
  let enqueueError: unknown;
  try {
    enqueued = requests.length > 0 ? await deps.queue.sendMany(requests) : 0;
  } catch (error) {
    enqueueError = error;
    const sent = (error as { sent?: unknown } | null)?.sent;
    enqueued = typeof sent === "number" && Number.isInteger(sent) && sent >= 0 ? Math.min(sent, requests.length) : 0;
  }
  const finishedAt = deps.clock();
  const run: AuditRun = {
    runId,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    trigger: options.trigger,
    subscriptions: [...options.subscriptions],
    vmCount: vmIds.length,
    enqueued,
    countsByState,
    armCalls,
    errors: vmIds.length - enqueued,
  };
  await deps.store.recordAuditRun(run);
  if (enqueueError !== undefined) {
    throw new AuditEnqueueError(run, enqueueError);
  }
  return run;
}

/** VM ids ARM lists now, plus recorded VMs not marked gone that ARM no longer lists. */
export async function listAuditTargets(deps: Pick<AuditDeps, "arm" | "store">, subscriptions: readonly string[]): Promise<string[]> {
  const seen = new Map<string, string>();
  for (const sub of subscriptions) {
    for await (const id of deps.arm.listVmIds(sub)) seen.set(id.toLowerCase(), id);
    for (const record of await deps.store.listVms({ subscriptionId: sub })) {
      if (record.state !== "gone" && !seen.has(record.vmId.toLowerCase())) seen.set(record.vmId.toLowerCase(), record.vmId);
    }
  }
  return [...seen.values()];
}

/** The audit listed its VMs but could not queue all of them; its run row is written, with the count. */
export class AuditEnqueueError extends Error {
  constructor(readonly run: AuditRun, override readonly cause: unknown) {
    super(`Drift audit ${run.runId}: enqueued ${run.enqueued} of ${run.vmCount} reconcile requests; ${run.errors} failed: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = "AuditEnqueueError";
  }
}
