import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueClient } from "@azure/storage-queue";
import { ADMIN_ROLE, ALICE, BOB, SUB_A, SUB_B, USER_ROLE, vmBody, vmId } from "../support/enforcerStack.js";
import { startHostedStack, type HostedStack } from "../support/hostedStack.js";

/**
 * The drift audit through the local Functions host: the timer lists the VMs and fans out one queue
 * message per VM, the queue trigger runs the passes, the poison queue records what gave up. Events
 * flow too (owner writes → emulator → webhook), so every VM starts from what the event pass did.
 */
let stack: HostedStack;

beforeAll(async () => {
  stack = await startHostedStack({ hostJson: new URL("./fixtures/queue-host.json", import.meta.url).pathname });
  await stack.owner.putResourceGroup(SUB_A, "rg-audit", "westeurope");
});

afterAll(async () => {
  await stack?.close();
});

async function audit(): Promise<void> {
  await stack.host.fireTimer("driftAudit");
  await stack.settle();
}

async function ourAndHumanAssignments(id: string) {
  const all = await stack.owner.listRoleAssignments(id);
  return all
    .filter((a) => a.properties.scope.toLowerCase() === id.toLowerCase())
    .map((a) => `${a.properties.roleDefinitionId.split("/").pop()}:${a.properties.principalId}`)
    .sort();
}

function loginExtension(vm: Record<string, unknown> | undefined) {
  const resources = (vm?.["resources"] as { name: string; properties: { provisioningState: string } }[] | undefined) ?? [];
  return resources.find((r) => r.name === "AADLoginForWindows");
}

describe("a deallocated VM", () => {
  const id = vmId(SUB_A, "rg-audit", "sleepy-01");

  it("is deferred with zero writes while deallocated, and remediated by the audit after the owner starts it", async () => {
    // Seeding raises no event, so the VM is deallocated before the enforcer first looks at it.
    stack.emulator.seed({ vms: [{ id, body: vmBody({ sku: "2019-Datacenter" }), simulation: { powerState: "deallocated" } }] });
    const since = stack.requestSeq();
    await stack.owner.mergeTags(id, { "aadlogin-admins": ALICE });
    await stack.settle();
    const deferred = await stack.services.store.getVm(id);
    expect(deferred?.state).toBe("deferred");
    expect(deferred?.reason).toBe("vm-not-running");
    expect(deferred?.lastTrigger).toBe("event");
    expect(stack.enforcerWrites(since)).toEqual([]);

    // Starting raises a ResourceActionSuccess event, outside the subscription's filter: nothing happens.
    await stack.owner.powerAction(id, "start");
    await stack.settle();
    expect((await stack.services.store.getVm(id))?.state).toBe("deferred");

    await audit();
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("remediated");
    // The audit's pass started the work; follow-ups carried it to the end.
    expect(record?.lastTrigger).toBe("follow-up");
    const decisions = (await stack.services.store.listLog(id, 50)).filter((l) => l.kind === "decision");
    expect(decisions.some((l) => l.trigger === "audit" && l.state === "in-progress")).toBe(true);
    expect(loginExtension(await stack.owner.getVm(id))?.properties.provisioningState).toBe("Succeeded");
    expect(await ourAndHumanAssignments(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
  });
});

describe("an expiring tag grant", () => {
  it("is revoked at its instant by the expiry check the granting pass queued, without an audit; a human's assignment stays", async () => {
    const id = vmId(SUB_A, "rg-audit", "temp-01");
    const expiresAt = new Date(Math.ceil((Date.now() + 6000) / 1000) * 1000);
    await stack.owner.putVm(id, vmBody({ sku: "2022-datacenter-g2", tags: { "aadlogin-admins": ALICE, "aadlogin-expires": expiresAt.toISOString().replace(".000Z", "Z") } }));
    // Not settle(): the queue holds the expiry check until the instant, and settling would wait for it.
    await waitUntil(async () => (await stack.services.store.getVm(id))?.expiryCheckAt !== undefined, 5_000);
    expect(Date.now()).toBeLessThan(expiresAt.getTime());
    expect(await ourAndHumanAssignments(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
    const humanName = "5e1f0000-0000-4000-8000-00000000bbbb";
    await stack.owner.putRoleAssignment(id, humanName, {
      roleDefinitionId: `/subscriptions/${SUB_A}/providers/Microsoft.Authorization/roleDefinitions/${ADMIN_ROLE}`,
      principalId: BOB, principalType: "User", description: "granted by the helpdesk",
    });
    const granted = await stack.services.store.getVm(id);
    expect(granted?.access[0]?.expiresAt).toBe(expiresAt.toISOString());
    // The check is queued for a second past the instant (queue delays are whole seconds).
    expect(Date.parse(granted?.expiryCheckAt ?? "")).toBe(expiresAt.getTime() + 1000);

    // No event marks the moment an expiry passes, and no audit runs here: the queued check does it.
    await waitUntil(async () => (await ourAndHumanAssignments(id)).length === 1, 15_000);
    const revokedAt = Date.now();
    expect(await ourAndHumanAssignments(id)).toEqual([`${ADMIN_ROLE}:${BOB}`]);
    expect(revokedAt - expiresAt.getTime()).toBeLessThan(60_000);
    // The pass records the VM after its DELETE: under load the row may lag the ARM read above.
    await waitUntil(async () => ((await stack.services.store.getVm(id))?.rejected.length ?? 0) > 0, 10_000);
    const revoke = (await stack.services.store.listLog(id, 20)).find((l) => l.kind === "action" && l.action === "deleteAssignment");
    expect(revoke?.trigger).toBe("expiry");
    expect(JSON.stringify(revoke?.details)).toContain('"why":"expired"');
    expect((await stack.services.store.getVm(id))?.rejected.map((r) => r.reason)).toEqual(["expired"]);
  });
});

describe("the extension removed behind the enforcer's back", () => {
  it("is reinstalled by the audit", async () => {
    const id = vmId(SUB_A, "rg-audit", "tamper-01");
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter" }));
    await stack.settle();
    expect((await stack.services.store.getVm(id))?.state).toBe("remediated");
    await stack.owner.deleteExtension(id, "AADLoginForWindows");
    await stack.settle();
    // Extension deletes are outside the event filter: the record still says remediated.
    expect(loginExtension(await stack.owner.getVm(id))).toBeUndefined();

    const since = stack.requestSeq();
    await audit();
    expect(loginExtension(await stack.owner.getVm(id))?.properties.provisioningState).toBe("Succeeded");
    expect(stack.enforcerWrites(since).map((w) => `${w.method} ${w.path.split("/").slice(-2).join("/")}`)).toEqual(["PUT extensions/AADLoginForWindows"]);
    const install = (await stack.services.store.listLog(id, 10)).find((l) => l.kind === "action" && l.action === "installExtension");
    expect(install?.message).toContain("(missing)");
    expect((await stack.services.store.getVm(id))?.state).toBe("remediated");
  });
});

describe("the audit-run row and the cost of auditing a converged fleet", () => {
  it("records counts and ARM calls; a converged VM costs two reads and no write", async () => {
    await stack.owner.putResourceGroup(SUB_B, "rg-quiet", "eastus");
    const quiet = vmId(SUB_B, "rg-quiet", "quiet-01");
    await stack.owner.putVm(quiet, vmBody({ location: "eastus", sku: "2016-Datacenter" }));
    await stack.settle();
    // A first audit converges whatever earlier tests left behind.
    await audit();

    const since = stack.requestSeq();
    const before = Date.now();
    await audit();
    const [run] = await stack.services.store.listAuditRuns(1);
    const records = [...(await stack.services.store.listVms({ subscriptionId: SUB_A })), ...(await stack.services.store.listVms({ subscriptionId: SUB_B }))];
    expect(new Date(run!.startedAt).getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(run?.trigger).toBe("timer");
    expect(run?.subscriptions).toEqual([SUB_A, SUB_B]);
    expect(run?.vmCount).toBe(records.length);
    expect(run?.selection?.source).toBe("resource-graph");
    // Only the VMs the snapshot cannot vouch for, and this run's confirm slice, get a pass.
    expect(run?.enqueued).toBe((run?.selection?.suspects ?? -1) + (run?.selection?.confirmed ?? 0));
    expect(run?.enqueued).toBeLessThan(records.length);
    expect(run?.errors).toBe(0);
    // Three Resource Graph queries (extensions, VMs, login assignments), a page each; no ARM list.
    expect(run?.armCalls).toBe(3);
    expect(run?.selection?.requests).toEqual({ resourceGraph: 3, arm: 0 });
    expect(run?.countsByState).toEqual(countStates(records));

    const requests = stack.enforcerRequests(since);
    expect(requests.filter((r) => r.method !== "GET" && !/^\/providers\/Microsoft\.ResourceGraph\//i.test(r.path))).toEqual([]);
    const perVm = new Map<string, number>();
    for (const r of requests) {
      const vm = records.find((rec) => r.path.toLowerCase().startsWith(rec.vmId.toLowerCase()));
      if (vm) perVm.set(vm.vmId, (perVm.get(vm.vmId) ?? 0) + 1);
    }
    // A VM that gets a pass costs one VM GET with instanceView and one role-assignment list; a VM the
    // snapshot vouches for costs nothing.
    expect([...perVm.values()].every((n) => n === 2)).toBe(true);
    expect(perVm.size).toBe(run?.enqueued);
    expect(requests.length).toBe(2 * (run?.enqueued ?? 0) + 3);
    const settled = records.filter((r) => r.state === "compliant" || r.state === "remediated");
    expect(settled.length).toBeGreaterThan(0);
    expect(settled.filter((r) => !perVm.has(r.vmId)).length).toBeGreaterThan(0);
  });

  it("a VM whose every pass fails transiently ends in the poison queue, recorded as failed: retries-exhausted", async () => {
    const id = vmId(SUB_A, "rg-audit", "poison-01");
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter" }));
    await stack.settle();
    const failuresBefore = stack.host.stats().functions["reconcileVm"]?.failures ?? 0;
    // Rows that did not settle make these two suspects the audit passes (the snapshot vouches for the rest).
    for (const suspect of [id, vmId(SUB_A, "rg-audit", "tamper-01")]) await stack.services.store.updateVm(suspect, (r) => ({ ...r!, state: "deferred" }));
    stack.emulator.setFaults({ seed: 3, rules: [{ match: { method: "GET", pathContains: "/virtualMachines/poison-01" }, status: 503, count: 10_000 }] });
    try {
      await audit();
    } finally {
      stack.emulator.clearFaults();
    }
    const stats = stack.host.stats().functions;
    // maxDequeueCount 2 in the fixture's host.json: two failed attempts, then the poison queue.
    expect((stats["reconcileVm"]?.failures ?? 0) - failuresBefore).toBe(2);
    expect(stats["reconcileVmPoison"]?.invocations).toBe(1);
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("failed");
    expect(record?.reason).toBe("retries-exhausted");
    // Not "after 1 attempts": the poison message's own dequeue count is not the number of failed passes.
    expect(record?.message).toBe("Reconcile request gave up after the maximum number of attempts; the next drift audit tries again.");
    const log = await stack.services.store.listLog(id, 10);
    expect(log[0]?.reason).toBe("retries-exhausted");
    expect(log.filter((l) => l.kind === "error" && l.errorClass === "transient")).toHaveLength(2);
    // The other VMs of the same audit were not held up by this one.
    expect((await stack.services.store.getVm(vmId(SUB_A, "rg-audit", "tamper-01")))?.lastTrigger).toBe("audit");

    // The next audit, with ARM healthy again, brings it back.
    await audit();
    expect((await stack.services.store.getVm(id))?.state).toBe("compliant");
  });

  it.each([
    ["not JSON", Buffer.from("{this is not json").toString("base64")],
    ["no VM id", Buffer.from(JSON.stringify({ trigger: "audit" })).toString("base64")],
    ["a resource group instead of a VM", Buffer.from(JSON.stringify({ vmId: `/subscriptions/${SUB_A}/resourceGroups/rg-audit`, trigger: "audit" })).toString("base64")],
  ])("%s: recorded and consumed, not retried into the poison queue", async (_what, text) => {
    const before = stack.host.stats().functions;
    await new QueueClient(stack.settings["AzureWebJobsStorage"]!, stack.settings["RECONCILE_QUEUE_NAME"]!).sendMessage(text);
    await stack.settle();
    const after = stack.host.stats().functions;
    expect(after["reconcileVm"]?.invocations).toBe((before["reconcileVm"]?.invocations ?? 0) + 1);
    expect(after["reconcileVm"]?.failures).toBe(before["reconcileVm"]?.failures);
    expect(after["reconcileVmPoison"]?.invocations).toBe(before["reconcileVmPoison"]?.invocations);
    const [entry] = await stack.services.store.listLog(undefined, 1);
    expect(entry?.reason).toBe("malformed-message");
    expect(entry?.trigger).toBe("queue");
  });
});

function countStates(records: readonly { state: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of records) counts[r.state] = (counts[r.state] ?? 0) + 1;
  return counts;
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutInMs: number): Promise<void> {
  const deadline = Date.now() + timeoutInMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutInMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a stale Resource Graph snapshot never causes a wrong write", () => {
  it("tags changed after the snapshot: the pass decides from ARM (no grant the snapshot asked for, the grant ARM asks for)", async () => {
    const stale = vmId(SUB_A, "rg-audit", "stale-01");
    await stack.owner.putVm(stale, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
    await stack.settle();
    expect(await ourAndHumanAssignments(stale)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);

    // Resource Graph a minute behind; no event reaches the enforcer for the retag.
    stack.emulator.setLimits({ resourceGraphLagMs: 60_000 });
    stack.emulator.setEventDelivery({ paused: true });
    try {
      await stack.owner.replaceTags(stale, { "aadlogin-users": BOB });
      // The row did not settle: a suspect, so the audit passes it while the snapshot still shows Alice's tag.
      await stack.services.store.updateVm(stale, (r) => ({ ...r!, state: "deferred" }));
      const since = stack.requestSeq();
      await audit();
      const [run] = await stack.services.store.listAuditRuns(1);
      expect(run?.selection?.source).toBe("resource-graph");
      // ARM's tags won: Alice's grant (ours) revoked, Bob's made; nothing the snapshot asked for was written.
      expect(await ourAndHumanAssignments(stale)).toEqual([`${USER_ROLE}:${BOB}`]);
      const writes = stack.enforcerWrites(since).map((w) => w.method);
      expect(writes.sort()).toEqual(["DELETE", "PUT"]);
      expect((await stack.services.store.getVm(stale))?.access.map((a) => `${a.role}:${a.principalId}`)).toEqual([`user:${BOB}`]);
    } finally {
      stack.emulator.setEventDelivery({ paused: false });
      stack.emulator.setLimits({ resourceGraphLagMs: 0 });
      await stack.settle();
    }
  });
});

describe("an audit of a drifted fleet", () => {
  it("fixes every VM that drifted without an event, and writes to nothing else", async () => {
    await stack.owner.putResourceGroup(SUB_B, "rg-drift", "westeurope");
    const ids = Array.from({ length: 6 }, (_, i) => vmId(SUB_B, "rg-drift", `drift-${i}`));
    for (const id of ids) await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
    await stack.settle();
    // A first audit settles whatever earlier tests left; then the fleet is converged and recorded.
    await audit();
    const drifted = ids.slice(0, 3);
    stack.emulator.setEventDelivery({ paused: true });
    try {
      await stack.owner.deleteExtension(drifted[0]!, "AADLoginForWindows");
      await stack.owner.patchVm(drifted[1]!, { identity: { type: "None" } });
      const [grant] = (await stack.owner.listRoleAssignments(drifted[2]!)).filter((a) => a.properties.scope.toLowerCase() === drifted[2]!.toLowerCase());
      await stack.owner.write("DELETE", `${drifted[2]}/providers/Microsoft.Authorization/roleAssignments/${grant!.name}`, "2022-04-01");

      const since = stack.requestSeq();
      await audit();
      const [run] = await stack.services.store.listAuditRuns(1);
      expect(run?.selection?.source).toBe("resource-graph");
      const writtenVms = new Set(stack.enforcerWrites(since).map((w) => w.path.split("/").slice(0, 9).join("/").toLowerCase()));
      for (const id of drifted) expect(writtenVms.has(id.toLowerCase()), id).toBe(true);
      for (const id of ids.slice(3)) expect(writtenVms.has(id.toLowerCase()), id).toBe(false);
      expect([...writtenVms].every((w) => drifted.some((d) => d.toLowerCase() === w))).toBe(true);
      for (const id of drifted) {
        const vm = await stack.owner.getVm(id);
        expect(loginExtension(vm)?.properties.provisioningState, id).toBe("Succeeded");
        expect((vm?.["identity"] as { type?: string } | undefined)?.type, id).toMatch(/SystemAssigned/);
        expect(await ourAndHumanAssignments(id), id).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
      }
    } finally {
      stack.emulator.setEventDelivery({ paused: false });
      await stack.settle();
    }
  });
});
