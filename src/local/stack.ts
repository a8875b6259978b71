import { randomUUID } from "node:crypto";
import { startArmEmulator, type ArmEmulator, type EventGridEvent } from "./emulator/index.js";
import { startAzurite, type AzuriteInstance } from "./azurite.js";
import { startLocalHost, type LocalHost } from "./host/index.js";
import { ArmUser, staticTokenCredential } from "./armUser.js";
import { createServices, type Services } from "../app/services.js";
import { SETTINGS } from "../config/settings.js";

/**
 * The whole local Azure with the enforcer running in it: the ARM emulator (HTTPS, real SDK
 * clients, DefaultAzureCredential through the App Service identity endpoint), Azurite tables and
 * queues in memory, and the local Functions host serving the registered functions, subscribed to
 * the emulator's resource events with the same filter the infra deploys. `npm start`, the
 * end-to-end tests and the benchmark all start it through here.
 */
export interface LocalStackOptions {
  readonly ports?: { arm?: number; identity?: number; table?: number; queue?: number; functions?: number };
  readonly subscriptions: readonly string[];
  /** App settings over the local defaults (the environment is NOT read here: the caller decides). */
  readonly settings?: Readonly<Record<string, string>>;
  /** Start the Functions host (default true). Without it, tests invoke the functions themselves. */
  readonly host?: boolean;
  /** Run timer triggers on their schedules (default true). */
  readonly timers?: boolean;
  readonly throttle?: { scale?: number } | false;
  readonly pageSize?: number;
  readonly lroDelayMs?: number;
  readonly hostJson?: string;
  readonly log?: (line: string) => void;
}

export interface LocalStack {
  readonly emulator: ArmEmulator;
  readonly azurite: AzuriteInstance;
  readonly host?: LocalHost;
  readonly services: Services;
  /** The app settings the functions run with (also put into process.env, as Azure does). */
  readonly settings: Readonly<Record<string, string>>;
  /** A person acting on ARM with the emulator-issued token of `principalId`. */
  userFor(principalId: string): ArmUser;
  close(): Promise<void>;
}

/** The subject/operation filter the infra's Event Grid subscription uses (infra/app/event-subscription.bicep). */
export const ENFORCER_EVENT_FILTER = {
  eventTypes: ["Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceDeleteSuccess"],
  operationNames: ["Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachines/delete", "Microsoft.Resources/tags/write"],
};

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const ports = options.ports ?? {};
  const emulator = await startArmEmulator({
    port: ports.arm ?? 0,
    identityPort: ports.identity ?? 0,
    throttle: options.throttle ?? false,
    pageSize: options.pageSize ?? 50,
    lroDelayMs: options.lroDelayMs ?? 0,
  });
  let azurite: AzuriteInstance | undefined;
  let host: LocalHost | undefined;
  try {
    azurite = await startAzurite({ tablePort: ports.table ?? 0, queuePort: ports.queue ?? 0 });
    for (const sub of options.subscriptions) emulator.addSubscription(sub);
    const settings: Record<string, string> = {
      // Every app setting, as local.settings.json (or the infra) provides them: binding expressions
      // like %RECONCILE_QUEUE_NAME% resolve from these, never from code defaults.
      ...Object.fromEntries(SETTINGS.filter((s) => s.default !== "").map((s) => [s.name, s.default])),
      AzureWebJobsStorage: azurite.connectionString,
      FUNCTIONS_WORKER_RUNTIME: "node",
      ENFORCER_MODE: "enforce",
      WATCHED_SUBSCRIPTION_IDS: options.subscriptions.join(","),
      ENFORCER_PRINCIPAL_ID: emulator.managedIdentity.principalId,
      ENFORCER_APP_ID: emulator.managedIdentity.clientId,
      ARM_ENDPOINT: emulator.armUrl,
      ARM_CA_FILE: emulator.caFile,
      ARM_LRO_POLL_INTERVAL_MS: "20",
      ARM_EXTENSION_POLL_INTERVAL_MS: "20",
      ARM_RETRY_DELAY_MS: "200",
      TABLE_PREFIX: `aadlogin${randomUUID().replace(/-/g, "").slice(0, 8)}`,
      // The production credential path: DefaultAzureCredential → managed identity (App Service style).
      IDENTITY_ENDPOINT: emulator.identityEndpoint,
      IDENTITY_HEADER: emulator.identityHeader,
      ...options.settings,
    };
    Object.assign(process.env, settings);
    const services = await createServices(settings);
    if (options.host !== false) {
      host = await startLocalHost({
        entry: new URL("../functions/index.ts", import.meta.url),
        port: ports.functions ?? 0,
        settings,
        timers: options.timers ?? true,
        ...(options.hostJson ? { hostJson: options.hostJson } : {}),
        log: options.log ?? (() => {}),
      });
      await emulator.subscribeEvents(host.eventGridUrl("onResourceWrite"), ENFORCER_EVENT_FILTER);
    }
    const started = { emulator, azurite, host };
    return {
      ...started,
      services,
      settings,
      userFor: (principalId) =>
        new ArmUser({ armUrl: emulator.armUrl, caPem: emulator.caPem, credential: staticTokenCredential(emulator.tokenFor(principalId)), pollIntervalInMs: 10 }),
      async close() {
        await host?.close();
        await Promise.allSettled([emulator.close(), azurite?.close()]);
      },
    };
  } catch (error) {
    await host?.close();
    await Promise.allSettled([emulator.close(), azurite?.close()]);
    throw error;
  }
}

export type { EventGridEvent };
