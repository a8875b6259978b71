import { randomUUID } from "node:crypto";
import type { ArmEmulator, EventGridEvent } from "../../src/local/emulator/index.js";
import type { AzuriteInstance } from "../../src/local/azurite.js";
import type { ArmUser } from "../../src/local/armUser.js";
import type { Services } from "../../src/app/services.js";
import { startLocalStack } from "../../src/local/stack.js";
import { QueueClient } from "@azure/storage-queue";
import { loadFunctionApp, type FunctionAppRegistry } from "../../src/local/host/index.js";

/**
 * The enforcer wired to real local Azure: the ARM emulator over HTTPS (real SDK clients,
 * DefaultAzureCredential through the App Service identity endpoint) and Azurite in-process.
 * Settings go into process.env, as app settings do in Azure, so the registered Functions
 * (which build their services from the environment) see the same stack.
 */
export const SUB_A = "6f1c2a9e-4b7d-4c1a-9e0f-1a2b3c4d5e01";
export const SUB_B = "0b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c02";
export const ALICE = "a11ce000-0000-4000-8000-000000000001";
export const BOB = "b0b00000-0000-4000-8000-000000000002";
export const OPS_GROUP = "0b5e0000-0000-4000-8000-000000000003";
export const MALLORY = "ba4d0000-0000-4000-8000-000000000005";
export const OWNER = "0a4e0000-0000-4000-8000-000000000006";
/** On the allow-list but not in the directory (a typo, a deleted user, or replication lag). */
export const GHOST = "90570000-0000-4000-8000-000000000009";
export const ADMIN_ROLE = "1c0163c0-47e6-4577-8991-ea5c82e286e4";
export const USER_ROLE = "fb879df8-f326-4884-b1cf-06f3ad86be52";
export const OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";

export interface EnforcerStack {
  readonly emulator: ArmEmulator;
  readonly azurite: AzuriteInstance;
  readonly services: Services;
  readonly settings: Record<string, string>;
  /** The VM owner (a person): creates and tags VMs. */
  readonly owner: ArmUser;
  /** Events raised since the last `takeEvents()`. */
  takeEvents(): EventGridEvent[];
  /** Write requests (PUT/PATCH/DELETE/POST) the enforcer's identity sent since `since`. */
  enforcerWrites(since?: number): { method: string; path: string; status: number }[];
  requestSeq(): number;
  /**
   * Runs the reconcile queue's messages through the registered `reconcileVm` function, as the
   * Functions host would (failures retried, then the poison function), until the queue is empty,
   * delayed follow-ups included. Returns how many invocations ran.
   */
  drain(options?: DrainOptions): Promise<number>;
  close(): Promise<void>;
}

export interface DrainOptions {
  readonly timeoutMs?: number;
  /** Invocations at once (default 1: one after the other). */
  readonly concurrency?: number;
}

export interface StackOptions {
  readonly mode?: "enforce" | "report";
  readonly settings?: Record<string, string>;
  readonly throttle?: { scale?: number } | false;
  readonly pageSize?: number;
}

export async function startEnforcerStack(options: StackOptions = {}): Promise<EnforcerStack> {
  const stack = await startLocalStack({
    subscriptions: [SUB_A, SUB_B],
    host: false,
    throttle: options.throttle ?? false,
    pageSize: options.pageSize ?? 50,
    settings: {
      ENFORCER_MODE: options.mode ?? "enforce",
      ACCESS_ALLOWED_PRINCIPALS: [ALICE, BOB, OPS_GROUP, GHOST].join(","),
      // The emulator's operations end at once here: look again at once (whole seconds otherwise).
      FOLLOW_UP_DELAY_MS: "0",
      FOLLOW_UP_MAX_DELAY_MS: "0",
      LEASE_DURATION_MS: "10000",
      LEASE_RETRY_DELAY_MS: "1000",
      ARM_MAX_RETRIES: "4",
      ARM_RETRY_DELAY_MS: "10",
      RECONCILE_QUEUE_NAME: `reconcile-${randomUUID().slice(0, 8)}`,
      ...options.settings,
    },
  });
  const { emulator } = stack;
  for (const [id, type, displayName] of [
    [ALICE, "User", "Alice"], [BOB, "User", "Bob"], [OPS_GROUP, "Group", "VM operators"], [MALLORY, "User", "Mallory"], [OWNER, "User", "Olga"],
  ] as const) {
    emulator.addPrincipal({ id, type, displayName, ...(type === "User" ? { upn: `${displayName.toLowerCase()}@contoso.example` } : {}) });
  }
  // The VM owner creates and tags VMs: Owner on both subscriptions, granted by the tenant admin.
  for (const sub of [SUB_A, SUB_B]) await stack.grant(OWNER, OWNER_ROLE, `/subscriptions/${sub}`);
  let pending: EventGridEvent[] = [];
  const stop = emulator.onEvent((event) => pending.push(event));
  const mi = emulator.managedIdentity.principalId;
  return {
    emulator,
    azurite: stack.azurite,
    services: stack.services,
    settings: stack.settings,
    owner: stack.userFor(OWNER),
    takeEvents() {
      const taken = pending;
      pending = [];
      return taken;
    },
    enforcerWrites(since = 0) {
      return emulator
        .requests(since)
        // Resource Graph queries are POSTs that only read.
        .requests.filter((r) => r.caller === mi && r.method !== "GET" && r.operation !== "Microsoft.ResourceGraph/resources/read")
        .map((r) => ({ method: r.method, path: r.path, status: r.status }));
    },
    requestSeq: () => emulator.requests().lastSeq,
    drain: (drainOptions) => drainQueue(stack.settings, drainOptions),
    async close() {
      stop();
      await stack.close();
    },
  };
}

/** An ARM-shaped VM body like the official examples. */
export function vmBody(options: {
  location?: string;
  sku?: string;
  publisher?: string;
  offer?: string;
  imageId?: string;
  osType?: "Windows" | "Linux";
  tags?: Record<string, string>;
  identity?: unknown;
  vmSize?: string;
}): Record<string, unknown> {
  return {
    location: options.location ?? "westeurope",
    ...(options.tags ? { tags: options.tags } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
    properties: {
      hardwareProfile: { vmSize: options.vmSize ?? "Standard_D2s_v5" },
      storageProfile: {
        imageReference: options.imageId
          ? { id: options.imageId }
          : { publisher: options.publisher ?? "MicrosoftWindowsServer", offer: options.offer ?? "WindowsServer", sku: options.sku ?? "2019-Datacenter", version: "latest" },
        osDisk: { osType: options.osType ?? "Windows", createOption: "FromImage", managedDisk: { storageAccountType: "Premium_LRS" } },
      },
      osProfile: { computerName: "vm", adminUsername: "azureuser", adminPassword: "Test-Only-Passw0rd!" },
      networkProfile: { networkInterfaces: [{ id: "/subscriptions/x/resourceGroups/x/providers/Microsoft.Network/networkInterfaces/nic", properties: { primary: true } }] },
    },
  };
}

export function vmId(sub: string, rg: string, name: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;
}

let registry: Promise<FunctionAppRegistry> | undefined;

/** The app's registered functions (loaded once per test file). */
export function functionApp(): Promise<FunctionAppRegistry> {
  registry ??= loadFunctionApp("src/functions/index.ts");
  return registry;
}

/**
 * Hands Event Grid's events (by default those raised since the last take) to the registered
 * onResourceWrite, then runs what they queued, follow-ups included, through the queue function.
 */
export async function deliverEvents(stack: EnforcerStack, app: FunctionAppRegistry, events: EventGridEvent[] = stack.takeEvents(), drain: DrainOptions = {}): Promise<EventGridEvent[]> {
  const fn = app.get("onResourceWrite");
  if (!fn) throw new Error("onResourceWrite is not registered");
  for (const event of events) await fn.invoke(event);
  await stack.drain(drain);
  return events;
}

const MAX_DEQUEUE_COUNT = 5;

async function drainQueue(settings: Record<string, string>, options: DrainOptions = {}): Promise<number> {
  const queueName = settings["RECONCILE_QUEUE_NAME"] ?? "";
  const queue = new QueueClient(settings["AzureWebJobsStorage"] ?? "", queueName);
  const app = await functionApp();
  const run = app.get("reconcileVm");
  const poison = app.get("reconcileVmPoison");
  if (!run || !poison) throw new Error("reconcileVm/reconcileVmPoison are not registered");
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let invocations = 0;
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: options.concurrency ?? 1, visibilityTimeout: 60 });
    if (receivedMessageItems.length === 0) {
      const { approximateMessagesCount } = await queue.getProperties();
      if (!approximateMessagesCount) return invocations;
      if (Date.now() > deadline) throw new Error(`drain: ${approximateMessagesCount} message(s) still on ${queueName} after ${options.timeoutMs ?? 60_000} ms`);
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    await Promise.all(
      receivedMessageItems.map(async (m) => {
        const text = Buffer.from(m.messageText, "base64").toString("utf8");
        invocations += 1;
        try {
          await run.invoke(text);
          await queue.deleteMessage(m.messageId, m.popReceipt);
        } catch {
          if (m.dequeueCount >= MAX_DEQUEUE_COUNT) {
            await poison.invoke(text);
            await queue.deleteMessage(m.messageId, m.popReceipt);
          } else {
            await queue.updateMessage(m.messageId, m.popReceipt, undefined, 1);
          }
        }
      }),
    );
  }
}
