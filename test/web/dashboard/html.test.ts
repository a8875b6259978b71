import { describe, expect, it } from "vitest";
import { escapeHtml, html, inlineAsset, query, SafeHtml } from "../../../src/web/dashboard/html.js";
import { contentSecurityPolicy, overviewPage, vmPage } from "../../../src/web/dashboard/pages.js";
import { summarize, tableQuery, type OverviewModel, type VmModel } from "../../../src/web/dashboard/model.js";
import type { VmRecord } from "../../../src/orchestrator/ports.js";

const SUB = "6f1c2a9e-4b7d-4c1a-9e0f-1a2b3c4d5e01";
const HOSTILE = [`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `' onmouseover='alert(1)`, "`${alert(1)}`", "&lt;already&gt;"];

function record(overrides: Partial<VmRecord> = {}): VmRecord {
  const name = overrides.name ?? "web-01";
  return {
    vmId: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${name}`,
    subscriptionId: SUB, resourceGroup: "rg", name, state: "compliant", reason: "eligible", message: "ok",
    access: [], rejected: [], passCount: 1, firstSeenAt: "2026-12-01T00:00:00Z", updatedAt: "2026-12-01T00:00:00Z",
    ...overrides,
  };
}

describe("html`` escapes every value", () => {
  it.each(HOSTILE)("%s comes out as text, in an element and in an attribute", (value) => {
    const out = html`<td title="${value}">${value}</td>`.value;
    expect(out).not.toMatch(/<(script|img)/);
    expect(out).not.toMatch(/title="[^"]*"[^>]/); // the attribute is not closed early
    expect(out).toBe(`<td title="${escapeHtml(value)}">${escapeHtml(value)}</td>`);
  });

  it("nests html`` results verbatim and joins arrays; null, undefined and false render nothing", () => {
    expect(html`<ul>${["a<", "b"].map((x) => html`<li>${x}</li>`)}</ul>${null}${undefined}${false}${0}`.value).toBe("<ul><li>a&lt;</li><li>b</li></ul>0");
    expect(html`${new SafeHtml("<b>")}`.value).toBe("<b>");
  });

  it("query() builds only relative query strings, encoding every value", () => {
    expect(query({ vm: "/subscriptions/x/<y>", code: "k&y", q: "" })).toBe("?vm=%2Fsubscriptions%2Fx%2F%3Cy%3E&code=k%26y");
    expect(query({})).toBe("?");
  });

  it("inlineAsset refuses text that could close its element", () => {
    expect(() => inlineAsset("a{}</style><script>")).toThrow(/may not contain/);
    expect(inlineAsset("a{b:c}").value).toBe("a{b:c}");
  });
});

describe("pages", () => {
  const now = new Date("2026-12-01T12:00:00Z");
  const hostile = record({
    name: HOSTILE[1]!, reason: HOSTILE[0]!, message: HOSTILE[2]!, state: "in-progress", waitingFor: "extension",
    access: [{ role: "admin", principalId: HOSTILE[3]!, expiresAt: "2026-12-01T18:00:00Z" }],
    rejected: [{ tag: HOSTILE[0]!, entry: HOSTILE[1]!, reason: "not-a-guid" }],
    diagnosis: { code: HOSTILE[4]!, message: HOSTILE[0]! },
  });
  const overview: OverviewModel = {
    now, mode: "enforce", code: `k"ey<`, query: { q: HOSTILE[1]!, sort: "name", dir: "asc", page: 1, top: 100 },
    summaries: summarize([hostile, record()]), rows: [hostile], matched: 1, total: 2, audits: [],
  };

  it("the overview carries no markup from a record or the key, and marks the row for attention", () => {
    const page = overviewPage(overview, "NONCE");
    expect(page.match(/<script/g)).toHaveLength(1);
    expect(page).toContain('<script nonce="NONCE">');
    expect(page).not.toMatch(/<img|<script>alert|onmouseover='/);
    expect(page).toContain(escapeHtml(HOSTILE[1]!));
    expect(page).toMatch(/<tr data-state="in-progress" class="attention">/);
    expect(page).toContain("waiting for extension");
    expect(page).toContain("grant expiring");
    expect(page).toContain("50 %"); // one compliant of two responsible VMs
  });

  it("the audits table says how each run read the estate and what it could not vouch for", () => {
    const run = {
      runId: "r1", startedAt: "2026-12-01T11:00:00Z", finishedAt: "2026-12-01T11:00:01Z", durationMs: 1000, trigger: "timer",
      subscriptions: ["s"], vmCount: 1000, enqueued: 7, countsByState: { compliant: 1000 }, armCalls: 3, errors: 0,
      selection: {
        source: "resource-graph" as const, sliceIndex: 4, slices: 500, suspects: 5, confirmed: 2, suspectReasons: { "unsettled": 1, "plan-not-empty": 4 },
        listedThroughArm: [], requests: { resourceGraph: 3, arm: 0 }, loginAssignmentsBySubscription: {}, warnings: [],
      },
    };
    const page = overviewPage({ ...overview, audits: [run, { ...run, runId: "r0", selection: undefined }] }, "NONCE");
    expect(page).toContain("Resource Graph (3 + 0 requests)");
    expect(page).toContain("5 (plan-not-empty 4, unsettled 1) + 2 confirmed");
    expect(page).toContain("every VM");
  });

  it("the VM page escapes its record, rejected tag entries, tags and log", () => {
    const model: VmModel = {
      now, mode: "report", vmId: hostile.vmId, record: hostile, grants: [{ role: "admin", principalId: HOSTILE[3]!, requestedBy: HOSTILE[0]! }],
      log: [{ id: "1", kind: "error", trigger: "event", message: HOSTILE[1]!, requestedBy: HOSTILE[2]!, at: "2026-12-01T11:00:00Z", action: HOSTILE[0]! }],
      explanation: {
        vmId: hostile.vmId, mode: "report", tags: { [HOSTILE[0]!]: HOSTILE[1]! },
        eligibility: { verdict: "eligible", reason: "eligible", message: HOSTILE[2]! },
        desired: { grants: [], rejected: [{ tag: HOSTILE[0]!, entry: HOSTILE[1]!, reason: "not-a-guid", message: HOSTILE[0]! }], expired: false },
        plan: [], assignmentsAtVmScope: [],
      } as unknown as NonNullable<VmModel["explanation"]>,
    };
    const page = vmPage(model, "N");
    expect(page.match(/<script/g)).toHaveLength(1);
    expect(page).not.toMatch(/<img|<script>alert|onmouseover='/);
    expect(page).toContain("Plan in report mode:</strong> nothing to do");
  });

  it("the CSP allows only the nonce's style and script", () => {
    expect(contentSecurityPolicy("abc")).toBe("default-src 'none'; style-src 'nonce-abc'; script-src 'nonce-abc'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
  });

  it.each([
    ["sort=owner", /sort "owner" is not one of name, state, subscription, reason, updated/],
    ["dir=up", /dir "up" is not asc or desc/],
    ["page=0", /page "0" is not a whole number from 1/],
    ["top=5000", /top "5000" is not a whole number from 1 to 1000/],
    ["state=green", /state "green" is not one of/],
  ])("the table query refuses %s, saying what is allowed", (params, message) => {
    expect(tableQuery(new URLSearchParams(params))).toEqual({ error: expect.stringMatching(message) });
  });
});
