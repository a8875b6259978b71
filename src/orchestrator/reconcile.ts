import { randomUUID } from "node:crypto";
import type { Action } from "../domain/action.js";
import { decideEligibility, describeEligibilityOs, type Eligibility } from "../domain/eligibility.js";
import { desiredAccessFromTags, type DesiredAccess } from "../domain/access.js";
import { extensionStatus, findLoginExtension, loginExtensionFor, planActions, type ExtensionPolicy } from "../domain/plan.js";
import { diagnoseExtension, type Diagnosis } from "../domain/diagnosis.js";
import { preflightVerdict } from "../domain/nsg.js";
import { nameHints, networkNotVerifiedHint, OUTBOUND_443_BLOCKED, outboundBlockedDiagnosis, type Hint } from "../domain/preflight.js";
import { followUpDelayMs, MAX_FOLLOW_UPS, MAX_QUEUE_DELAY_MS, operationInFlight, stillWanted, type WaitingFor } from "../domain/progress.js";
import type { ActionOutcome, ClassifiedError, ComplianceState } from "../domain/outcome.js";
import { isWindowsVm, type ObservedAssignment, type ObservedVm } from "../domain/vm.js";
import { loginRoleById } from "../domain/roles.js";
import { isEnforcerAssignment } from "../domain/assignmentName.js";
import type { EnforcerConfig } from "../config/policy.js";
import { afterLook, cleanupDecision, cleanupRefused, cleanupWanted, confirmationLook, duplicateDeviceBlockers, effectiveCleanup, JOIN_NOT_CONFIRMED, lookupRefused, type DeviceState } from "../domain/device.js";
import { ArmFailure, DirectoryFailure, type ArmPort, type DirectoryPort, type LogEntryInput, type QueuePort, type ReconcileRequest, type StorePort, type VmRecord, type VmTarget } from "./ports.js";
import { newVmRecord } from "./vmRecord.js";

/** Who asked for the pass (the same vocabulary as the queue message's). */
export type Trigger = ReconcileRequest["trigger"];

export interface PassRequest {
  /** The VM, parsed once where the request came in. */
  readonly vm: VmTarget;
  readonly trigger: Trigger;
  /** Overrides the configured mode for this pass (e.g. an operator's `--report`). */
  readonly mode?: "enforce" | "report";
  readonly eventId?: string;
  readonly correlationId?: string;
  /** Object id (or upn) of whoever caused the event or asked for the pass: recorded with every decision. */
  readonly requestedBy?: string;
  readonly runId?: string;
  /** Follow-ups: how many looks at the same operation came before this one. */
  readonly attempt?: number;
  /** The queue message's own id (stamped when queued): the poison handler tells its pass from later ones by it. */
  readonly requestId?: string;
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
  readonly waitingFor?: WaitingFor;
  /** ARM requests this pass sent (reads, writes, retries). */
  readonly armRequests: number;
}

export interface ReconcileDeps {
  readonly arm: ArmPort;
  readonly store: StorePort;
  readonly queue: QueuePort;
  readonly config: EnforcerConfig;
  readonly clock: () => Date;
  /** Microsoft Graph, when a device feature (confirmation, cleanup) is on. */
  readonly directory?: DirectoryPort;
}

/** Re-plans after the tags changed under a pass at most this often; then a follow-up takes over. */
const MAX_ROUNDS = 3;

/**
 * One pass over one VM, the same for every trigger: observe → decide → plan → act → record, and
 * never wait. Level-based: the request only says which VM to look at; everything is read from ARM
 * now, and read again just before any write that grants or removes access. Long-running operations
 * are started, not awaited: the VM is recorded `in-progress` and a follow-up request is queued with
 * a delay. The caller holds the VM's lease (see runLeasedPass), so no other pass acts meanwhile.
 * A transient failure that a follow-up cannot absorb is rethrown (ArmFailure) so the platform
 * retries; a terminal one is recorded and the pass ends `failed`.
 */
export function reconcile(input: PassRequest, deps: ReconcileDeps): Promise<PassResult> {
  // A pass not run from a queue message (HTTP, CLI) gets an id of its own: the row always names the
  // request whose pass wrote it last, so the poison handler never mistakes a newer row for its own.
  const request: PassRequest = input.requestId ? input : { ...input, requestId: randomUUID() };
  return deps.arm.metered((armRequests) => {
    const pass: Pass = { request, deps, mode: effectiveMode(request.mode, deps.config.mode), log: contextOf(request), armRequests };
    // Scope is checked here, in the pass itself, whatever routed the request (event, queue, HTTP, CLI).
    if (!isWatched(request.vm.subscriptionId, deps.config.watchedSubscriptions)) return recordOutOfScope(pass);
    return runPass(pass);
  });
}

/**
 * The mode a pass runs in: a request may lower it to `report`, never raise it. An app configured
 * for report mode never writes to ARM, whatever a message, an HTTP caller or the CLI asks for.
 */
export function effectiveMode(requested: "enforce" | "report" | undefined, configured: "enforce" | "report"): "enforce" | "report" {
  return requested === "report" || configured === "report" ? "report" : "enforce";
}

/** Fail closed: a VM is in scope only when its subscription is listed; an empty list watches nothing. */
export function isWatched(subscriptionId: string, watched: readonly string[]): boolean {
  const sub = subscriptionId.toLowerCase();
  return watched.some((w) => w.toLowerCase() === sub);
}

/** Everything one pass carries, instead of threading it through every helper. */
interface Pass {
  readonly request: PassRequest;
  readonly deps: ReconcileDeps;
  readonly mode: "enforce" | "report";
  readonly log: LogContext;
  readonly armRequests: () => number;
}

/** What the pass observed, decided and planned, in one round. */
export interface Observation {
  readonly vm: ObservedVm;
  readonly assignments: readonly ObservedAssignment[];
  readonly row: VmRecord | undefined;
  readonly eligibility: Eligibility;
  readonly desired: DesiredAccess;
  readonly plan: readonly Action[];
}

/** What observing needs: reads only. */
export type ObserveDeps = Pick<ReconcileDeps, "arm" | "config" | "clock"> & { readonly store: Pick<StorePort, "getVm"> };

/**
 * Observe and plan, the start of every pass (and all `explain` does): the VM with its instance view,
 * its login-role assignments at the VM's scope and its row, then eligibility, the access its tags
 * ask for (at the clock's now) and the plan. Reads only; undefined when the VM is gone.
 */
export async function observe(target: VmTarget, deps: ObserveDeps): Promise<Observation | undefined> {
  const vm = await deps.arm.getVm(target);
  if (!vm) return undefined;
  const assignments = await deps.arm.listVmAssignments(target);
  const row = await deps.store.getVm(target.id);
  const eligibility = decideEligibility(vm, deps.config.eligibility);
  const desired = desiredAccessFromTags(vm.tags, deps.config.access, deps.clock());
  const plan = planActions({ vm, eligibility, desired, assignments, extension: loginExtensionFor(vm, deps.config) });
  return { vm, assignments, row, eligibility, desired, plan };
}

async function runPass(pass: Pass): Promise<PassResult> {
  const { deps, request } = pass;
  const vmId = request.vm.id;
  try {
    for (let round = 1; ; round++) {
      const seen = await observe(request.vm, deps);
      if (!seen) return await recordGone(pass);
      const { plan } = seen;

      if (pass.mode === "report") {
        const outcomes = plan.map((action) => ({ action, result: { status: "skipped" as const } }));
        return await conclude(pass, seen, { outcomes });
      }
      const executed = await execute(pass, seen);
      if (executed.stale && round < MAX_ROUNDS) {
        await deps.store.appendLog({
          ...pass.log, vmId, kind: "decision", state: "in-progress", reason: "tags-changed",
          message: `The VM's tags changed during the pass (${executed.stale}); re-planning from a fresh read before any other write.`,
          at: deps.clock().toISOString(),
        });
        continue;
      }
      return await conclude(pass, seen, executed);
    }
  } catch (error) {
    return await recordFailure(pass, error);
  }
}

interface Execution {
  readonly outcomes: ActionOutcome[];
  readonly diagnosis?: Diagnosis;
  /** The VM as re-read after it stopped running mid-pass; the pass is decided on this instead. */
  readonly stoppedMidPass?: ObservedVm;
  /** What the VM is busy with when the pass ends (an operation it found or started). */
  readonly waitingFor?: WaitingFor;
  /** The operation this pass started (recorded, so the follow-up knows the result is ours). */
  readonly started?: NonNullable<VmRecord["started"]>;
  /** A grant or revocation the tags no longer wanted when read again: why the pass re-plans. */
  readonly stale?: string;
  /** A role-assignment write that cannot be made yet (PrincipalNotFound while replicating, throttled). */
  readonly retryLater?: ClassifiedError;
  /** Principals ARM answered PrincipalNotFound for, with the first such answer on this VM (kept on the row). */
  readonly principalNotFound?: Readonly<Record<string, string>>;
  /** Grants rejected by this pass (principal-not-found past its replication window), recorded like refused tag entries. */
  readonly rejected?: readonly { tag: string; entry: string; reason: string }[];
  /** What the preflight noted without stopping the install (it could not clear the network path). */
  readonly hints?: readonly Hint[];
}

/** The reason code of a grant whose principal ARM still did not know after the replication window. */
export const PRINCIPAL_NOT_FOUND = "principal-not-found";

async function execute(pass: Pass, seen: Observation): Promise<Execution> {
  const { deps, request } = pass;
  const { vm, row } = seen;
  const policy = loginExtensionFor(vm, deps.config);
  const outcomes: ActionOutcome[] = [];
  // Every outcome is logged the moment it is known, so a pass that stops half-way still leaves a log.
  const settle = async (outcome: ActionOutcome, note?: string): Promise<void> => {
    outcomes.push(outcome);
    const error = outcome.result.status === "failed" ? outcome.result.error : undefined;
    await logAction(pass, outcome.action, resultOf(outcome, note), error, note);
  };
  let waitingFor: WaitingFor | undefined = waitingOn(vm, row, policy);
  let started: Execution["started"];
  let diagnosis: Diagnosis | undefined;
  let extensionBlocked = false;
  let stoppedMidPass: ObservedVm | undefined;
  let retryLater: ClassifiedError | undefined;
  const hints: Hint[] = [];
  // The extension failed after *our* install: diagnose it, repair it once if the diagnosis says so,
  // and otherwise stop. Without this, every follow-up would reinstall a failing extension forever.
  const ourInstallFailed = row?.started?.op === "extension" && extensionStatus(vm, policy) === "failed";
  const repairing = row?.started?.selfRepair === true;
  const routine = request.trigger === "follow-up" || request.trigger === "expiry";
  // PrincipalNotFound: transient while the directory may still be replicating, counted from the
  // first such answer for that principal on this VM; then a terminal rejection of that grant only.
  const notFoundSince: Record<string, string> = {};
  const rejected: { tag: string; entry: string; reason: string }[] = [];
  const windowMs = deps.config.timing.principalNotFoundWindowMs;
  const firstNotFound = (principalId: string): string | undefined => row?.principalNotFound?.[principalId.toLowerCase()];
  const pastWindow = (since: string | undefined): boolean => since !== undefined && deps.clock().getTime() - Date.parse(since) >= windowMs;
  const reject = (action: Extract<Action, { kind: "createAssignment" }>) =>
    rejected.push({ tag: action.role === "admin" ? deps.config.access.adminsTag : deps.config.access.usersTag, entry: action.principalId, reason: PRINCIPAL_NOT_FOUND });

  for (const action of seen.plan) {
    if (action.kind === "enableIdentity" || action.kind === "installExtension") {
      // One operation at a time: Compute serializes a VM's updates, and a follow-up continues.
      if (waitingFor || started || extensionBlocked) continue;
      let selfRepair = false;
      if (action.kind === "installExtension" && action.why === "failed") {
        const before = diagnoseExtension(findLoginExtension(vm, policy), vm);
        const repairable = before?.selfRepair === "enable-identity-and-reinstall";
        if (before && !before.retryable && before.selfRepair === "none") {
          // Do not hammer an extension that can never succeed here (e.g. exit 51: unsupported OS).
          diagnosis = before;
          extensionBlocked = true;
          await settle({ action, result: failed("terminal", before.code, before.meaning) }, `not retried: ${before.code}`);
          continue;
        }
        const continuingRepair = row?.started?.op === "identity" && repairing;
        if ((ourInstallFailed && (!repairable || repairing)) || (routine && !ourInstallFailed && !continuingRepair)) {
          // Our own install failed (and was repaired once already, or cannot be), or a follow-up
          // found a failure: record it; an event, the audit or an operator asks for the next attempt.
          diagnosis = before ?? unknownDiagnosis({ class: "terminal", code: "ExtensionFailed", message: "the extension's provisioning failed" });
          extensionBlocked = true;
          if (ourInstallFailed) await settle({ action, result: failed("terminal", diagnosis.code, diagnosis.meaning) }, `failed: ${diagnosis.code}`);
          continue;
        }
        selfRepair = (ourInstallFailed && repairable) || continuingRepair;
        if (before) {
          diagnosis = { ...before, remediation: `${selfRepair ? "Self-repair" : "Reinstalled by this pass"}: ${before.remediation}` };
        }
      }
      if (action.kind === "installExtension") {
        // Preflight (issue 12), only now that an install is about to be sent: a compliant VM, or one
        // waiting on an operation, pays no network read. A clear deny by a security group stops the
        // install (it would fail with -2145648607) and the grants with it; what the reads cannot
        // judge (firewalls, routes, proxies, IP-prefix rules) lets it go ahead, noted.
        const verdict = preflightVerdict(await deps.arm.readNetworkPath(vm));
        if (verdict.verdict === "blocked") {
          diagnosis = outboundBlockedDiagnosis(verdict, vm, action.type);
          extensionBlocked = true;
          await settle({ action, result: failed("terminal", OUTBOUND_443_BLOCKED, diagnosis.meaning) }, `not installed: ${OUTBOUND_443_BLOCKED} by ${verdict.ruleId}`);
          continue;
        }
        if (verdict.verdict === "unknown") hints.push(networkNotVerifiedHint(verdict, vm));
      }
      // The identity first, then the reinstall of the failed extension it was planned with: a
      // follow-up carries the reinstall on (once: a second failure is recorded, not retried).
      if (action.kind === "enableIdentity") selfRepair = seen.plan.some((a) => a.kind === "installExtension" && a.why === "failed") && !(ourInstallFailed && repairing);
      try {
        if (action.kind === "enableIdentity") await deps.arm.startEnableIdentity(vm, action);
        else await deps.arm.startInstallExtension(vm, action);
        const op = action.kind === "enableIdentity" ? "identity" : "extension";
        started = { op, at: deps.clock().toISOString(), ...(selfRepair ? { selfRepair: true } : {}) };
        waitingFor = op;
        await settle({ action, result: { status: "started" } }, selfRepair ? "started (self-repair)" : undefined);
      } catch (error) {
        const classified = classify(error);
        if (classified.class === "transient") {
          await settle({ action, result: { status: "failed", error: classified } });
          throw error;
        }
        // ARM refused the start. Stopped since observed (409), or busy with someone else's operation?
        const after = (await deps.arm.getVm(request.vm)) ?? vm;
        if (decideEligibility(after, deps.config.eligibility).reason === "vm-not-running") {
          // Deferred, like a VM found stopped; the enforcer never starts a VM to install.
          await settle({ action, result: { status: "skipped" } }, `skipped: VM stopped during the pass (${classified.code})`);
          stoppedMidPass = after;
          extensionBlocked = true;
          continue;
        }
        const busy = operationInFlight(after, policy);
        if (busy) {
          await settle({ action, result: { status: "skipped" } }, `skipped: another operation is in flight on the VM (${classified.code})`);
          waitingFor = busy;
          continue;
        }
        await settle({ action, result: { status: "failed", error: classified } });
        diagnosis = diagnoseExtension(findLoginExtension(after, policy), after) ?? unknownDiagnosis(classified);
        extensionBlocked = true;
      }
      continue;
    }

    if (action.kind === "createAssignment" && (extensionBlocked || ourInstallFailed)) {
      // Login cannot work on this VM right now; granting it would only promise access that fails.
      await settle({ action, result: { status: "skipped" } }, "skipped: the extension is not working on this VM");
      continue;
    }
    // Grants wait until the VM can honour them; revocations never wait.
    if (action.kind === "createAssignment" && (waitingFor || started)) continue;

    if (action.kind === "createAssignment" && routine && pastWindow(firstNotFound(action.principalId))) {
      // Rejected already: follow-ups do not ask again (an event, the audit or an operator does, once).
      notFoundSince[action.principalId.toLowerCase()] = firstNotFound(action.principalId) as string;
      reject(action);
      await settle({ action, result: { status: "skipped" } }, `skipped: ${PRINCIPAL_NOT_FOUND} since ${firstNotFound(action.principalId)}`);
      continue;
    }

    // Fresh state right before the write: the tags (and the clock, for expiry) must still want it.
    const tags = await deps.arm.getVmTags(request.vm);
    const now = desiredAccessFromTags(tags ?? {}, deps.config.access, deps.clock());
    if (!tags || !stillWanted(action, now)) {
      return { outcomes, stale: `${describeAction(action)} is no longer wanted`, ...(started ? { started } : {}), ...(row?.principalNotFound ? { principalNotFound: row.principalNotFound } : {}) };
    }
    try {
      const status = action.kind === "createAssignment" ? await deps.arm.createAssignment(request.vm, action) : await deps.arm.deleteAssignment(request.vm, action);
      await settle({ action, result: { status } });
    } catch (error) {
      const classified = classify(error);
      if (action.kind === "createAssignment" && classified.code === "PrincipalNotFound") {
        const since = firstNotFound(action.principalId) ?? deps.clock().toISOString();
        notFoundSince[action.principalId.toLowerCase()] = since;
        if (pastWindow(since)) {
          reject(action);
          const minutes = Math.round((deps.clock().getTime() - Date.parse(since)) / 60_000);
          const terminal: ClassifiedError = { class: "terminal", code: PRINCIPAL_NOT_FOUND, message: `ARM has not known principal ${action.principalId} since ${since} (${minutes} min, more than the replication window): ${classified.message}` };
          await settle({ action, result: { status: "failed", error: terminal } });
          continue;
        }
      }
      await settle({ action, result: { status: "failed", error: classified } });
      // One grant that cannot be made yet must not hold back the others: finish them, then look again.
      if (classified.class === "transient") retryLater ??= classified;
    }
  }
  // Principals still wanted but not granted by this pass keep their first PrincipalNotFound instant.
  for (const action of seen.plan) {
    if (action.kind !== "createAssignment") continue;
    const key = action.principalId.toLowerCase();
    const granted = outcomes.some((o) => o.action === action && (o.result.status === "created" || o.result.status === "unchanged"));
    const since = firstNotFound(key);
    if (!granted && since && !notFoundSince[key]) notFoundSince[key] = since;
  }
  return {
    principalNotFound: notFoundSince,
    ...(rejected.length ? { rejected } : {}),
    ...(hints.length ? { hints } : {}),
    outcomes,
    ...(diagnosis ? { diagnosis } : {}),
    ...(stoppedMidPass ? { stoppedMidPass } : {}),
    ...(waitingFor && !stoppedMidPass ? { waitingFor } : {}),
    ...(started ? { started } : {}),
    ...(retryLater ? { retryLater } : {}),
  };
}

/** What the VM waits for as observed: its own operation, named after ours when we started it. */
function waitingOn(vm: ObservedVm, row: VmRecord | undefined, policy: ExtensionPolicy): WaitingFor | undefined {
  const busy = operationInFlight(vm, policy);
  if (busy === "vm-provisioning" && row?.started?.op === "identity") return "identity";
  return busy;
}

function classify(error: unknown): ClassifiedError {
  if (error instanceof ArmFailure) return error.classified;
  return { class: "terminal", code: (error as Error)?.name || "Error", message: (error as Error)?.message ?? String(error) };
}

type Settled = Pick<Execution, "outcomes"> & Partial<Execution>;

/** Decides the state from what happened, schedules what must happen later, and records it. */
async function conclude(pass: Pass, seen: Observation, executed: Settled): Promise<PassResult> {
  const { deps, request } = pass;
  const vm = executed.stoppedMidPass ?? seen.vm;
  const eligibility = executed.stoppedMidPass ? decideEligibility(vm, deps.config.eligibility) : seen.eligibility;
  const started = executed.outcomes.some((o) => o.result.status === "started");
  let diagnosis = executed.diagnosis ?? (started ? undefined : diagnoseExtension(findLoginExtension(vm, loginExtensionFor(vm, deps.config)), vm));
  if (diagnosis?.code === "duplicate-device") diagnosis = await nameBlockers(pass, seen, vm, diagnosis);
  const waiting = executed.waitingFor && (eligibility.verdict === "eligible" || eligibility.verdict === "deferred") ? executed.waitingFor : undefined;

  let state: ComplianceState;
  let reason: string = eligibility.reason;
  let message: string;
  if (executed.stale) {
    state = "deferred";
    reason = "tags-changing";
    message = `The VM's tags kept changing during the pass (${executed.stale}); a follow-up looks again.`;
  } else if (waiting && pass.mode === "enforce") {
    state = "in-progress";
    reason = `waiting-for-${waiting}`;
    const what = waiting === "extension" ? `The ${loginExtensionFor(vm, deps.config).type} extension is being installed` : WAITING_TEXT[waiting];
    message = `${what}; a follow-up looks again instead of waiting. ${eligibility.message}`;
  } else if (executed.retryLater) {
    state = "deferred";
    reason = executed.retryLater.code;
    message = `Could not finish the pass (${executed.retryLater.message}); a follow-up tries again.`;
  } else {
    state = finalState(pass.mode, eligibility, seen.plan, executed.outcomes, diagnosis);
    if (state === "failed" && diagnosis?.code === OUTBOUND_443_BLOCKED) reason = OUTBOUND_443_BLOCKED;
    // The last look of a chain that remediated the VM: its work is what made it compliant.
    if (state === "compliant" && seen.row?.state === "in-progress" && seen.row.started) state = "remediated";
    message = stateMessage(state, eligibility, executed.outcomes, diagnosis);
  }

  // The Entra device: confirmed once our install is seen to succeed (a read; see src/domain/device.ts).
  const device = state === "compliant" || state === "remediated" ? await confirmDevice(pass, seen, vm, started) : undefined;
  const deviceNow = device?.state ?? (seen.row?.state === "gone" ? undefined : seen.row?.device);
  if ((state === "compliant" || state === "remediated") && deviceNow?.status === "not-confirmed") {
    state = "failed";
    reason = JOIN_NOT_CONFIRMED;
    message = deviceNow.message;
  }

  // A follow-up when something is in flight or can be retried soon; bounded, then the audit takes over.
  const attempt = request.trigger === "follow-up" && !started ? (request.attempt ?? 0) + 1 : 0;
  // States that settle by themselves within minutes: look again a few times rather than wait for the audit.
  const agentNotYet = state === "deferred" && ["os-unknown-agent-not-reporting", "power-state-unknown", "vm-deleting"].includes(reason);
  const wantsFollowUp =
    pass.mode === "enforce" &&
    attempt < MAX_FOLLOW_UPS &&
    (state === "in-progress" || executed.stale !== undefined || executed.retryLater !== undefined || (agentNotYet && attempt < 6));
  const followUp = wantsFollowUp
    ? { attempt, waitingFor: waiting ?? reason }
    : device?.lookAgainInMs !== undefined
      ? { attempt, waitingFor: "device-join", delayInMs: device.lookAgainInMs }
      : undefined;
  const timers = await scheduleTimers(pass, seen, executed, followUp);

  const result: PassResult = {
    vmId: request.vm.id, state, reason, message, mode: pass.mode, plan: seen.plan, outcomes: executed.outcomes,
    ...(diagnosis ? { diagnosis } : {}),
    ...(waiting ? { waitingFor: waiting } : {}),
    armRequests: pass.armRequests(),
  };
  await record(pass, vm, result, eligibility, seen, executed, timers, device?.state);
  return result;
}

/**
 * Looks the VM's device up when the device rules say this pass should (one read when our install is
 * seen to succeed, one retry later); records a refusal (403) without failing the pass. A transient
 * Graph failure leaves a later look pending.
 */
async function confirmDevice(pass: Pass, seen: Observation, vm: ObservedVm, startedNow: boolean): Promise<{ state: DeviceState; lookAgainInMs?: number } | undefined> {
  const { deps, request } = pass;
  const policy = deps.config.devices;
  const directory = deps.directory;
  const previous = seen.row?.state === "gone" ? undefined : (seen.row?.device as DeviceState | undefined);
  const succeeded = extensionStatus(vm, loginExtensionFor(vm, deps.config)) === "succeeded";
  const look = confirmationLook({
    policy,
    windows: isWindowsVm(vm),
    extensionSucceeded: succeeded && !startedNow,
    ourInstallSucceeded: seen.row?.started?.op === "extension" && succeeded && !startedNow,
    device: previous,
    routine: request.trigger === "follow-up",
    nowMs: deps.clock().getTime(),
  });
  if (!look || !directory || !policy) return undefined;
  let state: DeviceState;
  const graph = meteredGraph(directory);
  try {
    const found = await graph.run(() => directory.findVmDevices(vm.id));
    state = afterLook(look, found, vm.id, vm.name, previous, policy, deps.clock().getTime());
  } catch (error) {
    if (!(error instanceof DirectoryFailure)) throw error;
    const now = deps.clock().getTime();
    if (error.classified.class === "terminal") state = lookupRefused(vm.name, error.classified.message, now, previous);
    else {
      const lookAgainAt = new Date(now + policy.joinWaitMs).toISOString();
      state = { status: "pending", since: previous?.since ?? new Date(now).toISOString(), lookAgainAt, at: new Date(now).toISOString(), message: `Microsoft Graph could not be asked about VM ${vm.name}'s device (${error.classified.message}); another look at ${lookAgainAt}.` };
    }
  }
  await deps.store.appendLog({
    ...pass.log, vmId: vm.id, kind: "action", action: "confirmDevice", result: state.status, message: state.message,
    details: { look, graphRequests: graph.requests(), ...(state.id ? { deviceObjectId: state.id, deviceId: state.deviceId } : {}) }, at: deps.clock().toISOString(),
  });
  return { state, ...(state.status === "pending" && look === 1 ? { lookAgainInMs: policy.joinWaitMs } : {}) };
}

/**
 * duplicate-device on a Windows VM, with DEVICE_CONFIRMATION on: names the devices holding the VM's
 * computer name, so the operator need not hunt for them in Entra ID. One Graph read per failure: a
 * row whose duplicate-device diagnosis already carries `blockers` is copied, not read again (the
 * diagnosis leaves the row while a reinstall runs, so the next failure reads afresh). A refusal (403)
 * or a transient failure keeps the plain diagnosis and is logged; the pass goes on.
 * Invariant: a device found by display name is never deleted or changed, here or anywhere: the name
 * is not the VM's identity (a live VM or an admin's look-alike can share it), so only the operator
 * removes it. The cleanup deletes only the object id recorded at join (cleanUpDevice).
 */
async function nameBlockers(pass: Pass, seen: Observation, vm: ObservedVm, diagnosis: Diagnosis): Promise<Diagnosis> {
  const { deps } = pass;
  const directory = deps.directory;
  if (!deps.config.devices?.confirmation || !directory || !isWindowsVm(vm)) return diagnosis;
  // A row left by a gone VM under the same id describes another machine's failure.
  const previous = seen.row?.state === "gone" ? undefined : seen.row?.diagnosis;
  if (previous?.code === diagnosis.code && previous.blockers !== undefined && previous.remediation !== undefined) {
    return { ...diagnosis, remediation: previous.remediation, blockers: previous.blockers };
  }
  const name = vm.computerName ?? vm.name;
  const recordedDeviceId = seen.row?.state === "gone" ? undefined : seen.row?.device?.id;
  const graph = meteredGraph(directory);
  const log = (entry: Pick<LogEntryInput, "result" | "message" | "errorClass" | "errorCode">, details: Record<string, unknown>) =>
    deps.store.appendLog({ ...pass.log, vmId: vm.id, kind: "action", action: "nameBlockingDevices", ...entry, details: { displayName: name, graphRequests: graph.requests(), ...details }, at: deps.clock().toISOString() });
  try {
    const found = await graph.run(() => directory.findDevicesByName(name));
    const named = duplicateDeviceBlockers({ found, vmId: vm.id, ...(vm.createdAt ? { vmCreatedAt: vm.createdAt } : {}), ...(recordedDeviceId ? { recordedDeviceId } : {}) });
    await log({ result: named.ids.length ? "named" : "none-found", message: named.text }, { blockers: named.ids, found: found.length });
    return { ...diagnosis, remediation: `${diagnosis.remediation} ${named.text}`, blockers: named.ids };
  } catch (error) {
    if (!(error instanceof DirectoryFailure)) throw error;
    const { classified } = error;
    await log(
      { result: "lookup-failed", errorClass: classified.class, errorCode: classified.code, message: `Could not name the devices blocking VM ${vm.name}'s join (display name ${JSON.stringify(name.slice(0, 64))}): ${classified.message}${classified.code === "graph-forbidden" ? " Grant the Graph application permission Device.Read.All." : ""}` },
      {},
    );
    return diagnosis;
  }
}

const WAITING_TEXT: Record<WaitingFor, string> = {
  "vm-provisioning": "Azure is still provisioning or updating the VM",
  identity: "The system-assigned identity is being enabled",
  extension: "The AADLoginForWindows extension is being installed",
};

interface Timers {
  readonly followUpAt?: string;
  readonly expiryCheckAt?: string;
}

/**
 * Queues the follow-up and the expiry check this pass needs, each only when none is pending for an
 * earlier or equal moment (a VM keeps at most one of each in flight; a lost one is re-armed by the
 * next pass). A message is sent before the row says so: a crash between the two costs one extra pass.
 */
async function scheduleTimers(pass: Pass, seen: Observation, executed: Settled, followUp: { attempt: number; waitingFor: string; delayInMs?: number } | undefined): Promise<Timers> {
  const { deps, request } = pass;
  const now = deps.clock().getTime();
  const row = seen.row;
  const pending = (at: string | undefined, target: number): boolean => {
    const t = at ? Date.parse(at) : NaN;
    // A timer at or before now is the one running (or it was lost): not pending any more.
    return Number.isFinite(t) && t > now + 500 && t <= target;
  };
  const timers: { followUpAt?: string; expiryCheckAt?: string } = {};
  // A follow-up carries on the same person's request: its grants are recorded as theirs.
  const base = {
    vmId: request.vm.id,
    ...(request.correlationId ? { correlationId: request.correlationId } : {}),
    ...(request.requestedBy ? { requestedBy: request.requestedBy } : {}),
    ...(pass.mode !== deps.config.mode ? { mode: pass.mode } : {}),
  };

  if (followUp) {
    const delay = followUp.delayInMs ?? followUpDelayMs(followUp.attempt, deps.config.timing.followUp);
    const target = now + delay;
    if (pending(row?.followUpAt, target)) timers.followUpAt = row?.followUpAt as string;
    else {
      await deps.queue.send({ ...base, trigger: "follow-up", attempt: followUp.attempt, waitingFor: followUp.waitingFor }, { delayInMs: delay });
      timers.followUpAt = new Date(target).toISOString();
    }
  } else if (pending(row?.followUpAt, Number.POSITIVE_INFINITY)) {
    timers.followUpAt = row?.followUpAt as string;
  }

  // Expiry: access ends at the instant, not at the next audit. Queue messages wait up to 7 days;
  // a later expiry is re-armed by the pass that check runs.
  const expiresAt = seen.desired.expiresAt ? Date.parse(seen.desired.expiresAt) : NaN;
  const ours = seen.assignments.some((a) => isEnforcerAssignment(a, request.vm.id)) || executed.outcomes.some((o) => o.action.kind === "createAssignment" && o.result.status === "created");
  if (pass.mode === "enforce" && Number.isFinite(expiresAt) && expiresAt > now && ours) {
    // A second past the instant, so the pass it triggers reads the clock after the expiry.
    const target = Math.min(expiresAt + 1000, now + MAX_QUEUE_DELAY_MS);
    if (pending(row?.expiryCheckAt, target)) timers.expiryCheckAt = row?.expiryCheckAt as string;
    else {
      await deps.queue.send({ ...base, trigger: "expiry" }, { delayInMs: target - now });
      timers.expiryCheckAt = new Date(target).toISOString();
    }
  } else if (pending(row?.expiryCheckAt, Number.POSITIVE_INFINITY)) {
    timers.expiryCheckAt = row?.expiryCheckAt as string;
  }
  return timers;
}


function finalState(mode: "enforce" | "report", eligibility: Eligibility, plan: readonly Action[], outcomes: readonly ActionOutcome[], diagnosis?: Diagnosis): ComplianceState {
  const base = baseState(eligibility);
  if (plan.length === 0) return base;
  if (mode === "report") return "would-remediate";
  // A rejected grant (principal-not-found) is recorded like a refused tag entry; it does not fail the VM.
  if (outcomes.some((o) => o.result.status === "failed" && o.result.error.code !== PRINCIPAL_NOT_FOUND)) return "failed";
  if (diagnosis && eligibility.verdict === "eligible" && !outcomes.some((o) => o.result.status === "started")) return "failed";
  const acted = outcomes.some((o) => o.result.status !== "skipped" && o.result.status !== "unchanged" && o.result.status !== "failed");
  return eligibility.verdict === "eligible" && acted ? "remediated" : base;
}

function baseState(eligibility: Eligibility): ComplianceState {
  return eligibility.verdict === "eligible" ? "compliant" : eligibility.verdict;
}

function stateMessage(state: ComplianceState, eligibility: Eligibility, outcomes: readonly ActionOutcome[], diagnosis?: Diagnosis): string {
  if (state === "failed") {
    if (diagnosis) return `${diagnosis.meaning} ${diagnosis.remediation}`;
    const first = outcomes.find((o) => o.result.status === "failed" && o.result.error.code !== PRINCIPAL_NOT_FOUND);
    return first && first.result.status === "failed" ? `${first.action.kind} failed: ${first.result.error.message}` : eligibility.message;
  }
  if (state === "would-remediate") return `Report mode: ${outcomes.length} action(s) would run: ${outcomes.map((o) => o.action.kind).join(", ")}. ${eligibility.message}`;
  if (state === "remediated") return `Remediated with ${outcomes.filter((o) => o.result.status !== "skipped").length} action(s). ${eligibility.message}`;
  return eligibility.message;
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

/** The log's machine-readable result: the status, and for failures the diagnosis or error code. */
function resultOf(outcome: ActionOutcome, note?: string): string {
  if (outcome.result.status !== "failed") return outcome.result.status;
  return note?.startsWith("failed: ") ? note : `failed: ${outcome.result.error.code}`;
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

async function logAction(pass: Pass, action: Action, result: string, error?: ClassifiedError, note?: string) {
  await pass.deps.store.appendLog({
    ...pass.log,
    vmId: pass.request.vm.id,
    kind: "action",
    action: action.kind,
    result,
    ...(error ? { errorClass: error.class, errorCode: error.code } : {}),
    message: describeAction(action) + (note ? ` → ${note}` : "") + (error ? ` → ${error.message}` : note ? "" : ` → ${result}`),
    details: action,
    at: pass.deps.clock().toISOString(),
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

async function record(pass: Pass, vm: ObservedVm, result: PassResult, eligibility: Eligibility, seen: Observation, executed: Settled, timers: Timers, device?: DeviceState) {
  const { deps } = pass;
  await deps.store.appendLog({
    ...pass.log,
    vmId: vm.id,
    kind: "decision",
    state: result.state,
    reason: result.reason,
    message: result.message,
    details: {
      mode: result.mode, armRequests: result.armRequests, plan: result.plan.map(describeAction), rejected: [...seen.desired.rejected, ...(executed.rejected ?? [])], os: eligibility.os,
      ...(eligibility.linux ? { linux: eligibility.linux } : {}),
      ...(pass.request.mode && pass.request.mode !== result.mode ? { requestedMode: pass.request.mode, modeNote: "a request may only lower the mode to report" } : {}),
      ...(result.diagnosis ? { diagnosis: result.diagnosis.code } : {}),
      ...(executed.hints?.length ? { preflight: executed.hints.map((h) => h.message) } : {}),
      ...(timers.followUpAt ? { followUpAt: timers.followUpAt } : {}),
      ...(timers.expiryCheckAt ? { expiryCheckAt: timers.expiryCheckAt } : {}),
    },
    at: deps.clock().toISOString(),
  });
  const extension = findLoginExtension(vm, loginExtensionFor(vm, deps.config));
  const installStarted = result.outcomes.some((o) => o.action.kind === "installExtension" && o.result.status === "started");
  // Stopped by the preflight: nothing was installed, so nothing failed on the VM.
  const preflightStopped = result.diagnosis?.code === OUTBOUND_443_BLOCKED;
  const extensionStatus = installStarted ? "Creating" : result.diagnosis && !preflightStopped ? "Failed" : extension?.provisioningState ?? "missing";
  // The preflight's note stays while the install it let through has not succeeded: a failure that
  // follows (-2145648607) is then read next to it.
  const carried = (seen.row?.hints ?? []).filter((h) => h.code === "network-not-verified" && !executed.hints?.length && extension !== undefined && extension.provisioningState?.toLowerCase() !== "succeeded");
  const hints: { code: string; message: string }[] = [...nameHints(vm), ...(executed.hints ?? []), ...carried];
  const identityStarted = result.outcomes.find((o) => o.action.kind === "enableIdentity" && o.result.status === "started")?.action;
  // What we started stays on the row while something is in flight, so the follow-up knows it is ours.
  const started = executed.started ?? (result.waitingFor ? seen.row?.started : undefined);
  await deps.store.updateVm(vm.id, (current) => {
    const { diagnosis: _d, started: _s, waitingFor: _w, followUpAt: _f, expiryCheckAt: _e, principalNotFound: _p, hints: _h, device: previousDevice, ...kept } = baseRecord(pass, current);
    const notFound = executed.principalNotFound ?? seen.row?.principalNotFound ?? {};
    return {
      ...kept,
      state: result.state,
      reason: result.reason,
      message: result.message,
      ...(describeEligibilityOs(eligibility) ? { os: describeEligibilityOs(eligibility) } : {}),
      location: vm.location,
      ...(vm.powerState ? { powerState: vm.powerState } : {}),
      identityType: identityStarted?.kind === "enableIdentity" ? identityStarted.identityType : vm.identity.type,
      ...(vm.identity.principalId ? { identityPrincipalId: vm.identity.principalId } : {}),
      extensionStatus,
      access: accessAfterPass(vm.id, seen.assignments, result.outcomes, seen.desired),
      rejected: [...seen.desired.rejected.map((r) => ({ tag: r.tag, entry: r.entry, reason: r.reason })), ...(executed.rejected ?? [])],
      ...(Object.keys(notFound).length ? { principalNotFound: notFound } : {}),
      ...(hints.length ? { hints: hints.map((h) => ({ code: h.code, message: h.message })) } : {}),
      ...(result.diagnosis
        ? { diagnosis: { code: result.diagnosis.code, message: result.diagnosis.meaning, remediation: result.diagnosis.remediation, ...(result.diagnosis.exitCode !== undefined ? { exitCode: result.diagnosis.exitCode } : {}), ...(result.diagnosis.blockers ? { blockers: result.diagnosis.blockers } : {}) } }
        : resolved(seen.row, extension?.provisioningState)),
      ...(result.waitingFor ? { waitingFor: result.waitingFor } : {}),
      ...(started ? { started } : {}),
      ...(timers.followUpAt ? { followUpAt: timers.followUpAt } : {}),
      ...(timers.expiryCheckAt ? { expiryCheckAt: timers.expiryCheckAt } : {}),
      // A VM recreated under the id of a gone one is a new machine: the old device is not its device.
      ...(device ? { device } : previousDevice && current?.state !== "gone" ? { device: previousDevice } : {}),
      ...passMeta(pass, current),
    };
  });
}

/** A failure our reinstall fixed stays on the row for one pass, saying so; the next pass drops it. */
function resolved(row: VmRecord | undefined, provisioningState: string | undefined): Pick<VmRecord, "diagnosis"> {
  if (!row?.diagnosis || row.started?.op !== "extension" || provisioningState?.toLowerCase() !== "succeeded") return {};
  const was = row.diagnosis.remediation?.replace(/^(Reinstalled by this pass|Self-repair): /, "") ?? "";
  return { diagnosis: { ...row.diagnosis, remediation: `Resolved: the reinstall succeeded. Was: ${was}` } };
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

async function recordGone(pass: Pass): Promise<PassResult> {
  const { deps, request } = pass;
  const vmId = request.vm.id;
  const device = await cleanUpDevice(pass);
  const message = `VM ${vmId} no longer exists.` + (device ? ` ${device.message}` : "");
  await deps.store.appendLog({ ...pass.log, vmId, kind: "decision", state: "gone", reason: "not-found", message, at: deps.clock().toISOString() });
  await deps.store.updateVm(vmId, (current) => {
    const { started: _s, waitingFor: _w, followUpAt: _f, expiryCheckAt: _e, ...kept } = baseRecord(pass, current);
    return { ...kept, state: "gone", reason: "not-found", message, ...(device ? { device } : {}), ...passMeta(pass, current) };
  });
  return { vmId, state: "gone", reason: "not-found", message, mode: pass.mode, plan: [], outcomes: [], armRequests: pass.armRequests() };
}

/**
 * The recorded device of a VM found gone, per DEVICE_CLEANUP (lowered to report in report mode):
 * re-read by the object id recorded at join, deleted (enforce) or reported only while it still
 * carries the VM's resource id. Nothing else is ever read or deleted: not a device found by name,
 * not a VM's device we did not record. 403 is recorded; a transient failure is rethrown so the
 * platform retries the pass (the VM stays gone, the device still recorded).
 */
async function cleanUpDevice(pass: Pass): Promise<DeviceState | undefined> {
  const { deps, request } = pass;
  const directory = deps.directory;
  const mode = effectiveCleanup(deps.config.devices?.cleanup, pass.mode);
  if (mode === "off" || !directory) return undefined;
  const row = await deps.store.getVm(request.vm.id);
  const recorded = row?.device as DeviceState | undefined;
  const deviceObjectId = recorded?.id;
  if (!recorded || !deviceObjectId || !cleanupWanted(mode, recorded)) return undefined;
  const name = row?.name ?? request.vm.name;
  let state: DeviceState;
  const graph = meteredGraph(directory);
  try {
    state = await graph.run(async () => {
      const decision = cleanupDecision(mode, recorded, await directory.getDevice(deviceObjectId), request.vm.id, name, deps.clock().getTime());
      if (decision.delete && (await directory.deleteDevice(deviceObjectId)) === "unchanged") {
        return { ...decision.state, status: "already-gone" as const, message: `VM ${name} was deleted; its device ${recorded.id} was already gone when deleted.` };
      }
      return decision.state;
    });
  } catch (error) {
    if (!(error instanceof DirectoryFailure) || error.classified.class === "transient") throw error;
    state = cleanupRefused(recorded, name, error.classified.message, deps.clock().getTime());
  }
  await deps.store.appendLog({
    ...pass.log, vmId: request.vm.id, kind: "action", action: "cleanupDevice", result: state.status, message: state.message,
    details: { mode, graphRequests: graph.requests(), deviceObjectId: recorded.id, ...(recorded.deviceId ? { deviceId: recorded.deviceId } : {}) }, at: deps.clock().toISOString(),
  });
  return state;
}

/** Graph work counted on its own (not mixed with other passes'): `requests()` says what it sent, whether it returned or threw. */
function meteredGraph(directory: DirectoryPort): { run<T>(work: () => Promise<T>): Promise<T>; requests(): number } {
  let sent = 0;
  return {
    requests: () => sent,
    run: (work) =>
      directory.metered(async (count) => {
        try {
          return await work();
        } finally {
          sent = count();
        }
      }),
  };
}

/** The reason code of a VM refused because its subscription is not watched. */
export const NOT_WATCHED = "subscription-not-watched";

/**
 * A VM outside the watched subscriptions: refused before any ARM call, whatever asked for it. The
 * refusal is logged; a row is updated only when the VM already has one (it was watched before), so
 * a caller cannot fill the compliance table with VMs the enforcer does not govern.
 */
async function recordOutOfScope(pass: Pass): Promise<PassResult> {
  const { deps, request } = pass;
  const vmId = request.vm.id;
  const watched = deps.config.watchedSubscriptions;
  const message = watched.length === 0
    ? `Refused: WATCHED_SUBSCRIPTION_IDS is empty, so the enforcer acts on no VM (subscription ${request.vm.subscriptionId}).`
    : `Refused: subscription ${request.vm.subscriptionId} is not in WATCHED_SUBSCRIPTION_IDS; the enforcer does not read or change this VM.`;
  await deps.store.appendLog({ ...pass.log, vmId, kind: "decision", state: "ineligible", reason: NOT_WATCHED, message, details: { mode: pass.mode, armRequests: 0 }, at: deps.clock().toISOString() });
  if (await deps.store.getVm(vmId)) {
    await deps.store.updateVm(vmId, (current) => {
      const { started: _s, waitingFor: _w, followUpAt: _f, expiryCheckAt: _e, ...kept } = baseRecord(pass, current);
      return { ...kept, state: "ineligible", reason: NOT_WATCHED, message, ...passMeta(pass, current) };
    });
  }
  return { vmId, state: "ineligible", reason: NOT_WATCHED, message, mode: pass.mode, plan: [], outcomes: [], armRequests: pass.armRequests() };
}

/**
 * A pass that could not finish. Transient: the VM shows up deferred (with the error as its reason)
 * while the platform retries the request, even when its very first pass could not finish.
 * Terminal: recorded as failed.
 */
async function recordFailure(pass: Pass, error: unknown): Promise<PassResult> {
  const { deps, request } = pass;
  const vmId = request.vm.id;
  // Not ARM's answer (the store or the queue failed, or a bug): nothing to record on the VM; the
  // platform retries the request, and its poison queue records it if that keeps failing.
  if (!(error instanceof ArmFailure)) throw error;
  const classified = error.classified;
  await deps.store.appendLog({
    ...pass.log, vmId, kind: "error", state: classified.class === "transient" ? "deferred" : "failed", errorClass: classified.class, errorCode: classified.code,
    message: `Pass failed: ${classified.message}`, at: deps.clock().toISOString(),
  });
  const transient = classified.class === "transient";
  const message = transient ? `Could not finish the pass (${classified.message}); it is retried.` : classified.message;
  await deps.store.updateVm(vmId, (current) => ({
    ...baseRecord(pass, current),
    state: transient ? "deferred" : "failed", reason: classified.code, message,
    ...passMeta(pass, current),
  }));
  if (transient) throw error;
  return { vmId, state: "failed", reason: classified.code, message, mode: pass.mode, plan: [], outcomes: [], armRequests: pass.armRequests() };
}

function baseRecord(pass: Pass, current: VmRecord | undefined): VmRecord {
  return current ?? newVmRecord(pass.request.vm, pass.deps.clock().toISOString());
}

function passMeta(pass: Pass, current: VmRecord | undefined) {
  const { request } = pass;
  return {
    passCount: (current?.passCount ?? 0) + 1,
    lastTrigger: request.trigger,
    ...(request.eventId ? { lastEventId: request.eventId } : {}),
    ...(request.correlationId ? { lastCorrelationId: request.correlationId } : {}),
    ...(request.requestedBy ? { lastRequestedBy: request.requestedBy } : {}),
    ...(request.requestId ? { lastRequestId: request.requestId } : {}),
    updatedAt: pass.deps.clock().toISOString(),
  };
}
