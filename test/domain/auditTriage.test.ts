import { describe, expect, it } from "vitest";
import { inConfirmSlice, triageVm, type TriageInput, type TriageRecord } from "../../src/domain/auditTriage.js";
import { loadEnforcerConfig } from "../../src/config/policy.js";
import { assignmentDescription, assignmentName } from "../../src/domain/assignmentName.js";
import { LOGIN_ROLES } from "../../src/domain/roles.js";
import { aadExtension, assignment, p, VM_ID, windowsVm } from "./builders.js";

const ALICE = p(1);
const config = loadEnforcerConfig({ ACCESS_ALLOWED_PRINCIPALS: ALICE });
const policy = { eligibility: config.eligibility, access: config.access, extension: config.extension };
const NOW = new Date("2026-12-01T10:00:00Z");

const identity = { type: "SystemAssigned" as const, principalId: p(9), userAssignedIdentityIds: [] };
/** A VM the enforcer finished: identity, extension Succeeded (no statuses: Resource Graph has none), Alice tagged admin. */
const done = windowsVm({ identity, extensions: [aadExtension("Succeeded")], tags: { "aadlogin-admins": ALICE } });
const aliceAdmin = assignment({ name: assignmentName(VM_ID, LOGIN_ROLES.admin.guid, ALICE), roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${LOGIN_ROLES.admin.guid}`, principalId: ALICE, description: assignmentDescription("aadlogin-admins") });
const recorded = (over: Partial<TriageRecord> = {}): TriageRecord => ({ state: "remediated", access: [{ role: "admin", principalId: ALICE }], ...over });
const base: TriageInput = { vmId: VM_ID, vm: done, assignments: [aliceAdmin], record: recorded() };

describe("triageVm: only the VMs the snapshot cannot vouch for get an ARM pass", () => {
  it.each<[string, Partial<TriageInput>, string[]]>([
    ["converged, snapshot and record agree", {}, []],
    ["compliant row", { record: recorded({ state: "compliant" }) }, []],
    ["never recorded", { record: undefined }, ["not-recorded"]],
    ["recorded but not in the snapshot (only ARM may say gone)", { vm: undefined }, ["not-in-snapshot"]],
    ["recorded gone and not in the snapshot", { vm: undefined, record: recorded({ state: "gone", access: [] }) }, []],
    ["recorded gone but back in the snapshot", { record: recorded({ state: "gone" }) }, ["state-disagrees"]],
    ["tag asks for a grant the snapshot does not show", { assignments: [] }, ["plan-not-empty", "access-disagrees"]],
    ["identity off", { vm: { ...done, identity: { type: "None", userAssignedIdentityIds: [] } } }, ["plan-not-empty"]],
    ["extension missing", { vm: { ...done, extensions: [] } }, ["plan-not-empty", "extension-not-succeeded"]],
    ["extension installing", { vm: { ...done, extensions: [aadExtension("Creating")] } }, ["extension-not-succeeded"]],
    ["extension failed", { vm: { ...done, extensions: [aadExtension("Failed")] } }, ["plan-not-empty", "extension-not-succeeded"]],
    ["power state not in the snapshot", { vm: { ...done, powerState: undefined } }, ["incomplete", "state-disagrees"]],
    ["row failed", { record: recorded({ state: "failed" }) }, ["unsettled"]],
    ["row deferred", { record: recorded({ state: "deferred" }) }, ["unsettled"]],
    ["row in progress, follow-up pending", { record: recorded({ state: "in-progress", followUpAt: "2026-12-01T10:01:00Z" }) }, []],
    ["row in progress, follow-up overdue", { record: recorded({ state: "in-progress", followUpAt: "2026-12-01T09:00:00Z" }) }, ["unsettled"]],
    ["row in progress, no follow-up", { record: recorded({ state: "in-progress" }) }, ["unsettled"]],
    ["row says ineligible, snapshot eligible", { record: recorded({ state: "ineligible" }) }, ["state-disagrees"]],
    ["row records access the snapshot lacks", { record: recorded({ access: [{ role: "admin", principalId: ALICE }, { role: "user", principalId: p(2) }] }) }, ["access-disagrees"]],
    ["a recorded grant has expired", { record: recorded({ access: [{ role: "admin", principalId: ALICE, expiresAt: "2026-12-01T09:59:59Z" }] }) }, ["expiry-due"]],
    ["a recorded grant expires later", { record: recorded({ access: [{ role: "admin", principalId: ALICE, expiresAt: "2026-12-02T00:00:00Z" }] }) }, []],
  ])("%s", (_what, over, reasons) => {
    const triage = triageVm({ ...base, ...over }, policy, NOW);
    expect(triage.reasons).toEqual(reasons);
    expect(triage.suspect).toBe(reasons.length > 0);
  });

  it("an ineligible VM recorded ineligible is left alone; recorded compliant it is a suspect", () => {
    const linux = windowsVm({ osType: "Linux", imageReference: { publisher: "Canonical", offer: "ubuntu-24_04-lts", sku: "server" } });
    const input = { vmId: VM_ID, vm: linux, assignments: [] };
    expect(triageVm({ ...input, record: { state: "ineligible", access: [] } }, policy, NOW).suspect).toBe(false);
    expect(triageVm({ ...input, record: { state: "compliant", access: [] } }, policy, NOW).reasons).toEqual(["state-disagrees"]);
  });

  it("an expired tag plans the revocation from the snapshot", () => {
    const expired = { ...done, tags: { ...done.tags, "aadlogin-expires": "2026-12-01T09:00:00Z" } };
    expect(triageVm({ ...base, vm: expired }, policy, NOW).reasons).toContain("plan-not-empty");
  });
});

describe("inConfirmSlice: a rotating share of the compliant VMs is confirmed through ARM", () => {
  const ids = Array.from({ length: 2000 }, (_, i) => VM_ID.replace("vm-app-01", `vm-${i}`));

  it("each run confirms about 1/slices of the VMs, and every VM once in `slices` runs", () => {
    const slices = 20;
    const seen = new Map<string, number>();
    for (let run = 0; run < slices; run++) {
      const picked = ids.filter((id) => inConfirmSlice(id, run, slices));
      expect(picked.length).toBeGreaterThan(2000 / slices / 2);
      expect(picked.length).toBeLessThan((2000 / slices) * 2);
      for (const id of picked) seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    expect(seen.size).toBe(ids.length);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  it("is stable across processes and case; no slices means no confirmation", () => {
    expect(inConfirmSlice(ids[7]!, 3, 10)).toBe(inConfirmSlice(ids[7]!.toUpperCase(), 13, 10));
    expect(ids.some((id) => inConfirmSlice(id, 0, 0))).toBe(false);
  });
});
