import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_ROLE, ALICE, BOB, GHOST, SUB_A, USER_ROLE, vmBody, vmId } from "../support/enforcerStack.js";
import { startHostedStack, type HostedStack } from "../support/hostedStack.js";

/**
 * Issue 10: PrincipalNotFound is not forever. End to end in the local Functions host against the
 * emulator, whose directory never learns GHOST: the grant is retried by follow-ups while the
 * principal may still be replicating (PRINCIPAL_NOT_FOUND_WINDOW_MS, short here), then rejected on
 * the VM as `principal-not-found`; the other grants stand, the follow-ups stop, nothing is poisoned.
 */
let stack: HostedStack;
const WINDOW_MS = 3000;

beforeAll(async () => {
  stack = await startHostedStack({
    settings: {
      ACCESS_ALLOWED_PRINCIPALS: [ALICE, BOB, GHOST].join(","),
      PRINCIPAL_NOT_FOUND_WINDOW_MS: String(WINDOW_MS),
      // Whole-second queue delays: a look every second, so the window passes after a few.
      FOLLOW_UP_DELAY_MS: "1000",
      FOLLOW_UP_MAX_DELAY_MS: "1000",
    },
  });
  await stack.owner.putResourceGroup(SUB_A, "rg-ghost", "westeurope");
});

afterAll(async () => {
  await stack?.close();
});

describe("a tag naming a principal the directory never knows", () => {
  it("is retried within the window, then rejected on the VM; the other grants stand and nothing is poisoned", async () => {
    const id = vmId(SUB_A, "rg-ghost", "ghost-01");
    const startedAt = Date.now();
    await stack.owner.putVm(id, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": `${GHOST},${ALICE}`, "aadlogin-users": BOB } }));
    await stack.settle();

    const pairs = (await stack.owner.listRoleAssignments(id)).map((a) => `${a.properties.roleDefinitionId.split("/").pop()}:${a.properties.principalId}`).sort();
    expect(pairs).toEqual([`${ADMIN_ROLE}:${ALICE}`, `${USER_ROLE}:${BOB}`].sort());
    const record = await stack.services.store.getVm(id);
    // The pass that rejected the grant had nothing else to do: the VM is compliant, the rejection on record.
    expect(record?.state).toBe("compliant");
    expect(record?.rejected).toContainEqual({ tag: "aadlogin-admins", entry: GHOST, reason: "principal-not-found" });
    const firstFailure = record?.principalNotFound?.[GHOST];
    expect(firstFailure).toBeDefined();
    expect(Date.parse(firstFailure!)).toBeGreaterThanOrEqual(startedAt - 1000);

    const log = await stack.services.store.listLog(id, 200);
    const grants = log.filter((l) => l.action === "createAssignment" && l.message.includes(GHOST));
    // Transient first (a few looks), then the terminal rejection, and no look after it.
    expect(grants.filter((l) => l.errorClass === "transient").length).toBeGreaterThanOrEqual(1);
    // The first look past the window rejects it: without asking ARM when it is a follow-up.
    expect(grants[0]?.message).toMatch(/principal-not-found/);
    const last = log.find((l) => l.kind === "decision");
    expect(last?.details).not.toHaveProperty("followUpAt");

    const stats = stack.host.stats().functions;
    expect(stats["reconcileVm"]?.failures ?? 0).toBe(0);
    expect(stats["reconcileVmPoison"]?.invocations ?? 0).toBe(0);

    // The audit looks again once (the principal may exist by now): still unknown, rejected at once, no follow-up chain.
    const before = stack.requestSeq();
    await stack.host.fireTimer("driftAudit");
    await stack.settle();
    const puts = stack.enforcerWrites(before).filter((w) => w.method === "PUT");
    expect(puts).toHaveLength(1);
    expect((await stack.services.store.getVm(id))?.rejected).toContainEqual({ tag: "aadlogin-admins", entry: GHOST, reason: "principal-not-found" });
    const [audited] = (await stack.services.store.listLog(id, 200)).filter((l) => l.action === "createAssignment" && l.message.includes(GHOST));
    expect(audited).toMatchObject({ trigger: "audit", errorClass: "terminal", errorCode: "principal-not-found" });
    expect(stack.host.stats().functions["reconcileVmPoison"]?.invocations ?? 0).toBe(0);
  });
});
