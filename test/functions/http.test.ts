import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALICE, SUB_A, SUB_B, vmBody, vmId } from "../support/enforcerStack.js";
import { startHostedStack, type HostedStack } from "../support/hostedStack.js";

/** The HTTP functions over HTTP, through the local Functions host with its function keys. */
let stack: HostedStack;

const web = vmId(SUB_A, "rg-http", "web-01");
const legacy = vmId(SUB_A, "rg-http", "legacy-01");
const db = vmId(SUB_B, "rg-http-b", "db-01");
const fresh = vmId(SUB_A, "rg-http", "fresh-01");

beforeAll(async () => {
  stack = await startHostedStack();
  await stack.owner.putResourceGroup(SUB_A, "rg-http", "westeurope");
  await stack.owner.putResourceGroup(SUB_B, "rg-http-b", "eastus");
  await stack.owner.putVm(web, vmBody({ sku: "2019-Datacenter", tags: { "aadlogin-admins": ALICE } }));
  await stack.owner.putVm(legacy, vmBody({ sku: "2016-Datacenter" }));
  await stack.owner.putVm(db, vmBody({ location: "eastus", sku: "2022-datacenter-g2" }));
  // Seeded: no event, so the enforcer has never looked at it.
  stack.emulator.seed({ vms: [{ id: fresh, body: vmBody({ sku: "2022-datacenter-g2", tags: { "aadlogin-admins": ALICE } }) }] });
  await stack.settle();
});

afterAll(async () => {
  await stack?.close();
});

interface VmRow { vmId: string; state: string; subscriptionId: string }

async function get(path: string, key: string | null = stack.host.functionKey) {
  const response = await fetch(`${stack.host.url}${path}`, { headers: key ? { "x-functions-key": key } : {} });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : text };
}

async function post(body: string, key: string | null = stack.host.functionKey) {
  const response = await fetch(`${stack.host.url}/api/reconcile`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { "x-functions-key": key } : {}) },
    body,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : text };
}

const ids = (body: unknown) => ((body as { vms: VmRow[] }).vms.map((v) => v.vmId)).sort();

describe("compliance (GET /api/compliance)", () => {
  it("needs a function key", async () => {
    expect((await get("/api/compliance", null)).status).toBe(401);
    expect((await get("/api/compliance", "not-the-key")).status).toBe(401);
    // The key also works as ?code=, as in Azure.
    expect((await get(`/api/compliance?code=${encodeURIComponent(stack.host.functionKey)}`, null)).status).toBe(200);
  });

  it("lists every recorded VM, filtered by subscription and by state", async () => {
    const all = await get("/api/compliance");
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ count: 3 });
    expect(ids(all.body)).toEqual([web, legacy, db].sort());

    expect(ids((await get(`/api/compliance?subscription=${SUB_A}`)).body)).toEqual([web, legacy].sort());
    expect(ids((await get(`/api/compliance?subscription=${SUB_B}`)).body)).toEqual([db]);
    expect(ids((await get("/api/compliance?state=ineligible")).body)).toEqual([legacy]);
    expect(ids((await get(`/api/compliance?subscription=${SUB_A}&state=remediated`)).body)).toEqual([web]);
    expect((await get(`/api/compliance?subscription=${SUB_B}&state=ineligible`)).body).toEqual({ count: 0, vms: [] });
  });

  it("pages with top and an opaque continuationToken until every VM was listed once", async () => {
    const first = await get("/api/compliance?top=2");
    expect(first.status).toBe(200);
    const page1 = first.body as { count: number; vms: VmRow[]; continuationToken?: string };
    expect(page1.count).toBe(2);
    expect(page1.continuationToken).toMatch(/^[A-Za-z0-9_-]+$/);
    const second = await get(`/api/compliance?top=2&continuationToken=${encodeURIComponent(page1.continuationToken!)}`);
    const page2 = second.body as { count: number; vms: VmRow[]; continuationToken?: string };
    expect(page2.count).toBe(1);
    expect(page2.continuationToken).toBeUndefined();
    expect([...page1.vms, ...page2.vms].map((v) => v.vmId).sort()).toEqual([web, legacy, db].sort());

    // Filters page too: SUB_A has two VMs.
    const filtered = (await get(`/api/compliance?subscription=${SUB_A}&top=1`)).body as { vms: VmRow[]; continuationToken: string };
    const rest = (await get(`/api/compliance?subscription=${SUB_A}&top=1&continuationToken=${filtered.continuationToken}`)).body as { vms: VmRow[] };
    expect([...filtered.vms, ...rest.vms].map((v) => v.vmId).sort()).toEqual([web, legacy].sort());

    // A token read under one filter is refused under another (it would silently skip VMs).
    const replayed = await get(`/api/compliance?subscription=${SUB_B}&continuationToken=${filtered.continuationToken}`);
    expect(replayed.status).toBe(400);
    expect((replayed.body as { error: { message: string } }).error.message).toMatch(/belongs to other filters/);
  });

  it.each([
    ["top=0", /top "0" is not a whole number from 1 to 1000/],
    ["top=1001", /top "1001" is not a whole number from 1 to 1000/],
    ["top=ten", /top "ten" is not a whole number/],
    ["top=2.5", /top "2.5" is not a whole number/],
    ["continuationToken=not%20a%20token", /continuationToken "not a token" is not a token this API made/],
    [`continuationToken=${Buffer.from('{"p":"x\'or 1 eq 1","f":"*/*"}').toString("base64url")}`, /is not a token this API made/],
  ])("?%s → 400 saying what was wrong", async (query, message) => {
    const response = await get(`/api/compliance?${query}`);
    expect(response.status).toBe(400);
    expect((response.body as { error: { code: string; message: string } }).error).toMatchObject({ code: "BadRequest", message: expect.stringMatching(message) });
  });

  it("?vmId= returns the record and its recent log, newest first", async () => {
    const one = await get(`/api/compliance?vmId=${encodeURIComponent(web)}`);
    expect(one.status).toBe(200);
    const body = one.body as { vm: VmRow & { access: { principalId: string }[] }; log: { kind: string; at: string; action?: string }[] };
    expect(body.vm).toMatchObject({ vmId: web, state: "remediated" });
    expect(body.vm.access.map((a) => a.principalId)).toEqual([ALICE]);
    expect(body.log[0]?.kind).toBe("decision");
    expect(body.log.filter((l) => l.kind === "action").map((l) => l.action).sort()).toEqual(["createAssignment", "enableIdentity", "installExtension"]);
    const times = body.log.map((l) => l.at);
    expect([...times].sort().reverse()).toEqual(times);

    const limited = await get(`/api/compliance?vmId=${encodeURIComponent(web)}&log=2`);
    expect((limited.body as { log: unknown[] }).log).toHaveLength(2);
  });

  it("?vmId= of a VM never seen is 404 with a message", async () => {
    const missing = await get(`/api/compliance?vmId=${encodeURIComponent(fresh)}`);
    expect(missing.status).toBe(404);
    expect(JSON.stringify(missing.body)).toContain("has not seen this VM yet");
  });

  it.each([
    ["an unknown state", "state=happy", /state "happy" is not one of .*remediated/],
    ["a subscription that is not a GUID", "subscription=prod", /subscription "prod" is not a subscription id/],
    ["a vmId that is not a VM id", `vmId=${encodeURIComponent(`/subscriptions/${SUB_A}/resourceGroups/rg-http`)}`, /is not a VM resource id/],
  ])("%s → 400 saying what was wrong", async (_what, query, message) => {
    const response = await get(`/api/compliance?${query}`);
    expect(response.status).toBe(400);
    expect((response.body as { error: { code: string; message: string } }).error).toMatchObject({ code: "BadRequest", message: expect.stringMatching(message) });
  });
});

describe("dashboard (GET /api/dashboard)", () => {
  it("needs a function key, and answers HTML under a nonce CSP with the recorded VMs", async () => {
    expect((await get("/api/dashboard", null)).status).toBe(401);
    const page = await get("/api/dashboard");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const nonce = /script-src 'nonce-([^']+)'/.exec(page.headers.get("content-security-policy") ?? "")?.[1];
    expect(nonce).toBeDefined();
    expect(page.body).toContain(`<script nonce="${nonce}">`);
    for (const name of ["web-01", "legacy-01", "db-01"]) expect(page.body).toContain(`>${name}</a>`);
    expect(page.body).not.toContain(">fresh-01</a>");
    // A new nonce on every response.
    expect((await get("/api/dashboard")).headers.get("content-security-policy")).not.toContain(nonce);
  });

  it("one VM's page, and 400/404 pages that say what was wrong", async () => {
    expect(String((await get(`/api/dashboard?vm=${encodeURIComponent(web)}`)).body)).toMatch(/<h2 id="vm-heading">web-01<\/h2>/);
    const missing = await get(`/api/dashboard?vm=${encodeURIComponent(fresh)}`);
    expect(missing.status).toBe(404);
    expect(missing.body).toContain("has not seen this VM yet");
    const bad = await get("/api/dashboard?sort=%3Cb%3E");
    expect(bad.status).toBe(400);
    expect(bad.body).toContain("sort &quot;&lt;b&gt;&quot; is not one of name, state");
  });
});

describe("reconcileNow (POST /api/reconcile)", () => {
  it("needs a function key", async () => {
    expect((await post(JSON.stringify({ vmId: fresh }), null)).status).toBe(401);
  });

  it.each([
    ["not JSON", "{vmId:", /Body must be JSON/],
    ["no vmId", JSON.stringify({ mode: "report" }), /Body must be JSON \{"vmId"/],
    ["a vmId that is not a VM id", JSON.stringify({ vmId: "web-01" }), /Body must be JSON/],
    ["an unknown mode", JSON.stringify({ vmId: fresh, mode: "yolo" }), /mode must be "enforce" or "report", got "yolo"/],
  ])("%s → 400 saying what was wrong", async (_what, body, message) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    expect((response.body as { error: { message: string } }).error.message).toMatch(message);
  });

  it('mode "report" answers with the state and the plan, and writes nothing', async () => {
    const since = stack.requestSeq();
    const response = await post(JSON.stringify({ vmId: fresh, mode: "report" }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/application\/json/);
    expect(response.body).toMatchObject({
      vmId: fresh,
      state: "would-remediate",
      mode: "report",
      plan: [
        { kind: "enableIdentity" },
        { kind: "installExtension", why: "missing" },
        { kind: "createAssignment", role: "admin", principalId: ALICE },
      ],
    });
    await stack.settle();
    expect(stack.enforcerWrites(since)).toEqual([]);
    const record = await get(`/api/compliance?vmId=${encodeURIComponent(fresh)}`);
    expect((record.body as { vm: { state: string; lastTrigger: string } }).vm).toMatchObject({ state: "would-remediate", lastTrigger: "http" });
  });

  it("without a mode it uses the configured one (enforce) and remediates", async () => {
    const response = await post(JSON.stringify({ vmId: fresh }));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ state: "in-progress", mode: "enforce" });
    await stack.settle();
    expect((await stack.services.store.getVm(fresh))?.lastRequestedBy).toMatch(/^function key holder/);
    expect((await stack.owner.listRoleAssignments(fresh)).map((a) => a.properties.principalId)).toEqual([ALICE]);
  });

  it("ARM failing beyond the SDK's retries → 503 with Retry-After", async () => {
    stack.emulator.setFaults({ seed: 5, rules: [{ match: { method: "GET", pathContains: "/virtualMachines/db-01" }, status: 503, count: 1000 }] });
    try {
      const response = await post(JSON.stringify({ vmId: db, mode: "report" }));
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("30");
      expect((response.body as { error: { message: string } }).error.message).toMatch(/^Transient ARM failure, try again/);
    } finally {
      stack.emulator.clearFaults();
    }
  });
});
