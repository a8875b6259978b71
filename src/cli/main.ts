import { parseArgs, type ParseArgsConfig } from "node:util";
import pMap from "p-map";
import { createServices, NO_WATCHED_SUBSCRIPTIONS } from "../app/services.js";
import { describeEligibilityOs } from "../domain/eligibility.js";
import { isGuid } from "../domain/access.js";
import { tryParseVmId, vmTarget } from "../domain/resourceId.js";
import { selectAuditTargets } from "../orchestrator/auditTargets.js";
import { describeAction, isWatched, type PassResult } from "../orchestrator/reconcile.js";
import { explainVm } from "../orchestrator/explain.js";
import { COMPLIANCE_PAGE_SIZE, complianceQuery } from "../orchestrator/httpApi.js";
import { runLeasedPass } from "../orchestrator/leasedPass.js";
import { ArmFailure, type VmRecord } from "../orchestrator/ports.js";
import { formatTable, progressReporter } from "./table.js";
import { loadSettingsFile } from "./settingsFile.js";

const USAGE = `aadlogin-enforcer: make Windows VMs accept Azure AD login, with access from tags.

Usage: aadlogin-enforcer <command> [options]

Commands:
  audit     One drift audit pass over every VM of the subscriptions, from this machine.
            --subscription ID   (repeatable; default WATCHED_SUBSCRIPTION_IDS)
            --report | --enforce  (default ENFORCER_MODE, itself "report" by default)
            --concurrency N     passes in parallel (default 4)
            --source resource-graph|arm  how to read the estate (default AUDIT_SOURCE):
                        resource-graph passes only the VMs a snapshot cannot vouch for,
                        arm passes every VM
            --json
  explain VM_ID   Eligibility with its reason, access requested by tags (and rejected entries),
            the plan a pass would execute, and the last diagnosis. Never writes.  [--json]
  status    The compliance table from Table Storage.
            --subscription ID  --state STATE  --json
  emulator  Run the local ARM emulator alone.  --port N (default 8443)

Options for every command:
  --settings FILE   load app settings from a local.settings.json-style file (the local stack
                    writes one to .local/local.settings.json); the environment still wins
  --help

Settings are app settings read from the environment, as in Azure (see local.settings.sample.json).
Credentials: DefaultAzureCredential (e.g. after \`az login\`), or the local stack's identity endpoint.
`;

class UsageError extends Error {}

const COMMON = {
  settings: { type: "string" },
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  try {
    switch (command) {
      case "audit":
        return await audit(rest);
      case "explain":
        return await explain(rest);
      case "status":
        return await status(rest);
      case "emulator":
        return await emulator(rest);
      default:
        throw new UsageError(`Unknown command "${command.slice(0, 40)}".`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`aadlogin-enforcer: ${(error as Error).message}\nRun "aadlogin-enforcer --help" for usage.\n`);
      return 2;
    }
    process.stderr.write(`aadlogin-enforcer: ${(error as Error).message}\n`);
    return 1;
  }
}

function parse<O extends NonNullable<ParseArgsConfig["options"]>>(args: readonly string[], options: O, positionals = 0) {
  const parsed = parseArgs({ args: [...args], options: { ...COMMON, ...options }, allowPositionals: positionals > 0, strict: true });
  if (parsed.positionals.length > positionals) throw new UsageError(`Unexpected argument "${parsed.positionals[positionals]}".`);
  const settingsFile = (parsed.values as { settings?: string }).settings;
  if (settingsFile) loadSettingsFile(settingsFile);
  return parsed;
}

async function audit(args: readonly string[]): Promise<number> {
  const { values } = parse(args, {
    subscription: { type: "string", multiple: true },
    report: { type: "boolean" },
    enforce: { type: "boolean" },
    concurrency: { type: "string" },
    source: { type: "string" },
  });
  if (values.help) return help();
  if (values.report && values.enforce) throw new UsageError("--report and --enforce exclude each other.");
  const concurrency = values.concurrency === undefined ? 4 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32) throw new UsageError(`--concurrency must be a whole number from 1 to 32, got "${values.concurrency}".`);
  for (const sub of values.subscription ?? []) {
    if (!isGuid(sub)) throw new UsageError(`--subscription "${sub.slice(0, 60)}" is not a subscription id (a GUID).`);
  }
  if (values.source !== undefined && values.source !== "resource-graph" && values.source !== "arm") {
    throw new UsageError(`--source must be "resource-graph" or "arm", got "${values.source.slice(0, 40)}".`);
  }
  const services = await createServices();
  if (services.config.watchedSubscriptions.length === 0) throw new UsageError(NO_WATCHED_SUBSCRIPTIONS);
  const unwatched = (values.subscription ?? []).filter((sub) => !isWatched(sub, services.config.watchedSubscriptions));
  if (unwatched.length > 0) throw new UsageError(`--subscription ${unwatched[0]} is not in WATCHED_SUBSCRIPTION_IDS; the enforcer refuses VMs outside the watched subscriptions.`);
  const subscriptions = values.subscription?.length ? values.subscription : services.config.watchedSubscriptions;
  // A request may only lower the mode: --enforce cannot raise a report-mode configuration.
  if (values.enforce && services.config.mode === "report") throw new UsageError("--enforce cannot raise ENFORCER_MODE=report; set ENFORCER_MODE=enforce to enforce.");
  const mode = values.report ? "report" : services.config.mode;

  const started = Date.now();
  // The timer's own selection: with Resource Graph, only the VMs a snapshot cannot vouch for.
  const selection = await selectAuditTargets(services, subscriptions, { source: values.source ?? services.config.audit.source, run: 0, slices: 0 });
  const targets = selection.targets.map((t) => t.vmId);
  const progress = progressReporter(process.stderr, `audit (${mode})`);
  const results: PassResult[] = [];
  const errors: { vmId: string; message: string }[] = [];
  // VMs another pass held (an event's, the function app's): queued behind it, run by the function app.
  const queued: string[] = [];
  await pMap(targets, async (vmId) => {
    try {
      const outcome = await runLeasedPass({ vm: vmTarget(vmId), trigger: "cli", mode, requestedBy: cliUser() }, services);
      if (outcome.ran) results.push(outcome.result);
      else queued.push(vmId);
    } catch (error) {
      errors.push({ vmId, message: error instanceof ArmFailure && error.transient ? `transient: ${error.message}` : (error as Error).message });
    }
    progress.update(results.length + errors.length + queued.length, targets.length, vmId.split("/").pop());
  }, { concurrency });
  progress.end();

  const counts: Record<string, number> = {};
  for (const r of results) counts[r.state] = (counts[r.state] ?? 0) + 1;
  const summary = { mode, subscriptions, source: selection.source, vms: selection.vmCount, passes: targets.length, counts, queued, errors, armRequests: services.arm.requestCount(), durationMs: Date.now() - started };
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...summary, results: results.map(brief) })}\n`);
  } else {
    process.stdout.write(`${formatTable(["VM", "STATE", "REASON", "ACTIONS"], results.map((r) => [shortId(r.vmId), r.state, r.reason, r.plan.map(describeAction).join("; ")]), 70)}\n\n`);
    process.stdout.write(`${selection.vmCount} VMs (${selection.source}${selection.source === "resource-graph" ? `: ${targets.length} could not be vouched for` : ""}), ${targets.length} passes, ${Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(", ")}; ${summary.armRequests} ARM requests in ${summary.durationMs} ms.\n`);
    for (const q of queued) process.stdout.write(`queued ${q}: another pass was running on it; the function app runs this one after it.\n`);
    for (const e of errors) process.stdout.write(`error ${e.vmId}: ${e.message}\n`);
    for (const w of selection.warnings) process.stdout.write(`warning: ${w}\n`);
  }
  return errors.length > 0 ? 1 : 0;
}

async function explain(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {}, 1);
  if (values.help) return help();
  const vmId = positionals[0];
  if (!vmId) throw new UsageError("explain needs a VM id: /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}");
  if (!tryParseVmId(vmId)) throw new UsageError(`"${vmId.slice(0, 200)}" is not a VM resource id (/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}).`);
  // Reads only: no table or queue is created for an explanation.
  const services = await createServices(process.env, undefined, { ensure: false });
  const target = vmTarget(vmId);
  const watched = services.config.watchedSubscriptions;
  if (!isWatched(target.subscriptionId, watched)) {
    // Refused before any ARM call, as every pass refuses it.
    process.stderr.write(`aadlogin-enforcer: ${watched.length === 0 ? NO_WATCHED_SUBSCRIPTIONS : `subscription ${target.subscriptionId} is not in WATCHED_SUBSCRIPTION_IDS; the enforcer refuses VMs outside the watched subscriptions.`}\n`);
    return 1;
  }
  const report = await explainVm(target, services);
  if (!report) {
    process.stderr.write(`aadlogin-enforcer: VM ${vmId} was not found (or this identity cannot read it).\n`);
    return 1;
  }
  const { eligibility, desired, plan, diagnosis, lastRecord, storeNote } = report;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  }
  const out: string[] = [];
  out.push(`VM:          ${vmId}`);
  out.push(`Eligibility: ${eligibility.verdict} (${eligibility.reason})${describeEligibilityOs(eligibility) ? ` — ${describeEligibilityOs(eligibility)}` : ""}`);
  out.push(`             ${eligibility.message}`);
  out.push(`Access from tags${desired.expiresAt ? ` (expires ${desired.expiresAt}${desired.expired ? ", EXPIRED" : ""})` : ""}:`);
  for (const g of desired.grants) out.push(`  grant  ${g.role.padEnd(5)} ${g.principalType.padEnd(16)} ${g.principalId}`);
  for (const r of desired.rejected) out.push(`  reject ${r.reason.padEnd(18)} ${r.tag}: ${JSON.stringify(r.entry)} — ${r.message}`);
  if (desired.grants.length === 0 && desired.rejected.length === 0) out.push("  (none requested)");
  out.push(`Plan (${report.mode} mode)${plan.length === 0 ? ": nothing to do" : ":"}`);
  plan.forEach((a, i) => out.push(`  ${i + 1}. ${a.summary}`));
  out.push(`Diagnosis:   ${diagnosis ? `${diagnosis.code}: ${diagnosis.meaning} ${diagnosis.remediation}` : "none (extension not failed)"}`);
  for (const h of report.hints) out.push(`Hint:        ${h.code}: ${h.message}`);
  if (storeNote) out.push(storeNote);
  else if (lastRecord) {
    out.push(`Last pass:   ${lastRecord.state} at ${lastRecord.updatedAt}${lastRecord.diagnosis ? `; last diagnosis ${lastRecord.diagnosis.code}: ${lastRecord.diagnosis.message}` : ""}`);
    for (const h of (lastRecord.hints ?? []).filter((h) => !report.hints.some((n) => n.code === h.code))) out.push(`             last pass noted ${h.code}: ${h.message}`);
    if (lastRecord.device) out.push(`Entra device: ${lastRecord.device.status}${lastRecord.device.id ? ` (object ${lastRecord.device.id})` : ""}: ${lastRecord.device.message}`);
  }
  process.stdout.write(`${out.join("\n")}\n`);
  return 0;
}

async function status(args: readonly string[]): Promise<number> {
  const { values } = parse(args, { subscription: { type: "string" }, state: { type: "string" } });
  if (values.help) return help();
  // The compliance API's own query (and its checks of --state and --subscription); reads only.
  const services = await createServices(process.env, undefined, { ensure: false });
  const query = new URLSearchParams();
  if (values.subscription) query.set("subscription", values.subscription);
  if (values.state) query.set("state", values.state);
  query.set("top", String(COMPLIANCE_PAGE_SIZE.max));
  const vms: VmRecord[] = [];
  for (;;) {
    const response = await complianceQuery(query, services);
    if (response.status === 400) throw new UsageError((response.body as { error: { message: string } }).error.message);
    if (response.status !== 200) throw new Error(`status: ${JSON.stringify(response.body).slice(0, 300)}`);
    const page = response.body as { vms: VmRecord[]; continuationToken?: string };
    vms.push(...page.vms);
    if (!page.continuationToken) break;
    query.set("continuationToken", page.continuationToken);
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ count: vms.length, vms })}\n`);
    return 0;
  }
  const rows = vms.map((v) => [v.name, v.state, v.reason, v.access.map((a) => `${a.role}:${a.principalId.slice(0, 8)}`).join(" "), v.updatedAt]);
  process.stdout.write(`${formatTable(["VM", "STATE", "REASON", "ACCESS", "UPDATED"], rows)}\n${vms.length} VMs.\n`);
  return 0;
}

async function emulator(args: readonly string[]): Promise<number> {
  const { values } = parse(args, { port: { type: "string" } });
  if (values.help) return help();
  const port = values.port === undefined ? 8443 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, got "${values.port}".`);
  const { runEmulatorMain } = await import("../local/emulator/main.js");
  await runEmulatorMain({ port });
  return await new Promise<number>(() => {});
}

function help(): number {
  process.stdout.write(USAGE);
  return 0;
}

function brief(r: PassResult) {
  return { vmId: r.vmId, state: r.state, reason: r.reason, message: r.message, actions: r.plan.map(describeAction), armRequests: r.armRequests };
}

function shortId(vmId: string): string {
  const p = vmId.split("/");
  return `${p[4] ?? ""}/${p[8] ?? ""}`;
}

/** Recorded with every decision a CLI pass makes: who ran it, as the OS knows them. */
function cliUser(): string {
  return `cli: ${process.env["USER"] ?? process.env["USERNAME"] ?? "unknown user"}`;
}
