import { randomUUID } from "node:crypto";
import { selectAuditTargets } from "./auditTargets.js";
import type { ArmPort, AuditRun, QueuePort, ReconcileRequest, StorePort } from "./ports.js";
import type { EnforcerConfig } from "../config/policy.js";

export interface AuditDeps {
  readonly arm: ArmPort;
  readonly store: StorePort;
  readonly queue: QueuePort;
  readonly config: EnforcerConfig;
  readonly clock: () => Date;
}

export interface AuditOptions {
  readonly subscriptions: readonly string[];
  readonly trigger: string;
  readonly mode?: "enforce" | "report";
}

/**
 * Chooses the VMs to look at (selectAuditTargets: a Resource Graph snapshot triaged against our
 * table, or ARM's lists) and fans one reconcile request per VM out on the queue, where Functions
 * scale-out spreads the passes; each pass reads ARM and decides from fresh state. Writes the
 * audit-run row: the states the table held when the audit started, and the requests of the
 * selection itself (each pass's own calls are in its decision log).
 */
export async function runDriftAudit(deps: AuditDeps, options: AuditOptions): Promise<AuditRun> {
  const startedAt = deps.clock();
  const runId = randomUUID();
  const previous = (await deps.store.listAuditRuns(1))[0];
  const sliceIndex = previous?.selection ? previous.selection.sliceIndex + 1 : 0;
  const slices = deps.config.audit.confirmSlices;
  const { selection, armCalls } = await deps.arm.metered(async (count) => ({
    selection: await selectAuditTargets(deps, options.subscriptions, { source: deps.config.audit.source, run: sliceIndex, slices }),
    armCalls: count(),
  }));
  const requests: ReconcileRequest[] = selection.targets.map(({ vmId }) => ({
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
    vmCount: selection.vmCount,
    enqueued,
    countsByState: selection.countsByState,
    armCalls,
    errors: requests.length - enqueued,
    selection: {
      source: selection.source,
      sliceIndex: slices > 0 ? sliceIndex % slices : 0,
      slices,
      suspects: selection.suspects,
      confirmed: selection.confirmed,
      suspectReasons: selection.suspectReasons,
      listedThroughArm: selection.listedThroughArm,
      ...(selection.graphError ? { graphError: selection.graphError } : {}),
      requests: { resourceGraph: selection.graphRequests, arm: armCalls - selection.graphRequests },
      loginAssignmentsBySubscription: selection.loginAssignmentsBySubscription,
      warnings: selection.warnings.slice(0, 20),
    },
  };
  await deps.store.recordAuditRun(run);
  if (enqueueError !== undefined) {
    throw new AuditEnqueueError(run, enqueueError);
  }
  return run;
}

/** The audit listed its VMs but could not queue all of them; its run row is written, with the count. */
export class AuditEnqueueError extends Error {
  constructor(readonly run: AuditRun, override readonly cause: unknown) {
    super(`Drift audit ${run.runId}: enqueued ${run.enqueued} of ${run.enqueued + run.errors} reconcile requests; ${run.errors} failed: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = "AuditEnqueueError";
  }
}
