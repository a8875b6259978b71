/**
 * Benchmark sizes and knobs: flags win over environment variables, which win over the defaults.
 *
 *   npm run bench -- --quick                      small sizes (about a minute)
 *   npm run bench -- --burst 1000                 the full burst (about 5 minutes on its own)
 *   npm run bench -- --only new-vm,recheck        a subset (recheck and events create the new-vm fleet first)
 *
 * Flag               Env                      Default  Meaning
 * --new-vms N        BENCH_NEW_VMS            50       VMs a user creates for scenario new-vm (then rechecked, then tagged)
 * --audit-vms N      BENCH_AUDIT_VMS          1000     VMs seeded for the drift audit
 * --events N         BENCH_EVENTS             500      tag writes (events) on converged VMs
 * --burst N          BENCH_BURST_VMS          300      VM creations under real throttling limits
 * --concurrency N    BENCH_CONCURRENCY        8        requests the user (and the recheck caller) keep in flight
 * --burst-concurrency N BENCH_BURST_CONCURRENCY 16    creations in flight during the burst
 * --lro-delay-ms N   BENCH_LRO_DELAY_MS       0        how long the emulator keeps an LRO InProgress
 * --realistic-vms N  BENCH_REALISTIC_VMS      20       VMs a user creates under the emulator's realistic timing (scenario realistic)
 * --time-scale-pct N BENCH_TIME_SCALE_PCT     5        realistic durations × N/100 (5: an extension install of 90–180 s takes 4.5–9 s)
 * --only a,b         BENCH_ONLY               all      scenarios: new-vm, recheck, audit, dashboard, events, burst, realistic;
 *                                                     audit-scale only when named (10,000 VMs in 20 subscriptions, minutes)
 * --audit-scale-vms N, --audit-scale-subscriptions N  (BENCH_AUDIT_SCALE_VMS, _SUBSCRIPTIONS)  10000, 20
 * --verbose          BENCH_VERBOSE=1                   per-operation breakdowns on stderr
 */
export const SCENARIOS = ["new-vm", "recheck", "audit", "dashboard", "events", "burst", "realistic", "audit-scale"] as const;
/** Run only when named in --only: minutes long, with a stack of their own. */
const ON_REQUEST: readonly string[] = ["audit-scale"];
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  readonly newVms: number;
  readonly auditVms: number;
  readonly events: number;
  readonly burstVms: number;
  readonly concurrency: number;
  readonly burstConcurrency: number;
  readonly lroDelayMs: number;
  readonly realisticVms: number;
  readonly timeScalePct: number;
  readonly auditScaleVms: number;
  readonly auditScaleSubscriptions: number;
  readonly only: ReadonlySet<ScenarioName>;
  readonly verbose: boolean;
  readonly quick: boolean;
}

const DEFAULTS = { newVms: 50, auditVms: 1000, events: 500, burstVms: 300, concurrency: 8, burstConcurrency: 16, lroDelayMs: 0, realisticVms: 20, timeScalePct: 5, auditScaleVms: 10_000, auditScaleSubscriptions: 20 };
const QUICK = { newVms: 10, auditVms: 200, events: 100, burstVms: 60, realisticVms: 8, auditScaleVms: 1000, auditScaleSubscriptions: 5 };

const NUMERIC: Record<string, { key: keyof typeof DEFAULTS; env: string }> = {
  "--new-vms": { key: "newVms", env: "BENCH_NEW_VMS" },
  "--audit-vms": { key: "auditVms", env: "BENCH_AUDIT_VMS" },
  "--events": { key: "events", env: "BENCH_EVENTS" },
  "--burst": { key: "burstVms", env: "BENCH_BURST_VMS" },
  "--concurrency": { key: "concurrency", env: "BENCH_CONCURRENCY" },
  "--burst-concurrency": { key: "burstConcurrency", env: "BENCH_BURST_CONCURRENCY" },
  "--lro-delay-ms": { key: "lroDelayMs", env: "BENCH_LRO_DELAY_MS" },
  "--realistic-vms": { key: "realisticVms", env: "BENCH_REALISTIC_VMS" },
  "--audit-scale-vms": { key: "auditScaleVms", env: "BENCH_AUDIT_SCALE_VMS" },
  "--audit-scale-subscriptions": { key: "auditScaleSubscriptions", env: "BENCH_AUDIT_SCALE_SUBSCRIPTIONS" },
  "--time-scale-pct": { key: "timeScalePct", env: "BENCH_TIME_SCALE_PCT" },
};

export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const flags = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--help" || arg === "-h") {
      throw new UsageError("");
    }
    const [name, inline] = arg.split("=", 2) as [string, string | undefined];
    if (name === "--quick" || name === "--verbose") {
      switches.add(name);
      continue;
    }
    if (!(name in NUMERIC) && name !== "--only") throw new UsageError(`Unknown option ${name}.`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${name} needs a value.`);
    flags.set(name, value);
  }
  const quick = switches.has("--quick") || env["BENCH_QUICK"] === "1";
  const values: Record<keyof typeof DEFAULTS, number> = { ...DEFAULTS, ...(quick ? QUICK : {}) };
  for (const [flag, { key, env: envName }] of Object.entries(NUMERIC)) {
    const raw = flags.get(flag) ?? env[envName];
    if (raw === undefined || raw === "") continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} (${envName}) must be a whole number ≥ 0, got "${raw}".`);
    values[key] = n;
  }
  const onlyRaw = flags.get("--only") ?? env["BENCH_ONLY"];
  const only = new Set<ScenarioName>();
  for (const name of (onlyRaw ?? SCENARIOS.filter((x) => !ON_REQUEST.includes(x)).join(",")).split(",").map((s) => s.trim()).filter(Boolean)) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new UsageError(`Unknown scenario "${name}"; choose from ${SCENARIOS.join(", ")}.`);
    only.add(name as ScenarioName);
  }  if (only.has("audit-scale") && only.size > 1) throw new UsageError("audit-scale runs alone (a stack of its own): --only audit-scale.");

  if (values.concurrency < 1 || values.burstConcurrency < 1) throw new UsageError("Concurrency must be at least 1.");
  if (values.timeScalePct < 1) throw new UsageError("--time-scale-pct must be at least 1.");
  return { ...values, only, verbose: switches.has("--verbose") || env["BENCH_VERBOSE"] === "1", quick };
}

export class UsageError extends Error {}

export const USAGE = `Usage: npm run bench -- [--quick] [--only ${SCENARIOS.join(",")}] [--new-vms N] [--audit-vms N] [--events N] [--burst N]
       [--concurrency N] [--burst-concurrency N] [--lro-delay-ms N] [--realistic-vms N] [--time-scale-pct N] [--verbose]
Each flag also reads an environment variable (see bench/options.ts).`;
