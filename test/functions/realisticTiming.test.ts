import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_ROLE, ALICE, BOB, SUB_A, vmBody, vmId, functionApp } from "../support/enforcerStack.js";
import { startHostedStack, type HostedStack } from "../support/hostedStack.js";

/**
 * The pipeline under Azure's proportions (the emulator's `realistic` profile at 1/100 of real time:
 * a VM create takes 0.6–1.2 s, the identity PATCH 0.1–0.3 s, the extension install 0.9–1.8 s, Event
 * Grid waits 0.3 s for the webhook), with the real local host delivering events and running the
 * queue. What the first version got wrong under these conditions is what is tested here.
 */
const SCALE = 0.01;
let stack: HostedStack;

beforeAll(async () => {
  stack = await startHostedStack({ timing: { profile: "realistic", timeScale: SCALE, seed: 9 } });
  await stack.owner.putResourceGroup(SUB_A, "rg-real", "westeurope");
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

const mi = () => stack.emulator.managedIdentity.principalId;

async function pairs(id: string): Promise<string[]> {
  return (await stack.owner.listRoleAssignments(id))
    .filter((a) => a.properties.scope.toLowerCase() === id.toLowerCase())
    .map((a) => `${a.properties.roleDefinitionId.split("/").pop()}:${a.properties.principalId}`)
    .sort();
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutInMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutInMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const stateOf = async (id: string) => (await stack.services.store.getVm(id))?.state;
const settledOn = (id: string, state: string) => until(`${id} to be ${state}`, async () => (await stateOf(id)) === state);

function writesFor(id: string, since: number) {
  return stack.emulator
    .requests(since)
    .requests.filter((r) => r.caller === mi() && r.method !== "GET" && r.path.toLowerCase().startsWith(id.toLowerCase()))
    .map((r) => `${r.method} ${r.path.split("/").slice(-2, -1)[0]}`);
}

describe("queue-first events under realistic timing", () => {
  it("the Event Grid invocation makes no ARM call and only queues; the VM converges through the queue", async () => {
    const id = vmId(SUB_A, "rg-real", "first-01");
    const seen = stack.emulator.events().length;
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
    const [event] = stack.emulator.events().slice(seen);
    expect(event?.data["operationName"]).toBe("Microsoft.Compute/virtualMachines/write");

    // The registered function itself, invoked with the event: no ARM request while it runs.
    const since = stack.requestSeq();
    const app = await functionApp();
    await app.get("onResourceWrite")!.invoke(event);
    expect(stack.emulator.requests(since).requests.filter((r) => r.caller === mi())).toEqual([]);

    // The VM passes through in-progress (Azure is still creating it, then the extension installs) to remediated.
    const states = new Set<string>();
    await until("remediated", async () => {
      const s = await stateOf(id);
      if (s) states.add(s);
      return s === "remediated";
    });
    expect(states.has("in-progress")).toBe(true);
    expect(await pairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
    const log = await stack.services.store.listLog(id, 100);
    expect(log.some((l) => l.kind === "decision" && l.reason === "waiting-for-extension")).toBe(true);
    expect(log.some((l) => l.kind === "decision" && l.trigger === "follow-up")).toBe(true);
  });

  it("every event delivered three times, the copies arriving while the first pass's work is in flight: nothing lost, no twin", async () => {
    const id = vmId(SUB_A, "rg-real", "dup-01");
    stack.emulator.setEventDelivery({ duplicate: 2 });
    const since = stack.requestSeq();
    try {
      await stack.owner.putVm(id, vmBody({ sku: "2022-datacenter-g2", tags: { "aadlogin-admins": ALICE, "aadlogin-users": BOB } }));
      await settledOn(id, "remediated");
      await stack.settle();
    } finally {
      stack.emulator.setEventDelivery({ duplicate: 0 });
    }
    expect(writesFor(id, since).sort()).toEqual(["PATCH virtualMachines", "PUT extensions", "PUT roleAssignments", "PUT roleAssignments"].sort());
    expect(await pairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`, `fb879df8-f326-4884-b1cf-06f3ad86be52:${BOB}`].sort());
    // Each of the three deliveries of the create event ran a pass of its own.
    const eventPasses = (await stack.services.store.listLog(id, 200)).filter((l) => l.kind === "decision" && l.trigger === "event");
    expect(eventPasses.length).toBeGreaterThanOrEqual(3);
  });
});

describe("never act on a stale decision", () => {
  it("a tag withdrawn while the extension installs leaves no grant, and the row tells the truth", async () => {
    const id = vmId(SUB_A, "rg-real", "withdrawn-01");
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
    await until("the extension install", async () => (await stack.services.store.getVm(id))?.waitingFor === "extension");
    await stack.owner.replaceTags(id, {});
    await settledOn(id, "remediated");
    await stack.settle();
    expect(await pairs(id)).toEqual([]);
    expect((await stack.services.store.getVm(id))?.access).toEqual([]);
  });

  it("a tag withdrawn between the plan and the grant: the fresh read refuses the write and the pass re-plans", async () => {
    const id = vmId(SUB_A, "rg-real", "withdrawn-02");
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", identity: { type: "SystemAssigned" }, tags: { "aadlogin-users": BOB } }));
    await settledOn(id, "remediated");
    await stack.settle();
    // Alice is asked for; the pass that would grant her is held after it planned (its role-assignment list is slow).
    stack.emulator.setFaults({ rules: [{ match: { method: "GET", pathContains: "withdrawn-02/providers/Microsoft.Authorization/roleAssignments" }, latencyMs: 1500, count: 1 }] });
    const since = stack.requestSeq();
    try {
      await stack.owner.mergeTags(id, { "aadlogin-admins": ALICE });
      // The pass read the VM (tags: Alice wanted); its role-assignment list, the next read, is held.
      await until("the pass's VM read", async () => stack.emulator.requests(since).requests.some((r) => r.caller === mi() && r.method === "GET" && r.path.toLowerCase() === id.toLowerCase()), 10_000);
      await new Promise((r) => setTimeout(r, 200));
      await stack.owner.replaceTags(id, { "aadlogin-users": BOB });
      await stack.settle();
    } finally {
      stack.emulator.clearFaults();
    }
    expect(await pairs(id)).toEqual([`fb879df8-f326-4884-b1cf-06f3ad86be52:${BOB}`]);
    expect(writesFor(id, since)).toEqual([]);
    const replanned = (await stack.services.store.listLog(id, 100)).find((l) => l.kind === "decision" && l.reason === "tags-changed");
    expect(replanned?.message).toContain(`grant admin login to User ${ALICE} is no longer wanted`);
  });

  it("a tag re-added while its revocation is being decided: the grant stays", async () => {
    const id = vmId(SUB_A, "rg-real", "readded-01");
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", identity: { type: "SystemAssigned" }, tags: { "aadlogin-admins": ALICE } }));
    await settledOn(id, "remediated");
    await stack.settle();
    expect(await pairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
    stack.emulator.setFaults({ rules: [{ match: { method: "GET", pathContains: "readded-01/providers/Microsoft.Authorization/roleAssignments" }, latencyMs: 1500, count: 1 }] });
    const since = stack.requestSeq();
    try {
      await stack.owner.replaceTags(id, {});
      await new Promise((r) => setTimeout(r, 700));
      await stack.owner.replaceTags(id, { "aadlogin-admins": ALICE });
      await stack.settle();
    } finally {
      stack.emulator.clearFaults();
    }
    expect(await pairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
    expect(writesFor(id, since).filter((w) => w.startsWith("DELETE"))).toEqual([]);
  });
});

describe("one pass per VM at a time", () => {
  it("an event, the audit and an operator's request on one new VM are serialized: one set of writes", async () => {
    const id = vmId(SUB_A, "rg-real", "crowd-01");
    const since = stack.requestSeq();
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
    const [http] = await Promise.all([
      fetch(`${stack.host.url}/api/reconcile`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-functions-key": stack.host.functionKey },
        body: JSON.stringify({ vmId: id }),
      }),
      stack.host.fireTimer("driftAudit"),
    ]);
    expect([200, 202]).toContain(http.status);
    await settledOn(id, "remediated");
    await stack.settle();
    expect(writesFor(id, since).sort()).toEqual(["PATCH virtualMachines", "PUT extensions", "PUT roleAssignments"].sort());
    const triggers = new Set((await stack.services.store.listLog(id, 200)).filter((l) => l.kind === "decision").map((l) => l.trigger));
    expect([...triggers]).toEqual(expect.arrayContaining(["event", "audit", "http"]));
  });
});
