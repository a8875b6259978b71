import type { Action } from "../domain/action.js";
import { decideEligibility, describeOs, type Eligibility } from "../domain/eligibility.js";
import { desiredAccessFromTags, type DesiredAccess } from "../domain/access.js";
import { findLoginExtension, planActions } from "../domain/plan.js";
import { diagnoseExtension, type Diagnosis } from "../domain/diagnosis.js";
import { parseVmId } from "../domain/resourceId.js";
import type { ActionOutcome, ClassifiedError, ComplianceState } from "../domain/outcome.js";
import type { ObservedAssignment, ObservedVm } from "../domain/vm.js";
import { loginRoleById } from "../domain/roles.js";
import { isEnforcerAssignment } from "../domain/assignmentName.js";
import type { EnforcerConfig } from "../config/policy.js";
import type { EnforcerStore, LogEntryInput, VmRecord } from "../store/tableStore.js";
import { classifyArmError, TransientArmError } from "../azure/errors.js";
import type { ArmPort } from "./ports.js";
import { newVmRecord } from "./vmRecord.js";

export type Trigger = "event" | "audit" | "queue" | "http" | "cli";

export interface PassRequest {
  readonly vmId: string;
  readonly trigger: Trigger;
  /** Overrides the configured mode for this pass (e.g. an operator's `--report`). */
  readonly mode?: "enforce" | "report";
  readonly eventId?: string;
  readonly correlationId?: string;
  /** Object id (or upn) of whoever caused the event: recorded with every decision. */
  readonly requestedBy?: string;
  readonly runId?: string;
}

export interface PassResult {
  readonly vmId: string;
  readonly state: ComplianceState;
  readonly reason: string;
  readonly message: string;
  readonly mode: "enforce" | "report";
  readonly plan: readonly Action[];
  readonly outcomes: readonly ActionOutcome[];
  readonly diagnosis?: Diagnosis;
  /** ARM requests this pass sent (reads, writes, polls, retries). */
  readonly armRequests: number;
}

export interface ReconcileDeps {
  readonly arm: ArmPort;
  readonly store: EnforcerStore;
  readonly config: EnforcerConfig;
  readonly clock: () => Date;
}

/**
 * One pass over one VM, the same for every trigger: observe → decide → plan → act → verify → record.
 * Level-based: the request only says which VM to look at; everything else is read from ARM now.
 * A transient failure is recorded and rethrown (as TransientArmError) so the platform retries the
 * trigger; a terminal one is recorded and the pass ends with state "failed".
 */
export function reconcile(request: PassRequest, deps: ReconcileDeps): Promise<PassResult> {
  return deps.arm.metered((armRequests) => pass(request, deps, armRequests));
}

async function pass(request: PassRequest, deps: ReconcileDeps, armRequests: () => number): Promise<PassResult> {
  const mode = request.mode ?? deps.config.mode;
  const context = contextOf(request);
  let vmId: string;
  try {
    parseVmId(request.vmId);
    vmId = request.vmId;
  } catch (error) {
    const message = (error as Error).message;
    await deps.store.appendLog({ ...context, kind: "error", reason: "invalid-vm-id", message, at: deps.clock().toISOString() });
    return { vmId: request.vmId, state: "failed", reason: "invalid-vm-id", message, mode, plan: [], outcomes: [], armRequests: 0 };
  }

  try {
    const observedVm = await deps.arm.getVm(vmId);
    if (!observedVm) return await recordGone(vmId, request, deps, mode, armRequests());
    const assignments = await deps.arm.listVmAssignments(vmId);
    const now = deps.clock();
    const planned = decideEligibility(observedVm, deps.config.eligibility);
    const desired = desiredAccessFromTags(observedVm.tags, deps.config.access, now);
    const plan = planActions({ vm: observedVm, eligibility: planned, desired, assignments, extension: deps.config.extension });

    const executed: Execution =
      mode === "report"
        ? { outcomes: plan.map((action) => ({ action, result: { status: "skipped" as const } })) }
        : await execute(observedVm, plan, deps, context);
    const vm = executed.stoppedMidPass ?? observedVm;
    const eligibility = executed.stoppedMidPass ? decideEligibility(vm, deps.config.eligibility) : planned;
    // A failed extension we did not (successfully) reinstall keeps its diagnosis on the record.
    const reinstalled = executed.outcomes.some((o) => o.action.kind === "installExtension" && o.result.status !== "failed" && o.result.status !== "skipped");
    const diagnosis = "diagnosis" in executed && executed.diagnosis ? executed.diagnosis : reinstalled ? undefined : existingDiagnosis(vm, deps);
    const execution = { outcomes: executed.outcomes, ...(diagnosis ? { diagnosis } : {}) };

    const state = finalState(mode, eligibility, plan, execution.outcomes);
    const message = stateMessage(state, eligibility, execution.outcomes, execution.diagnosis);
    const result: PassResult = {
      vmId, state, reason: eligibility.reason, message, mode, plan, outcomes: execution.outcomes,
      ...(execution.diagnosis ? { diagnosis: execution.diagnosis } : {}),
      armRequests: armRequests(),
    };
    await record(vm, request, deps, result, eligibility, desired, assignments);
    return result;
  } catch (error) {
    const classified = error instanceof TransientArmError ? error.classified : classifyArmError(error);
    await deps.store.appendLog({
      ...context, vmId, kind: "error", state: "failed", errorClass: classified.class, errorCode: classified.code,
      message: `Pass failed: ${classified.message}`, at: deps.clock().toISOString(),
    });
    if (classified.class === "transient") {
      // Keep the table honest while the platform retries: the VM shows up (deferred, with the
      // error as its reason) even when its very first pass could not finish.
      const message = `Could not finish the pass (${classified.message}); it is retried.`;
      await deps.store.updateVm(vmId, (current) => ({
        ...baseRecord(vmId, current, deps),
        state: "deferred", reason: classified.code, message,
        ...passMeta(request, deps, current),
      }));
      throw error instanceof TransientArmError ? error : new TransientArmError(classified);
    }
    const result: PassResult = {
      vmId, state: "failed", reason: classified.code, message: classified.message, mode, plan: [], outcomes: [], armRequests: armRequests(),
    };
    await deps.store.updateVm(vmId, (current) => ({
      ...baseRecord(vmId, current, deps),
      state: "failed", reason: classified.code, message: classified.message,
      ...passMeta(request, deps, current),
    }));
    return result;
  }
}

interface Execution {
  readonly outcomes: ActionOutcome[];
  readonly diagnosis?: Diagnosis;
  /** The VM as re-read after it stopped running mid-pass; the pass is decided on this instead. */
  readonly stoppedMidPass?: ObservedVm;
}

async function execute(vm: ObservedVm, plan: readonly Action[], deps: ReconcileDeps, context: LogContext): Promise<Execution> {
  const outcomes: ActionOutcome[] = [];
  // Every outcome is logged the moment it is known, so a pass that stops half-way (a transient
  // error is rethrown) still leaves a log of what it did.
  const settle: Settle = async (outcome, note) => {
    outcomes.push(outcome);
    const error = outcome.result.status === "failed" ? outcome.result.error : undefined;
    await logAction(deps, context, vm.id, outcome.action, resultOf(outcome, note), error, note);
  };
  let diagnosis: Diagnosis | undefined;
  let extensionFailed = false;
  let stoppedMidPass: ObservedVm | undefined;
  let retryLater: ClassifiedError | undefined;
  let current = vm;

  for (const action of plan) {
    if (action.kind === "createAssignment" && extensionFailed) {
      // Login cannot work on this VM right now; granting it would only promise access that fails.
      await settle({ action, result: { status: "skipped" } }, "skipped: the extension is not working on this VM");
      continue;
    }
    if (action.kind === "installExtension" && action.why === "failed") {
      // Do not hammer an extension that can never succeed here (e.g. exit 51: unsupported OS).
      const before = diagnoseExtension(findLoginExtension(current, deps.config.extension), current);
      if (before && !before.retryable && before.selfRepair === "none") {
        diagnosis = before;
        extensionFailed = true;
        await settle({ action, result: failed("terminal", before.code, before.meaning) }, `not retried: ${before.code}`);
        continue;
      }
      // The failure found is what this reinstall repairs: keep its diagnosis, so the record and log say what was wrong.
      if (before) diagnosis = { ...before, remediation: `Resolved by this pass (extension reinstalled). Was: ${before.remediation}` };
    }
    try {
      const status = await runAction(current, action, deps);
      await settle({ action, result: { status } });
      if (action.kind === "enableIdentity") current = withIdentity(current, action);
    } catch (error) {
      const classified = classifyArmError(error);
      if (action.kind !== "installExtension" || classified.class === "transient") {
        await settle({ action, result: { status: "failed", error: classified } });
        // One grant that cannot be made yet (PrincipalNotFound while the directory replicates,
        // a throttled PUT) must not hold back the others: finish them, then let the platform retry.
        if (classified.class === "transient" && (action.kind === "createAssignment" || action.kind === "deleteAssignment")) {
          retryLater ??= classified;
          continue;
        }
        if (classified.class === "transient") throw new TransientArmError(classified);
        continue;
      }
      // The extension's operation ended Failed: read what the handler reported and decide.
      const after = (await deps.arm.getVm(vm.id)) ?? current;
      if (decideEligibility(after, deps.config.eligibility).reason === "vm-not-running") {
        // Stopped since it was observed: ARM refused the write (409) and nothing failed on the VM.
        // Deferred, like a VM found stopped; the enforcer never starts a VM to install.
        await settle({ action, result: { status: "skipped" } }, `skipped: VM stopped during the pass (${classified.code})`);
        extensionFailed = true;
        stoppedMidPass = after;
        continue;
      }
      diagnosis = diagnoseExtension(findLoginExtension(after, deps.config.extension), after) ?? unknownDiagnosis(classified);
      await settle({ action, result: { status: "failed", error: classified } }, `failed: ${diagnosis.code}`);
      const repaired = diagnosis.selfRepair === "enable-identity-and-reinstall" ? await selfRepair(after, action, deps, settle) : undefined;
      if (repaired) {
        diagnosis = { ...diagnosis, remediation: `Self-repaired: ${diagnosis.remediation}` };
        current = repaired;
        continue;
      }
      extensionFailed = true;
    }
  }
  if (retryLater) throw new TransientArmError(retryLater);
  return { outcomes, ...(diagnosis ? { diagnosis } : {}), ...(stoppedMidPass ? { stoppedMidPass } : {}) };
}

type Settle = (outcome: ActionOutcome, note?: string) => Promise<void>;

/** The log's machine-readable result: the status, and for failures the diagnosis or error code. */
function resultOf(outcome: ActionOutcome, note?: string): string {
  if (outcome.result.status !== "failed") return outcome.result.status;
  return note?.startsWith("failed: ") ? note : `failed: ${outcome.result.error.code}`;
}

/**
 * 1007: the extension ran before the VM had a system-assigned identity. Enable it and reinstall,
 * once. Returns the VM as it now is, or undefined when the repair failed.
 */
async function selfRepair(vm: ObservedVm, install: Extract<Action, { kind: "installExtension" }>, deps: ReconcileDeps, settle: Settle): Promise<ObservedVm | undefined> {
  const enable: Extract<Action, { kind: "enableIdentity" }> = {
    kind: "enableIdentity",
    identityType: vm.identity.userAssignedIdentityIds.length > 0 ? "SystemAssigned, UserAssigned" : "SystemAssigned",
    keepUserAssigned: vm.identity.userAssignedIdentityIds,
  };
  const reinstall: Extract<Action, { kind: "installExtension" }> = { ...install, why: "failed" };
  let current = vm;
  for (const action of [enable, reinstall] as const) {
    try {
      const status = await runAction(current, action, deps);
      await settle({ action, result: { status } }, `self-repair: ${status}`);
      if (action.kind === "enableIdentity") current = withIdentity(current, action);
    } catch (error) {
      const classified = classifyArmError(error);
      await settle({ action, result: { status: "failed", error: classified } }, `self-repair failed: ${classified.code}`);
      if (classified.class === "transient") throw new TransientArmError(classified);
      return undefined;
    }
  }
  return current;
}

async function runAction(vm: ObservedVm, action: Action, deps: ReconcileDeps) {
  switch (action.kind) {
    case "enableIdentity":
      return deps.arm.enableIdentity(vm, action);
    case "installExtension":
      return deps.arm.installExtension(vm, action);
    case "createAssignment":
      return deps.arm.createAssignment(vm.id, action);
    case "deleteAssignment":
      return deps.arm.deleteAssignment(vm.id, action);
  }
}

function finalState(
  mode: "enforce" | "report",
  eligibility: Eligibility,
  plan: readonly Action[],
  outcomes: readonly ActionOutcome[],
): ComplianceState {
  const base = baseState(eligibility);
  if (plan.length === 0) return base;
  if (mode === "report") return "would-remediate";
  if (outcomes.some((o) => o.result.status === "failed" && !recovered(o, outcomes))) return "failed";
  return eligibility.verdict === "eligible" ? "remediated" : base;
}

/** A failed install followed by a successful self-repair reinstall does not fail the pass. */
function recovered(failedOutcome: ActionOutcome, outcomes: readonly ActionOutcome[]): boolean {
  if (failedOutcome.action.kind !== "installExtension") return false;
  const after = outcomes.slice(outcomes.indexOf(failedOutcome) + 1);
  return after.some((o) => o.action.kind === "installExtension" && o.result.status !== "failed");
}

function baseState(eligibility: Eligibility): ComplianceState {
  return eligibility.verdict === "eligible" ? "compliant" : eligibility.verdict;
}

function stateMessage(state: ComplianceState, eligibility: Eligibility, outcomes: readonly ActionOutcome[], diagnosis?: Diagnosis): string {
  if (state === "failed") {
    if (diagnosis) return `${diagnosis.meaning} ${diagnosis.remediation}`;
    const first = outcomes.find((o) => o.result.status === "failed");
    return first && first.result.status === "failed" ? `${first.action.kind} failed: ${first.result.error.message}` : eligibility.message;
  }
  if (state === "would-remediate") return `Report mode: ${outcomes.length} action(s) would run: ${outcomes.map((o) => o.action.kind).join(", ")}. ${eligibility.message}`;
  if (state === "remediated") return `Remediated with ${outcomes.filter((o) => o.result.status !== "skipped").length} action(s). ${eligibility.message}`;
  return eligibility.message;
}

function existingDiagnosis(vm: ObservedVm, deps: ReconcileDeps): Diagnosis | undefined {
  return diagnoseExtension(findLoginExtension(vm, deps.config.extension), vm);
}

function withIdentity(vm: ObservedVm, action: Extract<Action, { kind: "enableIdentity" }>): ObservedVm {
  return { ...vm, identity: { ...vm.identity, type: action.identityType }, etag: undefined } as ObservedVm;
}

function unknownDiagnosis(error: ClassifiedError): Diagnosis {
  return {
    code: "unknown-failure",
    meaning: `The extension's operation failed: ${error.message}`,
    remediation: "Read the extension's instance view and the VM's event log; the enforcer will retry on the next audit.",
    selfRepair: "none",
    retryable: true,
  };
}

function failed(errorClass: "transient" | "terminal", code: string, message: string) {
  return { status: "failed" as const, error: { class: errorClass, code, message } };
}

// ---------------------------------------------------------------- recording

type LogContext = Pick<LogEntryInput, "trigger" | "eventId" | "correlationId" | "requestedBy">;

function contextOf(request: PassRequest): LogContext {
  return {
    trigger: request.trigger,
    ...(request.eventId ? { eventId: request.eventId } : {}),
    ...(request.correlationId ? { correlationId: request.correlationId } : {}),
    ...(request.requestedBy ? { requestedBy: request.requestedBy } : {}),
  };
}

async function logAction(deps: ReconcileDeps, context: LogContext, vmId: string, action: Action, result: string, error?: ClassifiedError, note?: string) {
  await deps.store.appendLog({
    ...context,
    vmId,
    kind: "action",
    action: action.kind,
    result,
    ...(error ? { errorClass: error.class, errorCode: error.code } : {}),
    message: describeAction(action) + (note ? ` → ${note}` : "") + (error ? ` → ${error.message}` : note ? "" : ` → ${result}`),
    details: action,
    at: deps.clock().toISOString(),
  });
}

export function describeAction(action: Action): string {
  switch (action.kind) {
    case "enableIdentity":
      return `enable identity ${action.identityType}` + (action.keepUserAssigned.length ? ` keeping ${action.keepUserAssigned.length} user-assigned` : "");
    case "installExtension":
      return `install ${action.publisher}/${action.type} ${action.typeHandlerVersion} (${action.why})`;
    case "createAssignment":
      return `grant ${action.role} login to ${action.principalType} ${action.principalId}`;
    case "deleteAssignment":
      return `revoke ${action.role} login from ${action.principalId} (${action.why})`;
  }
}

async function record(vm: ObservedVm, request: PassRequest, deps: ReconcileDeps, result: PassResult, eligibility: Eligibility, desired: DesiredAccess, assignments: readonly ObservedAssignment[]) {
  const context = contextOf(request);
  await deps.store.appendLog({
    ...context,
    vmId: vm.id,
    kind: "decision",
    state: result.state,
    reason: result.reason,
    message: result.message,
    details: { mode: result.mode, armRequests: result.armRequests, plan: result.plan.map(describeAction), rejected: desired.rejected, os: eligibility.os, ...(result.diagnosis ? { diagnosis: result.diagnosis.code } : {}) },
    at: deps.clock().toISOString(),
  });
  const extension = findLoginExtension(vm, deps.config.extension);
  const extensionStatus =
    result.outcomes.find((o) => o.action.kind === "installExtension" && o.result.status !== "failed" && o.result.status !== "skipped")
      ? "Succeeded"
      : result.diagnosis ? "Failed" : extension?.provisioningState ?? "missing";
  const identityAction = result.outcomes.find((o) => o.action.kind === "enableIdentity" && o.result.status === "updated")?.action;
  await deps.store.updateVm(vm.id, (current) => ({
    // A diagnosis describes the extension as this pass saw it: one from an earlier pass no longer applies.
    ...withoutDiagnosis(baseRecord(vm.id, current, deps)),
    state: result.state,
    reason: result.reason,
    message: result.message,
    ...(eligibility.os ? { os: describeOs(eligibility.os) } : {}),
    location: vm.location,
    ...(vm.powerState ? { powerState: vm.powerState } : {}),
    identityType: identityAction?.kind === "enableIdentity" ? identityAction.identityType : vm.identity.type,
    ...(vm.identity.principalId ? { identityPrincipalId: vm.identity.principalId } : {}),
    extensionStatus,
    access: accessAfterPass(vm.id, assignments, result.outcomes, desired),
    rejected: desired.rejected.map((r) => ({ tag: r.tag, entry: r.entry, reason: r.reason })),
    ...(result.diagnosis
      ? { diagnosis: { code: result.diagnosis.code, message: result.diagnosis.meaning, remediation: result.diagnosis.remediation, ...(result.diagnosis.exitCode !== undefined ? { exitCode: result.diagnosis.exitCode } : {}) } }
      : {}),
    ...passMeta(request, deps, current),
  }));
}

/**
 * Who can log in after this pass, from the login-role assignments at the VM scope: what was there,
 * minus what the pass revoked, plus what it granted. Not what the tags asked for: a refused or
 * not-yet-possible grant is not access.
 */
function accessAfterPass(vmId: string, observed: readonly ObservedAssignment[], outcomes: readonly ActionOutcome[], desired: DesiredAccess): VmRecord["access"] {
  const revoked = new Set(
    outcomes.filter((o) => o.action.kind === "deleteAssignment" && o.result.status === "deleted").map((o) => (o.action as { name: string }).name.toLowerCase()),
  );
  const access: VmRecord["access"][number][] = [];
  const seen = new Set<string>();
  const add = (role: string, principalId: string, principalType: string | undefined, name: string, ours: boolean) => {
    const key = `${role}|${principalId.toLowerCase()}`;
    if (seen.has(key)) return;
    seen.add(key);
    access.push({ role, principalId: principalId.toLowerCase(), ...(principalType ? { principalType } : {}), assignmentName: name, ...(ours && desired.expiresAt ? { expiresAt: desired.expiresAt } : {}) });
  };
  for (const a of observed) {
    const role = loginRoleById(a.roleDefinitionId);
    if (role && !revoked.has(a.name.toLowerCase())) add(role.key, a.principalId, a.principalType, a.name, isEnforcerAssignment(a, vmId));
  }
  for (const o of outcomes) {
    if (o.action.kind === "createAssignment" && (o.result.status === "created" || o.result.status === "unchanged")) {
      add(o.action.role, o.action.principalId, o.action.principalType, o.action.name, true);
    }
  }
  return access;
}

async function recordGone(vmId: string, request: PassRequest, deps: ReconcileDeps, mode: "enforce" | "report", armRequests: number): Promise<PassResult> {
  const message = `VM ${vmId} no longer exists.`;
  await deps.store.appendLog({ ...contextOf(request), vmId, kind: "decision", state: "gone", reason: "not-found", message, at: deps.clock().toISOString() });
  await deps.store.updateVm(vmId, (current) => ({
    ...baseRecord(vmId, current, deps),
    state: "gone", reason: "not-found", message,
    ...passMeta(request, deps, current),
  }));
  return { vmId, state: "gone", reason: "not-found", message, mode, plan: [], outcomes: [], armRequests };
}

function withoutDiagnosis(record: VmRecord): VmRecord {
  const { diagnosis: _previous, ...rest } = record;
  return rest;
}

function baseRecord(vmId: string, current: VmRecord | undefined, deps: ReconcileDeps): VmRecord {
  return current ?? newVmRecord(vmId, deps.clock().toISOString());
}

function passMeta(request: PassRequest, deps: ReconcileDeps, current: VmRecord | undefined) {
  return {
    passCount: (current?.passCount ?? 0) + 1,
    lastTrigger: request.trigger,
    ...(request.eventId ? { lastEventId: request.eventId } : {}),
    ...(request.correlationId ? { lastCorrelationId: request.correlationId } : {}),
    ...(request.requestedBy ? { lastRequestedBy: request.requestedBy } : {}),
    updatedAt: deps.clock().toISOString(),
  };
}
