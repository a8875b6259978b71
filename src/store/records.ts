import type { ComplianceState } from "../domain/outcome.js";

/**
 * What the store keeps, as plain data. Self-contained on purpose: the domain's richer types are
 * mapped onto these by the orchestrator, so the table layout does not move when the domain does.
 */

export interface AccessGrant {
  /** Role key or name as the orchestrator records it (e.g. `admin`, `user`). */
  readonly role: string;
  readonly principalId: string;
  readonly principalType?: string;
  /** ISO-8601 instant after which the grant is revoked. */
  readonly expiresAt?: string;
  /** Name (GUID) of the role assignment that carries the grant. */
  readonly assignmentName?: string;
}

export interface RejectedEntry {
  readonly tag: string;
  readonly entry: string;
  readonly reason: string;
}

export interface Diagnosis {
  readonly code: string;
  readonly message: string;
  readonly remediation?: string;
  readonly exitCode?: number;
  /** duplicate-device: object ids of the devices named as blocking; present once looked up for this failure. */
  readonly blockers?: readonly string[];
}

export interface Hint {
  readonly code: string;
  readonly message: string;
}

export interface StartedOperation {
  readonly op: "identity" | "extension";
  readonly at: string;
  /** The operation is the one-time self-repair of a failed install (1007: no identity). */
  readonly selfRepair?: boolean;
}

/** The VM's Microsoft Entra device as the enforcer last saw it (see src/domain/device.ts). */
export interface DeviceRecord {
  readonly status: string;
  /** Graph object id recorded at join: the only device cleanup may touch. */
  readonly id?: string;
  readonly deviceId?: string;
  readonly displayName?: string;
  readonly confirmedAt?: string;
  readonly since?: string;
  readonly lookAgainAt?: string;
  readonly message: string;
  readonly at: string;
}

/** One row per VM: its compliance state after the latest pass. */
export interface VmRecord {
  /** ARM id as observed (case kept); lookups are case-insensitive. */
  readonly vmId: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
  readonly state: ComplianceState;
  readonly reason: string;
  readonly message: string;
  readonly os?: string;
  readonly location?: string;
  readonly powerState?: string;
  readonly identityType?: string;
  readonly identityPrincipalId?: string;
  readonly extensionStatus?: string;
  readonly access: readonly AccessGrant[];
  readonly rejected: readonly RejectedEntry[];
  readonly diagnosis?: Diagnosis;
  /** Warnings that did not stop the pass (names users report breaking sign-in, a network the preflight could not clear). */
  readonly hints?: readonly Hint[];
  readonly lastTrigger?: string;
  readonly lastEventId?: string;
  readonly lastCorrelationId?: string;
  readonly lastRequestedBy?: string;
  /** Id of the queue message whose pass wrote this row (the poison handler overwrites only its own pass's row). */
  readonly lastRequestId?: string;
  /** Principal id (lower case) → when ARM first answered PrincipalNotFound for its grant on this VM (ISO). */
  readonly principalNotFound?: Readonly<Record<string, string>>;
  /** What an in-progress VM waits for (`vm-provisioning`, `identity`, `extension`). */
  readonly waitingFor?: string;
  /** The long-running operation the enforcer itself started and has not yet seen finish. */
  readonly started?: StartedOperation;
  /** When the pending follow-up request becomes visible on the queue (ISO); at most one is kept pending. */
  readonly followUpAt?: string;
  /** When the pending expiry check becomes visible on the queue (ISO). */
  readonly expiryCheckAt?: string;
  /** The VM's Entra device: join confirmation, then what happened to it when the VM was deleted. */
  readonly device?: DeviceRecord;
  readonly passCount: number;
  readonly firstSeenAt: string;
  readonly updatedAt: string;
  /** Set by the store on read/write; ignored when writing. */
  readonly etag?: string;
}

export const LOG_KINDS = ["decision", "action", "event", "error"] as const;
export type LogKind = (typeof LOG_KINDS)[number];

export interface LogEntryInput {
  /** Absent for entries not tied to a VM (e.g. a malformed event): they go to a global partition. */
  readonly vmId?: string;
  readonly kind: LogKind;
  /** event | audit | follow-up | expiry | http | cli | queue */
  readonly trigger: string;
  readonly eventId?: string;
  readonly correlationId?: string;
  /** The principal that caused the change, from the event's claims. */
  readonly requestedBy?: string;
  readonly state?: string;
  readonly reason?: string;
  readonly action?: string;
  readonly result?: string;
  readonly errorClass?: string;
  readonly errorCode?: string;
  readonly message: string;
  /** Any JSON-serializable value; stored as JSON and truncated past the property limit. */
  readonly details?: unknown;
  /** ISO-8601 business time of the entry; also orders the log (the store never reads the clock). */
  readonly at: string;
}

export type LogEntry = LogEntryInput & { readonly id: string };

export interface AuditRun {
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly trigger: string;
  readonly subscriptions: readonly string[];
  readonly vmCount: number;
  readonly enqueued: number;
  readonly countsByState: Readonly<Record<string, number>>;
  readonly armCalls: number;
  readonly errors: number;
  /** How the VMs to pass were chosen (absent on runs recorded before Resource Graph). */
  readonly selection?: AuditRunSelection;
}

export interface AuditRunSelection {
  readonly source: "resource-graph" | "arm";
  /** This run's confirm slice, of `slices`. */
  readonly sliceIndex: number;
  readonly slices: number;
  readonly suspects: number;
  readonly confirmed: number;
  readonly suspectReasons: Readonly<Record<string, number>>;
  readonly listedThroughArm: readonly string[];
  readonly graphError?: string;
  /** Requests the selection made: Resource Graph pages and ARM list pages. */
  readonly requests: { readonly resourceGraph: number; readonly arm: number };
  readonly loginAssignmentsBySubscription: Readonly<Record<string, number>>;
  readonly warnings: readonly string[];
}



/** A VM's lease: who runs the one pass allowed on it now, and until when (a crash frees it then). */
export interface Lease {
  readonly holder: string;
  readonly until: string;
}
