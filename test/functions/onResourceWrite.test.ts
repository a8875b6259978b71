import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFunctionApp, type FunctionAppRegistry } from "../../src/local/host/index.js";
import { ALICE, ADMIN_ROLE, BOB, GHOST, MALLORY, OPS_GROUP, OWNER, SUB_A, SUB_B, USER_ROLE, deliverEvents, startEnforcerStack, vmBody, vmId, type EnforcerStack } from "../support/enforcerStack.js";
import type { EventGridEvent } from "../../src/local/emulator/index.js";

let stack: EnforcerStack;
let app: FunctionAppRegistry;

/**
 * Delivers the events the emulator raised since the last call to the registered Event Grid
 * function, then runs what they queued (and the follow-ups) through the registered queue function.
 */
const deliver = (events?: EventGridEvent[], drain: { concurrency?: number } = {}) => deliverEvents(stack, app, events, drain);

beforeAll(async () => {
  stack = await startEnforcerStack({ mode: "enforce" });
  app = await loadFunctionApp("src/functions/index.ts");
  await stack.owner.putResourceGroup(SUB_A, "rg-web", "westeurope");
});

afterAll(async () => {
  await stack?.close();
});

describe("a new Windows Server 2019 VM created by a user", () => {
  const id = vmId(SUB_A, "rg-web", "web-01");

  it("gets a system identity, the extension and the tag-requested access, recorded with the requester", async () => {
    stack.takeEvents();
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE, "aadlogin-users": `${BOB};${MALLORY}` } }));
    const events = await deliver();
    expect(events.some((e) => e.data.operationName === "Microsoft.Compute/virtualMachines/write")).toBe(true);

    const vm = await stack.owner.getVm(id);
    expect((vm?.["identity"] as { type: string }).type).toBe("SystemAssigned");
    const resources = (vm?.["resources"] as { name: string; properties: { provisioningState: string } }[]) ?? [];
    expect(resources.find((r) => r.name === "AADLoginForWindows")?.properties.provisioningState).toBe("Succeeded");
    const assignments = await stack.owner.listRoleAssignments(id);
    const pairs = assignments.map((a) => `${a.properties.roleDefinitionId.split("/").pop()}:${a.properties.principalId}`).sort();
    expect(pairs).toEqual([`${ADMIN_ROLE}:${ALICE}`, `${USER_ROLE}:${BOB}`].sort());

    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("remediated");
    expect(record?.lastRequestedBy).toContain(OWNER);
    expect(record?.rejected.map((r) => r.reason)).toEqual(["not-allowed"]);
    const log = await stack.services.store.listLog(id, 20);
    expect(log.some((l) => l.kind === "decision" && l.requestedBy?.includes(OWNER))).toBe(true);
    expect(log.filter((l) => l.kind === "action").map((l) => l.action).sort()).toEqual(["createAssignment", "createAssignment", "enableIdentity", "installExtension"]);
  });

  it("its own write events start no second pass (loop guard)", async () => {
    const events = stack.takeEvents();
    // The enforcer's PATCH, extension PUT and role-assignment PUTs each raised an event.
    expect(events.length).toBeGreaterThan(0);
    const since = stack.requestSeq();
    await deliver(events);
    expect(stack.enforcerWrites(since)).toEqual([]);
    expect(stack.emulator.requests(since).requests.filter((r) => r.caller === stack.emulator.managedIdentity.principalId)).toEqual([]);
  });
});

async function assignmentPairs(id: string) {
  const assignments = await stack.owner.listRoleAssignments(id);
  return assignments
    .filter((a) => a.properties.scope.toLowerCase() === id.toLowerCase())
    .map((a) => `${a.properties.roleDefinitionId.split("/").pop()}:${a.properties.principalId}`)
    .sort();
}

/** Creates a VM as the owner and lets the enforcer handle the resulting events. */
async function createAndDeliver(id: string, body: Record<string, unknown>, before?: () => unknown) {
  stack.takeEvents();
  await stack.owner.putVm(id, body);
  await before?.();
  return deliver();
}

describe("VMs that are not eligible cost reads only", () => {
  it.each([
    ["Windows Server 2016", "legacy-2016", vmBody({ sku: "2016-Datacenter", tags: { "aadlogin-admins": ALICE } }), "os-version-below-policy"],
    ["Linux", "linux-01", vmBody({ publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", osType: "Linux", tags: { "aadlogin-admins": ALICE } }), "not-windows"],
    ["Server Core", "core-01", vmBody({ sku: "2019-datacenter-core" }), "server-core"],
    ["a Government region", "gov-01", vmBody({ location: "usgovvirginia" }), "cloud-not-allowed"],
  ])("%s → ineligible, zero writes", async (_what, name, body, reason) => {
    const id = vmId(SUB_A, "rg-web", name);
    const since = stack.requestSeq();
    await createAndDeliver(id, body);
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("ineligible");
    expect(record?.reason).toBe(reason);
    expect(stack.enforcerWrites(since)).toEqual([]);
    expect(await assignmentPairs(id)).toEqual([]);
  });
});

describe("custom images are decided from the guest agent's report", () => {
  it("a gallery image reporting Server 2022 is remediated; one whose agent is silent is deferred", async () => {
    const image = `/subscriptions/${SUB_A}/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/g/images/ws2022/versions/1.0.0`;
    const known = vmId(SUB_A, "rg-web", "custom-known");
    await createAndDeliver(known, vmBody({ imageId: image }), () =>
      stack.emulator.setVmSimulation({ id: known, agent: { osName: "Windows Server 2022 Datacenter", osVersion: "10.0.20348.2340" } }),
    );
    const silent = vmId(SUB_A, "rg-web", "custom-silent");
    const since = stack.requestSeq();
    await createAndDeliver(silent, vmBody({ imageId: image }), () => stack.emulator.setVmSimulation({ id: silent, agent: null }));
    expect((await stack.services.store.getVm(known))?.state).toBe("remediated");
    expect((await stack.services.store.getVm(known))?.os).toContain("2022");
    const deferred = await stack.services.store.getVm(silent);
    expect(deferred?.state).toBe("deferred");
    expect(deferred?.reason).toBe("os-unknown-agent-not-reporting");
    expect(stack.enforcerWrites(since)).toEqual([]);
  });
});

describe("identity", () => {
  it("keeps the user-assigned identity next to the system-assigned one", async () => {
    const uami = `/subscriptions/${SUB_A}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app-uami`;
    const id = vmId(SUB_A, "rg-web", "uami-01");
    await createAndDeliver(id, vmBody({ sku: "2022-datacenter-azure-edition", identity: { type: "UserAssigned", userAssignedIdentities: { [uami]: {} } } }));
    const vm = await stack.owner.getVm(id);
    const identity = vm?.["identity"] as { type: string; principalId?: string; userAssignedIdentities: Record<string, unknown> };
    expect(identity.type.replace(/\s/g, "")).toBe("SystemAssigned,UserAssigned");
    expect(identity.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.keys(identity.userAssignedIdentities).map((k) => k.toLowerCase())).toEqual([uami.toLowerCase()]);
    expect((await stack.services.store.getVm(id))?.state).toBe("remediated");
  });
});

describe("access follows the tags", () => {
  const id = vmId(SUB_B, "rg-tags", "tags-01");

  beforeAll(async () => {
    await stack.owner.putResourceGroup(SUB_B, "rg-tags", "eastus");
    await createAndDeliver(id, vmBody({ location: "eastus" }));
  });

  it("a tag added later grants access", async () => {
    expect(await assignmentPairs(id)).toEqual([]);
    await stack.owner.mergeTags(id, { "aadlogin-admins": ALICE, "aadlogin-users": `${OPS_GROUP}:Group` });
    const events = await deliver();
    expect(events.map((e) => e.data.operationName)).toContain("Microsoft.Resources/tags/write");
    expect(await assignmentPairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`, `${USER_ROLE}:${OPS_GROUP}`].sort());
  });

  it("a removed entry revokes our assignment and leaves a human's alone", async () => {
    const humanName = "5e1f0000-0000-4000-8000-00000000aaaa";
    await stack.owner.putRoleAssignment(id, humanName, {
      roleDefinitionId: `/subscriptions/${SUB_B}/providers/Microsoft.Authorization/roleDefinitions/${ADMIN_ROLE}`,
      principalId: BOB, principalType: "User", description: "granted by the helpdesk",
    });
    await stack.owner.replaceTags(id, { "aadlogin-admins": BOB });
    await deliver();
    // Alice's (ours) is gone, Bob's (a human's) stays and satisfies the tag: no twin was created.
    expect(await assignmentPairs(id)).toEqual([`${ADMIN_ROLE}:${BOB}`]);
    await stack.owner.replaceTags(id, {});
    await deliver();
    const left = await stack.owner.listRoleAssignments(id);
    expect(left.map((a) => a.name)).toEqual([humanName]);
  });

  it("a principal outside the allow-list is refused and the refusal recorded", async () => {
    await stack.owner.replaceTags(id, { "aadlogin-admins": `${MALLORY}, not-a-guid`, "aadlogin-users": "<script>alert(1)</script>;Owner" });
    await deliver();
    // Only the helpdesk's assignment is there: nothing was granted to Mallory or from the junk.
    expect((await stack.owner.listRoleAssignments(id)).map((a) => a.properties.principalId)).toEqual([BOB]);
    const record = await stack.services.store.getVm(id);
    expect(record?.rejected.map((r) => r.reason).sort()).toEqual(["not-a-guid", "not-a-guid", "not-a-guid", "not-allowed"].sort());
    const decision = (await stack.services.store.listLog(id, 5)).find((l) => l.kind === "decision");
    expect(JSON.stringify(decision?.details)).toContain("not-allowed");
  });
});

describe("Event Grid is at-least-once and unordered", () => {
  it("the same events delivered 5 times each, reordered, make one set of writes", async () => {
    const id = vmId(SUB_A, "rg-web", "dup-01");
    stack.takeEvents();
    await stack.owner.putVm(id, vmBody({ sku: "2022-datacenter-g2" }));
    await stack.owner.mergeTags(id, { "aadlogin-admins": ALICE });
    const events = stack.takeEvents();
    expect(events.length).toBe(2);
    const since = stack.requestSeq();
    const storm: EventGridEvent[] = [];
    for (let i = 0; i < 5; i++) storm.push(...[...events].reverse());
    await deliver(storm);
    const writes = stack.enforcerWrites(since).map((w) => `${w.method} ${w.path.split("/").slice(-2).join("/")}`);
    expect(writes.filter((w) => w.startsWith("PATCH"))).toHaveLength(1);
    expect(writes.filter((w) => w.includes("extensions/"))).toHaveLength(1);
    expect(writes.filter((w) => w.includes("roleAssignments/"))).toHaveLength(1);
    expect(await assignmentPairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
    // Every delivery ran a pass (none was dropped as a duplicate); the later ones found nothing to do.
    const decisions = (await stack.services.store.listLog(id, 100)).filter((l) => l.kind === "decision" && l.trigger === "event");
    expect(decisions).toHaveLength(10);
    expect((await stack.services.store.getVm(id))?.state).toBe("compliant");
  });

  it("concurrent events for one VM run one pass at a time: no twin assignments, no request lost", async () => {
    const id = vmId(SUB_A, "rg-web", "race-01");
    stack.takeEvents();
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
    await stack.owner.mergeTags(id, { "aadlogin-users": BOB });
    await stack.owner.mergeTags(id, { "aadlogin-owner": "team-a" });
    const events = stack.takeEvents();
    expect(events.length).toBe(3);
    const fn = app.get("onResourceWrite")!;
    await Promise.all(events.map((e) => fn.invoke(e)));
    const since = stack.requestSeq();
    await stack.drain({ concurrency: 3 });
    expect(await assignmentPairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`, `${USER_ROLE}:${BOB}`].sort());
    const writes = stack.enforcerWrites(since);
    expect(writes.filter((w) => w.method === "PATCH")).toHaveLength(1);
    expect(writes.filter((w) => w.path.includes("/extensions/"))).toHaveLength(1);
    expect(writes.filter((w) => w.path.includes("/roleAssignments/"))).toHaveLength(2);
    // Each event's request ran (two of them after waiting for the lease): none was lost.
    const eventPasses = (await stack.services.store.listLog(id, 100)).filter((l) => l.kind === "decision" && l.trigger === "event");
    expect(new Set(eventPasses.map((l) => l.eventId))).toEqual(new Set(events.map((e) => e.id)));
  });
});

describe("ARM failing for a while", () => {
  it("429s and 503s within the SDK's retries: the pass converges", async () => {
    const id = vmId(SUB_A, "rg-web", "flaky-01");
    stack.takeEvents();
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
    stack.emulator.setFaults({ seed: 7, rules: [
      { match: { method: "PUT" }, status: 503, count: 2 },
      { match: { method: "GET" }, status: 429, count: 2, retryAfterSeconds: 0 },
    ] });
    try {
      await deliver();
    } finally {
      stack.emulator.clearFaults();
    }
    const failures = stack.emulator.requests().requests.filter((r) => r.status === 429 || r.status === 503);
    expect(failures.length).toBeGreaterThanOrEqual(4);
    expect((await stack.services.store.getVm(id))?.state).toBe("remediated");
    expect(await assignmentPairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`]);
  });

  it("longer than the SDK retries: the queue retries the request and it converges", async () => {
    const id = vmId(SUB_A, "rg-web", "flaky-02");
    stack.takeEvents();
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter" }));
    const events = stack.takeEvents();
    const fn = app.get("onResourceWrite")!;
    // The event is answered at once, whatever ARM does: nothing in it calls ARM.
    stack.emulator.setFaults({ seed: 1, rules: [{ match: { method: "GET" }, status: 503, count: 10 }] });
    try {
      await fn.invoke(events[0]);
      // 5 attempts per pass (the SDK's 4 retries): the first two passes fail and go back on the queue.
      await stack.drain();
    } finally {
      stack.emulator.clearFaults();
    }
    const log = await stack.services.store.listLog(id, 50);
    expect(log.filter((l) => l.kind === "error" && l.errorClass === "transient").length).toBeGreaterThanOrEqual(2);
    expect((await stack.services.store.getVm(id))?.state).toBe("remediated");
  });
});

describe("malformed and irrelevant events", () => {
  it.each([
    ["not an object", "just a string"],
    ["no id", { eventType: "Microsoft.Resources.ResourceWriteSuccess", subject: "/x", data: {}, dataVersion: "2", eventTime: "2026-01-01T00:00:00Z" }],
    ["garbage fields", { id: 42, eventType: null, subject: ["a"], data: "x" }],
  ])("%s: recorded, no crash, no retry", async (_what, payload) => {
    const fn = app.get("onResourceWrite")!;
    await expect(fn.invoke(payload)).resolves.toBeDefined();
    const errors = await stack.services.store.listLog(undefined, 5);
    expect(errors[0]?.reason).toBe("malformed-event");
  });

  it("a VM delete marks the record gone", async () => {
    const id = vmId(SUB_A, "rg-web", "doomed-01");
    await createAndDeliver(id, vmBody({ sku: "2016-Datacenter" }));
    await stack.owner.write("DELETE", id, "2025-04-01");
    const events = await deliver();
    expect(events.some((e) => e.eventType === "Microsoft.Resources.ResourceDeleteSuccess")).toBe(true);
    expect((await stack.services.store.getVm(id))?.state).toBe("gone");
  });
});

describe("principals the directory does not know (yet)", () => {
  const ghost = GHOST;

  it("an allowed but unknown principal: the others are granted, follow-ups try again, and the table says why", async () => {
    const id = vmId(SUB_A, "rg-web", "ghost-01");
    // The allow-list names a principal that does not exist in the directory.
    stack.takeEvents();
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": `${ghost},${ALICE}`, "aadlogin-users": BOB } }));
    const events = await deliver();
    expect(await assignmentPairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`, `${USER_ROLE}:${BOB}`].sort());
    const record = await stack.services.store.getVm(id);
    expect(record?.state).toBe("deferred");
    expect(record?.reason).toBe("PrincipalNotFound");
    const failedGrants = (await stack.services.store.listLog(id, 100)).filter((l) => l.action === "createAssignment" && l.result?.startsWith("failed"));
    expect(failedGrants[0]?.errorClass).toBe("transient");
    // Follow-ups kept trying (bounded), each a fresh pass.
    expect(failedGrants.length).toBeGreaterThan(1);

    // The principal appears (directory replication caught up): the next event's pass converges.
    stack.emulator.addPrincipal({ id: ghost, type: "User", displayName: "Late arrival" });
    await deliver(events.slice(0, 1));
    expect(await assignmentPairs(id)).toEqual([`${ADMIN_ROLE}:${ALICE}`, `${ADMIN_ROLE}:${ghost}`, `${USER_ROLE}:${BOB}`].sort());
    expect((await stack.services.store.getVm(id))?.state).toBe("remediated");
  });
});
