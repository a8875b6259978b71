import { inConfirmSlice, triageVm, type SuspectReason } from "../domain/auditTriage.js";
import { loginExtensionTypes } from "../domain/plan.js";
import { ArmFailure, type EstateSnapshot, type VmRecord } from "./ports.js";
import type { ReconcileDeps } from "./reconcile.js";

/** A subscription holds at most 4,000 role assignments; the audit warns at 80 %. */
export const ASSIGNMENT_LIMIT = 4000;
export const ASSIGNMENT_WARN_AT = 0.8;

export interface AuditTarget {
  readonly vmId: string;
  /** Why it gets an ARM pass: triage reasons, or `listed` when Resource Graph could not be used. */
  readonly reasons: readonly (SuspectReason | "listed")[];
}

export interface AuditSelection {
  readonly targets: readonly AuditTarget[];
  /** VMs the audit knows of: in the snapshot (or ARM's lists) or in our table. */
  readonly vmCount: number;
  /** How the estate was read: `resource-graph`, or `arm` when it could not be (or is set so). */
  readonly source: "resource-graph" | "arm";
  readonly suspects: number;
  readonly confirmed: number;
  readonly suspectReasons: Readonly<Record<string, number>>;
  /** Subscriptions listed through ARM: Resource Graph refused, or showed none of the VMs we know there. */
  readonly listedThroughArm: readonly string[];
  readonly graphError?: string;
  readonly loginAssignmentsBySubscription: Readonly<Record<string, number>>;
  readonly warnings: readonly string[];
  /** Resource Graph pages read (the rest of the selection's requests are ARM lists). */
  readonly graphRequests: number;
  /** States our table held when the selection read it. */
  readonly countsByState: Readonly<Record<string, number>>;
}

export interface SelectOptions {
  readonly source: "resource-graph" | "arm";
  /** The rotating confirm slice: this run's index, and into how many slices the estate is cut (0: none). */
  readonly run: number;
  readonly slices: number;
}

type Deps = Pick<ReconcileDeps, "arm" | "store" | "config" | "clock">;

/**
 * Which VMs the drift audit hands to the normal pass. With Resource Graph: one snapshot of every
 * watched subscription, triaged against our table (src/domain/auditTriage.ts); only suspects and
 * this run's confirm slice get an ARM pass, and that pass decides from ARM, never from the snapshot.
 * Without it (setting, or Resource Graph refused): every VM ARM lists plus every VM our table knows.
 */
export async function selectAuditTargets(deps: Deps, subscriptions: readonly string[], options: SelectOptions): Promise<AuditSelection> {
  const records = new Map<string, VmRecord>();
  for (const sub of subscriptions) {
    for (const r of await deps.store.listVms({ subscriptionId: sub })) records.set(r.vmId.toLowerCase(), r);
  }
  let snapshot: EstateSnapshot | undefined;
  let graphError: string | undefined;
  if (options.source === "resource-graph" && subscriptions.length > 0) {
    try {
      snapshot = await deps.arm.snapshot(subscriptions, loginExtensionTypes(deps.config));
    } catch (error) {
      if (!(error instanceof ArmFailure)) throw error;
      graphError = `${error.classified.code}: ${error.classified.message}`.slice(0, 300);
    }
  }
  const countsByState: Record<string, number> = {};
  for (const r of records.values()) countsByState[r.state] = (countsByState[r.state] ?? 0) + 1;
  if (!snapshot) {
    return { ...(await listThroughArm(deps, subscriptions, records, graphError)), countsByState, graphRequests: graphError ? 1 : 0 };
  }

  const now = deps.clock();
  const policy = { eligibility: deps.config.eligibility, access: deps.config.access, extension: deps.config.extension, linuxExtension: deps.config.linuxExtension };
  const targets: AuditTarget[] = [];
  const reasons: Record<string, number> = {};
  let confirmed = 0;
  const seen = new Set<string>();
  const subscriptionOf = (id: string) => (id.split("/")[2] ?? "").toLowerCase();
  const snapshotSubs = new Set([...snapshot.vms.keys()].map(subscriptionOf));
  // Resource Graph shows only what the caller may read, and says nothing of a subscription it left
  // out: one with VMs in our table but none in the snapshot is listed through ARM instead.
  const blind = subscriptions.filter((s) => !snapshotSubs.has(s.toLowerCase()) && [...records.values()].some((r) => subscriptionOf(r.vmId) === s.toLowerCase() && r.state !== "gone"));

  for (const [key, vm] of snapshot.vms) {
    seen.add(key);
    const triage = triageVm({ vmId: vm.id, vm, assignments: snapshot.assignments.get(key) ?? [], ...recordOf(records.get(key)) }, policy, now);
    if (triage.suspect) {
      targets.push({ vmId: vm.id, reasons: triage.reasons });
      for (const r of triage.reasons) reasons[r] = (reasons[r] ?? 0) + 1;
    } else if (inConfirmSlice(vm.id, options.run, options.slices)) {
      targets.push({ vmId: vm.id, reasons: ["confirm-slice"] });
      confirmed += 1;
    }
  }
  for (const [key, record] of records) {
    if (seen.has(key) || blind.includes(subscriptionOf(key))) continue;
    const triage = triageVm({ vmId: record.vmId, assignments: [], ...recordOf(record) }, policy, now);
    if (triage.suspect) {
      targets.push({ vmId: record.vmId, reasons: triage.reasons });
      for (const r of triage.reasons) reasons[r] = (reasons[r] ?? 0) + 1;
    }
  }
  let listed = 0;
  for (const sub of blind) {
    for await (const id of deps.arm.listVmIds(sub)) {
      if (!seen.has(id.toLowerCase())) {
        seen.add(id.toLowerCase());
        targets.push({ vmId: id, reasons: ["listed"] });
        listed += 1;
      }
    }
    for (const [key, r] of records) {
      if (subscriptionOf(key) === sub.toLowerCase() && r.state !== "gone" && !seen.has(key)) {
        seen.add(key);
        targets.push({ vmId: r.vmId, reasons: ["listed"] });
        listed += 1;
      }
    }
  }
  const warnings = assignmentWarnings(snapshot.loginAssignmentsBySubscription);
  return {
    targets,
    vmCount: new Set([...snapshot.vms.keys(), ...records.keys()]).size + listed,
    source: "resource-graph",
    suspects: targets.length - confirmed - listed,
    confirmed,
    suspectReasons: reasons,
    listedThroughArm: blind,
    loginAssignmentsBySubscription: snapshot.loginAssignmentsBySubscription,
    warnings,
    graphRequests: snapshot.requests,
    countsByState,
  };
}

async function listThroughArm(deps: Deps, subscriptions: readonly string[], records: ReadonlyMap<string, VmRecord>, graphError: string | undefined): Promise<Omit<AuditSelection, "countsByState" | "graphRequests">> {
  const seen = new Map<string, string>();
  for (const sub of subscriptions) {
    for await (const id of deps.arm.listVmIds(sub)) seen.set(id.toLowerCase(), id);
  }
  // Recorded VMs ARM no longer lists: deletions without an event are noticed by their pass.
  for (const [key, r] of records) if (r.state !== "gone" && !seen.has(key)) seen.set(key, r.vmId);
  return {
    targets: [...seen.values()].map((vmId) => ({ vmId, reasons: ["listed"] as const })),
    vmCount: seen.size,
    source: "arm",
    suspects: 0,
    confirmed: 0,
    suspectReasons: {},
    listedThroughArm: [...subscriptions],
    ...(graphError ? { graphError } : {}),
    loginAssignmentsBySubscription: {},
    warnings: graphError ? [`Resource Graph could not be used (${graphError}); every VM was listed through ARM.`] : [],
  };
}

function recordOf(record: VmRecord | undefined) {
  return record ? { record: { state: record.state, access: record.access, ...(record.followUpAt ? { followUpAt: record.followUpAt } : {}) } } : {};
}

function assignmentWarnings(bySubscription: Readonly<Record<string, number>>): string[] {
  return Object.entries(bySubscription)
    .filter(([, n]) => n >= ASSIGNMENT_LIMIT * ASSIGNMENT_WARN_AT)
    .map(([sub, n]) => `Subscription ${sub} holds ${n} login-role assignments, ${Math.round((n / ASSIGNMENT_LIMIT) * 100)} % of Azure's ${ASSIGNMENT_LIMIT} role assignments per subscription; new grants will fail with RoleAssignmentLimitExceeded once it is full (use groups in the tags).`);
}
