import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalStack, timedSettings, queueProcessingVisibilityMs, TIMED_SETTINGS, type LocalStack } from "../../src/local/stack.js";
import { SETTINGS } from "../../src/config/settings.js";
import { DEMO_SETTINGS, DEMO_SUBSCRIPTIONS, demoAllowedPrincipals, demoFleet, type Fleet } from "../../src/local/demo/fleet.js";
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
    // Instant ARM, and the enforcer's follow-up and lease settings to match (timedSettings).
    timing: { profile: "instant" },
    settings: { ...DEMO_SETTINGS, ACCESS_ALLOWED_PRINCIPALS: demoAllowedPrincipals().join(","), RECONCILE_QUEUE_NAME: "reconcile-e2e" },
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

  it("the VM whose NIC's group denies outbound 443 to Entra ID was refused by the preflight: no extension PUT in the emulator's request log, no grant", async () => {
    const blocked = fleet.vms.find((v) => v.id.endsWith("/lab-nsg-deny443"))!;
    const record = records.get(blocked.id.toLowerCase());
    expect(record).toMatchObject({ state: "failed", reason: "outbound-443-blocked", access: [] });
    expect(record?.message).toMatch(/securityRules\/deny-entra-443/);
    const sentToIt = stack.emulator.requests(0).requests.filter((r) => r.path.toLowerCase().startsWith(blocked.id.toLowerCase()) && r.method === "PUT");
    expect(sentToIt.filter((r) => r.operation === "Microsoft.Compute/virtualMachines/extensions/write")).toEqual([]);
    // Every other VM the pass installed on read its network first and was allowed (default rules).
    const others = fleet.vms.filter((v) => v.expect === "remediated").map((v) => records.get(v.id.toLowerCase())?.hints?.filter((h) => h.code === "network-not-verified") ?? []);
    expect(others.flat()).toEqual([]);
  });

  it("the VM whose NIC's group denies 443 to Entra's IP range: the preflight could not judge it and installed, the emulator's extension failed on the group (-2145648607)", () => {
    const prefix = fleet.vms.find((v) => v.id.endsWith("/lab-nsg-deny-prefix"))!;
    expect(prefix.simulation?.outboundNetwork).toBeUndefined();
    const record = records.get(prefix.id.toLowerCase());
    expect(record?.state).toBe("failed");
    expect(record?.diagnosis).toMatchObject({ code: "autojoin-discovery-failed", exitCode: -2145648607 });
    expect(record?.hints?.map((h) => h.code)).toContain("network-not-verified");
    const sentToIt = stack.emulator.requests(0).requests.filter((r) => r.path.toLowerCase().startsWith(prefix.id.toLowerCase()) && r.method === "PUT");
    expect(sentToIt.filter((r) => r.operation === "Microsoft.Compute/virtualMachines/extensions/write").length).toBeGreaterThanOrEqual(1);
  });

  it("the ARM state read back through ARM GETs matches each VM's record", async () => {
    const problems: string[] = [];
    for (const v of fleet.vms) {
      const record = records.get(v.id.toLowerCase())!;
      const vm = (await owner.getVm(v.id)) as ArmVm;
      // The login extension of the VM's OS: AADSSHLoginForLinux on Linux (ENFORCE_LINUX is on in the demo).
      const aad = vm.resources?.find((r) => r.properties.type === "AADLoginForWindows" || r.properties.type === "AADSSHLoginForLinux");
      const logins = (await owner.listRoleAssignments(v.id)).filter(
        (a) => a.properties.scope.toLowerCase() === v.id.toLowerCase() && LOGIN_ROLES.has(a.properties.roleDefinitionId.split("/").pop() ?? ""),
      );
      const name = v.id.split("/").pop();
      if (record.state === "remediated" || record.state === "compliant") {
        if (!vm.identity?.type?.includes("SystemAssigned")) problems.push(`${name}: no system identity`);
        if (aad?.properties.provisioningState !== "Succeeded") problems.push(`${name}: extension ${aad?.properties.provisioningState ?? "missing"}`);
      } else if (record.state === "failed" && record.reason === "outbound-443-blocked") {
        // The preflight refused the install: nothing was sent.
        if (aad) problems.push(`${name}: the preflight refused the install but the extension is ${aad.properties.provisioningState}`);
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
    // The audit's requests run now; the reinstall it starts is then looked at again by delayed follow-ups.
    await stack.host!.drainQueues({ timeoutInMs: 60_000, includeDelayed: false });
    await expect
      .poll(async () => ((await owner.getVm(target.id)) as ArmVm).resources?.find((r) => r.name === "AADLoginForWindows")?.properties.provisioningState, { timeout: 30_000, interval: 200 })
      .toBe("Succeeded");
    await expect.poll(async () => (await stack.services.store.getVm(target.id))?.state, { timeout: 30_000, interval: 200 }).toBe("remediated");
    const runs = await stack.services.store.listAuditRuns(5);
    expect(runs[0]?.vmCount).toBe(fleet.vms.length);
    // Resource Graph's snapshot vouches for the converged VMs: only the suspects get a pass.
    expect(runs[0]?.selection?.source).toBe("resource-graph");
    expect(runs[0]?.selection?.suspectReasons["extension-not-succeeded"]).toBeGreaterThanOrEqual(1);
    expect(runs[0]?.enqueued).toBeGreaterThanOrEqual(1);
    expect(runs[0]?.enqueued).toBeLessThan(fleet.vms.length);
    expect(["audit", "follow-up"]).toContain((await stack.services.store.getVm(target.id))?.lastTrigger);
  }, 120_000);
});

describe("the CLI, as a process, against the running stack", () => {
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { env: process.env, timeout: 60_000 });

  it("--help exits 0; bad arguments exit 2 with a clear message", async () => {
    expect((await cli("--help")).stdout).toContain("explain VM_ID");
    for (const bad of [["frobnicate"], ["status", "--state", "sideways"], ["audit", "--report", "--enforce"], ["explain", "not-a-vm-id"], ["status", "--bogus"], ["audit", "--source", "sideways"]]) {
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

  it("audit --report --source arm --json checks every VM and makes zero ARM writes", async () => {
    const since = stack.emulator.requests().lastSeq;
    const { stdout } = await cli("audit", "--report", "--source", "arm", "--json", "--settings", settingsFile);
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
    expect(last.vms).toBe(demoFleet(new Date()).vms.length);
    expect(last.unexpected).toEqual([]);
  }, 180_000);

  it("every setting can be overridden by an environment variable of its name; --empty still creates the subscriptions", async () => {
    const { stdout } = await run("npm", ["start", "--silent", "--", "--once", "--json", "--empty", "--arm-port", "0", "--identity-port", "0", "--functions-port", "0", "--table-port", "0", "--queue-port", "0"], {
      timeout: 60_000,
      env: { ...process.env, ...Object.fromEntries(Object.keys(stack.settings).map((k) => [k, ""])), ENFORCER_MODE: "report", ACCESS_ALLOWED_PRINCIPALS: "a11ce000-0000-4000-8000-000000000001" },
    });
    const lines = stdout.trim().split("\n");
    const first = JSON.parse(lines[0] ?? "") as { mode: string; subscriptions: string[]; settingsFile: string; functions: string; functionKey: string; dashboard: string };
    expect(first.mode).toBe("report");
    expect(first.dashboard).toBe(`${first.functions}/api/dashboard?code=${encodeURIComponent(first.functionKey)}`);
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

const FREE_PORTS = ["--arm-port", "0", "--identity-port", "0", "--functions-port", "0", "--table-port", "0", "--queue-port", "0"];
/** The environment without the settings the in-process stack above put into process.env. */
const cleanEnv = () => ({ ...process.env, ...Object.fromEntries(Object.keys(stack.settings).map((k) => [k, ""])) });

describe("timed settings scale with the time scale", () => {
  it("realistic × F: round(default × F), at least 50 ms; the queue lease is 600 s × F, at least 1 s; instant: small values", () => {
    expect(timedSettings({ profile: "realistic", timeScale: 0.1 })).toEqual({
      FOLLOW_UP_DELAY_MS: "1500", FOLLOW_UP_MAX_DELAY_MS: "12000", LEASE_DURATION_MS: "66000", LEASE_RETRY_DELAY_MS: "500",
      PRINCIPAL_NOT_FOUND_WINDOW_MS: "180000",
    });
    expect(timedSettings({ profile: "realistic", timeScale: 0.001 })["LEASE_RETRY_DELAY_MS"]).toBe("50");
    expect(timedSettings({ profile: "realistic" })["FOLLOW_UP_DELAY_MS"]).toBe("1500");
    expect(queueProcessingVisibilityMs({ profile: "realistic", timeScale: 0.1 })).toBe(60_000);
    expect(queueProcessingVisibilityMs({ profile: "realistic", timeScale: 0.0001 })).toBe(1000);
    expect(Number(timedSettings({ profile: "instant" })["LEASE_DURATION_MS"])).toBeLessThanOrEqual(10_000);
  });

  it("the table's Azure defaults are the app settings' defaults", () => {
    for (const [name, t] of Object.entries(TIMED_SETTINGS)) {
      expect(SETTINGS.find((spec) => spec.name === name)?.default, name).toBe(String(t.azure));
    }
  });
});

describe("npm start flags", () => {
  it("bad --timing, --time-scale and --state-dir values exit 2 with a clear usage error", async () => {
    const cases: [string[], RegExp][] = [
      [["--timing", "slow"], /--timing must be "realistic" or "instant", got "slow"/],
      [["--time-scale", "0"], /--time-scale must be a positive number/],
      [["--time-scale", "fast"], /--time-scale must be a positive number/],
      [["--time-scale=-1"], /--time-scale must be a positive number/],
      [["--timing", "instant", "--time-scale", "0.5"], /--time-scale applies to --timing realistic only/],
      [["--state-dir="], /--state-dir needs a directory/],
    ];
    // One at a time: six TypeScript start-ups at once can take minutes on a busy 2-core machine.
    const failures: ({ code: number; stderr: string } | undefined)[] = [];
    for (const [args] of cases) {
      failures.push(await run("npm", ["start", "--silent", "--", "--once", ...args], { timeout: 60_000, env: cleanEnv() }).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      ));
    }
    cases.forEach(([args, message], i) => {
      expect(failures[i]?.code, args.join(" ")).toBe(2);
      expect(failures[i]?.stderr, args.join(" ")).toMatch(message);
      expect(failures[i]?.stderr).toMatch(/--timing PROFILE/);
    });
  }, 400_000);

  it("--timing realistic --time-scale 0.02 --once: the demo converges; the timed settings are scaled", async () => {
    const { stdout } = await run("npm", ["start", "--silent", "--", "--once", "--json", "--timing", "realistic", "--time-scale", "0.02", ...FREE_PORTS], {
      timeout: 170_000, env: cleanEnv(), maxBuffer: 10_000_000,
    });
    const lines = stdout.trim().split("\n");
    const first = JSON.parse(lines[0] ?? "") as { timing: unknown; stateDir: unknown; settingsFile: string };
    expect(first.timing).toEqual({ profile: "realistic", timeScale: 0.02 });
    expect(first.stateDir).toBeNull();
    const written = JSON.parse(readFileSync(first.settingsFile, "utf8")) as { Values: Record<string, string> };
    expect(written.Values).toMatchObject({ FOLLOW_UP_DELAY_MS: "300", FOLLOW_UP_MAX_DELAY_MS: "2400", LEASE_DURATION_MS: "13200", LEASE_RETRY_DELAY_MS: "100" });
    const last = JSON.parse(lines.at(-1) ?? "") as { converged: boolean; vms: number; unexpected: unknown[] };
    expect(last.unexpected).toEqual([]);
    expect(last.converged).toBe(true);
    expect(last.vms).toBe(demoFleet(new Date()).vms.length);
  }, 180_000);

  it("--state-dir: a restart resumes (same keys, port and tables; the fleet is not created again; one Event Grid subscription)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aadlogin-state-"));
    try {
      const demo = demoFleet(new Date());
      const picked = ["web-ws2019-01", "app-ws2022-01", "legacy-ws2016-01", "linux-ubuntu-01"].map((name) => demo.vms.find((v) => v.id.endsWith(`/${name}`))!);
      const fleetFile = join(dir, "fleet-input.json");
      writeFileSync(fleetFile, JSON.stringify(picked.map((v) => ({ id: v.id, body: v.body, expect: v.expect, ...(v.simulation ? { simulation: v.simulation } : {}) }))));
      const common = ["--json", "--state-dir", dir, "--timing", "realistic", "--time-scale", "0.02", ...FREE_PORTS];

      const firstRun = await run("npm", ["start", "--silent", "--", "--once", "--fleet", fleetFile, ...common], { timeout: 150_000, env: cleanEnv(), maxBuffer: 10_000_000 });
      const firstLines = firstRun.stdout.trim().split("\n");
      const before = JSON.parse(firstLines[0] ?? "") as { functions: string; functionKey: string; stateDir: string; settingsFile: string };
      expect(before.stateDir).toBe(dir);
      expect(JSON.parse(firstLines.at(-1) ?? "")).toMatchObject({ converged: true, created: 4, vms: 4, unexpected: [] });
      const prefixBefore = (JSON.parse(readFileSync(before.settingsFile, "utf8")) as { Values: Record<string, string> }).Values["TABLE_PREFIX"];
      expect(existsSync(join(dir, "stack.json"))).toBe(true);
      expect(existsSync(join(dir, "azurite"))).toBe(true);

      // Second run: no --fleet, not --once: it resumes, converges, and keeps serving until SIGINT.
      // What `npm start` runs, as one process, so SIGINT reaches it directly.
      const child = spawn(process.execPath, ["--import", "tsx", "src/local/start.ts", ...common], { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const lines: string[] = [];
      await new Promise<void>((resolveLines, reject) => {
        let buffer = "";
        const timer = setTimeout(() => reject(new Error(`no summary within 120 s; stderr: ${stderr.slice(-2000)}`)), 120_000);
        child.stdout.on("data", (chunk: Buffer) => {
          buffer += chunk.toString();
          const parts = buffer.split("\n");
          buffer = parts.pop() ?? "";
          lines.push(...parts.filter(Boolean));
          if (lines.length >= 2) {
            clearTimeout(timer);
            resolveLines();
          }
        });
        child.once("exit", (code) => reject(new Error(`exited early (${code}): ${stderr.slice(-2000)}`)));
      });
      try {
        const after = JSON.parse(lines[0] ?? "") as { arm: string; admin: string; caFile: string; functions: string; functionKey: string; settingsFile: string };
        const summary = JSON.parse(lines[1] ?? "") as Record<string, unknown>;
        expect(summary).toMatchObject({ converged: true, resumed: true, created: 0, vms: 4, unexpected: [] });
        expect(after.functionKey).toBe(before.functionKey);
        expect(after.functions).toBe(before.functions);
        expect((JSON.parse(readFileSync(after.settingsFile, "utf8")) as { Values: Record<string, string> }).Values["TABLE_PREFIX"]).toBe(prefixBefore);
        expect(stderr).not.toMatch(/Creating \d+ VMs/);

        const ca = readFileSync(after.caFile, "utf8");
        const owner = demo.owner.id;
        const { access_token: token } = (await httpsJson(`${after.admin}/tokens`, ca, "POST", { principalId: owner })) as { access_token: string };
        // ARM kept the VMs (the emulator's persisted state; this run created none) ...
        for (const vm of picked) {
          const got = (await httpsJson(`${after.arm}${vm.id}?api-version=2024-07-01`, ca, "GET", undefined, token)) as { name?: string };
          expect(got.name, vm.id).toBe(vm.id.split("/").pop());
        }
        // ... and the webhook is subscribed once.
        const subscriptions = (await httpsJson(`${after.admin}/eventSubscriptions`, ca, "GET")) as { value: { url: string }[] };
        expect(subscriptions.value.filter((s) => s.url.includes("functionName=onResourceWrite"))).toHaveLength(1);
      } finally {
        child.kill("SIGINT");
        await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once("exit", r)));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

function httpsJson(url: string, ca: string, method: string, body?: unknown, token?: string): Promise<unknown> {
  return new Promise((resolveJson, reject) => {
    const req = httpsRequest(new URL(url), {
      method, ca,
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if ((res.statusCode ?? 500) >= 400) return reject(new Error(`${method} ${url}: ${res.statusCode} ${text.slice(0, 300)}`));
        resolveJson(text ? JSON.parse(text) : undefined);
      });
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
