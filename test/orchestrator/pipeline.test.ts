import { describe, expect, it } from "vitest";
import { vmTarget } from "../../src/domain/resourceId.js";
import { reconcile, type PassRequest } from "../../src/orchestrator/reconcile.js";
import { runLeasedPass } from "../../src/orchestrator/leasedPass.js";
import { explainVm } from "../../src/orchestrator/explain.js";
import { p, VM_ID, windowsVm, aadExtension } from "../domain/builders.js";
import { memoryDeps, type MemoryDeps } from "../support/memoryPorts.js";

/**
 * The orchestrator's branches against in-memory ports: a clock the test moves, operations that stay
 * in flight until the test finishes them. The same behaviours run end to end against the emulator in
 * test/functions (realisticTiming.test.ts among them).
 */
const ALICE = p(1);
const BOB = p(2);
const target = vmTarget(VM_ID);
const allow = { ACCESS_ALLOWED_PRINCIPALS: `${ALICE},${BOB}` };
const pass = (deps: MemoryDeps, extra: Partial<PassRequest> = {}) => reconcile({ vm: target, trigger: "event", ...extra }, deps);
const followUp = (deps: MemoryDeps) => {
  const [queued] = deps.queue.take().filter((q) => q.request.trigger === "follow-up");
  if (!queued) throw new Error("no follow-up was queued");
  deps.advance(queued.delayInMs);
  return reconcile({ vm: target, trigger: "follow-up", attempt: queued.request.attempt ?? 0 }, deps);
};

describe("a new VM, one operation at a time, never waiting", () => {
  it.each([
    ["admin tag", { "aadlogin-admins": ALICE }, [`PUT assignment admin ${ALICE}`]],
    ["user and admin tags", { "aadlogin-admins": ALICE, "aadlogin-users": BOB }, [`PUT assignment admin ${ALICE}`, `PUT assignment user ${BOB}`]],
    ["no tags", {}, []],
  ])("%s: identity → extension → grants, each step a pass of its own", async (_what, tags, grants) => {
    const deps = memoryDeps(allow);
    deps.arm.put(windowsVm({ tags }));

    const first = await pass(deps);
    expect(first).toMatchObject({ state: "in-progress", reason: "waiting-for-identity", waitingFor: "identity" });
    expect(deps.arm.writes).toEqual(["PATCH identity vm-app-01"]);

    // Still updating: the follow-up writes nothing and looks again later, at twice the delay.
    const second = await followUp(deps);
    expect(second.state).toBe("in-progress");
    expect(deps.queue.sent[0]?.delayInMs).toBe(30_000);

    deps.arm.finish(VM_ID);
    const third = await followUp(deps);
    expect(third).toMatchObject({ state: "in-progress", waitingFor: "extension" });
    // A new operation restarts the delays.
    expect(deps.queue.sent[0]?.delayInMs).toBe(15_000);

    deps.arm.finish(VM_ID);
    const last = await followUp(deps);
    expect(last.state).toBe("remediated");
    expect(deps.arm.writes).toEqual(["PATCH identity vm-app-01", "PUT extension vm-app-01", ...grants]);
    expect(deps.queue.sent.filter((q) => q.request.trigger === "follow-up")).toEqual([]);
    expect((await deps.store.getVm(VM_ID))?.started).toBeUndefined();
  });

  it("the delays double up to the maximum and the chain ends after its last look", async () => {
    const deps = memoryDeps({ ...allow, FOLLOW_UP_DELAY_MS: "1000", FOLLOW_UP_MAX_DELAY_MS: "4000" });
    deps.arm.put(windowsVm({ provisioningState: "Creating" }));
    await pass(deps);
    const delays: number[] = [];
    for (let i = 0; i < 40 && deps.queue.sent.length > 0; i++) {
      delays.push(deps.queue.sent[0]?.delayInMs ?? -1);
      await followUp(deps);
    }
    expect(delays.slice(0, 5)).toEqual([1000, 2000, 4000, 4000, 4000]);
    expect(delays).toHaveLength(30);
    expect(deps.queue.sent).toEqual([]);
  });
});

describe("who asked", () => {
  it("a follow-up carries the requester of the pass that queued it, so the grant it makes is logged as theirs", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(windowsVm({ tags: { "aadlogin-admins": ALICE } }));
    await pass(deps, { requestedBy: "olga@contoso.example (owner-oid)" });
    for (let i = 0; i < 2; i++) {
      const [queued] = deps.queue.take().filter((q) => q.request.trigger === "follow-up");
      expect(queued?.request.requestedBy).toBe("olga@contoso.example (owner-oid)");
      deps.arm.finish(VM_ID);
      deps.advance(queued!.delayInMs);
      await reconcile({ vm: target, trigger: "follow-up", attempt: queued!.request.attempt ?? 0, requestedBy: queued!.request.requestedBy! }, deps);
    }
    const grant = (await deps.store.listLog(VM_ID)).find((l) => l.action === "createAssignment");
    expect(grant?.requestedBy).toBe("olga@contoso.example (owner-oid)");
  });
});

describe("fresh state right before a grant or a revocation", () => {
  it("a tag withdrawn between the plan and the write: nothing is written, the pass re-plans", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(windowsVm({ identity: { type: "SystemAssigned", principalId: p(9), userAssignedIdentityIds: [] }, extensions: [aadExtension("Succeeded")], tags: { "aadlogin-admins": ALICE } }));
    let reads = 0;
    deps.arm.beforeTagRead = () => {
      if (reads++ === 0) deps.arm.put({ ...deps.arm.vm(VM_ID), tags: {} });
    };
    const result = await pass(deps);
    expect(deps.arm.writes).toEqual([]);
    expect(result.state).toBe("compliant");
    expect(deps.store.log.some((l) => l.reason === "tags-changed")).toBe(true);
  });

  it("a tag re-added between the plan and the revocation: the grant stays", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(windowsVm({ identity: { type: "SystemAssigned", principalId: p(9), userAssignedIdentityIds: [] }, extensions: [aadExtension("Succeeded")], tags: { "aadlogin-admins": ALICE } }));
    await pass(deps);
    expect(deps.arm.assignments).toHaveLength(1);
    deps.arm.put({ ...deps.arm.vm(VM_ID), tags: {} });
    deps.arm.beforeTagRead = () => deps.arm.put({ ...deps.arm.vm(VM_ID), tags: { "aadlogin-admins": ALICE } });
    await pass(deps);
    expect(deps.arm.assignments).toHaveLength(1);
    expect(deps.arm.writes.filter((w) => w.startsWith("DELETE"))).toEqual([]);
  });

  it("tags that keep changing: three plans, then deferred with a follow-up", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(windowsVm({ identity: { type: "SystemAssigned", principalId: p(9), userAssignedIdentityIds: [] }, extensions: [aadExtension("Succeeded")], tags: { "aadlogin-admins": ALICE } }));
    // Every observation asks for Alice; every fresh read just before the write says no.
    const observe = deps.arm.getVm.bind(deps.arm);
    deps.arm.getVm = async (vm) => {
      deps.arm.put({ ...deps.arm.vm(VM_ID), tags: { "aadlogin-admins": ALICE } });
      return observe(vm);
    };
    deps.arm.beforeTagRead = () => deps.arm.put({ ...deps.arm.vm(VM_ID), tags: {} });
    const result = await pass(deps);
    expect(result).toMatchObject({ state: "deferred", reason: "tags-changing" });
    expect(deps.arm.writes).toEqual([]);
    expect(deps.queue.sent.map((q) => q.request.trigger)).toEqual(["follow-up"]);
  });
});

describe("expiry", () => {
  it("a grant with an expiry queues one check for a second past the instant; the check revokes", async () => {
    const deps = memoryDeps(allow);
    const expires = "2026-12-01T12:00:00Z";
    deps.arm.put(windowsVm({ identity: { type: "SystemAssigned", principalId: p(9), userAssignedIdentityIds: [] }, extensions: [aadExtension("Succeeded")], tags: { "aadlogin-admins": ALICE, "aadlogin-expires": expires } }));
    await pass(deps);
    const checks = deps.queue.take().filter((q) => q.request.trigger === "expiry");
    expect(checks.map((c) => c.delayInMs)).toEqual([2 * 3600_000 + 1000]);
    // Another pass meanwhile does not queue a second check.
    await pass(deps);
    expect(deps.queue.take().filter((q) => q.request.trigger === "expiry")).toEqual([]);
    deps.advance(2 * 3600_000 + 1000);
    await reconcile({ vm: target, trigger: "expiry" }, deps);
    expect(deps.arm.assignments).toEqual([]);
    expect(deps.arm.writes.at(-1)).toBe(`DELETE assignment admin ${ALICE}`);
  });

  it("an expiry more than 7 days ahead is checked at the queue's limit and re-armed then", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(windowsVm({ identity: { type: "SystemAssigned", principalId: p(9), userAssignedIdentityIds: [] }, extensions: [aadExtension("Succeeded")], tags: { "aadlogin-admins": ALICE, "aadlogin-expires": "2026-12-31" } }));
    await pass(deps);
    const [check] = deps.queue.take().filter((q) => q.request.trigger === "expiry");
    expect(check?.delayInMs).toBeLessThan(7 * 24 * 3600_000);
    deps.advance(check?.delayInMs ?? 0);
    await reconcile({ vm: target, trigger: "expiry" }, deps);
    expect(deps.arm.assignments).toHaveLength(1);
    expect(deps.queue.take().filter((q) => q.request.trigger === "expiry")).toHaveLength(1);
  });
});

describe("failures", () => {
  it("our install fails (no network): the follow-up records the diagnosis and never reinstalls; an event tries again", async () => {
    const deps = memoryDeps(allow);
    deps.arm.extensionOutcome = "Failed";
    deps.arm.put(windowsVm({ identity: { type: "SystemAssigned", principalId: p(9), userAssignedIdentityIds: [] }, tags: { "aadlogin-admins": ALICE } }));
    await pass(deps);
    deps.arm.finish(VM_ID);
    const failed = await followUp(deps);
    expect(failed.state).toBe("failed");
    expect(failed.diagnosis?.code).toBe("autojoin-discovery-failed");
    expect(deps.queue.take()).toEqual([]);
    expect(deps.arm.writes).toEqual(["PUT extension vm-app-01"]);
    // A routine look (say a stray follow-up) still does not reinstall; an event does.
    await reconcile({ vm: target, trigger: "follow-up", attempt: 3 }, deps);
    expect(deps.arm.writes).toEqual(["PUT extension vm-app-01"]);
    deps.arm.extensionOutcome = "Succeeded";
    await pass(deps);
    expect(deps.arm.writes).toEqual(["PUT extension vm-app-01", "PUT extension vm-app-01"]);
  });

  it("a grant refused for now (PrincipalNotFound): the others go through, deferred, a follow-up tries again", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(windowsVm({ identity: { type: "SystemAssigned", principalId: p(9), userAssignedIdentityIds: [] }, extensions: [aadExtension("Succeeded")], tags: { "aadlogin-admins": `${ALICE},${BOB}` } }));
    deps.arm.failNext("createAssignment", "PrincipalNotFound", true);
    const result = await pass(deps);
    expect(result).toMatchObject({ state: "deferred", reason: "PrincipalNotFound" });
    expect(deps.arm.assignments).toHaveLength(1);
    const retry = await followUp(deps);
    expect(retry.state).toBe("remediated");
    expect(deps.arm.assignments).toHaveLength(2);
  });

  it("a transient failure starting an operation is rethrown for the queue to retry; the row says deferred", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(windowsVm({ identity: { type: "SystemAssigned", principalId: p(9), userAssignedIdentityIds: [] } }));
    deps.arm.failNext("startInstallExtension", "ServiceUnavailable", true);
    await expect(pass(deps)).rejects.toThrow(/ServiceUnavailable/);
    expect((await deps.store.getVm(VM_ID))).toMatchObject({ state: "deferred", reason: "ServiceUnavailable" });
  });
});

describe("one pass per VM at a time", () => {
  it("a request that finds the lease held is re-queued after LEASE_RETRY_DELAY_MS, and runs once the lease is free", async () => {
    const deps = memoryDeps({ ...allow, LEASE_RETRY_DELAY_MS: "2500" });
    deps.arm.put(windowsVm());
    await deps.store.acquireLease(VM_ID, "someone-else", deps.clock().toISOString(), new Date(deps.clock().getTime() + 60_000).toISOString());
    const held = await runLeasedPass({ vm: target, trigger: "audit", runId: "r1" }, deps);
    expect(held).toEqual({ ran: false, requeuedInMs: 2500 });
    expect(deps.queue.take()).toEqual([{ request: { vmId: VM_ID, trigger: "audit", runId: "r1" }, delayInMs: 2500 }]);
    expect(deps.arm.requestCount()).toBe(0);
    await deps.store.releaseLease(VM_ID, "someone-else");
    const ran = await runLeasedPass({ vm: target, trigger: "audit" }, deps);
    expect(ran.ran).toBe(true);
    expect(deps.store.leases.size).toBe(0);
  });

  it("a crashed holder's lease is taken over once it expired", async () => {
    const deps = memoryDeps({ ...allow, LEASE_DURATION_MS: "60000" });
    deps.arm.put(windowsVm());
    await deps.store.acquireLease(VM_ID, "crashed", deps.clock().toISOString(), new Date(deps.clock().getTime() + 60_000).toISOString());
    expect((await runLeasedPass({ vm: target, trigger: "event" }, deps)).ran).toBe(false);
    deps.advance(60_001);
    expect((await runLeasedPass({ vm: target, trigger: "event" }, deps)).ran).toBe(true);
  });
});

describe("explain: the pass's own observe-and-plan, writing nothing", () => {
  it("plans what the pass then does, with no ARM write, no row and nothing queued", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(windowsVm({ tags: { "aadlogin-admins": `${ALICE},not-a-guid` } }));
    const explained = await explainVm(target, deps);
    expect(explained?.plan.map((a) => a.kind)).toEqual(["enableIdentity", "installExtension", "createAssignment"]);
    expect(explained?.plan.every((a) => a.summary.length > 0)).toBe(true);
    expect(explained?.desired.rejected.map((r) => r.reason)).toEqual(["not-a-guid"]);
    expect(explained?.lastRecord).toBeUndefined();
    expect(deps.arm.writes).toEqual([]);
    expect(await deps.store.getVm(VM_ID)).toBeUndefined();
    expect(deps.queue.sent).toEqual([]);

    const first = await pass(deps);
    expect(first.plan).toEqual(explained?.plan.map(({ summary: _summary, ...action }) => action));
    expect((await explainVm(target, deps))?.lastRecord?.state).toBe("in-progress");
  });

  it("a store that cannot be read leaves a note, not a failure; a VM that is gone is undefined", async () => {
    const deps = memoryDeps(allow);
    deps.arm.put(windowsVm({}));
    const broken = { ...deps, store: { getVm: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:10002")) } };
    const explained = await explainVm(target, broken);
    expect(explained?.storeNote).toMatch(/Table Storage not reachable \(connect ECONNREFUSED/);
    expect(await explainVm(vmTarget(VM_ID.replace("vm-app-01", "vm-gone")), deps)).toBeUndefined();
  });
});
