import { startLocalStack } from "../src/local/stack.js";
import type { BenchOptions } from "./options.js";
import pMap from "p-map";
import { ALICE, OWNER, OWNER_ROLE, breakdown, check, lastSeq, recordedStates, requestsSince, round, vmBody, vmIdOf } from "./support.js";
import type { ScenarioResult } from "./scenarios.js";

/** Resource Graph's per-user quota (Microsoft: e.g. 15 queries per 5 s window) and page size. */
const GRAPH_QUERIES_PER_S = 15 / 5;
const GRAPH_PAGE_ROWS = 1000;
const ESTATE = { vms: 100_000, subscriptions: 200, driftShare: 0.01 };

/**
 * `--only audit-scale`: an estate of `auditScaleVms` VMs in `auditScaleSubscriptions` subscriptions
 * (its own stack: the app watches exactly those), a first audit that records every VM, then 1 %
 * drifted (the login extension removed, with no event reaching the enforcer) and a second audit: requests by kind, suspects, wall time, and whether every drifted VM was
 * fixed and nothing else written. From the measured costs, a model of 100,000 VMs in 200 subscriptions.
 */
export async function auditScaleScenario(options: BenchOptions, progress: (message: string) => void): Promise<ScenarioResult> {
  const subs = Array.from({ length: options.auditScaleSubscriptions }, (_, i) => `5ca1e000-0000-4000-8000-${String(i + 1).padStart(12, "0")}`);
  const stack = await startLocalStack({
    subscriptions: subs,
    timers: false,
    throttle: false,
    settings: {
      ENFORCER_MODE: "enforce",
      ACCESS_ALLOWED_PRINCIPALS: ALICE,
      RECONCILE_QUEUE_NAME: `bench-scale-${process.pid}`,
      FOLLOW_UP_DELAY_MS: "0",
      FOLLOW_UP_MAX_DELAY_MS: "0",
      LEASE_DURATION_MS: "30000",
      LEASE_RETRY_DELAY_MS: "1000",
    },
  });
  try {
    const host = stack.host;
    if (!host) throw new Error("audit-scale needs the Functions host.");
    const n = options.auditScaleVms;
    const vms = Array.from({ length: n }, (_, i) => {
      const sub = subs[i % subs.length] as string;
      const rg = `rg-scale-${String(Math.floor(i / subs.length / 200)).padStart(2, "0")}`;
      const name = `scale-${String(i).padStart(6, "0")}`;
      return { id: vmIdOf(sub, rg, name), sub, rg, name };
    });
    stack.emulator.seed({ vms: vms.map((v) => ({ id: v.id, body: vmBody({ sub: v.sub, rg: v.rg, name: v.name, image: "ws2019", converged: true }) })) as never });

    progress(`bench: audit-scale: first audit of ${n} VMs in ${subs.length} subscriptions (every VM new to the table) …`);
    const firstStarted = performance.now();
    await host.fireTimer("driftAudit");
    await host.drainQueues({ timeoutInMs: 1_800_000 });
    const firstMs = performance.now() - firstStarted;

    // 1 % drift that no event reported: the owner removed the login extension while Event Grid was
    // held back (its events reach the enforcer only after the measurement).
    const drifted = vms.filter((_, i) => i % Math.round(1 / ESTATE.driftShare) === 7);
    stack.emulator.addPrincipal({ id: OWNER, type: "User", displayName: "Olga (VM owner)" });
    for (const sub of subs) await stack.grant(OWNER, OWNER_ROLE, `/subscriptions/${sub}`);
    const owner = stack.userFor(OWNER);
    stack.emulator.setEventDelivery({ paused: true });
    await pMap(drifted, (v) => owner.deleteExtension(v.id, "AADLoginForWindows"), { concurrency: 16 });

    progress(`bench: audit-scale: second audit (${drifted.length} drifted) …`);
    const since = lastSeq(stack);
    const started = performance.now();
    await host.fireTimer("driftAudit");
    const selectedAt = performance.now();
    await host.drainQueues({ timeoutInMs: 1_800_000 });
    const wallMs = performance.now() - started;
    const log = requestsSince(stack, since).enforcer;
    const b = breakdown(log);
    const [run] = await stack.services.store.listAuditRuns(1);
    stack.emulator.setEventDelivery({ paused: false });
    check(run?.selection?.source === "resource-graph", `audit-scale: the audit did not use Resource Graph: ${JSON.stringify(run?.selection)}`);

    const driftedIds = new Set(drifted.map((v) => v.id.toLowerCase()));
    const writes = log.filter((r) => r.method !== "GET" && r.operation !== "Microsoft.ResourceGraph/resources/read");
    const writtenVms = new Set(writes.map((w) => w.path.toLowerCase().match(/^(\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.compute\/virtualmachines\/[^/]+)/)?.[1] ?? w.path));
    const outside = [...writtenVms].filter((id) => !driftedIds.has(id));
    let fixed = 0;
    for (const sub of subs) {
      const ids = drifted.filter((v) => v.sub === sub).map((v) => v.id);
      const { states } = await recordedStates(stack, sub, ids);
      // Fixed: this audit's passes wrote to it (identity, extension) and it is recorded remediated.
      for (const id of ids) if (writtenVms.has(id.toLowerCase()) && states.get(id.toLowerCase()) === "remediated") fixed += 1;
    }
    check(outside.length === 0, `audit-scale: writes to VMs that had not drifted: ${outside.slice(0, 5).join(", ")}`);

    const graphPages = run?.selection?.requests.resourceGraph ?? b.graphQueries;
    const selectionMs = run?.durationMs ?? Math.round(selectedAt - started);
    const msPerPage = graphPages > 0 ? selectionMs / graphPages : 0;
    const suspects = run?.selection?.suspects ?? 0;
    const passRequests = b.total - b.graphQueries - b.vmListPages;
    const requestsPerSuspect = suspects + (run?.selection?.confirmed ?? 0) > 0 ? passRequests / (suspects + (run?.selection?.confirmed ?? 0)) : 0;

    // The model: pages of the three queries over the estate, paced by the per-user quota (or by the
    // measured time per page, if slower), then the suspects' passes, which the queue runs in parallel
    // across Functions instances; Compute's per-VM read budget (36 burst) is never near: 2 reads a VM.
    const estatePages = 2 * Math.ceil(ESTATE.vms / GRAPH_PAGE_ROWS) + Math.ceil((ESTATE.vms * 0.5) / GRAPH_PAGE_ROWS);
    const pacedS = Math.max(estatePages / GRAPH_QUERIES_PER_S, (estatePages * msPerPage) / 1000);
    const estateSuspects = Math.round(ESTATE.vms * ESTATE.driftShare + ESTATE.vms / 500);
    const armReadsPerSubscription = Math.ceil((estateSuspects * requestsPerSuspect) / ESTATE.subscriptions);
    return {
      scenario: "audit-scale",
      figures: {
        vms: n,
        subscriptions: subs.length,
        drifted: drifted.length,
        fixed,
        all_drifted_fixed: fixed === drifted.length,
        writes_outside_drifted: outside.length,
        requests: b.total,
        graph_queries: b.graphQueries,
        arm_requests: b.total - b.graphQueries,
        requests_per_1000: round((b.total * 1000) / n, 1),
        suspects,
        confirmed: run?.selection?.confirmed ?? 0,
        selection_ms: selectionMs,
        wall_ms: Math.round(wallMs),
        first_audit_wall_ms: Math.round(firstMs),
        ms_per_graph_page: round(msPerPage, 1),
        requests_per_suspect: round(requestsPerSuspect, 2),
        model_vms: ESTATE.vms,
        model_subscriptions: ESTATE.subscriptions,
        model_graph_pages: estatePages,
        model_graph_minutes: round(pacedS / 60, 2),
        model_suspects: estateSuspects,
        model_arm_reads_per_subscription: armReadsPerSubscription,
        model_requests_per_1000: round(((estatePages + estateSuspects * requestsPerSuspect) * 1000) / ESTATE.vms, 1),
        // A compliant estate: the pages and the confirm slice's passes (two reads each, nothing to fix).
        model_compliant_requests_per_1000: round(((estatePages + (ESTATE.vms / 500) * 2) * 1000) / ESTATE.vms, 1),
      },
      detail: { suspectReasons: run?.selection?.suspectReasons ?? {}, byOperation: b.byOperation, auditRun: run },
    };
  } finally {
    await stack.close();
  }
}
