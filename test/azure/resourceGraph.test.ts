import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARM_SCOPE, requestCounter, type ArmConnection } from "../../src/azure/armConnection.js";
import { ResourceGraph } from "../../src/azure/resourceGraph.js";
import { ArmFailure } from "../../src/orchestrator/ports.js";
import { startTestEmulator, type TestEmulator } from "../support/emulator.js";
import { armCall } from "../local/emulator/arm-http.js";

/** The Resource Graph adapter against the emulator's endpoint (real HTTPS, the production pipeline). */
const SUB = "c0ffee00-0000-4000-8000-0000000000c1";
const vm = (n: number) => `/subscriptions/${SUB}/resourceGroups/rg-g/providers/Microsoft.Compute/virtualMachines/g-${String(n).padStart(4, "0")}`;
let t: TestEmulator;
let connection: ArmConnection;

beforeAll(async () => {
  t = await startTestEmulator();
  t.emulator.seed({ vms: Array.from({ length: 2500 }, (_, i) => ({ id: vm(i), body: { location: "westeurope", tags: { n: String(i) }, properties: {} } })) as never });
  connection = { credential: t.credentialFor(), endpoint: t.emulator.armUrl, scope: ARM_SCOPE, caPem: t.emulator.caPem, maxRetries: 3, retryDelayInMs: 10 };
});

afterAll(async () => {
  await t?.emulator.close();
});

describe("ResourceGraph (the audit's adapter)", () => {
  it("reads every row, 1,000 a page, by skipToken; each page is one counted request", async () => {
    const counter = requestCounter();
    const graph = new ResourceGraph(connection, counter.policy);
    const ids: string[] = [];
    for await (const row of graph.rows([SUB], "Resources | where type =~ 'microsoft.compute/virtualmachines' | project id, tags")) ids.push(String(row["id"]));
    expect(ids).toHaveLength(2500);
    expect(new Set(ids).size).toBe(2500);
    expect(graph.pagesRead).toBe(3);
    expect(counter.count()).toBe(3);
  });

  it("honours the per-user quota: when another client spent it, the 429 is waited out (x-ms-user-quota-resets-after) and the query succeeds", async () => {
    t.emulator.setLimits({ resourceGraphQueriesPerWindow: 2, resourceGraphWindowMs: 1500 });
    try {
      const token = t.emulator.tokenFor(t.emulator.managedIdentity.principalId);
      for (let i = 0; i < 2; i++) {
        await armCall(t.emulator.armUrl, t.emulator.caPem, "POST", "/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01", { token, body: { subscriptions: [SUB], query: "Resources | project id | take 1" } });
      }
      const since = t.emulator.requests().lastSeq;
      const graph = new ResourceGraph(connection, requestCounter().policy);
      const started = Date.now();
      const page = await graph.page([SUB], "Resources | project id | take 5");
      expect(page.rows).toHaveLength(5);
      const statuses = t.emulator.requests(since).requests.map((r) => r.status);
      expect(statuses).toEqual([429, 200]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    } finally {
      t.emulator.setLimits({ resourceGraphQueriesPerWindow: 15, resourceGraphWindowMs: 5000 });
    }
  });

  it("a query Resource Graph refuses is a terminal ArmFailure naming what was wrong", async () => {
    const graph = new ResourceGraph(connection, requestCounter().policy);
    const failure = await graph.page([SUB], "Resources | summarize count() by type").catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ArmFailure);
    expect((failure as ArmFailure).classified).toMatchObject({ class: "terminal", code: "BadRequest", statusCode: 400 });
    expect((failure as ArmFailure).message).toMatch(/summarize/);
  });
});
