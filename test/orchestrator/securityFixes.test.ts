import { describe, expect, it } from "vitest";
import { vmTarget } from "../../src/domain/resourceId.js";
import { reconcile, type PassRequest } from "../../src/orchestrator/reconcile.js";
import { handleReconcileRequest, handlePoisonMessage } from "../../src/orchestrator/handleQueue.js";
import { handleResourceEvent } from "../../src/orchestrator/handleEvent.js";
import { reconcileNowRequest } from "../../src/orchestrator/httpApi.js";
import { runDriftAudit } from "../../src/orchestrator/driftAudit.js";
import { encodeQueueMessage } from "../../src/store/reconcileRequest.js";
import { aadExtension, p, SUB, VM_ID, windowsVm } from "../domain/builders.js";
import { memoryDeps, type MemoryDeps } from "../support/memoryPorts.js";

/**
 * Issue 10, "Security and reliability fixes", against the in-memory ports. Each block fails on the
 * code before the fix; the same behaviours run end to end against the emulator in test/functions.
 */
const ALICE = p(1);
const BOB = p(2);
const target = vmTarget(VM_ID);
const allow = { ACCESS_ALLOWED_PRINCIPALS: `${ALICE},${BOB}` };
const OTHER_SUB = "0f0f0f0f-1111-4222-8333-444444444444";
const OTHER_VM = `/subscriptions/${OTHER_SUB}/resourceGroups/rg-x/providers/Microsoft.Compute/virtualMachines/vm-x`;
const ready = (tags: Record<string, string>) =>
  windowsVm({ identity: { type: "SystemAssigned", principalId: p(9), userAssignedIdentityIds: [] }, extensions: [aadExtension("Succeeded")], tags });
const pass = (deps: MemoryDeps, extra: Partial<PassRequest> = {}) => reconcile({ vm: target, trigger: "event", ...extra }, deps);

describe("report mode cannot be escalated", () => {
  it("a pass asking for enforce in a report-mode app runs report and writes nothing (queue message, CLI or HTTP alike)", async () => {
    const deps = memoryDeps({ ...allow, ENFORCER_MODE: "report" });
    deps.arm.put(windowsVm({ tags: { "aadlogin-admins": ALICE } }));
    const result = await pass(deps, { mode: "enforce", trigger: "audit" });
    expect(result).toMatchObject({ mode: "report", state: "would-remediate" });
    expect(deps.arm.writes).toEqual([]);
    const decision = deps.store.log.find((l) => l.kind === "decision");
    expect(decision?.details).toMatchObject({ mode: "report", requestedMode: "enforce" });
  });

  it("a queue message saying enforce runs report in a report-mode app", async () => {
    const deps = memoryDeps({ ...allow, ENFORCER_MODE: "report" });
    deps.arm.put(windowsVm({ tags: { "aadlogin-admins": ALICE } }));
    const outcome = await handleReconcileRequest({ vmId: VM_ID, trigger: "follow-up", mode: "enforce" }, deps);
    expect(outcome).toMatchObject({ ran: true, result: { mode: "report" } });
    expect(deps.arm.writes).toEqual([]);
  });

  it("a request may lower an enforce-mode app to report", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(windowsVm({ tags: { "aadlogin-admins": ALICE } }));
    expect((await pass(deps, { mode: "report" })).mode).toBe("report");
    expect(deps.arm.writes).toEqual([]);
  });

  it("reconcileNow refuses mode enforce in a report-mode app with 403, before any ARM call, and records who asked", async () => {
    const deps = memoryDeps({ ...allow, ENFORCER_MODE: "report" });
    deps.arm.put(windowsVm({ tags: { "aadlogin-admins": ALICE } }));
    const response = await reconcileNowRequest({ vmId: VM_ID, mode: "enforce" }, deps, "mallory@contoso.com (" + p(66) + ")");
    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ error: { code: "ModeEscalationRefused" } });
    expect(deps.arm.requestCount()).toBe(0);
    const [entry] = await deps.store.listLog(VM_ID, 5);
    expect(entry).toMatchObject({ kind: "error", trigger: "http", reason: "mode-escalation-refused", requestedBy: `mallory@contoso.com (${p(66)})` });
  });

  it("reconcileNow records its caller on the row and in the decision log", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(ready({}));
    const response = await reconcileNowRequest({ vmId: VM_ID }, deps, "ops@contoso.com (" + p(7) + ")");
    expect(response.status).toBe(200);
    expect((await deps.store.getVm(VM_ID))?.lastRequestedBy).toBe(`ops@contoso.com (${p(7)})`);
    expect(deps.store.log.find((l) => l.kind === "decision")?.requestedBy).toBe(`ops@contoso.com (${p(7)})`);
  });
});

describe("fail closed on scope", () => {
  it("a VM outside the watched subscriptions is refused inside the pass, with no ARM call, whatever the trigger", async () => {
    for (const trigger of ["event", "audit", "http", "cli", "follow-up", "expiry"] as const) {
      const deps = memoryDeps(allow);
      deps.arm.put({ ...windowsVm({ tags: { "aadlogin-admins": ALICE } }), id: OTHER_VM, name: "vm-x" });
      const result = await reconcile({ vm: vmTarget(OTHER_VM), trigger }, deps);
      expect(result, trigger).toMatchObject({ state: "ineligible", reason: "subscription-not-watched", armRequests: 0 });
      expect(deps.arm.requestCount()).toBe(0);
      expect(deps.arm.writes).toEqual([]);
      expect((await deps.store.listLog(OTHER_VM, 5))[0]).toMatchObject({ kind: "decision", reason: "subscription-not-watched", trigger });
      // No row is made up for a VM the enforcer does not govern.
      expect(await deps.store.getVm(OTHER_VM)).toBeUndefined();
    }
  });

  it("a VM that has a row (its subscription was watched before) gets the refusal on its row", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(ready({}));
    await pass(deps);
    const later = { ...deps, config: { ...deps.config, watchedSubscriptions: [OTHER_SUB] } };
    const result = await reconcile({ vm: target, trigger: "audit" }, later);
    expect(result.reason).toBe("subscription-not-watched");
    expect(await deps.store.getVm(VM_ID)).toMatchObject({ state: "ineligible", reason: "subscription-not-watched" });
  });

  it("an empty watched list refuses everything: events are not queued and passes refuse", async () => {
    const deps = memoryDeps({ ...allow, WATCHED_SUBSCRIPTION_IDS: "" });
    deps.arm.put(windowsVm({ tags: { "aadlogin-admins": ALICE } }));
    const event = {
      id: "e1", eventType: "Microsoft.Resources.ResourceWriteSuccess", subject: VM_ID,
      operationName: "Microsoft.Compute/virtualMachines/write", subscriptionId: SUB,
    };
    expect(await handleResourceEvent(event, deps)).toMatchObject({ handled: "ignored", reason: expect.stringMatching(/WATCHED_SUBSCRIPTION_IDS is empty/) });
    expect(deps.queue.sent).toEqual([]);
    const result = await pass(deps);
    expect(result).toMatchObject({ state: "ineligible", reason: "subscription-not-watched", message: expect.stringMatching(/WATCHED_SUBSCRIPTION_IDS is empty/) });
    expect(deps.arm.requestCount()).toBe(0);
  });
});

describe("PrincipalNotFound is transient for a bounded window, then a rejection of that grant only", () => {
  const WINDOW = 30 * 60_000;
  const nextFollowUp = async (deps: MemoryDeps) => {
    const queued = deps.queue.take().filter((q) => q.request.trigger === "follow-up");
    expect(queued.length).toBeLessThanOrEqual(1);
    const [next] = queued;
    if (!next) return undefined;
    deps.advance(next.delayInMs);
    return reconcile({ vm: target, trigger: "follow-up", attempt: next.request.attempt ?? 0 }, deps);
  };

  it("retried while replicating, other grants go through; past the window: rejected, recorded, follow-ups stop", async () => {
    const deps = memoryDeps({ ...allow, PRINCIPAL_NOT_FOUND_WINDOW_MS: String(WINDOW) });
    deps.arm.put(ready({ "aadlogin-admins": ALICE, "aadlogin-users": BOB }));
    deps.arm.unknownPrincipals.add(ALICE);

    const first = await pass(deps);
    expect(first).toMatchObject({ state: "deferred", reason: "PrincipalNotFound" });
    expect(deps.arm.assignments.map((a) => a.principalId)).toEqual([BOB]);
    const firstSeen = deps.clock().toISOString();
    expect((await deps.store.getVm(VM_ID))?.principalNotFound).toEqual({ [ALICE]: firstSeen });

    // Follow-ups retry until the window has passed since the *first* PrincipalNotFound.
    let last = first;
    let looks = 0;
    for (let result = await nextFollowUp(deps); result; result = await nextFollowUp(deps)) {
      last = result;
      looks++;
      expect(looks).toBeLessThan(40);
    }
    expect(deps.clock().getTime() - Date.parse(firstSeen)).toBeGreaterThanOrEqual(WINDOW);
    expect(last.state).toBe("compliant");
    const row = await deps.store.getVm(VM_ID);
    expect(row).toMatchObject({ state: "compliant" });
    expect(row?.rejected).toEqual([{ tag: "aadlogin-admins", entry: ALICE, reason: "principal-not-found" }]);
    expect(row?.access.map((a) => a.principalId)).toEqual([BOB]);
    expect(row?.principalNotFound).toEqual({ [ALICE]: firstSeen });
    // The follow-up past the window does not ask ARM again: it records the rejection.
    expect(deps.store.log.find((l) => l.kind === "action")?.message).toMatch(/principal-not-found since/);
    // No follow-up, no throw (nothing for the poison queue).
    expect(deps.queue.sent).toEqual([]);

    // A follow-up that comes anyway (another reason) does not ask ARM again for that principal.
    const writes = deps.arm.writes.length;
    await reconcile({ vm: target, trigger: "follow-up", attempt: 3 }, deps);
    expect(deps.arm.writes.length).toBe(writes);
    expect(deps.queue.sent).toEqual([]);

    // The audit (or an event, an operator) asks once more: still unknown → rejected at once, no follow-up.
    deps.advance(6 * 3600_000);
    const audit = await pass(deps, { trigger: "audit" });
    expect(audit.state).toBe("compliant");
    expect(deps.arm.writes.length).toBe(writes + 1);
    expect(deps.queue.sent).toEqual([]);
    expect(deps.store.log.find((l) => l.kind === "action")).toMatchObject({ errorClass: "terminal", errorCode: "principal-not-found" });
    expect((await deps.store.getVm(VM_ID))?.rejected).toEqual([{ tag: "aadlogin-admins", entry: ALICE, reason: "principal-not-found" }]);

    // Once the principal exists, the next such pass grants it and forgets the rejection.
    deps.arm.unknownPrincipals.delete(ALICE);
    const granted = await pass(deps, { trigger: "event" });
    expect(granted.state).toBe("remediated");
    const after = await deps.store.getVm(VM_ID);
    expect(after?.rejected).toEqual([]);
    expect(after?.principalNotFound).toBeUndefined();
  });

  it("a principal that replicates within the window is granted and leaves no trace", async () => {
    const deps = memoryDeps({ ...allow, PRINCIPAL_NOT_FOUND_WINDOW_MS: String(WINDOW) });
    deps.arm.put(ready({ "aadlogin-admins": ALICE }));
    deps.arm.unknownPrincipals.add(ALICE);
    await pass(deps);
    deps.arm.unknownPrincipals.delete(ALICE);
    const result = await nextFollowUp(deps);
    expect(result?.state).toBe("remediated");
    const row = await deps.store.getVm(VM_ID);
    expect(row?.principalNotFound).toBeUndefined();
    expect(row?.rejected).toEqual([]);
  });
});

describe("hostile event ids", () => {
  it.each([
    ["100,000 characters", "x".repeat(100_000)],
    ["Table Storage's forbidden characters", "a/b\\c#d?e\u0001f\u007f"],
    ["non-ASCII and a lone surrogate", "événement-\ud800-🙂"],
  ])("an event id of %s is queued as a bounded, key-safe hash", async (_what, id) => {
    const deps = memoryDeps(allow);
    const event = { id, eventType: "Microsoft.Resources.ResourceWriteSuccess", subject: VM_ID, operationName: "Microsoft.Compute/virtualMachines/write", subscriptionId: SUB, correlationId: id };
    expect(await handleResourceEvent(event, deps)).toMatchObject({ handled: "queued" });
    const [sent] = deps.queue.take();
    expect(sent?.request.eventId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(sent?.request.correlationId).toBe(sent?.request.eventId);
    expect(() => encodeQueueMessage(sent!.request)).not.toThrow();
  });

  it("a plain GUID id is kept as sent", async () => {
    const deps = memoryDeps(allow);
    const id = "2e4a4bd1-2d2b-4a3b-8f47-1c9a9c1e3a11";
    await handleResourceEvent({ id, eventType: "Microsoft.Resources.ResourceWriteSuccess", subject: VM_ID, operationName: "Microsoft.Compute/virtualMachines/write", subscriptionId: SUB }, deps);
    expect(deps.queue.take()[0]?.request.eventId).toBe(id);
  });
});

describe("the audit keeps its record", () => {
  it("a partial enqueue failure still writes the audit-run row with its error count, and the audit fails", async () => {
    const deps = memoryDeps(allow);
    for (let i = 0; i < 5; i++) deps.arm.put({ ...windowsVm(), id: VM_ID.replace("vm-app-01", `vm-${i}`), name: `vm-${i}` });
    deps.queue.failManyAfter = 3;
    await expect(runDriftAudit(deps, { subscriptions: [SUB], trigger: "timer" })).rejects.toThrow(/enqueued 3 of 5/);
    expect(deps.store.auditRuns).toHaveLength(1);
    expect(deps.store.auditRuns[0]).toMatchObject({ vmCount: 5, enqueued: 3, errors: 2 });
  });
});

describe("the poison handler never overwrites a newer row", () => {
  const requestedAt = "2026-12-01T09:00:00.000Z";

  it("a poison message older than the VM's latest pass (another request's) records only a log entry", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(ready({}));
    await pass(deps, { requestId: "newer" });
    const before = await deps.store.getVm(VM_ID);
    expect(before?.state).toBe("compliant");
    await handlePoisonMessage({ vmId: VM_ID, trigger: "event", requestId: "older", requestedAt }, {}, deps, 5);
    expect(await deps.store.getVm(VM_ID)).toEqual(before);
    expect((await deps.store.listLog(VM_ID, 1))[0]).toMatchObject({ kind: "error", reason: "retries-exhausted", message: expect.stringMatching(/Not recorded on the VM/) });
  });

  it("the row its own failing passes left is marked failed / retries-exhausted", async () => {
    const deps = memoryDeps(allow);
    await deps.store.updateVm(VM_ID, () => ({
      vmId: VM_ID, subscriptionId: SUB, resourceGroup: "rg-app", name: "vm-app-01", state: "deferred", reason: "ServiceUnavailable", message: "",
      access: [], rejected: [], passCount: 5, firstSeenAt: requestedAt, updatedAt: "2026-12-01T09:30:00.000Z", lastRequestId: "mine",
    }));
    await handlePoisonMessage({ vmId: VM_ID, trigger: "event", requestId: "mine", requestedAt }, {}, deps, 5);
    expect(await deps.store.getVm(VM_ID)).toMatchObject({ state: "failed", reason: "retries-exhausted" });
  });

  it("a poison message for a VM outside the watched subscriptions makes no row", async () => {
    const deps = memoryDeps(allow);
    await handlePoisonMessage({ vmId: OTHER_VM, trigger: "http", requestId: "r9", requestedAt }, {}, deps, 5);
    expect(await deps.store.getVm(OTHER_VM)).toBeUndefined();
    expect((await deps.store.listLog(undefined, 1))[0]).toMatchObject({ reason: "retries-exhausted" });
  });

  it("a VM with no row, or a row older than the request, is marked failed", async () => {
    const deps = memoryDeps(allow);
    await handlePoisonMessage({ vmId: VM_ID, trigger: "audit", requestId: "r1", requestedAt }, {}, deps, 5);
    expect(await deps.store.getVm(VM_ID)).toMatchObject({ state: "failed", reason: "retries-exhausted" });
  });
});

describe("the row always names the request whose pass wrote it", () => {
  it("a pass run directly (HTTP, CLI) after a queued one replaces the queued request's id, so that request's poison message cannot overwrite it", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(ready({}));
    await pass(deps, { requestId: "queued-1" });
    expect((await deps.store.getVm(VM_ID))?.lastRequestId).toBe("queued-1");
    deps.advance(1000);
    await reconcileNowRequest({ vmId: VM_ID }, deps, "ops");
    const row = await deps.store.getVm(VM_ID);
    expect(row?.lastRequestId).toMatch(/^[0-9a-f-]{36}$/);
    await handlePoisonMessage({ vmId: VM_ID, trigger: "event", requestId: "queued-1", requestedAt: "2026-12-01T09:59:00.000Z" }, {}, deps, 5);
    expect((await deps.store.getVm(VM_ID))?.state).toBe("compliant");
  });
});
