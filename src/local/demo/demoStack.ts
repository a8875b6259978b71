import { randomUUID } from "node:crypto";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../stack.js";
import { createFleet, waitForConvergence } from "./runFleet.js";
import { DEMO_SETTINGS, demoAllowedPrincipals, demoFleet, type Fleet } from "./fleet.js";

export interface DemoStack extends LocalStack {
  readonly fleet: Fleet;
  /** `{host}/api/dashboard?code={key}` */
  readonly dashboardUrl: string;
  readonly converged: boolean;
}

export interface DemoStackOptions {
  /** Extra VMs created with the demo's, by its owner (e.g. a test's hostile one). */
  readonly extraVms?: Fleet["vms"];
  readonly settings?: LocalStackOptions["settings"];
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

/**
 * The demo fleet of `npm start` on its own local stack (free ports, instant timing, no timers),
 * created by its owner and converged, then one drift audit: what the browser tests and `npm run
 * screenshots` look at.
 */
export async function startDemoStack(options: DemoStackOptions = {}): Promise<DemoStack> {
  const demo = demoFleet(new Date());
  const fleet: Fleet = { ...demo, vms: [...demo.vms, ...(options.extraVms ?? [])] };
  const stack = await startLocalStack({
    subscriptions: fleet.subscriptions.map((s) => s.id),
    host: true,
    timers: false,
    throttle: false,
    timing: { profile: "instant", timeScale: 1 },
    settings: {
      ...DEMO_SETTINGS,
      ENFORCER_MODE: "enforce",
      ACCESS_ALLOWED_PRINCIPALS: demoAllowedPrincipals().join(","),
      WATCHED_SUBSCRIPTION_IDS: fleet.subscriptions.map((s) => s.id).join(","),
      RECONCILE_QUEUE_NAME: `reconcile-${randomUUID().slice(0, 8)}`,
      ...options.settings,
    },
    ...(options.log ? { log: options.log } : {}),
  });
  try {
    for (const p of fleet.principals) stack.emulator.addPrincipal({ id: p.id, type: p.type, displayName: p.displayName });
    await createFleet(stack, fleet, options.log ?? (() => {}));
    const { converged } = await waitForConvergence(stack, fleet, options.timeoutMs ?? 120_000);
    const host = stack.host!;
    // One drift audit over the converged fleet, as the timer would run it, so the audits table has a row.
    await host.fireTimer("driftAudit");
    await host.drainQueues({ timeoutInMs: 30_000, includeDelayed: false });
    // And the follow-ups the audit's passes queued: the page must show what the store will still say.
    const settled = await waitForConvergence(stack, fleet, options.timeoutMs ?? 120_000);
    return { ...stack, fleet, converged: converged && settled.converged, dashboardUrl: `${host.url}/api/dashboard?code=${encodeURIComponent(host.functionKey)}` };
  } catch (error) {
    await stack.close();
    throw error;
  }
}
