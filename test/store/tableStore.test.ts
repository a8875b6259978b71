import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TableClient } from "@azure/data-tables";
import { startAzurite, type AzuriteInstance } from "../../src/local/azurite.js";
import { loadAppSettings } from "../../src/app/settings.js";
import { MAX_STRING_CHARS } from "../../src/store/entities.js";
import { complianceQuery } from "../../src/orchestrator/httpApi.js";
import type { LogEntryInput, VmRecord } from "../../src/store/records.js";
import {
  createEnforcerStore,
  type EnforcerStore,
} from "../../src/store/tableStore.js";

const SUB_A = "00000000-0000-0000-0000-00000000000A";
const SUB_B = "00000000-0000-0000-0000-00000000000b";

function vmId(sub: string, name: string, rg = "rg-Test"): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;
}

function baseRecord(id: string, overrides: Partial<VmRecord> = {}): VmRecord {
  const [, , sub = "", , rg = "", , , , name = ""] = id.split("/");
  return {
    vmId: id,
    subscriptionId: sub,
    resourceGroup: rg,
    name,
    state: "compliant",
    reason: "ok",
    message: "nothing to do",
    access: [],
    rejected: [],
    passCount: 1,
    firstSeenAt: "2025-01-01T00:00:00.000Z",
    updatedAt: "2025-01-01T00:00:00.000Z",
    ...overrides,
  };
}

function increment(id: string) {
  return (current: VmRecord | undefined): VmRecord =>
    current ? { ...current, passCount: current.passCount + 1 } : baseRecord(id, { passCount: 1 });
}

let azurite: AzuriteInstance;
let store: EnforcerStore;
let prefixCounter = 0;

/** A fresh set of tables, so tests do not see each other's rows. */
async function freshStore(options: { updateMaxAttempts?: number } = {}): Promise<EnforcerStore> {
  prefixCounter += 1;
  const s = createEnforcerStore({
    connectionString: azurite.connectionString,
    tablePrefix: `t${prefixCounter}x${Date.now() % 100000}`,
    ...options,
  });
  await s.ensureTables();
  return s;
}

beforeAll(async () => {
  azurite = await startAzurite();
  store = await freshStore();
});

afterAll(async () => {
  await azurite?.close();
});

describe("tables", () => {
  it("ensureTables is idempotent and creates the four tables", async () => {
    await store.ensureTables();
    await store.ensureTables();
    for (const name of Object.values(store.tableNames)) {
      const client = TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true });
      // Listing a table that does not exist fails with 404, so this proves each table is there.
      await expect(client.listEntities().next()).resolves.toBeDefined();
    }
    expect(store.tableNames).toEqual({
      vms: expect.stringMatching(/Vms$/),
      log: expect.stringMatching(/Log$/),
      auditRuns: expect.stringMatching(/AuditRuns$/),
      leases: expect.stringMatching(/Leases$/),
    });
  });

  it.each([
    ["with a dash", "aad-login"],
    ["with an underscore", "aad_login"],
    ["starting with a digit", "1aad"],
    ["empty", ""],
    ["too long for 63-character table names", "a".repeat(55)],
    ["with a slash", "a/b"],
  ])("rejects a table prefix %s", (_label, tablePrefix) => {
    expect(() => createEnforcerStore({ connectionString: azurite.connectionString, tablePrefix })).toThrow(
      /Invalid table prefix .*TABLE_PREFIX/,
    );
  });

  it("accepts the longest legal prefix", () => {
    expect(() => createEnforcerStore({ connectionString: azurite.connectionString, tablePrefix: "a".repeat(54) })).not.toThrow();
  });
});

describe("VM rows", () => {
  it("getVm of an unknown VM is undefined", async () => {
    await expect(store.getVm(vmId(SUB_A, "nobody"))).resolves.toBeUndefined();
  });

  it("getVm rejects something that is not a VM id, naming it", async () => {
    await expect(store.getVm("/subscriptions/x/resourceGroups/y")).rejects.toThrow(/Not a virtual machine id: "\/subscriptions\/x\/resourceGroups\/y"/);
  });

  it("round-trips every field, looked up case-insensitively", async () => {
    const id = vmId(SUB_A, "VM-Full", "rg(ünï).cödé");
    const full: VmRecord = baseRecord(id, {
      state: "failed",
      reason: "extension-failed",
      message: "AADLoginForWindows reported failure: it's 100% \"broken\" #?\\",
      os: "Windows Server 2019 Datacenter",
      location: "westeurope",
      powerState: "running",
      identityType: "SystemAssigned, UserAssigned",
      identityPrincipalId: "11111111-1111-1111-1111-111111111111",
      extensionStatus: "failed",
      access: [
        { role: "admin", principalId: "p1", principalType: "User", expiresAt: "2025-02-01T00:00:00.000Z", assignmentName: "a1" },
        { role: "user", principalId: "p2" },
      ],
      rejected: [{ tag: "aadlogin-users", entry: "bob@", reason: "not an object id" }],
      diagnosis: { code: "DSREG_E_MSI_TENANTID_UNAVAILABLE", message: "no identity", remediation: "enable identity", exitCode: -2145648574 },
      hints: [{ code: "computer-name-differs", message: "connect by the computer name" }],
      lastTrigger: "event",
      lastEventId: "evt-1",
      lastCorrelationId: "corr-1",
      lastRequestedBy: "user-object-id",
      lastRequestId: "0c1d2e3f-0000-4000-8000-000000000001",
      principalNotFound: { "90570000-0000-4000-8000-000000000009": "2025-01-31T23:30:00.000Z" },
      passCount: 3,
    });
    const written = await store.updateVm(id, () => full);
    expect(written.etag).toEqual(expect.any(String));

    const read = await store.getVm(id.toUpperCase());
    const { etag, ...rest } = read!;
    expect(rest).toEqual(full);
    expect(etag).toBe(written.etag);
  });

  it("Replace semantics: a field dropped by mutate is gone from the row", async () => {
    const id = vmId(SUB_A, "vm-replace");
    await store.updateVm(id, () => baseRecord(id, { diagnosis: { code: "X", message: "m" }, os: "Windows" }));
    await store.updateVm(id, (current) => {
      const { diagnosis: _d, os: _o, ...rest } = current!;
      return { ...rest, state: "remediated" };
    });
    const read = await store.getVm(id);
    expect(read?.diagnosis).toBeUndefined();
    expect(read?.os).toBeUndefined();
    expect(read?.state).toBe("remediated");
  });

  it("20 concurrent passes on one VM lose no update", async () => {
    const id = vmId(SUB_A, "vm-race");
    const results = await Promise.all(Array.from({ length: 20 }, () => store.updateVm(id, increment(id))));
    expect((await store.getVm(id))?.passCount).toBe(20);
    // Every pass saw a distinct state: no two wrote on top of the same read.
    expect(new Set(results.map((r) => r.passCount)).size).toBe(20);
  });

  it("gives up after the configured attempts with a clear error, never writing a lost update", async () => {
    const tight = await freshStore({ updateMaxAttempts: 1 });
    const id = vmId(SUB_A, "vm-contended");
    const settled = await Promise.allSettled(Array.from({ length: 10 }, () => tight.updateVm(id, increment(id))));
    const fulfilled = settled.filter((s) => s.status === "fulfilled").length;
    const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected");
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected) expect(String(r.reason)).toMatch(/Could not update VM .*vm-contended.*1 consecutive attempts/);
    expect((await tight.getVm(id))?.passCount).toBe(fulfilled);
  });

  it.each([
    ["a record for another VM", (id: string) => baseRecord(vmId(SUB_A, "other")), /different VM/],
    ["a subscription that is not the VM's", (id: string) => baseRecord(id, { subscriptionId: SUB_B }), /subscriptionId .* does not match/],
    ["an unknown state", (id: string) => baseRecord(id, { state: "fine" as never }), /unknown state "fine"/],
    ["a fractional passCount", (id: string) => baseRecord(id, { passCount: 1.5 }), /passCount must be a non-negative whole number/],
    ["a bad timestamp", (id: string) => baseRecord(id, { updatedAt: "yesterday" }), /updatedAt must be an ISO-8601 instant, got "yesterday"/],
  ])("updateVm refuses %s", async (_label, make, error) => {
    const id = vmId(SUB_A, "vm-invalid");
    await expect(store.updateVm(id, () => make(id))).rejects.toThrow(error);
    await expect(store.getVm(id)).resolves.toBeUndefined();
  });

  it("keeps oversized text within the property limit, saying it was cut", async () => {
    const id = vmId(SUB_A, "vm-big");
    const rejected = Array.from({ length: 500 }, (_, i) => ({ tag: "aadlogin-users", entry: `entry-${i}-${"x".repeat(200)}`, reason: "not allowed" }));
    await store.updateVm(id, () => baseRecord(id, { message: "m".repeat(100_000), rejected }));
    const read = (await store.getVm(id))!;
    expect(read.message.length).toBeLessThanOrEqual(MAX_STRING_CHARS);
    expect(read.message).toMatch(/…\[truncated \d+ chars\]$/);
    const last = read.rejected[read.rejected.length - 1]!;
    expect(last.reason).toMatch(/^\d+ more rejected entries not stored/);
    expect(read.rejected[0]).toEqual(rejected[0]);
    expect(read.rejected.length).toBeLessThan(rejected.length);
  });

});

describe("listVms", () => {
  let listStore: EnforcerStore;
  beforeAll(async () => {
    listStore = await freshStore();
    const rows: [string, string, VmRecord["state"]][] = [
      [SUB_A, "a1", "compliant"],
      [SUB_A, "a2", "failed"],
      [SUB_A, "a3", "compliant"],
      [SUB_B, "b1", "compliant"],
      [SUB_B, "b2", "deferred"],
    ];
    await Promise.all(rows.map(([sub, name, state]) => listStore.updateVm(vmId(sub, name), () => baseRecord(vmId(sub, name), { state }))));
  });

  const names = (records: VmRecord[]) => records.map((r) => r.name).sort();

  it.each([
    ["no filter", {}, ["a1", "a2", "a3", "b1", "b2"]],
    ["subscription, any case", { subscriptionId: SUB_A.toLowerCase() }, ["a1", "a2", "a3"]],
    ["subscription as written", { subscriptionId: SUB_B.toUpperCase() }, ["b1", "b2"]],
    ["state", { state: "compliant" as const }, ["a1", "a3", "b1"]],
    ["subscription and state", { subscriptionId: SUB_B, state: "deferred" as const }, ["b2"]],
    ["a subscription with no VMs", { subscriptionId: "x' or PartitionKey ne '" }, []],
  ])("filters by %s", async (_label, filter, expected) => {
    expect(names(await listStore.listVms(filter))).toEqual(expected);
  });

  it("rejects an unknown state filter, listing the valid ones", async () => {
    await expect(listStore.listVms({ state: "green" as never })).rejects.toThrow(/unknown state filter "green"; expected one of compliant/);
  });

  it.each([
    ["no filter", {}, 2, ["a1", "a2", "a3", "b1", "b2"]],
    ["a state, one a page", { state: "compliant" as const }, 1, ["a1", "a3", "b1"]],
    ["a subscription", { subscriptionId: SUB_A }, 2, ["a1", "a2", "a3"]],
  ])("listVmsPage pages %s with continuation tokens, each VM once", async (_label, filter, top, expected) => {
    const seen: VmRecord[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await listStore.listVmsPage(filter, { top, ...(token ? { continuationToken: token } : {}) });
      expect(page.vms.length).toBeLessThanOrEqual(top);
      seen.push(...page.vms);
      token = page.continuationToken;
      pages++;
    } while (token && pages < 10);
    expect(names(seen)).toEqual(expected);
    expect(pages).toBe(Math.ceil(expected.length / top));
  });

  it("listVmsPage refuses a token from another filter and a top out of bounds", async () => {
    const first = await listStore.listVmsPage({ subscriptionId: SUB_A }, { top: 1 });
    await expect(listStore.listVmsPage({ subscriptionId: SUB_B }, { top: 1, continuationToken: first.continuationToken! }))
      .rejects.toMatchObject({ code: "InvalidContinuationToken", message: expect.stringMatching(/belongs to other filters/) });
    await expect(listStore.listVmsPage({}, { top: 1001 })).rejects.toThrow(/top must be a whole number from 1 to 1000, got 1001/);
  });
});

describe("the compliance API's pages over Table Storage", () => {
  it("without top a page holds 100 VMs; following the tokens lists 250 VMs once each", async () => {
    const store = await freshStore();
    const ids = Array.from({ length: 250 }, (_, i) => vmId(i % 2 ? SUB_A : SUB_B, `vm-${String(i).padStart(3, "0")}`));
    for (let i = 0; i < ids.length; i += 25) {
      await Promise.all(ids.slice(i, i + 25).map((id) => store.updateVm(id, () => baseRecord(id))));
    }
    const seen: string[] = [];
    const sizes: number[] = [];
    let token: string | undefined;
    do {
      const response = await complianceQuery(new URLSearchParams(token ? { continuationToken: token } : {}), { store });
      expect(response.status).toBe(200);
      const body = response.body as { count: number; vms: VmRecord[]; continuationToken?: string };
      sizes.push(body.count);
      seen.push(...body.vms.map((v) => v.vmId));
      token = body.continuationToken;
    } while (token && sizes.length < 10);
    expect(sizes).toEqual([100, 100, 50]);
    expect(seen.sort()).toEqual([...ids].sort());
  });
});

describe("log", () => {
  const entry = (overrides: Partial<LogEntryInput> = {}): LogEntryInput => ({
    kind: "decision",
    trigger: "event",
    message: "planned",
    at: "2025-01-01T00:00:00.000Z",
    ...overrides,
  });

  it("returns 100 quick entries newest first, also within one millisecond", async () => {
    const id = vmId(SUB_A, "vm-log-order");
    const base = Date.parse("2025-05-01T00:00:00.000Z");
    for (let i = 0; i < 100; i++) {
      // Ten entries per millisecond: the order must come from the sequence, not the clock alone.
      await store.appendLog(entry({ vmId: id, message: `m${i}`, at: new Date(base + Math.floor(i / 10)).toISOString() }));
    }
    const all = await store.listLog(id, 100);
    expect(all.map((e) => e.message)).toEqual(Array.from({ length: 100 }, (_, i) => `m${99 - i}`));
    const top = await store.listLog(id.toLowerCase(), 7);
    expect(top.map((e) => e.message)).toEqual(["m99", "m98", "m97", "m96", "m95", "m94", "m93"]);
  });

  it("orders by the business time, not by arrival", async () => {
    const id = vmId(SUB_A, "vm-log-late");
    await store.appendLog(entry({ vmId: id, message: "later", at: "2025-01-02T00:00:00.000Z" }));
    await store.appendLog(entry({ vmId: id, message: "earlier, arrived late", at: "2025-01-01T00:00:00.000Z" }));
    expect((await store.listLog(id)).map((e) => e.message)).toEqual(["later", "earlier, arrived late"]);
  });

  it("round-trips every field and keeps entries without a VM in the global partition", async () => {
    const full: LogEntryInput = {
      kind: "error",
      trigger: "event",
      eventId: "evt/with#odd?chars",
      correlationId: "corr",
      requestedBy: "oid",
      state: "failed",
      reason: "malformed-event",
      action: "none",
      result: "failed",
      errorClass: "terminal",
      errorCode: "BadEvent",
      message: "subject is not a VM id",
      details: { subject: "/nope", nested: [1, "two", null] },
      at: "2025-06-01T12:00:00.000Z",
    };
    const written = await store.appendLog(full);
    expect(written).toEqual({ ...full, id: expect.any(String) });
    const global = await store.listLog(undefined, 5);
    expect(global[0]).toEqual(written);
  });

  it("cuts oversized messages and details instead of failing", async () => {
    const id = vmId(SUB_A, "vm-log-big");
    await store.appendLog(entry({ vmId: id, message: "m".repeat(50_000), details: { blob: "d".repeat(50_000) } }));
    const [read] = await store.listLog(id, 1);
    expect(read!.message).toMatch(/…\[truncated \d+ chars\]$/);
    expect(read!.message.length).toBeLessThanOrEqual(MAX_STRING_CHARS);
    // Truncated JSON no longer parses, so the raw text comes back.
    expect(typeof read!.details).toBe("string");
    expect(read!.details as string).toMatch(/^\{"blob":"ddd.*…\[truncated \d+ chars\]$/);
  });

  it.each([
    ["a missing time", { at: undefined as unknown as string }, /at must be an ISO-8601 instant/],
    ["a malformed time", { at: "now" }, /at must be an ISO-8601 instant after 1970, got "now"/],
    ["an unknown kind", { kind: "info" as never }, /unknown kind "info"/],
    ["an empty trigger", { trigger: " " }, /trigger is required/],
  ])("appendLog refuses %s", async (_label, overrides, error) => {
    await expect(store.appendLog(entry(overrides))).rejects.toThrow(error);
  });

  it("rejects a silly limit", async () => {
    await expect(store.listLog(undefined, 0)).rejects.toThrow(/limit must be a whole number from 1 to 1000, got 0/);
  });
});

describe("VM leases (one pass per VM at a time)", () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

  it("of 5 concurrent takers exactly one wins; the others see it held", async () => {
    const id = vmId(SUB_A, "lease-race");
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => store.acquireLease(id, `pass-${i}`, at(0), at(60))));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = `pass-${results.indexOf(true)}`;
    expect(await store.getLease(id)).toEqual({ holder: winner, until: at(60) });
    await expect(store.acquireLease(id, "late", at(30), at(90))).resolves.toBe(false);
  });

  it("released, it can be taken again; releasing someone else's lease does nothing", async () => {
    const id = vmId(SUB_A, "lease-release");
    await expect(store.acquireLease(id, "a", at(0), at(60))).resolves.toBe(true);
    await store.releaseLease(id, "b");
    await expect(store.acquireLease(id, "b", at(1), at(61))).resolves.toBe(false);
    await store.releaseLease(id, "a");
    await store.releaseLease(id, "a");
    await expect(store.acquireLease(id, "b", at(2), at(62))).resolves.toBe(true);
  });

  it("a crashed holder's lease is taken over once its time ran out", async () => {
    const id = vmId(SUB_A, "lease-expired");
    await expect(store.acquireLease(id, "crashed", at(0), at(10))).resolves.toBe(true);
    await expect(store.acquireLease(id, "next", at(9), at(69))).resolves.toBe(false);
    await expect(store.acquireLease(id, "next", at(11), at(71))).resolves.toBe(true);
    // The crashed pass, had it come back, cannot give away what is no longer its own.
    await store.releaseLease(id, "crashed");
    expect((await store.getLease(id))?.holder).toBe("next");
  });
});

describe("audit runs", () => {
  const run = (runId: string, startedAt: string) => ({
    runId,
    startedAt,
    finishedAt: startedAt,
    durationMs: 1234,
    trigger: "audit",
    subscriptions: [SUB_A, SUB_B],
    vmCount: 10,
    enqueued: 9,
    countsByState: { compliant: 7, failed: 2 },
    armCalls: 3,
    errors: 1,
  });

  it("lists runs newest first; recording a run twice keeps one row", async () => {
    const s = await freshStore();
    await s.recordAuditRun(run("r2", "2025-01-02T00:00:00.000Z"));
    await s.recordAuditRun(run("r1", "2025-01-01T00:00:00.000Z"));
    await s.recordAuditRun(run("r3", "2025-01-03T00:00:00.000Z"));
    await s.recordAuditRun(run("r3", "2025-01-03T00:00:00.000Z"));
    const runs = await s.listAuditRuns();
    expect(runs.map((r) => r.runId)).toEqual(["r3", "r2", "r1"]);
    expect(runs[0]).toEqual(run("r3", "2025-01-03T00:00:00.000Z"));
    expect((await s.listAuditRuns(2)).map((r) => r.runId)).toEqual(["r3", "r2"]);
  });

  it("refuses a run with a negative count, naming the field", async () => {
    await expect(store.recordAuditRun({ ...run("bad", "2025-01-01T00:00:00.000Z"), armCalls: -1 })).rejects.toThrow(/recordAuditRun\(bad\): armCalls must be a non-negative number/);
  });
});

describe("the store from app settings", () => {
  it("builds a working store from settings", async () => {
    const s = createEnforcerStore(loadAppSettings({ AzureWebJobsStorage: azurite.connectionString, TABLE_PREFIX: "fromSettings" }).store);
    await s.ensureTables();
    await expect(s.acquireLease(vmId(SUB_A, "settings-vm"), "p", "2026-01-01T00:00:00.000Z", "2026-01-01T00:01:00.000Z")).resolves.toBe(true);
  });

  it("refuses an identity-based connection without a credential", () => {
    expect(() => createEnforcerStore({ accountName: "acct", tablePrefix: "p" })).toThrow(/https:\/\/acct\.table\.core\.windows\.net needs a credential/);
  });
});
