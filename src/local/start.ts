import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, createWriteStream } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { SETTINGS } from "../config/settings.js";
import { LOGIN_ROLES } from "../domain/roles.js";
import { tryParseVmId } from "../domain/resourceId.js";
import type { ComplianceState } from "../domain/outcome.js";
import { formatTable, progressReporter } from "../cli/table.js";
import { DEMO_PRINCIPALS, DEMO_SETTINGS, DEMO_SUBSCRIPTIONS, demoAllowedPrincipals, demoFleet, type Fleet, type FleetVm } from "./demo/fleet.js";
import { DEFAULT_TIME_SCALE, TIMED_SETTINGS, readStackState, startLocalStack, type LocalStack, type LocalTiming } from "./stack.js";
import { createFleet, waitForConvergence } from "./demo/runFleet.js";
import { demoDeviceLifecycle } from "./demo/deviceLifecycle.js";

const USAGE = `npm start [-- options]: the whole enforcer on local Azure (ARM emulator, Azurite, local Functions host).

  --report            report-only mode (default: enforce)
  --once              exit when the fleet has converged (non-zero if a VM ended in an unexpected state)
  --fleet FILE        create VMs from ARM-shaped JSON instead of the demo fleet
  --empty             no fleet: just the stack
  --json              machine-readable: first stdout line = endpoints, last line = summary
  --arm-port N        ARM emulator HTTPS port (default 8443)
  --identity-port N   managed identity endpoint port (default 8444)
  --functions-port N  local Functions host port (default 7071)
  --table-port N      Azurite tables (default 10002)     --queue-port N   Azurite queues (default 10001)
  --timeout SECONDS   how long to wait for convergence (default 180)
  --timing PROFILE    how long Azure takes: realistic (default; Azure's durations x --time-scale) or instant
  --time-scale F      realistic durations x F, a positive number (default ${DEFAULT_TIME_SCALE}); the enforcer's
                      follow-up and lease settings and the queue lease scale with it
  --state-dir DIR     keep ARM state, tables, queues and keys in DIR; a restart with the same DIR resumes
                      (the fleet is not created again)

Every app setting can be overridden by an environment variable of the same name
(see local.settings.sample.json), e.g. ACCESS_ALLOWED_PRINCIPALS=... npm start
`;

interface Args {
  report: boolean;
  once: boolean;
  json: boolean;
  empty: boolean;
  fleet?: string;
  ports: { arm: number; identity: number; functions: number; table: number; queue: number };
  /** The functions port was given on the command line (otherwise a state directory's saved one wins). */
  functionsPortGiven: boolean;
  timeoutMs: number;
  timing: LocalTiming;
  stateDir?: string;
}

class UsageError extends Error {}

function parse(argv: string[]): Args | "help" {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      report: { type: "boolean" }, once: { type: "boolean" }, json: { type: "boolean" }, empty: { type: "boolean" },
      fleet: { type: "string" }, help: { type: "boolean", short: "h" }, timeout: { type: "string" },
      "arm-port": { type: "string" }, "identity-port": { type: "string" }, "functions-port": { type: "string" },
      "table-port": { type: "string" }, "queue-port": { type: "string" },
      timing: { type: "string" }, "time-scale": { type: "string" }, "state-dir": { type: "string" },
    },
  });
  if (values.help) return "help";
  if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}".`);
  if (values.empty && values.fleet) throw new UsageError("--empty and --fleet exclude each other.");
  const port = (name: string, raw: string | undefined, fallback: number) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name} must be a port number (0-65535), got "${raw}".`);
    return n;
  };
  const timeout = values.timeout === undefined ? 180 : Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout must be a number of seconds, got "${values.timeout}".`);
  const profile = values.timing ?? "realistic";
  if (profile !== "realistic" && profile !== "instant") throw new UsageError(`--timing must be "realistic" or "instant", got "${profile}".`);
  let timeScale = DEFAULT_TIME_SCALE;
  if (values["time-scale"] !== undefined) {
    if (profile === "instant") throw new UsageError("--time-scale applies to --timing realistic only.");
    timeScale = Number(values["time-scale"]);
    if (values["time-scale"].trim() === "" || !Number.isFinite(timeScale) || timeScale <= 0) {
      throw new UsageError(`--time-scale must be a positive number (e.g. 0.1), got "${values["time-scale"]}".`);
    }
  }
  if (values["state-dir"] !== undefined && values["state-dir"].trim() === "") throw new UsageError("--state-dir needs a directory.");
  return {
    report: values.report ?? false, once: values.once ?? false, json: values.json ?? false, empty: values.empty ?? false,
    ...(values.fleet ? { fleet: values.fleet } : {}),
    ports: {
      arm: port("arm-port", values["arm-port"], 8443), identity: port("identity-port", values["identity-port"], 8444),
      functions: port("functions-port", values["functions-port"], 7071), table: port("table-port", values["table-port"], 10002),
      queue: port("queue-port", values["queue-port"], 10001),
    },
    functionsPortGiven: values["functions-port"] !== undefined,
    timeoutMs: timeout * 1000,
    timing: profile === "realistic" ? { profile, timeScale } : { profile },
    ...(values["state-dir"] !== undefined ? { stateDir: resolve(values["state-dir"]) } : {}),
  };
}

/** A fleet file: `[{id, body, simulation?, expect?}]` or `{vms: [...]}` (the emulator's seed shape). */
function loadFleetFile(path: string): Fleet {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new UsageError(`Cannot read fleet file "${path}": ${(error as Error).message}`);
  }
  const list = Array.isArray(raw) ? raw : (raw as { vms?: unknown })?.vms;
  if (!Array.isArray(list)) throw new UsageError(`Fleet file "${path}" must hold an array of VMs or {"vms": [...]}.`);
  const vms: FleetVm[] = list.map((item, i) => {
    const vm = item as Partial<FleetVm> & { id?: unknown; body?: unknown };
    if (typeof vm.id !== "string" || !tryParseVmId(vm.id)) {
      throw new UsageError(`Fleet file "${path}", entry ${i}: "id" must be a VM resource id.`);
    }
    if (!vm.body || typeof vm.body !== "object") throw new UsageError(`Fleet file "${path}", entry ${i} (${vm.id}): "body" must be an ARM VM body.`);
    return { id: vm.id, body: vm.body as Record<string, unknown>, expect: (vm.expect ?? "compliant") as ComplianceState, note: vm.note ?? "from fleet file",
      ...(vm.simulation ? { simulation: vm.simulation } : {}), ...(vm.extensions ? { extensions: vm.extensions } : {}), ...(vm.assignments ? { assignments: vm.assignments } : {}) };
  });
  const subscriptions = [...new Set(vms.map((v) => (v.id.split("/")[2] ?? "").toLowerCase()))].map((id) => ({ id, displayName: id }));
  const groups = new Map<string, { subscriptionId: string; name: string; location: string }>();
  for (const vm of vms) {
    const p = vm.id.split("/");
    groups.set(`${p[2]}/${p[4]}`.toLowerCase(), { subscriptionId: p[2] ?? "", name: p[4] ?? "", location: String(vm.body["location"] ?? "westeurope") });
  }
  // `{"vms": [...], "network": [{id, location?, properties}]}`: NICs, security groups and subnets the preflight reads.
  const network = Array.isArray(raw) ? [] : (raw as { network?: unknown }).network ?? [];
  if (!Array.isArray(network)) throw new UsageError(`Fleet file "${path}": "network" must be an array of {id, location?, properties}.`);
  return { network: network as Fleet["network"], subscriptions, resourceGroups: [...groups.values()], principals: Object.values(DEMO_PRINCIPALS), owner: DEMO_PRINCIPALS.owner, vms };
}

/** App settings: local defaults, then every setting the environment sets (as app settings override in Azure). */
function settingsFor(args: Args, fleetSubs: readonly string[]): Record<string, string> {
  const settings: Record<string, string> = {
    ...DEMO_SETTINGS,
    ENFORCER_MODE: args.report ? "report" : "enforce",
    ACCESS_ALLOWED_PRINCIPALS: demoAllowedPrincipals().join(","),
    WATCHED_SUBSCRIPTION_IDS: fleetSubs.join(","),
    // Locally the audit runs every 5 minutes so its effect can be watched.
    AUDIT_SCHEDULE: "0 */5 * * * *",
    // The Entra device's life: joins confirmed, a deleted VM's device reported (never deleted here).
    DEVICE_CONFIRMATION: "true",
    DEVICE_CLEANUP: "report",
    DEVICE_JOIN_WAIT_MS: "30000",
  };
  // The timed settings come from the stack (scaled by --time-scale) unless the environment sets them.
  for (const name of [...SETTINGS.map((spec) => spec.name), ...Object.keys(TIMED_SETTINGS)]) {
    const value = process.env[name];
    if (value !== undefined && value !== "") settings[name] = value;
  }
  if (args.report) settings["ENFORCER_MODE"] = "report";
  return settings;
}

/** A state directory remembers the fleet it created (DIR/fleet.json), so a restart resumes instead of creating it again. */
interface SavedFleet {
  readonly status: "creating" | "created";
  /** Read from a --fleet file (only missing or failed records count as unexpected) rather than the demo. */
  readonly fromFile: boolean;
  readonly fleet: Fleet;
}

function readSavedFleet(stateDir: string): SavedFleet | undefined {
  const file = join(stateDir, "fleet.json");
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as SavedFleet;
}

function saveFleet(stateDir: string, saved: SavedFleet): void {
  const file = join(stateDir, "fleet.json");
  writeFileSync(`${file}~`, JSON.stringify(saved));
  renameSync(`${file}~`, file);
}

function principalName(id: string): string {
  return Object.values(DEMO_PRINCIPALS).find((p) => p.id === id.toLowerCase())?.displayName.split(" (")[0] ?? id.slice(0, 8);
}

async function main(argv: string[]): Promise<number> {
  let args: Args | "help";
  try {
    args = parse(argv);
  } catch (error) {
    process.stderr.write(`npm start: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const out = (line: string) => (args as Args).json ? process.stderr.write(`${line}\n`) : process.stdout.write(`${line}\n`);
  let saved: SavedFleet | undefined;
  let fleet: Fleet;
  try {
    saved = args.stateDir ? readSavedFleet(args.stateDir) : undefined;
    fleet = saved?.fleet ?? (args.fleet ? loadFleetFile(args.fleet) : { ...demoFleet(new Date()), ...(args.empty ? { vms: [] } : {}) });
  } catch (error) {
    process.stderr.write(`npm start: ${(error as Error).message}\n${error instanceof UsageError ? USAGE : ""}`);
    return error instanceof UsageError ? 2 : 1;
  }
  const fromFile = saved ? saved.fromFile : Boolean(args.fleet);
  if (saved && (args.fleet || args.empty)) out(`${args.stateDir} already holds a fleet of ${saved.fleet.vms.length} VMs: resuming it (${args.fleet ? "--fleet" : "--empty"} is ignored).`);
  const subscriptions = fleet.subscriptions.map((s) => s.id);
  const localDir = resolve(".local");
  mkdirSync(localDir, { recursive: true });
  const functionsLog = createWriteStream(resolve(localDir, "functions.log"), { flags: "w" });

  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      // A state directory keeps its functions port (its Event Grid subscription points there) unless one is given.
      ports: args.stateDir && !args.functionsPortGiven ? { ...args.ports, functions: readStackState(args.stateDir)?.functionsPort ?? args.ports.functions } : args.ports,
      subscriptions: subscriptions.length > 0 ? subscriptions : DEMO_SUBSCRIPTIONS.map((s) => s.id),
      settings: settingsFor(args, subscriptions),
      throttle: { scale: 1 },
      lroDelayMs: 100,
      timing: args.timing,
      ...(args.stateDir ? { stateDir: args.stateDir } : {}),
      log: (line) => functionsLog.write(`${line}\n`),
    });
  } catch (error) {
    process.stderr.write(`npm start: ${(error as Error).message}\n`);
    return 1;
  }
  // A resumed emulator knows its principals already (adding one again would restart its directory replication).
  for (const p of fleet.principals) if (!stack.emulator.state.principal(p.id)) stack.emulator.addPrincipal({ id: p.id, type: p.type, displayName: p.displayName });
  const settingsFile = resolve(localDir, "local.settings.json");
  writeFileSync(settingsFile, `${JSON.stringify({ IsEncrypted: false, Values: stack.settings }, null, 2)}\n`);
  const host = stack.host!;
  const endpoints = {
    arm: stack.emulator.armUrl, caFile: stack.emulator.caFile, admin: stack.emulator.adminUrl, functions: host.url,
    subscriptions: stack.settings["WATCHED_SUBSCRIPTION_IDS"]?.split(",") ?? [], functionKey: host.functionKey, settingsFile,
    mode: stack.settings["ENFORCER_MODE"], timing: args.timing, stateDir: stack.stateDir ?? null,
    dashboard: `${host.url}/api/dashboard?code=${encodeURIComponent(host.functionKey)}`,
  };
  if (args.json) process.stdout.write(`${JSON.stringify(endpoints)}\n`);
  else {
    out(`aadlogin-enforcer local stack (${endpoints.mode} mode)`);
    out(`  ARM emulator     ${endpoints.arm}   (CA: ${endpoints.caFile})`);
    out(`  emulator admin   ${endpoints.admin}`);
    out(`  Functions host   ${endpoints.functions}   (function key: ${endpoints.functionKey})`);
    out(`  Azurite          ${stack.azurite.tableUrl} (tables), ${stack.azurite.queueUrl} (queues)`);
    out(`  dashboard        ${endpoints.dashboard}   (open it now: it follows the fleet as it converges)`);
    out(`  timing           ${args.timing.profile === "realistic" ? `realistic, Azure's durations x ${args.timing.timeScale}` : "instant"}`);
    if (stack.stateDir) out(`  state            ${stack.stateDir}${stack.resumed ? " (resumed)" : ""}`);
  }

  const shutdown = async () => {
    await stack.close();
    functionsLog.end();
  };
  let summary: Record<string, unknown> = { vms: 0, counts: {}, unexpected: [] };
  let unexpected: { id: string; expected: string; actual: string }[] = [];
  if (fleet.vms.length > 0) {
    const started = Date.now();
    if (saved?.status === "created") {
      out(`Resuming: the ${fleet.vms.length} VMs of ${args.stateDir} exist already; waiting for them to converge…`);
    } else {
      out(saved
        ? `Resuming: the last run stopped while creating the fleet; creating its ${fleet.vms.length} VMs again (ARM PUTs are idempotent)…`
        : `Creating ${fleet.vms.length} VMs in ${subscriptions.length} subscription(s) as ${fleet.owner.displayName}; Event Grid events drive the enforcer…`);
      if (args.stateDir) saveFleet(args.stateDir, { status: "creating", fromFile, fleet });
      try {
        await createFleet(stack, fleet, out, { resume: saved !== undefined });
      } catch (error) {
        process.stderr.write(`npm start: creating the fleet failed: ${(error as Error).message}\n`);
        await shutdown();
        return 1;
      }
      if (args.stateDir) saveFleet(args.stateDir, { status: "created", fromFile, fleet });
    }
    const progress = progressReporter(process.stderr, "converging");
    const { records, converged } = await waitForConvergence(stack, fleet, args.timeoutMs, progress.update);
    progress.end();
    const counts: Record<string, number> = {};
    for (const r of records.values()) counts[r.state] = (counts[r.state] ?? 0) + 1;
    unexpected = fleet.vms
      .filter((v) => !fromFile || v.expect)
      .map((v) => ({ id: v.id, expected: args.report && ["remediated", "failed"].includes(v.expect) ? "would-remediate" : v.expect, actual: records.get(v.id.toLowerCase())?.state ?? "(no record)" }))
      .filter((u) => (fromFile ? u.actual === "(no record)" || u.actual === "failed" && u.expected !== "failed" : u.expected !== u.actual));
    // A VM the enforcer remediated is recorded compliant when a later pass (an Event Grid redelivery,
    // a second request queued behind the lease, or a resumed run) found nothing left to do: its log
    // still shows the enforcer's writes, and that is what "remediated" expects.
    const remediatedEarlier = await Promise.all(
      unexpected.map(async (u) => u.expected === "remediated" && u.actual === "compliant" &&
        (saved !== undefined || (await stack.services.store.listLog(u.id, 200)).some((e) => e.kind === "action" && /^(started|created|updated|deleted)/.test(e.result ?? "")))),
    );
    unexpected = unexpected.filter((_, i) => !remediatedEarlier[i]);
    const rows = fleet.vms.map((v) => {
      const r = records.get(v.id.toLowerCase());
      const access = (r?.access ?? []).map((a) => `${a.role === LOGIN_ROLES.admin.key ? "admin" : "user"}:${principalName(a.principalId)}`).join(" ");
      const mark = unexpected.some((u) => u.id === v.id) ? "  ✗" : "";
      return [`${v.id.split("/")[4]}/${v.id.split("/").pop()}`, `${r?.state ?? "(none)"}${mark}`, r?.reason ?? "", access, r?.diagnosis ? `${r.diagnosis.code}` : (r?.rejected.length ? `${r.rejected.length} tag entr${r.rejected.length === 1 ? "y" : "ies"} rejected` : r?.device ? `device ${r.device.status}${r.device.id ? ` ${r.device.id.slice(0, 8)}…` : ""}` : "")];
    });
    summary = {
      converged, resumed: saved?.status === "created", created: saved?.status === "created" ? 0 : fleet.vms.length, vms: fleet.vms.length, counts, unexpected, durationMs: Date.now() - started,
      armRequestsByEnforcer: stack.emulator.requests().counts.byCaller[stack.emulator.managedIdentity.principalId] ?? 0,
    };
    out("");
    out(formatTable(["VM", "STATE", "REASON", "ACCESS GRANTED", "NOTE"], rows, 48));
    out("");
    out(`${converged ? "Converged" : "NOT converged"} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ")}.`);
    out(`The enforcer made ${String(summary["armRequestsByEnforcer"])} ARM requests for ${fleet.vms.length} VMs.`);
    if (unexpected.length > 0) out(`Unexpected: ${unexpected.map((u) => `${u.id.split("/").pop()} is ${u.actual}, expected ${u.expected}`).join("; ")}`);
    if (!fromFile && !args.report && stack.settings["DEVICE_CONFIRMATION"] === "true") {
      const devices = await demoDeviceLifecycle(stack, fleet, out);
      if (devices) summary = { ...summary, device: { joined: devices.joined?.status ?? null, afterDelete: devices.afterDelete?.status ?? null, ...(devices.failed ? { failed: devices.failed } : {}) } };
    }
  }
  out("");
  out("Where to look next:");
  out(`  dashboard        ${endpoints.dashboard}`);
  out(`  compliance API   curl '${host.url}/api/compliance?code=${host.functionKey}'   (&state=failed, &vmId=<id>, &top=N&continuationToken=…)`);
  out(`  one VM, explained  npx aadlogin-enforcer explain <vmId> --settings ${settingsFile}`);
  out(`  table            npx aadlogin-enforcer status --settings ${settingsFile}`);
  out(`  ARM calls        curl -s --cacert ${stack.emulator.caFile} ${stack.emulator.adminUrl}/requests   (per operation and caller)`);
  out(`  function log     ${resolve(localDir, "functions.log")}`);
  if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`);

  if (args.once) {
    await shutdown();
    return unexpected.length > 0 || summary["converged"] === false ? 1 : 0;
  }
  out("Serving until Ctrl-C (the drift audit runs on AUDIT_SCHEDULE).");
  await new Promise<void>((resolveStop) => {
    process.once("SIGINT", resolveStop);
    process.once("SIGTERM", resolveStop);
  });
  out("Stopping…");
  await shutdown();
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
