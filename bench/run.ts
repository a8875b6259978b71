/**
 * `npm run bench`: the enforcer's cost and speed against the local Azure (ARM emulator over HTTPS,
 * Azurite, the local Functions host running the registered functions, Event Grid webhook delivery).
 * Not part of `npm test`. Every figure comes from a counter (the emulator's request log, the
 * enforcer's own request counter, the audit-run row, the host's invocation counts) or a clock.
 *
 * Scenarios (run in this order; recheck and events reuse new-vm's VMs):
 *   audit    seed compliant-or-ineligible VMs, fire the drift audit, drain the queue: requests per 1,000
 *   dashboard the dashboard over the audit's records: bytes, server time, Chromium's first contentful paint
 *   new-vm   a user creates Windows Server 2019 VMs with an admin tag: the enforcer's requests per VM
 *   recheck  one more pass over each converged VM: reads only (asserted)
 *   events   tag writes that change nothing relevant, through the real webhook: events per second
 *   burst    VM creations under ARM's real throttling limits: wall time, 429s, share of the write budget
 *   realistic a user creates VMs under the emulator's realistic timing (own stack): event invocation p50/p95,
 *            billed function-seconds per VM, ARM requests per VM, created → login-ready latency
 *
 * The audit runs first so that it lists exactly the seeded fleet (it lists every watched subscription).
 * Output: one `scenario=… key=value …` line per scenario on stdout, then one JSON line with all
 * figures; progress on stderr. Sizes: see bench/options.ts (`--quick`, `--burst 1000`, …).
 */
import { startLocalStack } from "../src/local/stack.js";
import { parseOptions, UsageError, USAGE, type ScenarioName } from "./options.js";
import { dashboardScenario } from "./dashboard.js";
import { auditScaleScenario } from "./auditScale.js";
import { ALICE, BenchFailure, line, OWNER, OWNER_ROLE, SUB_AUDIT, SUB_BURST, SUB_MAIN } from "./support.js";
import { auditScenario, burstScenario, eventsScenario, newVmScenario, realisticScenario, recheckScenario, type BenchContext, type ScenarioResult } from "./scenarios.js";

const progress = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

async function main(): Promise<number> {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message ? `${error.message}\n` : ""}${USAGE}\n`);
      return error.message ? 2 : 0;
    }
    throw error;
  }

  const benchStarted = performance.now();
  // The registered functions build their services once per process from the environment, so a
  // second stack (the realistic one) runs alone: in-process when it is the only scenario, else in a child.
  if (options.only.size === 1 && options.only.has("realistic")) return runRealisticAlone(options, benchStarted);
  if (options.only.size === 1 && options.only.has("audit-scale")) return runAuditScaleAlone(options, benchStarted);
  const stack = await startLocalStack({
    subscriptions: [SUB_MAIN, SUB_AUDIT, SUB_BURST],
    timers: false,
    throttle: false,
    lroDelayMs: options.lroDelayMs,
    settings: {
      ENFORCER_MODE: "enforce",
      ACCESS_ALLOWED_PRINCIPALS: ALICE,
      AUDIT_SCHEDULE: "0 0 */6 * * *",
      RECONCILE_QUEUE_NAME: `bench-${process.pid}`,
      // The emulator's operations end at once in these scenarios: follow-ups look again at once.
      FOLLOW_UP_DELAY_MS: "0",
      FOLLOW_UP_MAX_DELAY_MS: "0",
      LEASE_DURATION_MS: "30000",
      LEASE_RETRY_DELAY_MS: "1000",
    },
  });
  const results: ScenarioResult[] = [];
  let exitCode = 0;
  try {
    stack.emulator.addPrincipal({ id: ALICE, type: "User", displayName: "Alice", upn: "alice@contoso.example" });
    stack.emulator.addPrincipal({ id: OWNER, type: "User", displayName: "Olga (VM owner)", upn: "olga@contoso.example" });
    // A principal holds no role until granted: the owner is Owner of the subscriptions it fills.
    for (const sub of [SUB_MAIN, SUB_AUDIT, SUB_BURST]) await stack.grant(OWNER, OWNER_ROLE, `/subscriptions/${sub}`);
    const ctx: BenchContext = { stack, owner: stack.userFor(OWNER), options, progress };
    progress(
      `bench: node ${process.version}, new-vms=${options.newVms} audit-vms=${options.auditVms} events=${options.events} burst=${options.burstVms} ` +
        `concurrency=${options.concurrency} lro-delay-ms=${options.lroDelayMs} realistic-vms=${options.realisticVms} time-scale=${options.timeScalePct}% (stack up in ${Math.round(performance.now() - benchStarted)} ms)`,
    );

    const wants = (name: ScenarioName) => options.only.has(name);
    const steps: { name: ScenarioName; run: (c: BenchContext) => Promise<ScenarioResult>; needed: boolean }[] = [
      { name: "audit", run: auditScenario, needed: wants("audit") || wants("dashboard") },
      { name: "dashboard", run: dashboardScenario, needed: wants("dashboard") },
      { name: "new-vm", run: newVmScenario, needed: wants("new-vm") || wants("recheck") || wants("events") },
      { name: "recheck", run: recheckScenario, needed: wants("recheck") },
      { name: "events", run: eventsScenario, needed: wants("events") },
      { name: "burst", run: burstScenario, needed: wants("burst") },
    ];

    for (const step of steps) {
      if (!step.needed) continue;
      progress(`bench: ${step.name}${wants(step.name) ? "" : " (setup for a later scenario)"} …`);
      const result = await step.run(ctx);
      if (!wants(step.name)) continue;
      results.push(result);
      process.stdout.write(`${line({ scenario: result.scenario, ...result.figures })}\n`);
      if (options.verbose && result.detail) progress(`  ${result.scenario} detail: ${JSON.stringify(result.detail)}`);
    }
  } catch (error) {
    exitCode = 1;
    process.stderr.write(`bench FAILED: ${error instanceof BenchFailure ? error.message : ((error as Error).stack ?? String(error))}\n`);
  } finally {
    await stack.close();
  }
  if (exitCode === 0 && options.only.has("realistic")) {
    const child = await realisticInChild();
    if (child.result) {
      results.push(child.result);
      process.stdout.write(`${line({ scenario: child.result.scenario, ...child.result.figures })}\n`);
    } else exitCode = 1;
  }
  const summary = {
    bench: "aadlogin-enforcer",
    node: process.version,
    options: { ...options, only: [...options.only] },
    wall_s: Math.round(performance.now() - benchStarted) / 1000,
    ok: exitCode === 0,
    scenarios: Object.fromEntries(results.map((r) => [r.scenario, { ...r.figures, detail: r.detail }])),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return exitCode;
}

/** The realistic scenario as the only one in this process; prints its line and the JSON summary. */
async function runRealisticAlone(options: ReturnType<typeof parseOptions>, benchStarted: number): Promise<number> {
  let result: ScenarioResult | undefined;
  try {
    result = await realisticScenario({ stack: undefined as never, owner: undefined as never, options, progress });
    process.stdout.write(`${line({ scenario: result.scenario, ...result.figures })}\n`);
  } catch (error) {
    process.stderr.write(`bench FAILED: ${error instanceof BenchFailure ? error.message : ((error as Error).stack ?? String(error))}\n`);
  }
  const summary = { bench: "aadlogin-enforcer", node: process.version, options: { ...options, only: [...options.only] }, wall_s: Math.round(performance.now() - benchStarted) / 1000, ok: result !== undefined, scenarios: result ? { realistic: { ...result.figures, detail: result.detail } } : {} };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return result ? 0 : 1;
}

/** `--only audit-scale`: its own stack (the app watches exactly its subscriptions), alone in this process. */
async function runAuditScaleAlone(options: ReturnType<typeof parseOptions>, benchStarted: number): Promise<number> {
  let result: ScenarioResult | undefined;
  try {
    result = await auditScaleScenario(options, progress);
    process.stdout.write(`${line({ scenario: result.scenario, ...result.figures })}\n`);
  } catch (error) {
    process.stderr.write(`bench FAILED: ${error instanceof BenchFailure ? error.message : ((error as Error).stack ?? String(error))}\n`);
  }
  const summary = { bench: "aadlogin-enforcer", node: process.version, options: { ...options, only: [...options.only] }, wall_s: Math.round(performance.now() - benchStarted) / 1000, ok: result !== undefined, scenarios: result ? { "audit-scale": { ...result.figures, detail: result.detail } } : {} };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return result ? 0 : 1;
}

/** Runs `--only realistic` (same sizes) in a child process and reads its summary line back. */
async function realisticInChild(): Promise<{ result?: ScenarioResult }> {
  const { spawn } = await import("node:child_process");
  const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--only") && all[i - 1] !== "--only");
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1] as string, ...args, "--only", "realistic"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.on("exit", resolve));
  const summary = JSON.parse(out.trim().split("\n").pop() ?? "{}") as { scenarios?: { realistic?: Record<string, unknown> } };
  const figures = summary.scenarios?.realistic;
  if (!figures) return {};
  const { detail, ...rest } = figures as Record<string, string | number | boolean> & { detail?: Record<string, unknown> };
  return { result: { scenario: "realistic", figures: rest, ...(detail ? { detail } : {}) } };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench FAILED: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
