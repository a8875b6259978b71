import { randomUUID } from "node:crypto";
import type { LocalHost } from "../../src/local/host/index.js";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../../src/local/stack.js";
import { ALICE, BOB, MALLORY, OPS_GROUP, OWNER, OWNER_ROLE, SUB_A, SUB_B } from "./enforcerStack.js";
import type { ArmUser } from "../../src/local/armUser.js";

/**
 * The enforcer running in the local Functions host (startLocalStack with the host): user ARM writes
 * raise events that the emulator delivers to the host's Event Grid webhook, the timer and queue
 * triggers run for real on Azurite. Timers only fire when a test asks (`host.fireTimer`).
 */
export interface HostedStack extends LocalStack {
  readonly host: LocalHost;
  readonly owner: ArmUser;
  /** Waits until every event is delivered and handled and every queue is drained. */
  settle(): Promise<void>;
  requestSeq(): number;
  /** Requests (reads included) the enforcer's identity sent since `since`. */
  enforcerRequests(since?: number): { method: string; path: string; status: number }[];
  /** Write requests (PUT/PATCH/DELETE/POST) the enforcer's identity sent since `since`. */
  enforcerWrites(since?: number): { method: string; path: string; status: number }[];
}

export async function startHostedStack(options: Partial<Pick<LocalStackOptions, "hostJson" | "settings" | "timing">> = {}): Promise<HostedStack> {
  const stack = await startLocalStack({
    subscriptions: [SUB_A, SUB_B],
    host: true,
    timers: false,
    throttle: false,
    ...(options.hostJson ? { hostJson: options.hostJson } : {}),
    ...(options.timing ? { timing: options.timing } : {}),
    settings: {
      ENFORCER_MODE: "enforce",
      ACCESS_ALLOWED_PRINCIPALS: [ALICE, BOB, OPS_GROUP].join(","),
      AUDIT_SCHEDULE: "0 0 */6 * * *",
      // The emulator's operations end at once unless a timing says otherwise: then look again at once.
      ...(options.timing ? {} : { FOLLOW_UP_DELAY_MS: "0", FOLLOW_UP_MAX_DELAY_MS: "0", LEASE_DURATION_MS: "10000", LEASE_RETRY_DELAY_MS: "1000" }),
      ARM_MAX_RETRIES: "2",
      ARM_RETRY_DELAY_MS: "10",
      RECONCILE_QUEUE_NAME: `reconcile-${randomUUID().slice(0, 8)}`,
      ...options.settings,
    },
  });
  const { emulator, host } = stack;
  if (!host) throw new Error("startLocalStack did not start the Functions host");
  for (const [id, type, displayName] of [
    [ALICE, "User", "Alice"], [BOB, "User", "Bob"], [OPS_GROUP, "Group", "VM operators"], [MALLORY, "User", "Mallory"], [OWNER, "User", "Olga"],
  ] as const) {
    emulator.addPrincipal({ id, type, displayName });
  }
  // The VM owner creates and tags VMs: Owner on both subscriptions, granted by the tenant admin.
  for (const sub of [SUB_A, SUB_B]) await stack.grant(OWNER, OWNER_ROLE, `/subscriptions/${sub}`);
  const mi = emulator.managedIdentity.principalId;
  const enforcerRequests = (since = 0) =>
    emulator.requests(since).requests.filter((r) => r.caller === mi).map((r) => ({ method: r.method, path: r.path, status: r.status }));
  return {
    ...stack,
    host,
    owner: stack.userFor(OWNER),
    async settle() {
      // A queued pass's writes raise events, and an event's pass may be slow: repeat until no new event was raised.
      for (let round = 0; round < 5; round++) {
        const raised = emulator.events().length;
        await emulator.deliveriesIdle();
        await host.drainQueues({ timeoutInMs: 20_000 });
        if (emulator.events().length === raised) return;
      }
      throw new Error("The stack did not settle: events kept coming after 5 rounds.");
    },
    requestSeq: () => emulator.requests().lastSeq,
    enforcerRequests,
    // Resource Graph queries are POSTs that only read.
    enforcerWrites: (since) => enforcerRequests(since).filter((r) => r.method !== "GET" && !/^\/providers\/Microsoft\.ResourceGraph\//i.test(r.path)),
  };
}
