import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join, resolve } from "node:path";
import { startArmEmulator, type ArmEmulator, type ArmEmulatorOptions, type EventGridEvent } from "./emulator/index.js";
import { startAzurite, type AzuriteInstance } from "./azurite.js";
import { startLocalHost, type LocalHost } from "./host/index.js";
import { generateKey } from "./host/functionKeys.js";
import { DEFAULT_PROCESSING_VISIBILITY_MS } from "./host/queueListener.js";
import { ArmUser, staticTokenCredential } from "./armUser.js";
import { createServices, type Services } from "../app/services.js";
import { SETTINGS } from "../config/settings.js";
import { enforcerGrants, loadEnforcerRoles } from "./enforcerRoles.js";

/** How long Azure takes, as the emulator plays it: `instant`, or `realistic` durations × `timeScale`. */
export type TimingProfile = "instant" | "realistic";

export interface LocalTiming {
  readonly profile: TimingProfile;
  /** Realistic durations × this (a positive number; default 0.1, the `npm start` demo's). Ignored by `instant`. */
  readonly timeScale?: number;
  /** Seed of the emulator's duration draws. */
  readonly seed?: number;
}

export const DEFAULT_TIME_SCALE = 0.1;
/** No scaled setting goes below this. */
export const MIN_TIMED_SETTING_MS = 50;

/**
 * The enforcer's own timing settings: their Azure default (ms; also in src/config/settings.ts),
 * which `realistic` scales by the time scale, and the small value `instant` uses.
 */
export const TIMED_SETTINGS = {
  /** First look at a long-running operation the enforcer started (doubled each time). */
  FOLLOW_UP_DELAY_MS: { azure: 15_000, instant: 50 },
  FOLLOW_UP_MAX_DELAY_MS: { azure: 120_000, instant: 500 },
  /** A per-VM lease; a crashed pass frees it after this. */
  LEASE_DURATION_MS: { azure: 660_000, instant: 10_000 },
  /** Delay of a request re-enqueued because its VM is leased. */
  LEASE_RETRY_DELAY_MS: { azure: 5_000, instant: 100 },
  /** How long a PrincipalNotFound grant is retried before it is rejected (directory replication). */
  PRINCIPAL_NOT_FOUND_WINDOW_MS: { azure: 1_800_000, instant: 5_000 },
} as const satisfies Record<string, { azure: number; instant: number }>;

/** A queue message's invisibility while its function runs: the host's 10 minutes (its function timeout), and under `instant`. */
export const QUEUE_PROCESSING_VISIBILITY = { azure: DEFAULT_PROCESSING_VISIBILITY_MS, instant: 5_000, min: 1_000 } as const;

function scaleOf(timing: LocalTiming): number {
  return timing.timeScale ?? DEFAULT_TIME_SCALE;
}

/** The timed app settings for a timing: `realistic` → round(default × scale), at least 50 ms; `instant` → small fixed values. */
export function timedSettings(timing: LocalTiming): Record<string, string> {
  return Object.fromEntries(
    Object.entries(TIMED_SETTINGS).map(([name, t]) => [
      name,
      String(timing.profile === "instant" ? t.instant : Math.max(MIN_TIMED_SETTING_MS, Math.round(t.azure * scaleOf(timing)))),
    ]),
  );
}

/** The local host's queue processing visibility for a timing: `realistic` → 600 s × scale (at least 1 s). */
export function queueProcessingVisibilityMs(timing: LocalTiming): number {
  if (timing.profile === "instant") return QUEUE_PROCESSING_VISIBILITY.instant;
  return Math.max(QUEUE_PROCESSING_VISIBILITY.min, Math.round(QUEUE_PROCESSING_VISIBILITY.azure * scaleOf(timing)));
}

/**
 * The whole local Azure with the enforcer running in it: the ARM emulator (HTTPS, real SDK
 * clients, DefaultAzureCredential through the App Service identity endpoint), Azurite tables and
 * queues (in memory, or on disk with `stateDir`), and the local Functions host serving the
 * registered functions, subscribed to the emulator's resource events with the same filter the
 * infra deploys. `npm start`, the end-to-end tests and the benchmark all start it through here.
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
  /**
   * The emulator's timing profile. With it, the enforcer's timed settings come from
   * `timedSettings(timing)` (under `settings`, which still win) and the host's queue processing
   * visibility from `queueProcessingVisibilityMs(timing)`. Without it, the emulator's default (instant).
   */
  readonly timing?: LocalTiming;
  /**
   * Persist everything in this directory: ARM state (DIR/arm), tables and queues (DIR/azurite), and
   * in DIR/stack.json the table prefix, queue name, function keys and host port, so a restart on the
   * same directory resumes where the last run stopped (the Event Grid subscription is not made twice).
   */
  readonly stateDir?: string;
  /** Overrides the host's queue processing visibility (default: from `timing`, else 600 s). */
  readonly queueProcessingVisibilityMs?: number;
}

/** What a state directory remembers between runs (DIR/stack.json). */
export interface StackState {
  readonly version: 1;
  readonly tablePrefix: string;
  readonly reconcileQueueName: string;
  readonly functionsPort: number;
  readonly functionKeys: { readonly master: string; readonly default: string; readonly eventGridExtension: string };
}

export const STACK_STATE_FILE = "stack.json";

export function readStackState(stateDir: string): StackState | undefined {
  const file = join(stateDir, STACK_STATE_FILE);
  if (!existsSync(file)) return undefined;
  let raw: Partial<StackState>;
  try {
    raw = JSON.parse(readFileSync(file, "utf8")) as Partial<StackState>;
  } catch (error) {
    throw new Error(`${file} is not readable JSON (${(error as Error).message}); remove the state directory to start afresh.`);
  }
  if (raw.version !== 1 || typeof raw.tablePrefix !== "string" || typeof raw.reconcileQueueName !== "string" || typeof raw.functionsPort !== "number" || !raw.functionKeys) {
    throw new Error(`${file} is not a state file of this version; remove the state directory to start afresh.`);
  }
  return raw as StackState;
}

function writeStackState(stateDir: string, state: StackState): void {
  const file = join(stateDir, STACK_STATE_FILE);
  writeFileSync(`${file}~`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}~`, file);
}

export interface LocalStack {
  readonly emulator: ArmEmulator;
  readonly azurite: AzuriteInstance;
  readonly host?: LocalHost;
  readonly services: Services;
  /** The app settings the functions run with (also put into process.env, as Azure does). */
  readonly settings: Readonly<Record<string, string>>;
  readonly timing?: LocalTiming;
  /** The state directory (absolute), when the stack persists. */
  readonly stateDir?: string;
  /** True when `stateDir` held a previous run's state. */
  readonly resumed: boolean;
  /** How often `userFor(...)` polls a long-running operation (10 s × the time scale under realistic timing, else 10 ms). */
  readonly userPollIntervalMs: number;
  /** A person acting on ARM with the emulator-issued token of `principalId`. */
  userFor(principalId: string): ArmUser;
  /**
   * The tenant admin grants a role (POST {admin}/roleAssignments): a principal holds none until then.
   * `roleDefinitionId` is a GUID or a full id; the same grant twice is one assignment.
   */
  grant(principalId: string, roleDefinitionId: string, scope: string): Promise<void>;
  close(): Promise<void>;
}

/** The subject/operation filter the infra's Event Grid subscription uses (infra/app/event-subscription.bicep). */
export const ENFORCER_EVENT_FILTER = {
  eventTypes: ["Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceDeleteSuccess"],
  operationNames: ["Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachines/delete", "Microsoft.Resources/tags/write"],
};

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const ports = options.ports ?? {};
  const stateDir = options.stateDir === undefined ? undefined : resolve(options.stateDir);
  if (stateDir !== undefined) mkdirSync(stateDir, { recursive: true });
  const saved = stateDir === undefined ? undefined : readStackState(stateDir);
  const timing = options.timing === undefined ? undefined : { profile: options.timing.profile, timeScale: scaleOf(options.timing), seed: options.timing.seed ?? 1 };
  const emulatorOptions: ArmEmulatorOptions = {
    port: ports.arm ?? 0,
    identityPort: ports.identity ?? 0,
    throttle: options.throttle ?? false,
    pageSize: options.pageSize ?? 50,
    lroDelayMs: options.lroDelayMs ?? 0,
    ...(timing ? { timing } : {}),
    ...(stateDir !== undefined ? { stateDir: join(stateDir, "arm"), persist: true } : {}),
  };
  const emulator = await startArmEmulator(emulatorOptions);
  // A resumed emulator takes its timing from its state file: the timing asked for now wins (the seed stays).
  if (timing && saved) emulator.setTiming({ profile: timing.profile, timeScale: timing.timeScale });
  let azurite: AzuriteInstance | undefined;
  let host: LocalHost | undefined;
  try {
    azurite = await startAzurite({ tablePort: ports.table ?? 0, queuePort: ports.queue ?? 0, ...(stateDir !== undefined ? { location: join(stateDir, "azurite") } : {}) });
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
      ARM_RETRY_DELAY_MS: "200",
      // Microsoft Graph is served by the same emulator (same port and CA; audience stays graph.microsoft.com).
      GRAPH_ENDPOINT: emulator.graphUrl,
      // In memory, a fresh prefix per stack; in a state directory, the same one on every run.
      TABLE_PREFIX: saved?.tablePrefix ?? (stateDir !== undefined ? "aadlogin" : `aadlogin${randomUUID().replace(/-/g, "").slice(0, 8)}`),
      ...(saved ? { RECONCILE_QUEUE_NAME: saved.reconcileQueueName } : {}),
      ...(timing ? timedSettings(timing) : {}),
      // The production credential path: DefaultAzureCredential → managed identity (App Service style).
      IDENTITY_ENDPOINT: emulator.identityEndpoint,
      IDENTITY_HEADER: emulator.identityHeader,
      ...options.settings,
    };
    Object.assign(process.env, settings);
    await grantEnforcerRoles(emulator, options.subscriptions, settings);
    grantGraphRoles(emulator, settings);
    const services = await createServices(settings);
    const functionKeys = saved?.functionKeys ?? { master: generateKey(), default: generateKey(), eventGridExtension: generateKey() };
    if (options.host !== false) {
      // A state directory keeps the host's port (the persisted Event Grid subscription points at it) unless another is asked for.
      const port = ports.functions !== undefined && ports.functions !== 0 ? ports.functions : (saved?.functionsPort ?? ports.functions ?? 0);
      const visibility = options.queueProcessingVisibilityMs ?? (timing ? queueProcessingVisibilityMs(timing) : undefined);
      const startHost = (onPort: number) =>
        startLocalHost({
          entry: new URL("../functions/index.ts", import.meta.url),
          port: onPort,
          settings,
          timers: options.timers ?? true,
          functionKeys,
          ...(visibility !== undefined ? { queueProcessingVisibilityMs: visibility } : {}),
          ...(options.hostJson ? { hostJson: options.hostJson } : {}),
          log: options.log ?? (() => {}),
        });
      try {
        host = await startHost(port);
      } catch (error) {
        // The saved port was only a preference ("any free port" was asked for): take another; the subscription follows.
        if (port === 0 || (ports.functions !== undefined && ports.functions !== 0)) throw error;
        host = await startHost(0);
      }
      await ensureEventSubscription(emulator, host.eventGridUrl("onResourceWrite"), stateDir !== undefined && saved !== undefined);
    }
    if (stateDir !== undefined) {
      writeStackState(stateDir, {
        version: 1,
        tablePrefix: settings["TABLE_PREFIX"] ?? "aadlogin",
        reconcileQueueName: settings["RECONCILE_QUEUE_NAME"] ?? "reconcile-requests",
        functionsPort: host ? Number(new URL(host.url).port) : (saved?.functionsPort ?? 0),
        functionKeys,
      });
    }
    // People poll a VM's creation every 10 s (scaled) under realistic timing; instantly done operations quickly.
    const userPollIntervalMs = timing?.profile === "realistic" ? Math.max(10, Math.round(10_000 * timing.timeScale)) : 10;
    const started = { emulator, azurite, host };
    return {
      ...started,
      services,
      settings,
      ...(timing ? { timing } : {}),
      ...(stateDir !== undefined ? { stateDir } : {}),
      resumed: saved !== undefined,
      userPollIntervalMs,
      grant: async (principalId, roleDefinitionId, scope) => {
        await adminRequest(emulator, "POST", "/roleAssignments", { principalId, roleDefinitionId, scope });
      },
      userFor: (principalId) =>
        new ArmUser({ armUrl: emulator.armUrl, caPem: emulator.caPem, credential: staticTokenCredential(emulator.tokenFor(principalId)), pollIntervalInMs: userPollIntervalMs }),
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

/**
 * Subscribes the host's webhook to the emulator's resource events, once: on a resumed state the
 * emulator has kept its subscriptions, so an existing one for this URL is kept, and one for the
 * same function at another address (the host moved port, or keys changed) is replaced.
 */
async function ensureEventSubscription(emulator: ArmEmulator, url: string, resumed: boolean): Promise<void> {
  if (resumed) {
    const existing = ((await adminRequest(emulator, "GET", "/eventSubscriptions")) as { value?: { id: string; url: string }[] }).value ?? [];
    const target = new URL(url);
    const sameFunction = existing.filter((s) => {
      const u = new URL(s.url);
      return u.pathname === target.pathname && u.searchParams.get("functionName") === target.searchParams.get("functionName");
    });
    if (sameFunction.some((s) => s.url === url)) {
      for (const stale of sameFunction.filter((s) => s.url !== url)) await adminRequest(emulator, "DELETE", `/eventSubscriptions/${encodeURIComponent(stale.id)}`);
      return;
    }
    for (const stale of sameFunction) await adminRequest(emulator, "DELETE", `/eventSubscriptions/${encodeURIComponent(stale.id)}`);
  }
  await emulator.subscribeEvents(url, ENFORCER_EVENT_FILTER);
}

/**
 * What the README tells the admin to grant, granted here by the "tenant admin": Device.Read.All for
 * join confirmation, Device.ReadWrite.All only for DEVICE_CLEANUP=enforce. Nothing when both are off.
 */
function grantGraphRoles(emulator: ArmEmulator, settings: Record<string, string>): void {
  const roles: string[] = [];
  if (/^(true|1|yes)$/i.test(settings["DEVICE_CONFIRMATION"] ?? "")) roles.push("Device.Read.All");
  if ((settings["DEVICE_CLEANUP"] ?? "").toLowerCase() === "enforce") roles.push("Device.ReadWrite.All");
  if (roles.length) emulator.setGraphRoles(emulator.managedIdentity.principalId, roles);
}

/** The environment name the local stack deploys the roles module as (it names the custom role). */
export const LOCAL_ENVIRONMENT_NAME = "local";

/**
 * Grants the enforcer's identity exactly what infra/app/enforcer-roles.bicep grants it in each watched
 * subscription (from its compiled form, infra/app/enforcer-roles.generated.json): the custom role and
 * its conditioned assignment, the allow-list substituted into the condition as the template does. A
 * resumed state gets the same again (the allow-list may have changed: that is a redeploy in Azure too).
 */
async function grantEnforcerRoles(emulator: ArmEmulator, subscriptions: readonly string[], settings: Record<string, string>): Promise<void> {
  const doc = loadEnforcerRoles();
  const allowedPrincipals = (settings["ACCESS_ALLOWED_PRINCIPALS"] ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  for (const subscriptionId of subscriptions) {
    const grants = enforcerGrants(doc, { subscriptionId, environmentName: LOCAL_ENVIRONMENT_NAME, principalId: emulator.managedIdentity.principalId, allowedPrincipals });
    await adminRequest(emulator, "POST", "/seed", { roleDefinitions: grants.roleDefinitions.map((d) => ({ name: d.guid, roleName: d.roleName, description: d.description, permissions: d.permissions, assignableScopes: d.assignableScopes })) });
    for (const a of grants.assignments) {
      await adminRequest(emulator, "POST", "/roleAssignments", {
        principalId: emulator.managedIdentity.principalId,
        roleDefinitionId: a.roleDefinitionGuid,
        scope: a.scope,
        description: a.description,
        ...(a.condition !== undefined ? { condition: a.condition, conditionVersion: a.conditionVersion } : {}),
      });
    }
  }
}

/** The emulator's admin API (documented at the top of src/local/emulator/index.ts), over its HTTPS with its CA. */
function adminRequest(emulator: ArmEmulator, method: string, path: string, body?: unknown): Promise<unknown> {
  const url = new URL(`${emulator.adminUrl}${path}`);
  return new Promise((resolveRequest, reject) => {
    const headers = body === undefined ? {} : { "content-type": "application/json" };
    const req = httpsRequest(url, { method, ca: emulator.caPem, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if ((res.statusCode ?? 500) >= 400) return reject(new Error(`${method} ${url.pathname}: ${res.statusCode} ${text.slice(0, 200)}`));
        try {
          resolveRequest(text ? JSON.parse(text) : undefined);
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

export type { EventGridEvent };
