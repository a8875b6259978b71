import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import type { EnforcerConfig } from "../config/policy.js";
import type { SettingsSource } from "../config/settings.js";
import { AzureArm } from "../azure/azureArm.js";
import { GraphDirectory } from "../azure/graphDirectory.js";
import { createEnforcerStore, type EnforcerStore } from "../store/tableStore.js";
import { createReconcileQueue, type ReconcileQueue } from "../store/reconcileQueue.js";
import type { ArmPort } from "../orchestrator/ports.js";
import type { ReconcileDeps } from "../orchestrator/reconcile.js";
import { loadAppSettings } from "./settings.js";

/** Everything a trigger (or the CLI) needs, built from app settings: the composition root. */
export interface Services extends ReconcileDeps {
  readonly arm: ArmPort;
  readonly store: EnforcerStore;
  readonly queue: ReconcileQueue;
  readonly config: EnforcerConfig;
}

export interface CreateServicesOptions {
  /** Create the tables and the queue when missing (default true). Read-only tools pass false. */
  readonly ensure?: boolean;
}

export async function createServices(source: SettingsSource = process.env, given?: TokenCredential, options: CreateServicesOptions = {}): Promise<Services> {
  // One credential (one token cache, one identity-endpoint round trip per audience) for ARM and storage.
  const credential = given ?? new DefaultAzureCredential();
  const settings = loadAppSettings(source, credential);
  // Once per process (services() builds this once): the enforcer fails closed on scope.
  if (settings.config.watchedSubscriptions.length === 0) console.warn(NO_WATCHED_SUBSCRIPTIONS);
  const arm = new AzureArm(settings.arm);
  // Graph only when a device feature is on: a deploy without Graph permissions never calls it.
  const devices = settings.config.devices;
  const directory = devices && (devices.confirmation || devices.cleanup !== "off") ? new GraphDirectory(settings.graph) : undefined;
  const store = createEnforcerStore(settings.store);
  const queue = createReconcileQueue(settings.queue);
  if (options.ensure !== false) await Promise.all([store.ensureTables(), queue.ensure()]);
  return { config: settings.config, arm, store, queue, ...(directory ? { directory } : {}), clock: () => new Date() };
}

/** The startup message of an app (or CLI) with nothing to watch. */
export const NO_WATCHED_SUBSCRIPTIONS =
  "WATCHED_SUBSCRIPTION_IDS is empty: the enforcer refuses every VM (events, queue messages, reconcileNow and the CLI alike) until it lists the subscriptions to watch.";

let shared: Promise<Services> | undefined;

/** The process-wide services for the Functions triggers; a failed start is retried on the next call. */
export function services(): Promise<Services> {
  shared ??= createServices().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}
