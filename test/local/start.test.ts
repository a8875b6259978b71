import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalStack, type LocalStack } from "../../src/local/stack.js";
import { DEMO_SUBSCRIPTIONS, demoAllowedPrincipals, demoFleet, type Fleet } from "../../src/local/demo/fleet.js";
import { createFleet, waitForConvergence } from "../../src/local/demo/runFleet.js";
import type { ArmUser } from "../../src/local/armUser.js";
import type { VmRecord } from "../../src/store/tableStore.js";

const run = promisify(execFile);
const CLI = join(process.cwd(), "bin", "aadlogin-enforcer.js");
const LOGIN_ROLES = new Set(["1c0163c0-47e6-4577-8991-ea5c82e286e4", "fb879df8-f326-4884-b1cf-06f3ad86be52"]);

let stack: LocalStack;
let fleet: Fleet;
let records: Map<string, VmRecord>;
let owner: ArmUser;
let settingsFile: string;

beforeAll(async () => {
  fleet = demoFleet(new Date());
  stack = await startLocalStack({
    subscriptions: DEMO_SUBSCRIPTIONS.map((s) => s.id),
    timers: false,
    settings: { ACCESS_ALLOWED_PRINCIPALS: demoAllowedPrincipals().join(","), ARM_LRO_POLL_INTERVAL_MS: "5", ARM_EXTENSION_POLL_INTERVAL_MS: "5", RECONCILE_QUEUE_NAME: "reconcile-e2e" },
  });
  for (const p of fleet.principals) stack.emulator.addPrincipal({ id: p.id, type: p.type, displayName: p.displayName });
  owner = stack.userFor(fleet.owner.id);
  await createFleet(stack, fleet, () => {});
  const result = await waitForConvergence(stack, fleet, 90_000);
  expect(result.converged).toBe(true);
  records = result.records;
  settingsFile = join(mkdtempSync(join(tmpdir(), "aadlogin-cli-")), "local.settings.json");
  writeFileSync(settingsFile, JSON.stringify({ IsEncrypted: false, Values: stack.settings }));
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

interface ArmVm {
  identity?: { type?: string };
  resources?: { name: string; properties: { type?: string; provisioningState?: string } }[];
}

describe("npm start's fleet, end to end: events through the local host into the registered functions", () => {
  it("every VM ends in its expected state", () => {
    const wrong = fleet.vms.filter((v) => records.get(v.id.toLowerCase())?.state !== v.expect).map((v) => `${v.id.split("/").pop()}: ${records.get(v.id.toLowerCase())?.state} ≠ ${v.expect}`);
    expect(wrong).toEqual([]);
    expect(fleet.vms.length).toBeGreaterThanOrEqual(40);
    expect(new Set(fleet.vms.map((v) => v.id.split("/")[2])).size).toBe(2);
  });

  it("the ARM state read back through ARM GETs matches each VM's record", async () => {
    const problems: string[] = [];
    for (const v of fleet.vms) {
      const record = records.get(v.id.toLowerCase())!;
      const vm = (await owner.getVm(v.id)) as ArmVm;
      const aad = vm.resources?.find((r) => r.properties.type === "AADLoginForWindows");
      const logins = (await owner.listRoleAssignments(v.id)).filter(
        (a) => a.properties.scope.toLowerCase() === v.id.toLowerCase() && LOGIN_ROLES.has(a.properties.roleDefinitionId.split("/").pop() ?? ""),
      );
      const name = v.id.split("/").pop();
      if (record.state === "remediated" || record.state === "compliant") {
        if (!vm.identity?.type?.includes("SystemAssigned")) problems.push(`${name}: no system identity`);
        if (aad?.properties.provisioningState !== "Succeeded") problems.push(`${name}: extension ${aad?.properties.provisioningState ?? "missing"}`);
      } else if (record.state === "failed") {
        if (aad?.properties.provisioningState !== "Failed") problems.push(`${name}: failed record but extension ${aad?.properties.provisioningState}`);
      } else if (aad && !(v.extensions ?? []).some((e) => e.name === aad.name)) {
        problems.push(`${name}: ${record.state} but the enforcer installed the extension`);
      }
      const actual = logins.map((a) => `${a.properties.roleDefinitionId.split("/").pop()}:${a.properties.principalId}`).sort();
      const recorded = record.access.map((a) => `${a.role === "admin" ? "1c0163c0-47e6-4577-8991-ea5c82e286e4" : "fb879df8-f326-4884-b1cf-06f3ad86be52"}:${a.principalId}`).sort();
      if (JSON.stringify(actual) !== JSON.stringify(recorded)) problems.push(`${name}: ARM has ${actual.join(",")} but the record says ${recorded.join(",")}`);
    }
    expect(problems).toEqual([]);
  });

  it("the timer's audit fixes a VM whose extension was removed behind the enforcer's back", async () => {
    const target = fleet.vms.find((v) => v.id.endsWith("/web-ws2019-g2"))!;
    await owner.deleteExtension(target.id, "AADLoginForWindows");
    const vm = (await owner.getVm(target.id)) as ArmVm;
    expect(vm.resources?.some((r) => r.name === "AADLoginForWindows")).toBeFalsy();
    await stack.emulator.deliveriesIdle();
    await stack.host!.fireTimer("driftAudit");
    await stack.host!.drainQueues({ timeoutInMs: 60_000 });
    const after = (await owner.getVm(target.id)) as ArmVm;
    expect(after.resources?.find((r) => r.name === "AADLoginForWindows")?.properties.provisioningState).toBe("Succeeded");
    const runs = await stack.services.store.listAuditRuns(5);
    expect(runs[0]?.vmCount).toBe(fleet.vms.length);
    expect(runs[0]?.enqueued).toBe(fleet.vms.length);
    expect((await stack.services.store.getVm(target.id))?.lastTrigger).toBe("audit");
  });
});

describe("the CLI, as a process, against the running stack", () => {
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { env: process.env, timeout: 60_000 });

  it("--help exits 0; bad arguments exit 2 with a clear message", async () => {
    expect((await cli("--help")).stdout).toContain("explain VM_ID");
    for (const bad of [["frobnicate"], ["status", "--state", "sideways"], ["audit", "--report", "--enforce"], ["explain", "not-a-vm-id"], ["status", "--bogus"]]) {
      const failure = await cli(...bad).then(() => undefined, (e: { code: number; stderr: string }) => e);
      expect(failure?.code, bad.join(" ")).toBe(2);
      expect(failure?.stderr).toMatch(/aadlogin-enforcer: .+/);
    }
  });

  it("status --json lists the compliance table; --state filters", async () => {
    const all = JSON.parse((await cli("status", "--json", "--settings", settingsFile)).stdout) as { count: number };
    expect(all.count).toBe(fleet.vms.length);
    const ineligible = JSON.parse((await cli("status", "--json", "--state", "ineligible", "--settings", settingsFile)).stdout) as { vms: VmRecord[] };
    expect(ineligible.vms.length).toBe(fleet.vms.filter((v) => v.expect === "ineligible").length);
    expect((await cli("status", "--settings", settingsFile)).stdout).toMatch(/STATE[\s\S]*remediated/);
  });

  it("explain shows eligibility, tag access with rejections and the plan, and never writes", async () => {
    const mixed = fleet.vms.find((v) => v.id.endsWith("/acc-mixed-tags"))!;
    const since = stack.emulator.requests().lastSeq;
    const report = JSON.parse((await cli("explain", mixed.id, "--json", "--settings", settingsFile)).stdout) as {
      eligibility: { verdict: string }; desired: { rejected: { reason: string }[] }; plan: unknown[];
    };
    expect(report.eligibility.verdict).toBe("eligible");
    expect(report.desired.rejected.map((r) => r.reason).sort()).toEqual(["duplicate", "not-a-guid", "not-allowed"]);
    expect(report.plan).toEqual([]);
    const writes = stack.emulator.requests(since).requests.filter((r) => r.method !== "GET");
    expect(writes).toEqual([]);
    expect((await cli("explain", mixed.id, "--settings", settingsFile)).stdout).toMatch(/Eligibility: eligible/);
  });

  it("audit --report --json checks every VM and makes zero ARM writes", async () => {
    const since = stack.emulator.requests().lastSeq;
    const { stdout } = await cli("audit", "--report", "--json", "--settings", settingsFile);
    const summary = JSON.parse(stdout) as { vms: number; counts: Record<string, number>; errors: unknown[] };
    expect(summary.vms).toBe(fleet.vms.length);
    expect(summary.errors).toEqual([]);
    expect(stack.emulator.requests(since).requests.filter((r) => r.method !== "GET")).toEqual([]);
    // Converged VMs have nothing to do; only the ones that cannot be fixed now would act.
    expect(summary.counts["remediated"] ?? 0).toBe(0);
  });
});

describe("npm start as a process", () => {
  it("--once --json: the first stdout line has the endpoints, the last the summary, exit 0", async () => {
    const { stdout } = await run("npm", ["start", "--silent", "--", "--once", "--json", "--arm-port", "0", "--identity-port", "0", "--functions-port", "0", "--table-port", "0", "--queue-port", "0"], {
      timeout: 150_000,
      env: { ...process.env, ...Object.fromEntries(Object.keys(stack.settings).map((k) => [k, ""])) },
      maxBuffer: 10_000_000,
    });
    const lines = stdout.trim().split("\n");
    const first = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(expect.arrayContaining(["arm", "caFile", "admin", "functions", "subscriptions"]));
    expect(first["subscriptions"]).toEqual(DEMO_SUBSCRIPTIONS.map((s) => s.id));
    const last = JSON.parse(lines.at(-1) ?? "") as { converged: boolean; vms: number; unexpected: unknown[] };
    expect(last.converged).toBe(true);
    expect(last.vms).toBe(44);
    expect(last.unexpected).toEqual([]);
  }, 180_000);

  it("every setting can be overridden by an environment variable of its name; --empty still creates the subscriptions", async () => {
    const { stdout } = await run("npm", ["start", "--silent", "--", "--once", "--json", "--empty", "--arm-port", "0", "--identity-port", "0", "--functions-port", "0", "--table-port", "0", "--queue-port", "0"], {
      timeout: 60_000,
      env: { ...process.env, ...Object.fromEntries(Object.keys(stack.settings).map((k) => [k, ""])), ENFORCER_MODE: "report", ACCESS_ALLOWED_PRINCIPALS: "a11ce000-0000-4000-8000-000000000001" },
    });
    const lines = stdout.trim().split("\n");
    const first = JSON.parse(lines[0] ?? "") as { mode: string; subscriptions: string[]; settingsFile: string };
    expect(first.mode).toBe("report");
    const written = JSON.parse(readFileSync(first.settingsFile, "utf8")) as { Values: Record<string, string> };
    expect(written.Values["ACCESS_ALLOWED_PRINCIPALS"]).toBe("a11ce000-0000-4000-8000-000000000001");
    expect(first.subscriptions).toEqual(DEMO_SUBSCRIPTIONS.map((s) => s.id));
    expect(JSON.parse(lines.at(-1) ?? "")).toMatchObject({ vms: 0 });
  });

  it("a port in use gives a clear message", async () => {
    const busy = new URL(stack.emulator.armUrl).port;
    const failure = await run("npm", ["start", "--silent", "--", "--once", "--empty", "--arm-port", busy], { timeout: 60_000 }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/already in use/);
  });
});
