import type { LocalStack } from "../src/local/stack.js";
import type { RequestLogEntry } from "../src/local/emulator/index.js";
import type { ComplianceState } from "../src/domain/outcome.js";
import { bucketOf } from "../src/local/emulator/throttling.js";

/** Fixed identities of the benchmark's world (ids only; every figure comes from a counter or a clock). */
export const SUB_MAIN = "be0c0000-0000-4000-8000-0000000000a1";
export const SUB_AUDIT = "be0c0000-0000-4000-8000-0000000000a2";
export const SUB_BURST = "be0c0000-0000-4000-8000-0000000000a3";
export const ALICE = "a11ce000-0000-4000-8000-000000000001";
/** The VM owner: a person, so events carry a user's claims and her writes use her own bucket. */
export const OWNER = "0a4e0000-0000-4000-8000-000000000006";
/** Owner (built-in): what the bench's VM owner is granted on its subscriptions. */
export const OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

export function vmIdOf(sub: string, rg: string, name: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;
}

export type ImageKind = "ws2019" | "ws2016" | "linux";

/** An ARM PUT body like the official examples (and test/support/enforcerStack.ts `vmBody`). */
export function vmBody(options: {
  sub: string;
  rg: string;
  name: string;
  image: ImageKind;
  location?: string;
  tags?: Record<string, string>;
  /** Already converged: system-assigned identity and AADLoginForWindows installed. */
  converged?: boolean;
}): Record<string, unknown> {
  const location = options.location ?? "westeurope";
  const image =
    options.image === "linux"
      ? { publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", version: "latest" }
      : { publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: options.image === "ws2019" ? "2019-Datacenter" : "2016-Datacenter", version: "latest" };
  return {
    location,
    ...(options.tags ? { tags: options.tags } : {}),
    ...(options.converged ? { identity: { type: "SystemAssigned" } } : {}),
    properties: {
      hardwareProfile: { vmSize: "Standard_D2s_v5" },
      storageProfile: {
        imageReference: image,
        osDisk: { osType: options.image === "linux" ? "Linux" : "Windows", name: `${options.name}-osdisk`, createOption: "FromImage", managedDisk: { storageAccountType: "Premium_LRS" } },
      },
      osProfile: { computerName: options.name.slice(0, 15), adminUsername: "azureuser", adminPassword: "Bench-Only-Passw0rd!" },
      networkProfile: {
        networkInterfaces: [{ id: `/subscriptions/${options.sub}/resourceGroups/${options.rg}/providers/Microsoft.Network/networkInterfaces/${options.name}-nic`, properties: { primary: true } }],
      },
    },
    ...(options.converged
      ? {
          resources: [
            {
              name: "AADLoginForWindows",
              location,
              properties: { publisher: "Microsoft.Azure.ActiveDirectory", type: "AADLoginForWindows", typeHandlerVersion: "1.0", autoUpgradeMinorVersion: true },
            },
          ],
        }
      : {}),
  };
}

/** What one caller sent, split the way the benchmark reports it. */
export interface RequestBreakdown {
  total: number;
  /** Reads other than LRO polls (VM GETs, assignment lists, final GETs, VM lists). */
  get: number;
  lroPolls: number;
  put: number;
  patch: number;
  post: number;
  delete: number;
  /** Resource Graph queries (POSTs that only read; not in `post`). */
  graphQueries: number;
  /** Requests ARM answered with 429 (they are in the counts above too). */
  throttled: number;
  /** 429s on reads (GET/HEAD), writes (PUT/PATCH/POST) and deletes: the three ARM buckets. */
  throttledByBucket: { reads: number; writes: number; deletes: number };
  /** VM list pages (GET …/virtualMachines), counted apart from single-VM GETs. */
  vmListPages: number;
  /** PUT + PATCH + POST answered below 400 other than 429: tokens taken from the writes bucket. */
  writesAccepted: number;
  deletesAccepted: number;
  readsAccepted: number;
  byOperation: Record<string, number>;
}

const LRO_POLL = "Microsoft.Compute/locations/operations/read";
const VM_LIST = /\/providers\/Microsoft\.Compute\/virtualMachines\/?$/i;

const GRAPH_QUERY = "Microsoft.ResourceGraph/resources/read";

export function breakdown(entries: readonly RequestLogEntry[]): RequestBreakdown {
  const b: RequestBreakdown = {
    total: 0, get: 0, lroPolls: 0, put: 0, patch: 0, post: 0, delete: 0, graphQueries: 0, throttled: 0,
    throttledByBucket: { reads: 0, writes: 0, deletes: 0 }, vmListPages: 0, writesAccepted: 0, deletesAccepted: 0, readsAccepted: 0, byOperation: {},
  };
  for (const r of entries) {
    b.total++;
    const method = r.method.toUpperCase();
    if (method === "GET" || method === "HEAD") {
      if (r.operation === LRO_POLL) b.lroPolls++;
      else b.get++;
    } else if (method === "PUT") b.put++;
    else if (method === "PATCH") b.patch++;
    else if (method === "POST" && r.operation === GRAPH_QUERY) b.graphQueries++;
    else if (method === "POST") b.post++;
    else if (method === "DELETE") b.delete++;
    const bucket = bucketOf(method);
    if (method === "GET" && VM_LIST.test(r.path)) b.vmListPages++;
    if (r.status === 429) {
      b.throttled++;
      b.throttledByBucket[bucket]++;
    } else if (bucket === "reads") b.readsAccepted++;
    else if (bucket === "deletes") b.deletesAccepted++;
    else b.writesAccepted++;
    const key = `${method} ${r.operation}`;
    b.byOperation[key] = (b.byOperation[key] ?? 0) + 1;
  }
  return b;
}

/** The emulator's request log since `since`, split into the enforcer's identity and everyone else. */
export function requestsSince(stack: LocalStack, since: number): { enforcer: RequestLogEntry[]; others: RequestLogEntry[]; lastSeq: number } {
  const log = stack.emulator.requests(since);
  const mi = stack.emulator.managedIdentity.principalId;
  return {
    enforcer: log.requests.filter((r) => r.caller === mi),
    others: log.requests.filter((r) => r.caller !== mi),
    lastSeq: log.lastSeq,
  };
}

/** Events the emulator raised since index `from` whose caller (token oid) is `principalId`. */
export function eventsBy(stack: LocalStack, from: number, principalId: string): number {
  const oid = "http://schemas.microsoft.com/identity/claims/objectidentifier";
  return stack.emulator
    .events()
    .slice(from)
    .filter((e) => String((e.data["claims"] as Record<string, unknown> | undefined)?.[oid] ?? "").toLowerCase() === principalId.toLowerCase()).length;
}

export const lastSeq = (stack: LocalStack): number => stack.emulator.requests(Number.MAX_SAFE_INTEGER).lastSeq;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Compliance states per VM as the enforcer recorded them (the store's VM table). */
export async function recordedStates(stack: LocalStack, subscriptionId: string, vmIds: readonly string[]): Promise<{ byState: Partial<Record<ComplianceState | "missing", number>>; states: Map<string, ComplianceState> }> {
  const records = await stack.services.store.listVms({ subscriptionId });
  const states = new Map(records.map((r) => [r.vmId.toLowerCase(), r.state] as const));
  const byState: Partial<Record<ComplianceState | "missing", number>> = {};
  for (const id of vmIds) {
    const state = states.get(id.toLowerCase()) ?? "missing";
    byState[state] = (byState[state] ?? 0) + 1;
  }
  return { byState, states };
}

/** Waits until every VM has a recorded state in `wanted`; returns the last histogram either way. */
export async function waitForStates(
  stack: LocalStack,
  subscriptionId: string,
  vmIds: readonly string[],
  wanted: readonly ComplianceState[],
  timeoutMs: number,
): Promise<{ done: boolean; byState: Partial<Record<ComplianceState | "missing", number>> }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { byState, states } = await recordedStates(stack, subscriptionId, vmIds);
    const done = vmIds.every((id) => wanted.includes(states.get(id.toLowerCase()) as ComplianceState));
    if (done || Date.now() > deadline) return { done, byState };
    await sleep(250);
  }
}

export const round = (n: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

export const perUnit = (count: number, units: number, digits = 2): number => (units > 0 ? round(count / units, digits) : 0);

/** `key=value` pairs in the order given, numbers as printed by JS. */
export function line(fields: Record<string, string | number | boolean>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2) : String(v)}`)
    .join(" ");
}

export class BenchFailure extends Error {}

export function check(condition: boolean, message: string): void {
  if (!condition) throw new BenchFailure(message);
}
